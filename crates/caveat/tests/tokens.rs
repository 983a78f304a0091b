//! Tokens end to end through the public API: mint, encode, decode, attenuate, decide.

use std::time::{Duration, SystemTime};

use caveat::*;

fn host(h: &str) -> Host {
    Host::parse_canonical(h).expect("host")
}

fn mint(proxy: &ProxyKeyPair, expires: Option<SystemTime>, now: SystemTime) -> Token {
    Token::mint(
        proxy.public(),
        MintRequest {
            secret: Secret::new("sk_live_SECRET".into()),
            inject: Injection::Bearer,
            hosts: vec![host("api.stripe.com"), host("files.stripe.com")],
            expires,
            location: Some("https://proxy.example".into()),
            issuer: IssuerKey::generate(),
        },
        now,
    )
    .expect("mint")
}

fn request(now: SystemTime, method: &str, host: &str, path: &str) -> Request {
    Request::new(
        now,
        Method::new(method).expect("method"),
        Host::normalize(host).expect("host"),
        RequestPath::parse(path).expect("path"),
    )
}

fn deny(d: Decision) -> Denial {
    match d {
        Decision::Deny(d) => d,
        Decision::Allow => panic!("expected a denial"),
    }
}

#[test]
fn root_token_allows_any_request_to_a_sealed_host() {
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let t = Token::decode(&mint(&proxy, None, now).encode()).expect("decode");
    assert!(decide(
        &t,
        &[],
        std::slice::from_ref(&proxy),
        &request(now, "POST", "api.stripe.com", "/v1/x")
    )
    .is_allowed());
    assert!(decide(&t, &[], &[proxy], &request(now, "GET", "files.stripe.com", "/")).is_allowed());
}

#[test]
fn host_not_sealed_is_denied_even_with_a_host_caveat() {
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::now();
    // A caveat can only narrow; it cannot add evil.com to the sealed hosts.
    let t = mint(&proxy, None, now).attenuate(&Caveat::parse("host in evil.com api.stripe.com").expect("c"));
    let d = deny(decide(&t, &[], &[proxy], &request(now, "GET", "evil.com", "/")));
    assert_eq!(d.kind, DenyKind::HostNotSealed);
    assert!(!d.kind.is_unauthenticated());
    assert!(
        d.reason.contains("evil.com is not one the key was wrapped for"),
        "{}",
        d.reason
    );
}

#[test]
fn encoding_is_v2_base64url_without_padding() {
    let proxy = ProxyKeyPair::generate();
    let t = mint(&proxy, None, SystemTime::now());
    let text = t.encode();
    assert!(!text.contains('='), "no padding");
    assert!(text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert!(text.starts_with('A'), "V2 binary starts with byte 0x02");
    let padded = format!("{text}{}", "=".repeat((4 - text.len() % 4) % 4));
    assert_eq!(Token::decode(&padded).expect("padded").encode(), text);
    let standard = text.replace('-', "+").replace('_', "/");
    assert_eq!(
        Token::decode(&standard).expect("standard alphabet").encode(),
        text
    );
}

#[test]
fn v1_and_v2json_round_trip() {
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let t = mint(&proxy, None, now).attenuate(&Caveat::parse("method = GET").expect("c"));
    for f in [WireFormat::V1, WireFormat::V2Json] {
        let back = Token::decode(&t.encode_as(f)).expect("decode");
        assert_eq!(back.wire_format(), f);
        assert_eq!(back.encode(), t.encode());
        assert!(decide(
            &back,
            &[],
            std::slice::from_ref(&proxy),
            &request(now, "GET", "api.stripe.com", "/")
        )
        .is_allowed());
    }
}

#[test]
fn attenuated_token_denies_with_the_failing_caveat() {
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let t = mint(&proxy, None, now)
        .attenuate(&Caveat::parse("path prefix /v1/charges").expect("c"))
        .attenuate(&Caveat::parse("method in GET HEAD").expect("c"));
    let keys = [proxy];
    assert!(decide(
        &t,
        &[],
        &keys,
        &request(now, "GET", "api.stripe.com", "/v1/charges/ch_1")
    )
    .is_allowed());
    let d = deny(decide(
        &t,
        &[],
        &keys,
        &request(now, "POST", "api.stripe.com", "/v1/charges"),
    ));
    assert_eq!(d.kind, DenyKind::CaveatFailed);
    assert_eq!(d.caveat.as_deref(), Some("method in GET HEAD"));
    assert_eq!(d.reason, "method POST is not allowed; only GET, HEAD");
    let d = deny(decide(
        &t,
        &[],
        &keys,
        &request(now, "GET", "api.stripe.com", "/v1/customers"),
    ));
    assert_eq!(d.caveat.as_deref(), Some("path prefix /v1/charges"));
}

#[test]
fn expired_token_is_denied() {
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let t = mint(&proxy, None, now).attenuate(&Caveat::TimeBefore(now + Duration::from_secs(600)));
    assert!(decide(
        &t,
        &[],
        std::slice::from_ref(&proxy),
        &request(now, "GET", "api.stripe.com", "/")
    )
    .is_allowed());
    let later = now + Duration::from_secs(601);
    let d = deny(decide(
        &t,
        &[],
        &[proxy],
        &request(later, "GET", "api.stripe.com", "/"),
    ));
    assert_eq!(d.kind, DenyKind::CaveatFailed);
    assert!(d.reason.starts_with("the token expired at"), "{}", d.reason);
}

#[test]
fn sealed_expiry_denies_and_is_also_a_visible_caveat() {
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let exp = now + Duration::from_secs(3600);
    let t = mint(&proxy, Some(exp), now);
    assert_eq!(t.first_party(), vec![b"time < 2027-01-15T09:00:00Z".to_vec()]);
    let payload = unseal(&t, std::slice::from_ref(&proxy)).expect("unseal");
    assert_eq!(payload.expires_at(), Some(exp));
    // Even if the visible caveat were satisfied, the sealed expiry holds.
    let d = decide_unsealed(&t, &payload, &[], &request(exp, "GET", "api.stripe.com", "/"));
    assert_eq!(deny(d).kind, DenyKind::SealedExpired);
}

#[test]
fn unknown_caveat_denies_naming_it() {
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let t = mint(&proxy, None, now).attenuate_raw(b"account = 3735928559");
    let d = deny(decide(
        &t,
        &[],
        &[proxy],
        &request(now, "GET", "api.stripe.com", "/"),
    ));
    assert_eq!(d.kind, DenyKind::UnknownCaveat);
    assert_eq!(d.caveat.as_deref(), Some("account = 3735928559"));
    assert!(d.reason.contains("unknown field \"account\""), "{}", d.reason);
}

#[test]
fn removed_or_altered_caveat_breaks_the_signature() {
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let root = mint(&proxy, None, now);
    let narrow = root.attenuate(&Caveat::parse("method = GET").expect("c"));
    // Rebuild the same identifier with a different caveat, keeping the narrow signature.
    let json: serde_json::Value = serde_json::from_str(&narrow.encode_as(WireFormat::V2Json)).expect("json");
    let mut forged = json.clone();
    forged["c"][0] = serde_json::json!({"i": "method = POST"});
    let forged = Token::decode(&forged.to_string()).expect("decodes");
    let d = deny(decide(
        &forged,
        &[],
        std::slice::from_ref(&proxy),
        &request(now, "POST", "api.stripe.com", "/"),
    ));
    assert_eq!(d.kind, DenyKind::BadSignature);
    assert!(d.kind.is_unauthenticated());
    let mut stripped = json;
    stripped["c"] = serde_json::json!([]);
    let stripped = Token::decode(&stripped.to_string()).expect("decodes");
    let d = deny(decide(
        &stripped,
        &[],
        &[proxy],
        &request(now, "POST", "api.stripe.com", "/"),
    ));
    assert_eq!(d.kind, DenyKind::BadSignature);
}

#[test]
fn token_for_another_proxy_key_is_denied() {
    let a = ProxyKeyPair::generate();
    let b = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let t = mint(&a, None, now);
    let d = deny(decide(&t, &[], &[b], &request(now, "GET", "api.stripe.com", "/")));
    assert_eq!(d.kind, DenyKind::UnknownProxyKey);
    assert!(d.reason.contains(&a.key_id().to_string()));
}

#[test]
fn proxy_with_several_keys_picks_by_key_id() {
    let old = ProxyKeyPair::generate();
    let new = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let t = mint(&old, None, now);
    assert!(decide(&t, &[], &[new, old], &request(now, "GET", "api.stripe.com", "/")).is_allowed());
}

#[test]
fn garbage_is_a_clear_decode_error() {
    assert!(matches!(Token::decode(""), Err(DecodeError::Empty)));
    assert!(matches!(
        Token::decode("not a token!"),
        Err(DecodeError::Encoding(_))
    ));
    assert!(matches!(Token::decode("AAAA"), Err(DecodeError::Format(_))));
    assert!(matches!(Token::decode("{\"v\":2}"), Err(DecodeError::Format(_))));
    let huge = "A".repeat(MAX_TOKEN_LEN + 1);
    assert!(matches!(Token::decode(&huge), Err(DecodeError::TooLong(_))));
}

#[test]
fn debug_and_errors_never_show_the_token() {
    let proxy = ProxyKeyPair::generate();
    let t = mint(&proxy, None, SystemTime::now());
    let text = t.encode();
    let shown = format!("{t:?}");
    assert!(!shown.contains(&text[10..40]), "{shown}");
    assert!(shown.contains(&t.signature_fingerprint()));
    let mut broken = text.clone();
    broken.push('!');
    let e = Token::decode(&broken).expect_err("broken").to_string();
    assert!(!e.contains(&text[10..40]), "{e}");
}

#[test]
fn location_is_not_authenticated_and_not_trusted() {
    // Macaroons do not sign the location; we never route by it. Changing it keeps
    // the token valid, and the sealed hosts still decide where the secret may go.
    let proxy = ProxyKeyPair::generate();
    let now = SystemTime::now();
    let t = mint(&proxy, None, now);
    let mut json: serde_json::Value = serde_json::from_str(&t.encode_as(WireFormat::V2Json)).expect("json");
    json["l"] = serde_json::json!("https://evil.com");
    let moved = Token::decode(&json.to_string()).expect("decodes");
    assert_eq!(moved.location().as_deref(), Some("https://evil.com"));
    assert!(decide(
        &moved,
        &[],
        std::slice::from_ref(&proxy),
        &request(now, "GET", "api.stripe.com", "/")
    )
    .is_allowed());
    let d = deny(decide(
        &moved,
        &[],
        &[proxy],
        &request(now, "GET", "evil.com", "/"),
    ));
    assert_eq!(d.kind, DenyKind::HostNotSealed);
}

/// Tokens minted by other implementations (pymacaroons from PyPI, js-macaroon from npm),
/// with their root keys: they must decode and verify here.
mod foreign {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    fn vectors() -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for (implementation, text) in [
            (
                "pymacaroons",
                include_str!("../../../tests/fixtures/pymacaroons/vectors.json"),
            ),
            (
                "js-macaroon",
                include_str!("../../../tests/fixtures/js/vectors.json"),
            ),
        ] {
            let v: serde_json::Value = serde_json::from_str(text).expect("vectors.json");
            for mut vector in v["vectors"].as_array().expect("vectors").clone() {
                let name = format!("{implementation} {}", vector["name"].as_str().unwrap_or(""));
                vector["name"] = serde_json::json!(name);
                out.push(vector);
            }
        }
        out
    }

    fn root(v: &serde_json::Value) -> RootKey {
        let bytes = STANDARD
            .decode(v["root_key"].as_str().expect("root_key"))
            .expect("b64");
        RootKey::from_bytes(bytes.try_into().expect("32 bytes"))
    }

    fn decide_foreign(v: &serde_json::Value, req: &Request) -> Decision {
        let token = Token::decode(v["token"].as_str().expect("token")).expect("decodes");
        let discharges: Vec<Token> = v["discharges"]
            .as_array()
            .expect("discharges")
            .iter()
            .map(|d| Token::decode(d.as_str().expect("str")).expect("discharge decodes"))
            .collect();
        match verify_chain(&token, &root(v), &discharges) {
            Ok(predicates) => check_predicates(&predicates, req),
            Err(d) => Decision::Deny(d),
        }
    }

    #[test]
    fn every_format_decodes_with_its_caveats() {
        let vs = vectors();
        assert_eq!(vs.len(), 9);
        for v in &vs {
            let t = Token::decode(v["token"].as_str().expect("token")).expect("decodes");
            let want = match v["format"].as_str() {
                Some("v1") => WireFormat::V1,
                Some("v2") => WireFormat::V2,
                _ => WireFormat::V2Json,
            };
            assert_eq!(t.wire_format(), want, "{}", v["name"]);
            assert_eq!(t.identifier(), v["identifier"].as_str().expect("id").as_bytes());
            assert_eq!(t.location().as_deref(), Some("https://api.example.com"));
            let caveats: Vec<String> = t
                .first_party()
                .into_iter()
                .map(|c| String::from_utf8(c).expect("utf8"))
                .collect();
            assert_eq!(serde_json::json!(caveats), v["caveats"], "{}", v["name"]);
            assert_eq!(
                t.third_party().len(),
                v["third_party"].as_array().map_or(0, |a| a.len())
            );
            assert_eq!(t.signature_fingerprint().len(), 16);
            assert_eq!(t.key_id(), None, "their identifiers are not sealed");
        }
    }

    #[test]
    fn every_format_verifies_with_the_root_key() {
        let now = SystemTime::now();
        for v in vectors() {
            let ok = request(now, "GET", "api.example.com", "/v1/charges/ch_1");
            assert_eq!(decide_foreign(&v, &ok), Decision::Allow, "{}", v["name"]);
            let post = request(now, "POST", "api.example.com", "/v1/charges");
            assert_eq!(
                deny(decide_foreign(&v, &post)).caveat.as_deref(),
                Some("method in GET HEAD")
            );
        }
    }

    #[test]
    fn discharge_caveats_are_checked_too() {
        let now = SystemTime::now();
        for v in vectors()
            .iter()
            .filter(|v| !v["discharges"].as_array().expect("a").is_empty())
        {
            // HEAD passes the token's own caveats but not the discharge's "method = GET".
            let head = request(now, "HEAD", "api.example.com", "/v1/charges");
            let d = deny(decide_foreign(v, &head));
            assert_eq!(d.caveat.as_deref(), Some("method = GET"), "{}", v["name"]);
        }
    }

    #[test]
    fn missing_discharge_is_denied() {
        for v in vectors()
            .iter()
            .filter(|v| !v["discharges"].as_array().expect("a").is_empty())
        {
            let token = Token::decode(v["token"].as_str().expect("t")).expect("decodes");
            let d = verify_chain(&token, &root(v), &[]).expect_err("needs a discharge");
            assert_eq!(d.kind, DenyKind::DischargeMissing);
            assert!(d.caveat.as_deref().unwrap_or("").contains("approve.example.com"));
        }
    }

    #[test]
    fn unbound_discharge_is_denied() {
        // The discharge must be bound to the presented token, not just valid on its own.
        for v in vectors()
            .iter()
            .filter(|v| v["name"].as_str().is_some_and(|n| n.ends_with("v2-third-party")))
        {
            let token = Token::decode(v["token"].as_str().expect("t")).expect("decodes");
            let narrower = token.attenuate(&Caveat::parse("method = GET").expect("c"));
            let discharges: Vec<Token> = v["discharges"]
                .as_array()
                .expect("a")
                .iter()
                .map(|d| Token::decode(d.as_str().expect("s")).expect("d"))
                .collect();
            // Bound to `token`, presented with `narrower`: the binding no longer matches.
            let d = verify_chain(&narrower, &root(v), &discharges).expect_err("unbound");
            assert_eq!(d.kind, DenyKind::BadSignature);
        }
    }

    /// A holder attenuated these with pymacaroons, adding `form amount <= 100`: body
    /// caveats are ordinary first-party caveats, decided here like any other.
    #[test]
    fn pymacaroons_attenuated_form_amount_is_decided_here() {
        let text = include_str!("../../../tests/fixtures/pymacaroons/vectors.json");
        let doc: serde_json::Value = serde_json::from_str(text).expect("vectors.json");
        let vectors = doc["body_vectors"].as_array().expect("body_vectors");
        assert_eq!(vectors.len(), 2);
        let now = SystemTime::now();
        for v in vectors {
            let token = Token::decode(v["token"].as_str().expect("token")).expect("decodes");
            let caveats: Vec<String> = token
                .first_party()
                .into_iter()
                .map(|c| String::from_utf8(c).expect("utf8"))
                .collect();
            assert_eq!(serde_json::json!(caveats), v["caveats"], "{}", v["name"]);
            let predicates = verify_chain(&token, &root(v), &[]).expect("the chain verifies");
            assert!(needs_body(&predicates));
            for case in v["requests"].as_array().expect("requests") {
                let s = |k: &str| case[k].as_str().expect(k);
                let mut req = request(now, s("method"), "api.example.com", s("path"));
                req.body = BodyView::Read(RequestBody::new(
                    Some(s("content_type").to_string()),
                    None,
                    s("body").as_bytes().to_vec().into(),
                ));
                let decision = check_predicates(&predicates, &req);
                match s("expect") {
                    "allow" => assert_eq!(decision, Decision::Allow, "{} {}", v["name"], s("body")),
                    _ => {
                        let d = deny(decision);
                        assert_eq!(d.kind, DenyKind::CaveatFailed);
                        assert_eq!(d.caveat.as_deref(), Some("form amount <= 100"), "{}", s("body"));
                    }
                }
            }
            // Without the body read, the caveat cannot hold.
            let unread = request(now, "POST", "api.example.com", "/v1/payment_intents");
            assert!(!check_predicates(&predicates, &unread).is_allowed());
        }
    }

    #[test]
    fn wrong_root_key_is_denied() {
        for v in vectors() {
            let token = Token::decode(v["token"].as_str().expect("t")).expect("decodes");
            let d = verify_chain(&token, &RootKey::from_bytes([9; 32]), &[]).expect_err("wrong key");
            assert!(matches!(d.kind, DenyKind::BadSignature), "{}: {:?}", v["name"], d);
        }
    }
}

mod third_party {
    use super::*;

    const KEY: &[u8] = b"shared approval key";

    fn setup() -> (ProxyKeyPair, Token, Token, SystemTime) {
        let proxy = ProxyKeyPair::generate();
        let now = SystemTime::now();
        let token = mint(&proxy, None, now).add_third_party("https://approve.example", KEY, b"approve-1");
        let discharge = Token::discharge(Some("https://approve.example".into()), KEY, b"approve-1")
            .expect("discharge")
            .attenuate(&Caveat::TimeBefore(now + Duration::from_secs(60)));
        (proxy, token, discharge, now)
    }

    #[test]
    fn bound_discharge_satisfies_the_caveat() {
        let (proxy, token, discharge, now) = setup();
        let bound = token.bind(&discharge);
        let req = request(now, "GET", "api.stripe.com", "/");
        assert!(decide(&token, &[bound], std::slice::from_ref(&proxy), &req).is_allowed());
        let d = deny(decide(&token, &[], &[proxy], &req));
        assert_eq!(d.kind, DenyKind::DischargeMissing);
    }

    #[test]
    fn unbound_discharge_or_wrong_key_is_refused() {
        let (proxy, token, discharge, now) = setup();
        let req = request(now, "GET", "api.stripe.com", "/");
        let d = deny(decide(
            &token,
            std::slice::from_ref(&discharge),
            std::slice::from_ref(&proxy),
            &req,
        ));
        assert_eq!(d.kind, DenyKind::BadSignature);
        let forged = Token::discharge(None, b"guessed key", b"approve-1").expect("d");
        let d = deny(decide(&token, &[token.bind(&forged)], &[proxy], &req));
        assert_eq!(d.kind, DenyKind::BadSignature);
    }

    #[test]
    fn discharge_caveats_are_checked_and_binding_follows_attenuation() {
        let (proxy, token, discharge, now) = setup();
        let later = request(now + Duration::from_secs(120), "GET", "api.stripe.com", "/");
        let d = deny(decide(
            &token,
            &[token.bind(&discharge)],
            std::slice::from_ref(&proxy),
            &later,
        ));
        assert_eq!(d.kind, DenyKind::CaveatFailed);
        // Narrowing after binding invalidates the binding: bind last.
        let narrow = token.attenuate(&Caveat::parse("method = GET").expect("c"));
        let req = request(now, "GET", "api.stripe.com", "/");
        let d = deny(decide(
            &narrow,
            &[token.bind(&discharge)],
            std::slice::from_ref(&proxy),
            &req,
        ));
        assert_eq!(d.kind, DenyKind::BadSignature);
        assert!(decide(&narrow, &[narrow.bind(&discharge)], &[proxy], &req).is_allowed());
    }

    #[test]
    fn third_party_caveats_round_trip_every_format() {
        let (proxy, token, discharge, now) = setup();
        let req = request(now, "GET", "api.stripe.com", "/");
        for f in [WireFormat::V1, WireFormat::V2, WireFormat::V2Json] {
            let t = Token::decode(&token.encode_as(f)).expect("decode");
            let d = Token::decode(&token.bind(&discharge).encode_as(f)).expect("decode");
            assert_eq!(t.third_party()[0].location, "https://approve.example");
            assert!(
                decide(&t, &[d], std::slice::from_ref(&proxy), &req).is_allowed(),
                "{f}"
            );
        }
    }
}

/// Tokens minted by an earlier build (tests/fixtures/ours) must keep verifying: the wire
/// format, the sealed identifier and the caveat language are a contract.
mod committed_vectors {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    #[test]
    fn tokens_from_the_fixture_decide_as_recorded() {
        let text = include_str!("../../../tests/fixtures/ours/vectors.json");
        let doc: serde_json::Value = serde_json::from_str(text).expect("json");
        let key = STANDARD
            .decode(doc["proxy_private_key"].as_str().expect("key"))
            .expect("b64");
        let proxy = ProxyKeyPair::from_private_bytes(key.try_into().expect("32 bytes"));
        let now = SystemTime::now();
        let mut checked = 0;
        for v in doc["vectors"].as_array().expect("vectors") {
            let token = Token::decode(v["token"].as_str().expect("token")).expect("decodes");
            let payload = unseal(&token, std::slice::from_ref(&proxy)).expect("unseals");
            assert_eq!(payload.secret.expose(), doc["secret"]);
            let discharges: Vec<Token> = v["discharges"]
                .as_array()
                .expect("d")
                .iter()
                .map(|d| Token::decode(d.as_str().expect("s")).expect("discharge"))
                .collect();
            for r in v["requests"].as_array().expect("requests") {
                let req = request(
                    now,
                    r["method"].as_str().expect("m"),
                    r["host"].as_str().expect("h"),
                    r["path"].as_str().expect("p"),
                );
                let allowed = decide_unsealed(&token, &payload, &discharges, &req).is_allowed();
                assert_eq!(allowed, r["expect"] == "allow", "{} {}", v["name"], r);
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} checks");
    }
}

/// Invariant 6: token text is read strictly. Each trick below decoded to a valid token
/// before; now each is malformed, with a message naming the problem.
mod strict_text {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;

    fn token() -> Token {
        mint(&ProxyKeyPair::generate(), None, SystemTime::now())
    }

    fn malformed(text: &str) -> String {
        match Token::decode(text) {
            Err(e @ DecodeError::Malformed(_)) => e.to_string(),
            other => panic!("expected a malformed-token error, got {other:?}"),
        }
    }

    #[test]
    fn bytes_after_the_signature_are_refused_v2() {
        let t = token().encode();
        let mut bin = URL_SAFE_NO_PAD.decode(&t).expect("b64");
        for extra in [&[0u8][..], b"\x06\x20", b"anything"] {
            let n = bin.len();
            bin.extend_from_slice(extra);
            let e = malformed(&URL_SAFE_NO_PAD.encode(&bin));
            assert!(
                e.contains(&format!("{} extra byte(s) follow the signature", extra.len())),
                "{e}"
            );
            bin.truncate(n);
        }
        assert!(Token::decode(&URL_SAFE_NO_PAD.encode(&bin)).is_ok());
    }

    #[test]
    fn bytes_after_the_signature_are_refused_v1() {
        let v1 = token().encode_as(WireFormat::V1);
        let mut bin = URL_SAFE_NO_PAD.decode(v1.trim_end_matches('=')).expect("b64");
        // A whole extra packet, as if a caveat were appended after the signature.
        bin.extend_from_slice(b"000fcid x = 1\n");
        let e = malformed(&URL_SAFE_NO_PAD.encode(&bin));
        assert!(e.contains("14 extra byte(s) follow the signature"), "{e}");
    }

    /// A token whose binary length leaves unused bits in its last base64 character.
    fn token_with_unused_bits() -> String {
        let t = token();
        // A caveat of 16 bytes in V2 (tag, length, 13 bytes, end) changes the length mod 3.
        let t = match t.encode().len() % 4 {
            0 => t.attenuate(&Caveat::parse("method = POST").expect("caveat")),
            _ => t,
        };
        assert_ne!(t.encode().len() % 4, 0);
        t.encode()
    }

    /// Sets the lowest (always unused) bit of the last character.
    fn set_trailing_bit(text: &str, alphabet: &str) -> String {
        let last = text.chars().last().expect("char");
        let value = alphabet.find(last).expect("in alphabet");
        assert_eq!(value & 1, 0, "a canonical last character has zero unused bits");
        let mut out = text[..text.len() - 1].to_string();
        out.push(alphabet.as_bytes()[value | 1] as char);
        out
    }

    #[test]
    fn non_zero_base64_trailing_bits_are_refused() {
        const URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const STD: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let text = token_with_unused_bits();
        assert!(Token::decode(&text).is_ok());
        let e = malformed(&set_trailing_bit(&text, URL));
        assert!(e.contains("non-zero unused bits"), "{e}");
        // The standard alphabet, padded, as V1 tokens usually travel.
        let bin = URL_SAFE_NO_PAD.decode(&text).expect("b64");
        let padded = STANDARD.encode(&bin);
        let body = padded.trim_end_matches('=');
        let pad = &padded[body.len()..];
        assert!(Token::decode(&padded).is_ok());
        let e = malformed(&format!("{}{pad}", set_trailing_bit(body, STD)));
        assert!(e.contains("non-zero unused bits"), "{e}");
    }

    #[test]
    fn over_long_field_length_is_refused() {
        let t = Token::create(None, &RootKey::from_bytes([3; 32]), b"id");
        let bin = URL_SAFE_NO_PAD.decode(t.encode()).expect("b64");
        // version 2, identifier tag 2, length 2, "id": the length again as two bytes.
        assert_eq!(&bin[..5], b"\x02\x02\x02id");
        let mut long = vec![2u8, 2, 0x82, 0x00];
        long.extend_from_slice(&bin[3..]);
        let e = malformed(&URL_SAFE_NO_PAD.encode(&long));
        assert!(e.contains("longer form than needed"), "{e}");
    }

    #[test]
    fn unknown_v2json_fields_are_refused() {
        let json = token().encode_as(WireFormat::V2Json);
        assert!(Token::decode(&json).is_ok());
        let extra = json.replacen('{', "{\"x\":\"hidden\",", 1);
        assert!(matches!(Token::decode(&extra), Err(DecodeError::Format(_))));
        let caveat = token()
            .attenuate(&Caveat::parse("method = GET").expect("c"))
            .encode_as(WireFormat::V2Json)
            .replacen("\"i\":\"method = GET\"", "\"i\":\"method = GET\",\"x\":1", 1);
        assert!(matches!(Token::decode(&caveat), Err(DecodeError::Format(_))));
    }

    /// What stays accepted, by design: either base64 alphabet, with or without padding, and
    /// surrounding whitespace. They spell the same bytes; nothing extra can ride along.
    #[test]
    fn either_alphabet_and_padding_still_read() {
        let t = token_with_unused_bits();
        let bin = URL_SAFE_NO_PAD.decode(&t).expect("b64");
        for text in [
            STANDARD.encode(&bin),
            STANDARD.encode(&bin).trim_end_matches('=').to_string(),
            base64::engine::general_purpose::URL_SAFE.encode(&bin),
            format!(" {t}\n"),
        ] {
            let back = Token::decode(&text).expect("reads");
            assert_eq!(back.encode(), t);
        }
    }
}
