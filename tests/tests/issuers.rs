//! The open relay, closed: the proxy's public key is public, so anyone can seal a secret to
//! it; only payloads signed by an issuer the proxy trusts are opened, and `--allow-host`
//! bounds the hosts even a trusted issuer's tokens may reach.

use std::time::{Duration, Instant};

use e2e::Session;

use crate::world::{bearer, curl, world, world_with, World, HOST, OTHER, SECRET};

const ATTACKER_KEY: &str = "sk_attacker_exfiltration_key";

/// What an agent inside the sandbox can do: wrap a secret of its own for a host of its
/// choosing with the proxy's public key, in a home (an issuer) of its own.
fn attacker_token(w: &World, host: &str) -> (Session, String) {
    let a = Session::new();
    let proxy_pub = std::fs::read_to_string(w.s.home().join("proxy.pub")).expect("proxy.pub");
    let token = a
        .run_stdin(
            "macaroon",
            &["wrap", "mine", "--host", host, "--proxy-key", proxy_pub.trim()],
            ATTACKER_KEY,
        )
        .ok()
        .out()
        .to_string();
    (a, token)
}

fn code(r: &crate::world::Reply) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

fn assert_attacker_saw_nothing(w: &World, before: usize) {
    w.assert_clean(before);
    let audit = std::fs::read_to_string(&w.proxy.audit_path).unwrap_or_default();
    assert!(!audit.contains(ATTACKER_KEY));
    assert!(
        w.up.seen().iter().all(|s| !s.authority.starts_with(OTHER)),
        "the attacker's host was reached"
    );
}

#[test]
fn a_token_from_an_untrusted_issuer_is_refused_in_reverse_forward_and_https_proxy_modes() {
    let w = world();
    let (_a, token) = attacker_token(&w, OTHER);
    // Reverse proxy: the token's first sealed host would be the attacker's.
    let r = curl(&[
        &format!("{}/collect?data=secret", w.proxy.url()),
        "-H",
        &bearer(&token),
    ]);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (401, "untrusted_issuer"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let message =
        serde_json::from_slice::<serde_json::Value>(&r.body).expect("json")["error"]["message"].to_string();
    assert!(message.contains("macaroon-proxy issuers add"), "{message}");
    // HTTP_PROXY (absolute-form).
    let r = curl(&[
        "--proxy",
        &w.proxy.url(),
        &format!("http://{OTHER}/collect"),
        "-H",
        &bearer(&token),
    ]);
    assert_eq!((r.status, code(&r).as_str()), (401, "untrusted_issuer"));
    // HTTPS_PROXY (CONNECT, intercepted).
    let r = w.via_connect(&format!("https://{OTHER}/collect"), &["-H", &bearer(&token)]);
    assert_eq!((r.status, code(&r).as_str()), (401, "untrusted_issuer"));
    // The home's own tokens still work: its issuer is trusted by default.
    let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_attacker_saw_nothing(&w, 1);
}

#[test]
fn a_payload_changed_by_someone_holding_the_proxy_key_is_refused() {
    use base64::Engine;
    let w = world();
    // Open the box with the proxy's own private key, send the secret elsewhere, seal again:
    // the issuer's signature no longer matches.
    let key = std::fs::read_to_string(w.s.home().join("proxy.key")).expect("proxy.key");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .expect("base64");
    let proxy = caveat::ProxyKeyPair::from_private_bytes(bytes.try_into().expect("32 bytes"));
    let token = caveat::Token::decode(&w.token).expect("token");
    let mut payload = caveat::unseal(&token, std::slice::from_ref(&proxy)).expect("opens");
    payload.hosts = vec![caveat::Host::normalize(OTHER).expect("host")];
    let forged = caveat::Token::create(None, &payload.root, &payload.seal(proxy.public())).encode();
    let r = curl(&[&format!("{}/collect", w.proxy.url()), "-H", &bearer(&forged)]);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (401, "invalid_token"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(String::from_utf8_lossy(&r.body).contains("altered"));
    assert_attacker_saw_nothing(&w, 0);
}

#[test]
fn allow_host_refuses_a_trusted_issuers_token_for_another_host() {
    let w = world_with("bearer", &["--allow-host", &format!("*.example.org,{OTHER}")]);
    let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "host_not_allowed"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(String::from_utf8_lossy(&r.body).contains(HOST));
    // A token of the same issuer for an allowed host goes through.
    let other =
        w.s.run_stdin("macaroon", &["wrap", "other", "--host", OTHER], SECRET)
            .ok()
            .out()
            .to_string();
    let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&other)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(w.up.seen().len(), 1);
    assert!(w.up.seen()[0].authority.starts_with(OTHER));
}

/// Requests with `token` until the status is `want`, or 10 s pass; returns how long it took.
fn until_status(w: &World, token: &str, want: u16) -> Duration {
    let start = Instant::now();
    loop {
        let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(token)]);
        if r.status == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still {} after 10 s",
            r.status
        );
        std::thread::yield_now();
    }
}

#[test]
fn trusting_then_removing_an_issuer_takes_effect_within_a_second_or_two() {
    let w = world();
    let (a, token) = attacker_token(&w, HOST);
    let issuer = a.run("macaroon", &["issuer", "show"]).ok().out().to_string();
    assert_eq!(
        issuer,
        std::fs::read_to_string(a.home().join("issuer.pub"))
            .expect("issuer.pub")
            .trim()
    );
    w.s.run(
        "macaroon-proxy",
        &["issuers", "add", &issuer, "--note", "a colleague"],
    )
    .ok();
    let list =
        w.s.run("macaroon-proxy", &["issuers", "list"])
            .ok()
            .out()
            .to_string();
    assert!(list.contains(&format!("{issuer}  # a colleague")), "{list}");
    assert!(list.contains("this home's own issuer"), "{list}");
    until_status(&w, &token, 200);
    // Removed: every token it wrapped stops, cached as verified or not.
    w.s.run("macaroon-proxy", &["issuers", "rm", &issuer]).ok();
    let took = until_status(&w, &token, 401);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // The home's own tokens are unaffected.
    let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(r.status, 200);
    // Removing a key that is not there says so.
    let run = w.s.run("macaroon-proxy", &["issuers", "rm", &issuer]);
    run.code(2);
    assert!(run.stderr.contains("issuers list"), "{}", run.stderr);
}

/// `macaroon verify` in the proxy's home decides like the proxy: an untrusted issuer's
/// token and a revoked family are denied there too, not only at the proxy.
#[test]
fn verify_reads_the_same_trust_and_revocation_lists_as_the_proxy() {
    let w = world();
    let url = format!("https://{HOST}/v1/charges");
    let (_a, foreign) = attacker_token(&w, HOST);
    let run = w.s.run(
        "macaroon",
        &["verify", &foreign, "--method", "GET", "--url", &url],
    );
    run.code(1);
    assert!(
        run.stderr.contains("does not trust") && run.stderr.contains("issuers add"),
        "{}",
        run.stderr
    );
    let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&foreign)]);
    assert_eq!(r.status, 401);

    let narrow = w.narrow(&["--method", "GET"]);
    w.s.run("macaroon", &["verify", &narrow, "--method", "GET", "--url", &url])
        .code(0);
    w.s.run("macaroon-proxy", &["revoke", &narrow]).ok();
    let run = w.s.run(
        "macaroon",
        &["verify", &narrow, "--method", "GET", "--url", &url, "--json"],
    );
    run.code(1);
    let v: serde_json::Value = serde_json::from_str(run.out()).expect("json");
    assert_eq!(v["kind"], "revoked", "{v}");
    assert_eq!(v["error"]["code"], "revoked", "the proxy's error object too: {v}");
    assert_eq!(v["status"], 403, "{v}");
    // The running proxy agrees within a second (until then the token still works).
    until_status(&w, &narrow, 403);
    let served = w.up.seen().len();
    let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&narrow)]);
    assert_eq!(r.status, 403);
    w.assert_clean(served);
}

/// Starts `macaroon-proxy run` in `s`'s home and returns its exit code and stderr if it
/// exits before listening; panics if it comes up.
fn proxy_start_failure(s: &Session) -> (Option<i32>, String) {
    use std::io::BufRead;
    let mut child = s
        .cmd("macaroon-proxy")
        .args(["run", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut err = String::new();
    for line in std::io::BufReader::new(child.stderr.take().expect("stderr")).lines() {
        let line = line.unwrap_or_default();
        if line.contains("listening on") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the proxy started:\n{err}{line}");
        }
        err.push_str(&line);
        err.push('\n');
    }
    (child.wait().ok().and_then(|c| c.code()), err)
}

/// A `revoked` line that is not a kid would revoke nothing: it stops a proxy from starting
/// (exit 2, naming file and line), and a running proxy keeps its last good list and says
/// which line is wrong. `revoke` writes the form the proxy reads.
#[test]
fn a_revoked_line_that_is_not_a_kid_is_never_ignored() {
    let w = world();
    let narrow = w.narrow(&["--method", "GET"]);
    w.s.run("macaroon-proxy", &["revoke", "--family", &narrow]).ok();
    let path = w.s.home().join("revoked");
    let written = std::fs::read_to_string(&path).expect("revoked");
    let kid = written.split_whitespace().next().expect("a kid").to_string();
    assert!(
        kid.len() == 32
            && kid
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{written}"
    );
    assert!(written.starts_with(&format!("{kid}  # revoked ")), "{written}");
    until_status(&w, &narrow, 403);

    // Each shape an operator might paste, while the proxy runs: the list stays, a warning
    // names the line.
    for (n, bad) in [
        format!("\u{feff}kid: {kid}"),
        format!("{kid},"),
        format!("{kid} {kid}"),
        narrow.clone(),
    ]
    .iter()
    .enumerate()
    {
        let want = format!("{} line 2 is not a revocation", path.display());
        let warned = w.proxy.stderr().matches(&want).count();
        let reloaded = w.proxy.stderr().matches("revocation list reloaded").count();
        std::fs::write(&path, format!("{written}{bad}\n")).expect("write");
        let start = Instant::now();
        while w.proxy.stderr().matches(&want).count() == warned {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no warning for {n}: {}",
                w.proxy.stderr()
            );
            std::thread::yield_now();
        }
        let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&narrow)]);
        assert_eq!(r.status, 403, "the last good list is kept");
        // At start-up: exit 2, naming the file, the line and a good line's shape.
        let (code, err) = proxy_start_failure(&w.s);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(&want) && err.contains("32 hex digits"), "{err}");
        assert!(!err.contains(&narrow[..40]), "the token is not quoted: {err}");
        // The dry run refuses to guess too.
        let run = w.s.run(
            "macaroon",
            &[
                "verify",
                &w.token,
                "--method",
                "GET",
                "--url",
                &format!("https://{HOST}/v1/charges"),
            ],
        );
        run.code(1);
        assert!(run.stderr.contains(&want), "{}", run.stderr);
        // Back to the good list, so the next shape is a change the proxy sees.
        std::fs::write(&path, &written).expect("write");
        while w.proxy.stderr().matches("revocation list reloaded").count() == reloaded {
            assert!(start.elapsed() < Duration::from_secs(20), "{}", w.proxy.stderr());
            std::thread::yield_now();
        }
    }
    assert!(
        w.proxy.stderr().contains("whole token"),
        "a pasted token is named as such: {}",
        w.proxy.stderr()
    );
}

/// The quick start as a script runs it: the proxy first, in a home with no issuer yet, then
/// `macaroon wrap` and the call at once, before the proxy's once-a-second re-read.
#[test]
fn a_key_wrapped_just_after_the_proxy_started_works_at_once() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let up = e2e::upstream::Upstream::start_with("127.0.0.1:0", &[HOST], Default::default());
    let proxy = s.start_proxy(&up, &[HOST], &[]);
    let token = s
        .run_stdin("macaroon", &["wrap", "api", "--host", HOST], SECRET)
        .ok()
        .out()
        .to_string();
    let started = Instant::now();
    let r = curl(&[&format!("{}/v1/charges", proxy.url()), "-H", &bearer(&token)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Read once the proxy's audit writer has caught up: the line is written after the answer.
    let audit = proxy.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["issuer"], "local", "{audit:?}");
}
