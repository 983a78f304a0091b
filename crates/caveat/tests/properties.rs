//! Property tests for the invariants the rest of the product stands on.

use std::time::{Duration, SystemTime};

use caveat::*;
use proptest::prelude::*;

const BASE: u64 = 1_800_000_000;
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"];
const HOSTS: &[&str] = &["api.stripe.com", "files.stripe.com", "evil.com"];

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("v1".to_string()),
        Just("charges".to_string()),
        "[a-z0-9_]{1,5}"
    ]
}

fn path() -> impl Strategy<Value = String> {
    (prop::collection::vec(segment(), 0..4), any::<bool>()).prop_map(|(segs, slash)| {
        let mut p = format!("/{}", segs.join("/"));
        if slash && !segs.is_empty() {
            p.push('/');
        }
        p
    })
}

fn glob() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![segment(), Just("*".to_string()), Just("**".to_string())],
        1..4,
    )
    .prop_map(|s| format!("/{}", s.join("/")))
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(METHODS)
}

fn host() -> impl Strategy<Value = &'static str> {
    prop::sample::select(HOSTS)
}

fn time_text() -> impl Strategy<Value = String> {
    (0u64..7200).prop_map(|d| fmt_time(at(BASE - 3600 + d)))
}

/// Caveat text in canonical form, covering every kind.
fn caveat_text() -> impl Strategy<Value = String> {
    prop_oneof![
        time_text().prop_map(|t| format!("time < {t}")),
        time_text().prop_map(|t| format!("time > {t}")),
        method().prop_map(|m| format!("method = {m}")),
        prop::collection::vec(method(), 1..4).prop_map(|m| format!("method in {}", m.join(" "))),
        host().prop_map(|h| format!("host = {h}")),
        prop::collection::vec(host(), 1..3).prop_map(|h| format!("host in {}", h.join(" "))),
        path().prop_map(|p| format!("path = {p}")),
        prop::collection::vec(path(), 1..3).prop_map(|p| format!("path prefix {}", p.join(" "))),
        prop::collection::vec(glob(), 1..3).prop_map(|g| format!("path glob {}", g.join(" "))),
        content_caveat_text(),
    ]
}

const CURRENCIES: &[&str] = &["usd", "eur", "gbp"];
const MODELS: &[&str] = &["gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"];
const LIMITS: &[&str] = &["10", "20", "100"];

/// A decimal as a caveat writes it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`.
fn decimal_text() -> impl Strategy<Value = String> {
    (-20_000i64..20_000, prop::option::of(0u8..3)).prop_map(|(n, frac)| match frac {
        None => n.to_string(),
        Some(0) => format!("{n}.00"),
        Some(f) => format!("{n}.{f}5"),
    })
}

/// Caveats on what a request contains: query, form, JSON, body size.
fn content_caveat_text() -> impl Strategy<Value = String> {
    let currency = || prop::sample::select(CURRENCIES);
    prop_oneof![
        prop::sample::select(LIMITS).prop_map(|l| format!("query limit = {l}")),
        prop::collection::vec(prop::sample::select(LIMITS), 1..3)
            .prop_map(|l| format!("query limit in {}", l.join(" "))),
        decimal_text().prop_map(|n| format!("form amount <= {n}")),
        decimal_text().prop_map(|n| format!("form amount >= {n}")),
        currency().prop_map(|c| format!("form currency = {c}")),
        prop::collection::vec(currency(), 1..3).prop_map(|c| format!("form currency in {}", c.join(" "))),
        prop::collection::vec(prop::sample::select(MODELS), 1..3)
            .prop_map(|m| format!("json /model in {}", m.join(" "))),
        decimal_text().prop_map(|n| format!("json /max_tokens <= {n}")),
        decimal_text().prop_map(|n| format!("json /max_tokens >= {n}")),
        decimal_text().prop_map(|n| format!("json /max_tokens = {n}")),
        (0u64..200).prop_map(|n| format!("body size <= {n}")),
    ]
}

/// A number as a request may spell it (JSON adds exponents), sometimes not a number.
fn number_spelling(json: bool) -> impl Strategy<Value = String> {
    (decimal_text(), 0u8..6).prop_map(move |(n, how)| match how {
        0 if json => format!("{n}e0"),
        1 if json => format!("{n}0e-1"),
        2 => format!("+{n}"),
        3 => "NaN".to_string(),
        _ => n,
    })
}

/// The body and query of a request: not read, a form, or JSON; sometimes ambiguous.
fn content() -> impl Strategy<Value = (Option<String>, BodyView)> {
    let query = prop::option::of(prop_oneof![
        prop::sample::select(LIMITS).prop_map(|l| format!("limit={l}")),
        Just("limit=10&limit=100".to_string()),
        Just("amount=1".to_string()),
        Just("model=gpt-4o".to_string()),
    ]);
    let form = (
        number_spelling(false),
        prop::sample::select(CURRENCIES),
        any::<bool>(),
    )
        .prop_map(|(n, c, twice)| {
            let mut body = format!("amount={n}&currency={c}");
            if twice {
                body.push_str("&amount=1");
            }
            ("application/x-www-form-urlencoded", body)
        });
    let json =
        (number_spelling(true), prop::sample::select(MODELS), any::<bool>()).prop_map(|(n, m, dup)| {
            let extra = if dup { r#","model":"gpt-4o""# } else { "" };
            (
                "application/json",
                format!(r#"{{"model":"{m}","max_tokens":{n}{extra}}}"#),
            )
        });
    let body = prop_oneof![
        Just(BodyView::NotRead),
        form.prop_map(|(t, b)| BodyView::Read(RequestBody::new(Some(t.into()), None, b.into_bytes().into()))),
        json.prop_map(|(t, b)| BodyView::Read(RequestBody::new(Some(t.into()), None, b.into_bytes().into()))),
    ];
    (query, body)
}

fn request() -> impl Strategy<Value = Request> {
    (0u64..7200, method(), host(), path(), content()).prop_map(|(t, m, h, p, (query, body))| {
        let mut req = Request::new(
            at(BASE - 3600 + t),
            Method::new(m).expect("method"),
            Host::normalize(h).expect("host"),
            RequestPath::parse(&p).expect("path"),
        );
        req.query = query;
        req.body = body;
        req
    })
}

fn keypair() -> ProxyKeyPair {
    ProxyKeyPair::generate()
}

fn mint(proxy: &ProxyKeyPair, location: Option<String>) -> Token {
    Token::mint(
        proxy.public(),
        MintRequest {
            secret: Secret::new("sk_test_secret".into()),
            inject: Injection::Bearer,
            hosts: vec![
                Host::normalize("api.stripe.com").expect("h"),
                Host::normalize("files.stripe.com").expect("h"),
            ],
            expires: None,
            location,
            issuer: IssuerKey::generate(),
        },
        at(BASE - 7200),
    )
    .expect("mint")
}

fn with_caveats(root: &Token, caveats: &[String]) -> Token {
    caveats.iter().fold(root.clone(), |t, c| {
        t.attenuate(&Caveat::parse(c).expect("generated caveats parse"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// print(parse(x)) == x for every generated caveat of every kind.
    #[test]
    fn caveats_print_back_exactly(text in caveat_text()) {
        let c = Caveat::parse(&text).expect("generated caveats are canonical");
        prop_assert_eq!(c.to_string(), text);
        prop_assert_eq!(Caveat::parse(&c.to_string()).expect("reparse"), c);
    }

    /// Mangling a canonical caveat (case, spacing) never yields a different accepted caveat.
    #[test]
    fn mangled_caveats_fail_or_print_as_written(text in caveat_text(), pos in any::<prop::sample::Index>(), mangle in 0u8..3) {
        let i = pos.index(text.len());
        let mut s = text.clone();
        match mangle {
            0 => s.insert(i, ' '),
            1 => s = s.to_ascii_lowercase(),
            _ => s.insert(i, '\t'),
        }
        if let Ok(c) = Caveat::parse(&s) {
            prop_assert_eq!(c.to_string(), s);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Attenuation only narrows: adding any caveat never turns a denial into an allow
    /// (equivalently, if the narrower token allows, the wider one allowed too).
    #[test]
    fn adding_a_caveat_never_allows_a_denied_request(
        caveats in prop::collection::vec(caveat_text(), 0..4),
        extra in caveat_text(),
        req in request(),
    ) {
        let proxy = keypair();
        let keys = [proxy.clone()];
        let wide = with_caveats(&mint(&proxy, None), &caveats);
        let narrow = wide.attenuate(&Caveat::parse(&extra).expect("parses"));
        let wide_ok = decide(&wide, &[], &keys, &req).is_allowed();
        let narrow_ok = decide(&narrow, &[], &keys, &req).is_allowed();
        prop_assert!(!narrow_ok || wide_ok, "adding {extra:?} allowed a request {caveats:?} denied");
        // Unknown caveats deny too, so a raw (unparsed) predicate can't widen anything.
        let raw = wide.attenuate_raw(b"rate < 10");
        prop_assert!(!decide(&raw, &[], &keys, &req).is_allowed());
    }

    /// Numeric bounds compare exact values whatever the spelling: `N`, `N.00` and (in
    /// JSON) `Ne0` are the same number; anything that is not a number denies.
    #[test]
    fn bounds_compare_exact_values_in_every_spelling(
        value in -20_000i64..20_000,
        bound in -20_000i64..20_000,
        spelling in 0u8..4,
    ) {
        let text = match spelling {
            0 => value.to_string(),
            1 => format!("{value}.00"),
            2 => format!("{value}e0"),
            _ => format!("{}e-2", value * 100),
        };
        let json_req = |body: String| {
            let mut r = Request::new(at(BASE), Method::new("POST").expect("m"), Host::normalize("api.stripe.com").expect("h"), RequestPath::parse("/").expect("p"));
            r.body = BodyView::Read(RequestBody::new(Some("application/json".into()), None, body.into_bytes().into()));
            r
        };
        let at_most = Caveat::parse(&format!("json /n <= {bound}")).expect("caveat");
        let at_least = Caveat::parse(&format!("json /n >= {bound}")).expect("caveat");
        let r = json_req(format!(r#"{{"n":{text}}}"#));
        prop_assert_eq!(at_most.check(&r).is_ok(), value <= bound, "{} <= {}", text, bound);
        prop_assert_eq!(at_least.check(&r).is_ok(), value >= bound, "{} >= {}", text, bound);
        let is = Caveat::parse(&format!("json /n = {bound}")).expect("caveat");
        prop_assert_eq!(is.check(&r).is_ok(), value == bound);
        // Form values are plain decimals: exponents are not numbers there.
        let mut f = json_req(String::new());
        f.body = BodyView::Read(RequestBody::new(Some("application/x-www-form-urlencoded".into()), None, format!("n={text}").into_bytes().into()));
        let form = Caveat::parse(&format!("form n <= {bound}")).expect("caveat");
        prop_assert_eq!(form.check(&f).is_ok(), spelling < 2 && value <= bound);
    }

    /// A verification kept in the cache decides every request exactly as the full,
    /// uncached decision does: same verdict, same failing caveat, same reason. Unknown
    /// caveats included (they deny every request, cached or not).
    #[test]
    fn cached_verification_decides_exactly_like_the_full_one(
        caveats in prop::collection::vec(caveat_text(), 0..5),
        raw_unknown in any::<bool>(),
        sealed_exp in prop::option::of(0u64..7200),
        reqs in prop::collection::vec(request(), 1..6),
    ) {
        let proxy = keypair();
        // Sometimes a hard expiry sealed at wrap time, inside the requests' time range.
        let root = match sealed_exp {
            None => mint(&proxy, None),
            Some(e) => Token::mint(
                proxy.public(),
                MintRequest {
                    secret: Secret::new("sk_test_secret".into()),
                    inject: Injection::Bearer,
                    hosts: vec![Host::normalize("api.stripe.com").expect("h")],
                    expires: Some(at(BASE - 3600 + e)),
                    location: None,
                    issuer: IssuerKey::generate(),
                },
                at(BASE - 7200),
            )
            .expect("mint"),
        };
        let mut token = with_caveats(&root, &caveats);
        if raw_unknown {
            token = token.attenuate_raw(b"rate < 10");
        }
        let text = token.encode();
        let decoded = Token::decode(&text).expect("decodes");
        let payload = std::sync::Arc::new(unseal(&decoded, std::slice::from_ref(&proxy)).expect("unseals"));
        let cached = Verified::new(&decoded, payload.clone(), &[]).expect("verifies");
        prop_assert_eq!(cached.fingerprint(), decoded.signature_fingerprint());
        for req in &reqs {
            let d = cached.decide(req);
            prop_assert_eq!(&d, &decide_unsealed(&decoded, &payload, &[], req));
            // And against the rules themselves, not only the shared code: a sealed expiry
            // at or before the request's time always denies as such.
            if let Some(e) = sealed_exp {
                if req.time >= at(BASE - 3600 + e) {
                    prop_assert!(
                        matches!(&d, Decision::Deny(x) if x.kind == DenyKind::SealedExpired),
                        "{:?}", d
                    );
                }
            }
        }
    }

    /// Flipping any bit pattern of any byte of an encoded token makes it fail to decode or
    /// fail to verify. (Tokens without location: the location is not signed by design.)
    #[test]
    fn flipping_any_byte_breaks_the_token(
        caveats in prop::collection::vec(caveat_text(), 0..3),
        pos in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let proxy = keypair();
        let token = with_caveats(&mint(&proxy, None), &caveats);
        // A request the untouched token allows, so any denial comes from the flip.
        let req = Request::new(at(BASE), Method::new("GET").expect("m"), Host::normalize("api.stripe.com").expect("h"), RequestPath::parse("/").expect("p"));
        let allowed = decide(&token, &[], std::slice::from_ref(&proxy), &req).is_allowed();
        let mut bin = b64.decode(token.encode()).expect("own encoding");
        let i = pos.index(bin.len());
        bin[i] ^= mask;
        if let Ok(t) = Token::decode(&b64.encode(&bin)) {
            let d = decide(&t, &[], &[proxy], &req);
            // A flip may turn an allowed request into a denied one, never the reverse, and
            // a flipped token that was allowed must now fail on its signature or identifier.
            if allowed {
                match d {
                    Decision::Deny(d) => prop_assert!(d.kind.is_unauthenticated() || d.kind == DenyKind::UnknownCaveat, "{:?}", d),
                    Decision::Allow => prop_assert!(false, "flipped byte {i} with {mask:#04x} still verifies"),
                }
            } else {
                prop_assert!(!d.is_allowed());
            }
        }
    }

    /// The same, on the base64 text: replacing any character with another one.
    #[test]
    fn replacing_any_character_breaks_the_token(pos in any::<prop::sample::Index>(), with in "[A-Za-z0-9_-]") {
        let proxy = keypair();
        let token = mint(&proxy, None).attenuate(&Caveat::parse("method = GET").expect("c"));
        let req = Request::new(at(BASE), Method::new("GET").expect("m"), Host::normalize("api.stripe.com").expect("h"), RequestPath::parse("/").expect("p"));
        let text = token.encode();
        let i = pos.index(text.len());
        prop_assume!(text[i..i + 1] != with);
        let changed = format!("{}{}{}", &text[..i], with, &text[i + 1..]);
        if let Ok(t) = Token::decode(&changed) {
            prop_assert!(!decide(&t, &[], &[proxy], &req).is_allowed(), "char {i} -> {with} still verifies");
        }
    }

    /// A token sealed to one proxy key never verifies with another, even when the key id
    /// in the identifier is rewritten to name the other key.
    #[test]
    fn token_sealed_to_one_key_never_verifies_with_another(req in request(), caveats in prop::collection::vec(caveat_text(), 0..2)) {
        let a = keypair();
        let b = keypair();
        let token = with_caveats(&mint(&a, None), &caveats);
        prop_assert!(!decide(&token, &[], std::slice::from_ref(&b), &req).is_allowed());
        let mut id = token.identifier();
        id[3..11].copy_from_slice(&b.key_id().0);
        let relabelled = Token::create(None, &RootKey::from_bytes([0; 32]), &id);
        let d = decide(&relabelled, &[], &[b], &req);
        prop_assert!(matches!(d, Decision::Deny(ref d) if d.kind == DenyKind::CorruptIdentifier), "{:?}", d);
    }
}
