//! Micro-benchmarks of the per-request token work, side by side with the `macaroon`
//! crate's own `Verifier` on the very same encoded tokens.
//!
//! Run: `cargo bench -p caveat --bench verify` (docs/performance.md explains the rows;
//! `python3 bench/criterion_table.py` turns the results into the tables there).
//!
//! Groups:
//! - `verify/N` for tokens with N = 1, 10, 50 first-party caveats, all satisfied by the
//!   request so that the whole chain is walked:
//!   - `ours_decode`: `Token::decode` of the base64url V2 text;
//!   - `ours_cached`: `decide_unsealed` on a decoded token with its payload already open:
//!     the full verification (HMAC chain, caveat parsing, checks), what the proxy does
//!     for a token text it has not seen (after an unseal-cache hit), minus decoding;
//!   - `ours_decode_cached`: decode + `decide_unsealed`;
//!   - `ours_verified_decide`: `Verified::decide` alone: the per-request checks of a token
//!     verified before (sealed expiry and hosts, every caveat against the request);
//!   - `ours_cache_hit`: verify of a cached token: SHA-256 of the token text
//!     (`CacheKey::of`), a map lookup under a shared lock, `Verified::decide`;
//!   - `ours_proxy_core`: everything the proxy's pipeline does with the token per request
//!     on a cache hit: the above plus the audit fields (fingerprint, key id);
//!   - `ours_cold`: decode + `unseal` (opens the sealed box) + `decide_unsealed`;
//!   - `crate_deserialize`: `macaroon::Macaroon::deserialize` of the same text;
//!   - `crate_verify`: `Verifier::verify` with a verifier prepared once (`satisfy_exact`
//!     for each predicate): HMAC chain + set lookups, no parsing or evaluation;
//!   - `crate_build_verify`: a verifier built per request, then `verify`;
//!   - `crate_deserialize_verify`: deserialize + `verify` (prepared verifier).
//! - `unseal`: opening the sealed identifier alone (independent of caveat count).
//! - `parse/KIND`: `Caveat::parse` of one caveat of each kind.
//! - `attenuate/N`: adding one caveat to an N-caveat token, and adding + encoding it
//!   (what `macaroon attenuate` computes).
//! - `body/10`: `Verified::decide` (cached) of a 10-caveat token, eight request-line
//!   caveats and two JSON body caveats (`json /model in ...`, `json /max_tokens <= 1000`),
//!   on a 4 KiB chat-completions JSON body: `json_4k` includes reading the body (once for
//!   both caveats); `no_body_caveats_8` is the same eight caveats without the body ones.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use caveat::{
    decide, decide_unsealed, fmt_time, unseal, BodyView, CacheKey, Caveat, Host, Injection, Method,
    MintRequest, Payload, ProxyKeyPair, Request, RequestBody, RequestPath, Secret, Token, Verified,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use macaroon::{Macaroon, MacaroonKey, Verifier};

/// Caveat counts benchmarked.
const SIZES: [usize; 3] = [1, 10, 50];

/// The `i`-th caveat of a realistic chain: a mix of every kind, all satisfied by
/// `GET https://api.example.com/v1/charges` at `now`.
fn caveat_text(i: usize, now: SystemTime) -> String {
    let secs = |s: u64| Duration::from_secs(s);
    match i % 8 {
        0 => format!("time < {}", fmt_time(now + secs(3600 + 60 * i as u64))),
        1 => "method in GET HEAD".to_string(),
        2 => format!("path prefix /v1 /v{}", 2 + i),
        3 => "host = api.example.com".to_string(),
        4 => format!("time > {}", fmt_time(now - secs(3600 + i as u64))),
        5 => "path glob /v1/* /v2/*/refunds".to_string(),
        6 => "method = GET".to_string(),
        _ => "host in api.example.com api2.example.com".to_string(),
    }
}

/// One token and everything needed to verify it both ways.
struct Fixture {
    keys: Vec<ProxyKeyPair>,
    token: Token,
    encoded: String,
    payload: Payload,
    request: Request,
    predicates: Vec<String>,
    crate_key: MacaroonKey,
}

fn request(now: SystemTime) -> Request {
    Request::new(
        now,
        Method::new("GET").expect("method"),
        Host::normalize("api.example.com").expect("host"),
        RequestPath::parse("/v1/charges").expect("path"),
    )
}

fn fixture(n: usize) -> Fixture {
    let keys = vec![ProxyKeyPair::from_private_bytes([7u8; 32])];
    let now = SystemTime::now();
    let mut token = Token::mint(
        keys[0].public(),
        MintRequest {
            secret: Secret::new("sk_live_0123456789abcdef0123456789abcdef".into()),
            inject: Injection::Bearer,
            hosts: vec![Host::parse_canonical("api.example.com").expect("host")],
            expires: None,
            location: None,
            issuer: caveat::IssuerKey::generate(),
        },
        now,
    )
    .expect("mint");
    let mut predicates = Vec::new();
    for i in 0..n {
        let text = caveat_text(i, now);
        let c = Caveat::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        token = token.attenuate(&c);
        predicates.push(text);
    }
    let encoded = token.encode();
    let token = Token::decode(&encoded).expect("decode");
    assert_eq!(token.first_party().len(), n);
    let payload = unseal(&token, &keys).expect("unseal");
    let request = request(now);
    assert!(decide_unsealed(&token, &payload, &[], &request).is_allowed());
    // The crate's verifier derives the chain key from the same root key bytes.
    let crate_key = MacaroonKey::generate(payload.root.as_bytes());
    let f = Fixture {
        keys,
        token,
        encoded,
        payload,
        request,
        predicates,
        crate_key,
    };
    let mac = Macaroon::deserialize(&f.encoded).expect("crate deserialize");
    f.crate_verifier()
        .verify(&mac, &f.crate_key, vec![])
        .expect("crate verify");
    f
}

impl Fixture {
    fn crate_verifier(&self) -> Verifier {
        let mut v = Verifier::default();
        for p in &self.predicates {
            v.satisfy_exact(p.as_bytes().to_vec().into());
        }
        v
    }
}

fn bench_verify(c: &mut Criterion) {
    macaroon::initialize().expect("libsodium");
    for n in SIZES {
        let f = fixture(n);
        let mut g = c.benchmark_group(format!("verify/{n}"));
        g.bench_function("ours_decode", |b| {
            b.iter(|| Token::decode(black_box(&f.encoded)).expect("decode"))
        });
        g.bench_function("ours_cached", |b| {
            b.iter(|| {
                let d = decide_unsealed(black_box(&f.token), &f.payload, &[], &f.request);
                assert!(d.is_allowed());
            })
        });
        g.bench_function("ours_decode_cached", |b| {
            b.iter(|| {
                let t = Token::decode(black_box(&f.encoded)).expect("decode");
                assert!(decide_unsealed(&t, &f.payload, &[], &f.request).is_allowed());
            })
        });
        // A token verified before: what the proxy keeps, keyed by the token's text.
        let verified = Arc::new(Verified::new(&f.token, Arc::new(f.payload.clone()), &[]).expect("verifies"));
        g.bench_function("ours_verified_decide", |b| {
            b.iter(|| assert!(black_box(&verified).decide(&f.request).is_allowed()))
        });
        let cache: std::sync::RwLock<HashMap<CacheKey, Arc<Verified>>> =
            std::sync::RwLock::new(HashMap::from([(CacheKey::of(&f.encoded), verified.clone())]));
        let lookup = |text: &str| {
            cache
                .read()
                .ok()
                .and_then(|m| m.get(&CacheKey::of(text)).cloned())
        };
        g.bench_function("ours_cache_hit", |b| {
            b.iter(|| {
                let v = lookup(black_box(&f.encoded)).expect("hit");
                assert!(v.decide(&f.request).is_allowed());
            })
        });
        // The proxy's per-request token work on a cache hit (pipeline.rs): cache key and
        // lookup, the audit fields, the decision.
        g.bench_function("ours_proxy_core", |b| {
            b.iter(|| {
                let v = lookup(black_box(&f.encoded)).expect("hit");
                black_box(v.fingerprint().to_string());
                black_box(v.key_id().map(|k| k.to_string()));
                assert!(v.decide(&f.request).is_allowed());
            })
        });
        // The previous pipeline, for comparison: decode, audit fields, unseal-cache lookup
        // by identifier, the full verification.
        let unsealed: Mutex<HashMap<Vec<u8>, Arc<Payload>>> = Mutex::new(HashMap::from([(
            f.token.identifier(),
            Arc::new(f.payload.clone()),
        )]));
        g.bench_function("ours_proxy_core_uncached", |b| {
            b.iter(|| {
                let t = Token::decode(black_box(&f.encoded)).expect("decode");
                black_box(t.signature_fingerprint());
                black_box(t.key_id());
                let id = t.identifier();
                let p = unsealed.lock().expect("lock").get(&id).cloned().expect("hit");
                assert!(decide_unsealed(&t, &p, &[], &f.request).is_allowed());
            })
        });
        g.bench_function("ours_cold", |b| {
            b.iter(|| {
                let t = Token::decode(black_box(&f.encoded)).expect("decode");
                assert!(decide(&t, &[], &f.keys, &f.request).is_allowed());
            })
        });
        let verifier = f.crate_verifier();
        let mac = Macaroon::deserialize(&f.encoded).expect("crate deserialize");
        g.bench_function("crate_deserialize", |b| {
            b.iter(|| Macaroon::deserialize(black_box(&f.encoded)).expect("deserialize"))
        });
        g.bench_function("crate_verify", |b| {
            b.iter(|| {
                verifier
                    .verify(black_box(&mac), &f.crate_key, vec![])
                    .expect("verify")
            })
        });
        g.bench_function("crate_build_verify", |b| {
            b.iter(|| {
                f.crate_verifier()
                    .verify(black_box(&mac), &f.crate_key, vec![])
                    .expect("verify")
            })
        });
        g.bench_function("crate_deserialize_verify", |b| {
            b.iter(|| {
                let m = Macaroon::deserialize(black_box(&f.encoded)).expect("deserialize");
                verifier.verify(&m, &f.crate_key, vec![]).expect("verify")
            })
        });
        g.finish();
    }
}

fn bench_unseal(c: &mut Criterion) {
    let f = fixture(1);
    c.bench_function("unseal", |b| {
        b.iter(|| unseal(black_box(&f.token), &f.keys).expect("unseal"))
    });
}

fn bench_parse(c: &mut Criterion) {
    let now = SystemTime::now();
    let later = fmt_time(now + Duration::from_secs(3600));
    let earlier = fmt_time(now - Duration::from_secs(3600));
    let cases = [
        ("time_before", format!("time < {later}")),
        ("time_after", format!("time > {earlier}")),
        ("method_is", "method = GET".to_string()),
        ("method_in", "method in GET HEAD OPTIONS".to_string()),
        ("host_is", "host = api.example.com".to_string()),
        ("host_in", "host in api.example.com api2.example.com".to_string()),
        ("path_is", "path = /v1/charges".to_string()),
        ("path_prefix", "path prefix /v1/charges /v1/customers".to_string()),
        (
            "path_glob",
            "path glob /v1/customers/*/sources /v1/**".to_string(),
        ),
    ];
    let mut g = c.benchmark_group("parse");
    for (kind, text) in &cases {
        Caveat::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        g.bench_with_input(BenchmarkId::from_parameter(kind), text, |b, text| {
            b.iter(|| Caveat::parse(black_box(text)).expect("parse"))
        });
    }
    g.finish();
}

fn bench_attenuate(c: &mut Criterion) {
    let extra = Caveat::parse("method = GET").expect("caveat");
    for n in SIZES {
        let f = fixture(n);
        let mut g = c.benchmark_group(format!("attenuate/{n}"));
        g.bench_function("attenuate", |b| b.iter(|| black_box(&f.token).attenuate(&extra)));
        g.bench_function("decode_attenuate_encode", |b| {
            b.iter(|| {
                Token::decode(black_box(&f.encoded))
                    .expect("decode")
                    .attenuate(&extra)
                    .encode()
            })
        });
        g.finish();
    }
}

/// A chat-completions body of about 4 KiB: a model, a bound, and messages.
fn json_body_4k() -> String {
    let mut messages = Vec::new();
    let mut i = 0;
    loop {
        messages.push(format!(
            r#"{{"role":"{}","content":"Message {i}: summarize the quarterly charges report, list refunds over 100 USD, and explain each \"dispute\" in one line."}}"#,
            if i % 2 == 0 { "user" } else { "assistant" }
        ));
        let body = format!(
            r#"{{"model":"gpt-4o-mini","max_tokens":800,"temperature":0.2,"messages":[{}]}}"#,
            messages.join(",")
        );
        if body.len() >= 4096 {
            return body;
        }
        i += 1;
    }
}

fn bench_body(c: &mut Criterion) {
    macaroon::initialize().expect("libsodium");
    let f = fixture(8);
    let token = f
        .token
        .attenuate(&Caveat::parse("json /model in gpt-4o-mini gpt-4.1-mini").expect("caveat"))
        .attenuate(&Caveat::parse("json /max_tokens <= 1000").expect("caveat"));
    assert_eq!(token.first_party().len(), 10);
    let body = json_body_4k();
    // The eight head caveats allow `GET /v1/charges` (`method = GET` among them): the
    // same request, now with a body the two JSON caveats read.
    let mut req = f.request.clone();
    req.body = BodyView::Read(RequestBody::new(
        Some("application/json".into()),
        None,
        body.clone().into_bytes().into(),
    ));
    let verified = Verified::new(&token, Arc::new(f.payload.clone()), &[]).expect("verifies");
    assert!(verified.needs_body());
    assert!(verified.decide(&req).is_allowed(), "{:?}", verified.decide(&req));
    let plain = Verified::new(&f.token, Arc::new(f.payload.clone()), &[]).expect("verifies");
    let mut g = c.benchmark_group("body/10");
    g.bench_function("json_4k", |b| {
        b.iter(|| assert!(black_box(&verified).decide(black_box(&req)).is_allowed()))
    });
    g.bench_function("no_body_caveats_8", |b| {
        b.iter(|| assert!(black_box(&plain).decide(black_box(&f.request)).is_allowed()))
    });
    g.finish();
}

fn config() -> Criterion {
    // Short by default: the whole suite runs in a few minutes on a 2-core machine.
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_verify, bench_unseal, bench_parse, bench_attenuate, bench_body
}
criterion_main!(benches);
