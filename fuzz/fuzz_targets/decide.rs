//! `decide` must never panic. Input lines: METHOD, HOST, PATH, then caveats. A line that
//! parses as a caveat is added with `attenuate`, any other one raw (`attenuate_raw`, as a
//! foreign implementation might), so both the check and the "cannot parse" paths run.
//!
//! Beyond not panicking, the decision must be exactly what attenuation promises: allowed
//! iff the root token allows the request and every added caveat holds (an unparsable one
//! denies). Attenuation never widens.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use caveat::{
    decide, Caveat, DenyKind, Host, Injection, Method, MintRequest, ProxyKeyPair, Request, RequestPath,
    Secret, Token,
};
use libfuzzer_sys::fuzz_target;

/// 2026-11-25T12:00:00Z
const NOW: u64 = 1_795_608_000;
const MAX_CAVEATS: usize = 8;

struct Fixture {
    proxy: ProxyKeyPair,
    root: Token,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let proxy = ProxyKeyPair::from_private_bytes([1; 32]);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW);
        let root = Token::mint(
            proxy.public(),
            MintRequest {
                secret: Secret::new("sk_live_fuzz".into()),
                inject: Injection::Bearer,
                hosts: vec![
                    Host::parse_canonical("api.stripe.com").expect("host"),
                    Host::parse_canonical("::1").expect("host"),
                ],
                // Sealed expiry an hour after NOW: requests at NOW..NOW+2h cover both sides.
                expires: Some(now + Duration::from_secs(3600)),
                location: None,
                issuer: caveat::IssuerKey::from_bytes(&[7; 32]),
            },
            now,
        )
        .expect("mint");
        Fixture { proxy, root }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let mut lines = text.split('\n');
    let (Some(m), Some(h), Some(p)) = (lines.next(), lines.next(), lines.next()) else {
        return;
    };
    let (Ok(method), Ok(host), Ok(path)) = (Method::new(m), Host::normalize(h), RequestPath::parse(p)) else {
        return;
    };
    // First input byte picks the request time within two hours of NOW.
    let offset = u64::from(data.first().copied().unwrap_or(0)) * 30;
    let req = Request::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW + offset),
        method,
        host,
        path,
    );

    let root_decision = decide(&f.root, &[], &[f.proxy.clone()], &req);
    // The root token carries only the sealed expiry (also as a `time <` caveat) and hosts.
    let mut expect_allowed = root_decision.is_allowed();
    let mut token = f.root.clone();
    for line in lines.take(MAX_CAVEATS) {
        match Caveat::parse(line) {
            Ok(c) => {
                expect_allowed &= c.check(&req).is_ok();
                token = token.attenuate(&c);
            }
            Err(_) => {
                expect_allowed = false;
                token = token.attenuate_raw(line.as_bytes());
            }
        }
    }
    let decision = decide(&token, &[], &[f.proxy.clone()], &req);
    assert_eq!(
        decision.is_allowed(),
        expect_allowed,
        "decision {decision:?} for {req:?}, root decision {root_decision:?}"
    );
    if let caveat::Decision::Deny(d) = &decision {
        assert!(
            !d.kind.is_unauthenticated(),
            "a genuine token was refused as unauthenticated: {d:?}"
        );
        let _ = d.to_string();
        assert_ne!(d.kind, DenyKind::BadSignature);
    }
    // The wire form decides the same.
    let again = Token::decode(&token.encode()).expect("own encoding decodes");
    assert_eq!(decide(&again, &[], &[f.proxy.clone()], &req), decision);
});
