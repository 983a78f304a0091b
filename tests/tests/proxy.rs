//! The proxy end to end: real curl and Python clients, a real TLS upstream that records
//! what reached it, the proxy binary in between.

use std::process::Command;

use e2e::upstream::{big_body, CHUNK, CHUNKS};

use crate::world::*;

#[test]
fn reverse_mode_injects_the_key_and_never_forwards_the_token() {
    let w = world();
    let r = curl(&[
        &format!("{}/v1/charges?limit=3", w.proxy.url()),
        "-H",
        &bearer(&w.token),
    ]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = w.up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/v1/charges?limit=3");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(seen[0].authority, HOST);
    for (k, v) in &seen[0].headers {
        assert!(!v.contains(&w.token[..60]), "token forwarded in {k}");
    }
    assert!(
        r.headers.to_ascii_lowercase().contains("x-request-id:"),
        "{}",
        r.headers
    );
    w.assert_clean(1);
}

#[test]
fn https_proxy_mode_intercepts_with_the_local_ca() {
    let w = world();
    let r = w.via_connect(&format!("https://{HOST}/v1/charges"), &["-H", &bearer(&w.token)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = w.up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // Every request inside the tunnel is decided on its own: a second one with no token
    // on the same kept-alive connection is refused.
    let ca = w.ca();
    let proxy = w.proxy.url();
    let url = format!("https://{HOST}/v1/charges");
    let auth = bearer(&w.token);
    let one = [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{num_connects}\n",
        "--proxy",
        &proxy,
        "--cacert",
        &ca,
        &url,
    ];
    let out = Command::new("curl")
        .args(one)
        .args(["-H", &auth, "--next"])
        .args(one)
        .output()
        .expect("curl");
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out, "200 1\n401 0\n",
        "second request on the same tunnel (no new connect) must be refused"
    );
    assert_eq!(w.up.seen().len(), 2);
}

/// curl (OpenSSL) through the interception with TLS 1.2 and with TLS 1.3, HTTP/1.1 and a
/// new connection per request (each answer closes it): every request is answered. A TLS 1.2 client waits
/// for the server's last handshake flight, which the proxy must not hold back; a TLS 1.3
/// one gets its session ticket with the answer.
#[test]
fn curl_with_tls_1_2_and_1_3_gets_every_answer_on_a_new_connection_each() {
    let w = world();
    let ca = w.ca();
    let proxy = w.proxy.url();
    let url = format!("https://{HOST}/v1/charges");
    let auth = bearer(&w.token);
    for version in [&["--tlsv1.2", "--tls-max", "1.2"][..], &["--tlsv1.3"][..]] {
        let one: Vec<&str> = [
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{ssl_verify_result}\n",
            "--proxy",
            &proxy,
            "--cacert",
            &ca,
            "-H",
            &auth,
            "-H",
            "Connection: close",
            "--http1.1",
            &url,
        ]
        .into_iter()
        .chain(version.iter().copied())
        .collect();
        let out = Command::new("curl")
            .args(&one)
            .arg("--next")
            .args(&one)
            .arg("--next")
            .args(&one)
            .output()
            .expect("curl");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "200 0\n200 0\n200 0\n",
            "{version:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(w.up.seen().len(), 6);
    // A tunnel (and a handshake) per request: the answers closed their connections.
    let tunnels = w.proxy.audit().iter().filter(|l| l["event"] == "connect").count();
    assert_eq!(tunnels, 6);
}

#[test]
fn large_and_chunked_bodies_stream_back_intact() {
    let w = world();
    let big = curl(&[&format!("{}/big", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(big.status, 200);
    assert!(
        big.body == big_body(),
        "the 5 MiB body differs ({} bytes)",
        big.body.len()
    );
    let big = w.via_connect(&format!("https://{HOST}/big"), &["-H", &bearer(&w.token)]);
    assert!(
        big.body == big_body(),
        "the 5 MiB body differs through CONNECT ({} bytes)",
        big.body.len()
    );
    let chunked = w.via_connect(
        &format!("https://{HOST}/chunked"),
        &["-H", &bearer(&w.token), "--http1.1"],
    );
    assert_eq!(chunked.body.len(), CHUNKS * CHUNK);
    assert!(chunked
        .body
        .chunks(CHUNK)
        .enumerate()
        .all(|(i, c)| c.iter().all(|b| *b == (i % 256) as u8)));
    let lines = w.proxy.audit();
    let big_line = lines
        .iter()
        .find(|l| l["path"] == "/big")
        .expect("audit line for /big");
    assert_eq!(big_line["bytes_out"], e2e::upstream::BIG as u64);
}

#[test]
fn uploads_stream_to_the_upstream() {
    let w = world();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("upload");
    std::fs::write(&file, vec![7u8; 3 * 1024 * 1024]).expect("write");
    let data = format!("@{}", file.display());
    let r = curl(&[
        &format!("{}/v1/files", w.proxy.url()),
        "-H",
        &bearer(&w.token),
        "--data-binary",
        &data,
    ]);
    assert_eq!(r.status, 200);
    assert_eq!(w.up.seen()[0].body_len, 3 * 1024 * 1024);
}

#[test]
fn every_deny_path_reaches_nothing_upstream() {
    let w = world();
    let url = format!("{}/v1/charges", w.proxy.url());
    // No token: 401 with a challenge, and a body that says what to do.
    let r = curl(&[&url]);
    assert_eq!(r.status, 401);
    assert!(
        r.headers.contains("www-authenticate: Bearer realm=\"macaroon\""),
        "{}",
        r.headers
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json body");
    assert_eq!(body["error"]["type"], "macaroon_error");
    assert_eq!(body["error"]["code"], "no_token");
    assert!(body["error"]["message"]
        .as_str()
        .expect("message")
        .contains("macaroon wrap"));
    assert_eq!(body["error"]["request_id"].as_str().map(str::len), Some(16));
    w.assert_clean(0);

    // Garbage that looks like a token, and a token with a flipped character.
    let mut forged: Vec<char> = w.token.chars().collect();
    let n = forged.len() - 3;
    forged[n] = if forged[n] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    for bad in ["A".repeat(120), forged] {
        let r = curl(&[&url, "-H", &bearer(&bad)]);
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    }
    w.assert_clean(0);

    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            w.narrow(&["--caveat", "time < 2020-01-01T00:00:00Z"]),
            vec![],
            "expired",
        ),
        (
            w.narrow(&["--method", "GET"]),
            vec!["-X", "POST"],
            "method POST is not allowed",
        ),
        (
            w.narrow(&["--path", "/v1/refunds"]),
            vec![],
            "path /v1/charges is not allowed",
        ),
    ];
    for (token, extra, why) in cases {
        let auth = bearer(&token);
        let mut args = vec![url.as_str(), "-H", auth.as_str()];
        args.extend(extra);
        let r = curl(&args);
        assert_eq!(r.status, 403, "{why}");
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["error"]["code"], "caveat_failed", "{body}");
        assert!(
            body["error"]["message"].as_str().expect("message").contains(why),
            "{body}"
        );
        assert!(body["error"]["caveat"].is_string(), "{body}");
    }
    w.assert_clean(0);

    // A path with a dot segment, sent raw.
    let r = curl(&[
        "--path-as-is",
        &format!("{}/v1/charges/../admin", w.proxy.url()),
        "-H",
        &bearer(&w.token),
    ]);
    assert_eq!(r.status, 400);
    w.assert_clean(0);

    // Host not sealed, as an absolute-form request and as a CONNECT tunnel.
    let proxy = w.proxy.url();
    let r = curl(&[
        "--proxy",
        &proxy,
        &format!("http://{OTHER}/v1/charges"),
        "-H",
        &bearer(&w.token),
    ]);
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("not one the key was wrapped for"));
    let r = w.via_connect(&format!("https://{OTHER}/v1/charges"), &["-H", &bearer(&w.token)]);
    assert_eq!(r.status, 403);
    w.assert_clean(0);

    // Absolute URI naming the sealed host, Host header naming another: refused.
    let r = curl(&[
        "--proxy",
        &proxy,
        &format!("http://{HOST}/v1/charges"),
        "-H",
        &bearer(&w.token),
        "-H",
        &format!("Host: {OTHER}"),
    ]);
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("authority_mismatch"));
    // Inside a tunnel to the sealed host, a Host header naming another host: refused.
    let r = w.via_connect(
        &format!("https://{HOST}/v1/charges"),
        &[
            "-H",
            &bearer(&w.token),
            "-H",
            &format!("Host: {OTHER}"),
            "--http1.1",
        ],
    );
    assert_eq!(r.status, 403);
    w.assert_clean(0);

    // And the proxy still serves.
    let r = curl(&[&url, "-H", &bearer(&w.token)]);
    assert_eq!(r.status, 200);
}

#[test]
fn plain_http_to_a_sealed_host_goes_upstream_over_tls() {
    let w = world();
    let proxy = w.proxy.url();
    // The upstream only speaks TLS: a 200 proves the proxy upgraded the hop.
    let r = curl(&[
        "--proxy",
        &proxy,
        &format!("http://{HOST}/v1/charges"),
        "-H",
        &bearer(&w.token),
    ]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        w.up.seen()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn query_injection_puts_the_key_in_the_parameter() {
    let w = world_with("query:key", &[]);
    let r = curl(&[&format!("{}/v1/search?q=cats&key={}", w.proxy.url(), w.token)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = w.up.seen();
    assert_eq!(seen[0].target, format!("/v1/search?q=cats&key={SECRET}"));
    assert!(seen[0].header("authorization").is_none());
}

#[test]
fn redirects_are_passed_back_not_followed() {
    let w = world();
    let r = curl(&[&format!("{}/redirect", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(r.status, 302);
    assert!(
        r.headers.contains("location: https://attacker.example/steal"),
        "{}",
        r.headers
    );
    assert_eq!(w.up.seen().len(), 1);
}

#[test]
fn audit_has_one_line_per_request_without_secrets() {
    let w = world();
    let url = format!("{}/v1/charges", w.proxy.url());
    curl(&[&url, "-H", &bearer(&w.token)]);
    curl(&[&url]);
    curl(&[&url, "-H", &bearer(&w.narrow(&["--method", "HEAD"]))]);
    let lines = w.proxy.audit();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["host"], HOST);
    assert_eq!(lines[0]["mode"], "reverse");
    assert_eq!(lines[0]["token"].as_str().map(str::len), Some(16));
    assert_eq!(lines[1]["decision"], "deny");
    assert_eq!(lines[1]["status"], 401);
    assert_eq!(lines[2]["caveat"], "method in HEAD");
    for field in [
        "time",
        "request_id",
        "client",
        "method",
        "path",
        "key_id",
        "decide_ms",
        "total_ms",
        "bytes_out",
    ] {
        assert!(
            lines[0].get(field).is_some(),
            "audit line lacks {field}: {}",
            lines[0]
        );
    }
    w.assert_clean(1);
}

#[test]
fn metrics_and_health_on_the_admin_listener() {
    let w = world();
    curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&w.token)]);
    curl(&[&format!("{}/v1/charges", w.proxy.url())]);
    let health = curl(&[&format!("http://{}/healthz", w.proxy.admin)]);
    assert_eq!(health.status, 200);
    let m = String::from_utf8(curl(&[&format!("http://{}/metrics", w.proxy.admin)]).body).expect("utf8");
    assert!(
        m.contains("macaroon_requests_total{decision=\"allow\",status=\"200\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("macaroon_requests_total{decision=\"deny\",status=\"401\"} 1"),
        "{m}"
    );
    assert!(m.contains("macaroon_request_duration_seconds_count 2"), "{m}");
    assert!(m.contains("macaroon_unseal_cache_misses_total 1"), "{m}");
}

#[test]
fn passthrough_hosts_need_no_token() {
    let w = world_with("bearer", &["--passthrough", OTHER]);
    let r = w.via_connect(&format!("https://{OTHER}/public"), &[]);
    // A blind tunnel: the client talks TLS with the upstream itself, so it must trust
    // the upstream's CA, not the proxy's.
    assert_eq!(
        r.status, 0,
        "the proxy CA must not be presented for a passthrough host"
    );
    let ca = w.up.ca_path.display().to_string();
    let proxy = w.proxy.url();
    let r = curl(&[
        "--proxy",
        &proxy,
        "--cacert",
        &ca,
        &format!("https://{OTHER}/public"),
    ]);
    // The blind tunnel goes to OTHER's real address (443), which --resolve maps to the upstream.
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(w.up.seen()[0].header("authorization").is_none());
}

#[test]
fn graceful_shutdown_exits_cleanly() {
    let mut w = world();
    curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(w.proxy.stop(), Some(0));
    assert_eq!(w.proxy.audit().len(), 1);
}

/// Runs a Python snippet with the proxy environment a user would export; `None` only when
/// python3 or the module is missing (a skip on a workstation, a failure under CI).
fn python(w: &World, module: &str, code: &str) -> Option<String> {
    if let Some(why) = e2e::missing_python(&[module]) {
        e2e::skip_or_fail(why);
        return None;
    }
    let ca = w.ca();
    let out = Command::new("python3")
        .args(["-c", code])
        .env("HTTPS_PROXY", w.proxy.url())
        .env("REQUESTS_CA_BUNDLE", &ca)
        .env("SSL_CERT_FILE", &ca)
        .env("TOKEN", &w.token)
        .env("HOST", HOST)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn python_requests_works_through_https_proxy() {
    let w = world();
    let code = r#"
import os, requests
r = requests.post(f"https://{os.environ['HOST']}/v1/charges", headers={"Authorization": "Bearer " + os.environ["TOKEN"]}, data={"amount": "100"})
print(r.status_code, r.json()["path"])
"#;
    let Some(out) = python(&w, "requests", code) else {
        return;
    };
    assert_eq!(out, "200 /v1/charges");
    let seen = w.up.seen();
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(seen[0].body_len, "amount=100".len());
}

#[test]
fn python_httpx_works_through_https_proxy() {
    let w = world();
    let code = r#"
import os, httpx
r = httpx.get(f"https://{os.environ['HOST']}/v1/balance", headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
print(r.status_code, r.json()["path"])
"#;
    let Some(out) = python(&w, "httpx", code) else {
        return;
    };
    assert_eq!(out, "200 /v1/balance");
    assert_eq!(
        w.up.seen()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn revoking_a_token_denies_its_whole_family() {
    let w = world();
    let narrow = w.narrow(&["--method", "GET"]);
    let url = format!("{}/v1/charges", w.proxy.url());
    assert_eq!(curl(&[&url, "-H", &bearer(&narrow)]).status, 200);
    let run = w.s.run("macaroon-proxy", &["revoke", "--family", &narrow]);
    run.ok();
    assert!(run.stderr.contains("Revoked token family"), "{}", run.stderr);
    // The proxy re-reads the list within a second; poll until the root token is refused.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut last = 0;
    while std::time::Instant::now() < deadline {
        last = curl(&[&url, "-H", &bearer(&w.token)]).status;
        if last == 403 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(last, 403, "the root of a revoked family must be refused");
    let body = curl(&[&url, "-H", &bearer(&w.token)]).body;
    assert!(String::from_utf8_lossy(&body).contains("revoked"));
    // The narrow token was verified (and cached) before the revocation: refused all the same.
    let r = curl(&[&url, "-H", &bearer(&narrow)]);
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("revoked"));
}

/// The proxy keeps tokens it has verified (keyed by their exact text), but every request
/// is still decided on its own: a cache hit skips only the signature chain.
#[test]
fn a_token_verified_before_is_still_decided_on_each_request() {
    let w = world();
    let narrow = w.narrow(&["--method", "GET", "--path", "/v1/charges"]);
    let url = |p: &str| format!("{}{p}", w.proxy.url());
    assert_eq!(curl(&[&url("/v1/charges"), "-H", &bearer(&narrow)]).status, 200);
    assert_eq!(
        curl(&[&url("/v1/charges/ch_1"), "-H", &bearer(&narrow)]).status,
        200
    );
    let post = curl(&[&url("/v1/charges"), "-X", "POST", "-H", &bearer(&narrow)]);
    assert_eq!(post.status, 403, "{}", String::from_utf8_lossy(&post.body));
    assert!(String::from_utf8_lossy(&post.body).contains("method in GET"));
    assert_eq!(curl(&[&url("/v1/refunds"), "-H", &bearer(&narrow)]).status, 403);
    // A narrower copy as V2JSON: verified once, then a cache hit.
    let json = w.s.run(
        "macaroon",
        &["attenuate", &narrow, "--format", "v2json", "--method", "GET"],
    );
    let json = json.ok().out().to_string();
    for _ in 0..2 {
        let r = curl(&[&url("/v1/charges"), "-H", &format!("x-api-key: {json}")]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    // Cut the path caveat out of that cached token: its signature bytes stay the same, its
    // text does not. A cache keyed on anything but the exact text would let it through to
    // /v1/refunds; it must miss, and the chain refuses it.
    let mut doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    let caveats = doc["c"].as_array_mut().expect("caveats");
    let before = caveats.len();
    caveats.retain(|c| c["i"] != "path prefix /v1/charges");
    assert_eq!(caveats.len(), before - 1, "{doc}");
    let cut = doc.to_string();
    let r = curl(&[&url("/v1/refunds"), "-H", &format!("x-api-key: {cut}")]);
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    let m = String::from_utf8(curl(&[&format!("http://{}/metrics", w.proxy.admin)]).body).expect("utf8");
    assert!(m.contains("macaroon_verify_cache_misses_total 3"), "{m}");
    assert!(m.contains("macaroon_verify_cache_hits_total 4"), "{m}");
    // Only the four allowed requests reached the upstream.
    assert_eq!(w.up.seen().len(), 4);
}

#[test]
fn token_on_the_connect_request_serves_the_tunnel() {
    let w = world();
    let proxy = format!("http://x:{}@{}", w.token, w.proxy.addr);
    let ca = w.ca();
    let r = curl(&[
        "--proxy",
        &proxy,
        "--cacert",
        &ca,
        &format!("https://{HOST}/v1/charges"),
    ]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        w.up.seen()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

/// Reads `/metrics` until `want` shows up (what the proxy counts after the response went
/// out, such as a failed handshake, lands a moment later), or gives up after 10 s.
fn metrics_with(w: &World, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let m = String::from_utf8(curl(&[&format!("http://{}/metrics", w.proxy.admin)]).body).expect("utf8");
        if m.contains(want) || std::time::Instant::now() > deadline {
            return m;
        }
        std::thread::yield_now();
    }
}

#[test]
fn a_connect_is_counted_as_a_tunnel_not_as_a_request() {
    let w = world();
    let r = w.via_connect(&format!("https://{HOST}/v1/charges"), &["-H", &bearer(&w.token)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let m = metrics_with(&w, "macaroon_tunnels_total{outcome=\"intercepted\"} 1");
    assert!(
        m.contains("macaroon_tunnels_total{outcome=\"intercepted\"} 1"),
        "{m}"
    );
    // The one request inside, and nothing for the CONNECT, in the request counters.
    assert!(m.contains("macaroon_request_duration_seconds_count 1"), "{m}");
    assert!(
        m.contains("macaroon_requests_total{decision=\"allow\",status=\"200\"} 1"),
        "{m}"
    );
}

#[test]
fn a_client_that_does_not_trust_the_ca_leaves_a_trace() {
    let w = world();
    // No --cacert: curl refuses the proxy's leaf certificate and aborts the handshake.
    let r = curl(&[
        "--proxy",
        &w.proxy.url(),
        &format!("https://{HOST}/v1/charges"),
        "-H",
        &bearer(&w.token),
    ]);
    assert_eq!(r.status, 0);
    let want = "macaroon_tls_handshake_failures_total 1";
    let m = metrics_with(&w, want);
    assert!(m.contains(want), "{m}");
    let err = w.proxy.stderr();
    assert!(
        err.contains("does not trust the proxy CA") && err.contains(HOST),
        "{err}"
    );
    w.assert_clean(0);
}

/// A copy of the token in the path would reach the upstream: refused, and logged as the
/// token's fingerprint.
#[test]
fn a_token_in_the_url_path_is_logged_as_its_fingerprint() {
    let w = world();
    let r = curl(&[
        &format!("{}/v1/charges/{}", w.proxy.url(), w.token),
        "-H",
        &bearer(&w.token),
    ]);
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("token_copy"));
    let lines = w.proxy.audit();
    let path = lines[0]["path"].as_str().expect("path");
    assert!(
        path.starts_with("/v1/charges/<token:") && !path.contains(&w.token),
        "{path}"
    );
    assert_eq!(
        path.trim_start_matches("/v1/charges/<token:")
            .trim_end_matches('>'),
        lines[0]["token"]
    );
    w.assert_clean(0);
}

#[test]
fn a_raw_key_or_a_damaged_token_is_called_what_it_is() {
    let w = world();
    let url = format!("{}/v1/charges", w.proxy.url());
    let message = |r: &Reply| -> (String, String) {
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        (
            v["error"]["code"].as_str().unwrap_or("").into(),
            v["error"]["message"].as_str().unwrap_or("").into(),
        )
    };
    // The real key where the token should be: wrap it (and never: let it through).
    let r = curl(&[
        &url,
        "-H",
        "Authorization: Bearer sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ]);
    let (code, text) = message(&r);
    assert_eq!((r.status, code.as_str()), (401, "no_token"));
    assert!(
        text.contains("raw API key") && text.contains("macaroon wrap"),
        "{text}"
    );
    assert!(!text.contains("--passthrough"), "{text}");
    // A token cut short in copying.
    let r = curl(&[&url, "-H", &bearer(&w.token[..w.token.len() / 2])]);
    let (code, text) = message(&r);
    assert_eq!((r.status, code.as_str()), (401, "invalid_token"));
    assert!(text.contains("damaged"), "{text}");
    w.assert_clean(0);
}

/// Opens a CONNECT tunnel by hand and starts TLS with the given SNI.
fn tls_in_tunnel(w: &World, connect_to: &str, sni: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::sync::Arc;
    let mut tcp = std::net::TcpStream::connect(w.proxy.addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        tcp,
        "CONNECT {connect_to}:443 HTTP/1.1\r\nHost: {connect_to}:443\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).map_err(|e| e.to_string())?;
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(w.s.home().join("ca.pem")).map_err(|e| e.to_string())?;
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        let cert: rustls::pki_types::CertificateDer = cert.map_err(|e| e.to_string())?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[test]
fn sni_naming_another_host_than_the_connect_target_fails_the_handshake() {
    let w = world();
    assert_eq!(tls_in_tunnel(&w, HOST, HOST), Ok(()), "matching SNI must work");
    let err = tls_in_tunnel(&w, HOST, OTHER).expect_err("SNI for another host must be refused");
    assert!(!err.is_empty());
    assert!(w.up.seen().is_empty());
    // The proxy keeps serving.
    assert_eq!(
        curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&w.token)]).status,
        200
    );
}

#[test]
fn discharges_in_headers_are_verified_bound_and_stripped() {
    let w = world();
    let key = "approval-key";
    let t =
        w.s.run(
            "macaroon",
            &[
                "attenuate",
                "api",
                "--third-party",
                "https://approve.example",
                "--third-party-key",
                key,
                "--caveat-id",
                "ok-1",
            ],
        )
        .ok()
        .out()
        .to_string();
    let d =
        w.s.run(
            "macaroon",
            &["discharge", "ok-1", "--key", key, "--expires", "5m"],
        )
        .ok()
        .out()
        .to_string();
    let bound =
        w.s.run("macaroon", &["bind", &t, "--discharge", &d])
            .ok()
            .out()
            .to_string();
    let url = format!("{}/v1/refunds", w.proxy.url());
    let without = curl(&[&url, "-H", &bearer(&t)]);
    assert_eq!(without.status, 403);
    assert!(String::from_utf8_lossy(&without.body).contains("Macaroon-Discharge"));
    let unbound = curl(&[&url, "-H", &bearer(&t), "-H", &format!("Macaroon-Discharge: {d}")]);
    assert_eq!(unbound.status, 401);
    w.assert_clean(0);
    let ok = curl(&[
        &url,
        "-H",
        &bearer(&t),
        "-H",
        &format!("Macaroon-Discharge: {bound}"),
    ]);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let seen = w.up.seen();
    assert!(
        seen[0].header("macaroon-discharge").is_none(),
        "discharges must be stripped"
    );
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn a_client_that_leaves_early_still_gets_its_audit_line() {
    let w = world();
    let r = curl(&[
        "--max-time",
        "1",
        &format!("{}/slow", w.proxy.url()),
        "-H",
        &bearer(&w.token),
    ]);
    assert_eq!(r.status, 0, "curl gave up");
    // The upstream answers after 5 s; the line is written as soon as the proxy sees the
    // client gone. Wait for it on the file itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let lines = w.proxy.audit();
        if let Some(line) = lines.iter().find(|l| l["path"] == "/slow") {
            assert_eq!(line["status"], 499, "{line}");
            assert_eq!(line["decision"], "allow");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no audit line for the abandoned request"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn shutdown_finishes_requests_in_flight_inside_tunnels() {
    let mut w = world();
    let ca = w.ca();
    let curl = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "-o",
            "-",
            "-w",
            " %{http_code}",
            "--proxy",
            &w.proxy.url(),
            "--cacert",
            &ca,
        ])
        .arg(format!("https://{HOST}/slow"))
        .args(["-H", &bearer(&w.token)])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl");
    // Wait until the upstream holds the request, then ask the proxy to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while w.up.seen().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the upstream"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(w.proxy.stop(), Some(0), "clean exit after draining");
    let out = curl.wait_with_output().expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "late 200",
        "the request in flight was finished"
    );
    let lines = w.proxy.audit();
    assert!(
        lines.iter().any(|l| l["path"] == "/slow" && l["status"] == 200),
        "{lines:?}"
    );
}

/// A connection opened ahead of its first request (as SDKs and browsers pre-connect) is
/// served when the request comes; concurrent requests each get one whole audit line (the
/// lines are appended without a lock).
#[test]
fn preconnected_clients_are_served_and_concurrent_audit_lines_stay_whole() {
    use std::io::{Read, Write};
    let w = world();
    let mut early = std::net::TcpStream::connect(w.proxy.addr).expect("connect");
    // The client has nothing to say yet: the proxy must wait for it, not give up or answer.
    early
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .expect("timeout");
    let mut none = [0u8; 1];
    assert!(early.read(&mut none).is_err(), "the proxy spoke first or closed");
    let req = format!(
        "GET /v1/charges HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        w.proxy.addr, w.token
    );
    early.write_all(req.as_bytes()).expect("write");
    early
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = String::new();
    early.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let url = format!("{}/v1/charges", w.proxy.url());
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "60",
        "-Z",
        "--parallel-max",
        "32",
        "-H",
        &bearer(&w.token),
    ]);
    for _ in 0..200 {
        cmd.args(["-o", "/dev/null", &url]);
    }
    assert!(cmd.status().expect("curl").success());
    // audit() parses every line: a torn or interleaved line fails here.
    let lines = w.proxy.audit();
    assert_eq!(lines.len(), 201, "one line per request");
    let ids: std::collections::HashSet<&str> =
        lines.iter().filter_map(|l| l["request_id"].as_str()).collect();
    assert_eq!(ids.len(), 201, "request ids are distinct");
    assert!(lines
        .iter()
        .all(|l| l["status"] == 200 && l["decision"] == "allow"));
}

/// `--audit-log -` writes the same lines to stdout, and never the token or the key.
#[test]
fn audit_lines_go_to_stdout_with_a_dash() {
    let w = world();
    let mut cmd = w.s.cmd("macaroon-proxy");
    cmd.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--audit-log",
        "-",
        "--upstream-ca",
    ])
    .arg(&w.up.ca_path)
    .arg("--resolve")
    .arg(format!("{HOST}={}", w.up.addr))
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let marker = "listening on http://";
    let addr = lines
        .find_map(|l| {
            let l = l.ok()?;
            let rest = &l[l.find(marker)? + marker.len()..];
            rest[..rest.find([',', ' ']).unwrap_or(rest.len())]
                .parse::<std::net::SocketAddr>()
                .ok()
        })
        .expect("the proxy announces its address");
    let r = curl(&[&format!("http://{addr}/v1/charges"), "-H", &bearer(&w.token)]);
    assert_eq!(r.status, 200);
    // Stopped as a service manager stops it (SIGTERM), which writes out the audit lines
    // still queued: the line is written after the answer, so a SIGKILL right after the
    // answer can lose it on a busy machine.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("stdout is not an audit line ({e}): {stdout}"));
    assert_eq!(line["status"], 200);
    assert!(!stdout.contains(&w.token) && !stdout.contains(SECRET), "{stdout}");
}

/// A kept-alive connection that idles long enough for the proxy to release its HTTP state
/// (0.5 s) is served again on the same socket, request after request. Each pause lasts
/// until `/metrics` counts the release.
#[test]
fn an_idle_keep_alive_connection_is_served_after_its_state_is_released() {
    let w = world();
    let script = r#"
import http.client, re, sys, time, urllib.request
host, port, token, admin = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def releases():
    m = urllib.request.urlopen(f"http://{admin}/metrics", timeout=10).read().decode()
    return int(re.search(r"^macaroon_idle_releases_total (\d+)$", m, re.M).group(1))
c = http.client.HTTPConnection(host, port, timeout=10)
for i in range(3):
    c.request("GET", "/v1/charges", headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read()
    print(r.status, c.sock.getsockname()[1], len(body))
    deadline = time.monotonic() + 10
    while releases() < i + 1:  # idle until the proxy has released the connection
        if time.monotonic() > deadline:
            sys.exit(f"no idle release counted after request {i + 1}")
        time.sleep(0.05)
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            "127.0.0.1",
            &w.proxy.addr.port().to_string(),
            &w.token,
            &w.proxy.admin.to_string(),
        ])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.iter().all(|l| l[0] == "200"), "{text}");
    assert!(
        lines.iter().all(|l| l[1] == lines[0][1]),
        "one connection throughout: {text}"
    );
    assert_eq!(w.up.seen().len(), 3);
    w.assert_clean(3);
}

/// Half a request head, a pause longer than the idle release, then the rest: served (a
/// connection holding part of a head is not released, so hyper's header timeout still
/// guards it against a client that never finishes).
#[test]
fn a_request_head_split_across_an_idle_release_is_served() {
    use std::io::{Read, Write};
    let w = world();
    let req = format!(
        "GET /v1/charges HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        w.proxy.addr, w.token
    );
    let mut s = std::net::TcpStream::connect(w.proxy.addr).expect("connect");
    s.write_all(&req.as_bytes()[..30]).expect("write");
    // Longer than the proxy's 0.5 s idle release: the part already read must not be lost.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    s.write_all(&req.as_bytes()[30..]).expect("write");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(w.up.seen().len(), 1);
    w.assert_clean(1);
}

/// Waits (up to 10 s) until `done` holds, polling.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

fn http1_only() -> e2e::upstream::Options {
    e2e::upstream::Options {
        http1_only: true,
        ..Default::default()
    }
}

/// Runs one curl over one client connection: a transfer per `(path, extra args)`, each
/// with the world's token; returns the statuses.
fn transfers(w: &World, each: &[(&str, &[&str])]) -> Vec<u16> {
    let auth = bearer(&w.token);
    let mut cmd = Command::new("curl");
    for (i, (path, extra)) in each.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}\n", "-H", &auth])
            .arg(format!("{}{path}", w.proxy.url()))
            .args(*extra);
    }
    let out = cmd.output().expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().unwrap_or(0))
        .collect()
}

#[test]
fn an_http1_upstream_connection_serves_request_after_request() {
    let w = world_on(http1_only());
    let upload = "x".repeat(100_000);
    let statuses = transfers(
        &w,
        &[
            ("/v1/charges", &[]),
            ("/big", &[]),
            ("/chunked", &[]),
            ("/v1/charges", &["--data-binary", &upload]),
            ("/v1/charges", &[]),
        ],
    );
    assert_eq!(statuses, [200; 5]);
    let seen = w.up.seen();
    assert_eq!(seen.len(), 5);
    for s in &seen {
        assert_eq!(s.version, "HTTP/1.1");
        assert_eq!(s.authority, HOST, "HTTP/1.1 names the host in Host");
    }
    assert_eq!(seen[3].body_len, 100_000);
    assert_eq!(
        w.up.connections(),
        1,
        "every request went over one upstream connection"
    );
    let m = metrics_with(&w, "macaroon_upstream_connections_total 1");
    assert!(m.contains("macaroon_upstream_connections_total 1\n"), "{m}");
    // The bodies came back whole while their connection was driven by the response.
    let big = curl(&[&format!("{}/big", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert!(big.body == big_body(), "the 5 MiB body arrived changed");
}

#[test]
fn an_http2_upstream_connection_is_shared_by_later_requests() {
    let w = world();
    let none: &[&str] = &[];
    assert_eq!(transfers(&w, &[("/v1/charges", none); 3]), [200; 3]);
    assert!(w.up.seen().iter().all(|s| s.version == "HTTP/2.0"));
    assert_eq!(w.up.connections(), 1);
}

#[test]
fn an_idle_upstream_connection_the_upstream_closed_is_replaced_not_failed() {
    let w = world_on(e2e::upstream::Options {
        http1_only: true,
        close_idle_after: Some(std::time::Duration::from_millis(200)),
    });
    // One client connection, so one worker: the second request finds the pooled
    // connection the upstream closed.
    let mut client = std::net::TcpStream::connect(w.proxy.addr).expect("connect");
    assert_eq!(get_on(&mut client, &w.token), 200);
    // The upstream's keep-alive timeout closes the pooled connection while it is idle.
    assert!(eventually(|| w.up.closed() == 1), "the upstream never closed");
    assert_eq!(get_on(&mut client, &w.token), 200);
    assert_eq!(w.up.connections(), 2);
    assert_eq!(w.up.seen().len(), 2);
}

#[test]
fn an_upstream_connection_with_an_unread_or_broken_response_is_never_reused() {
    let w = world_on(http1_only());
    let auth = bearer(&w.token);
    // The client stops reading a 5 MiB body early: its upstream connection still holds the
    // rest, so it is closed, not pooled.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "curl -sS -H '{auth}' {}/big | head -c 1000 | wc -c",
            w.proxy.url()
        ))
        .output()
        .expect("sh");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1000");
    assert!(
        eventually(|| w.up.closed() == 1),
        "the half-read connection stayed open"
    );
    // On one client connection (so one worker and its pool): a new upstream connection,
    // then an upstream that drops it without answering (502), then a new one.
    let none: &[&str] = &[];
    let statuses = transfers(
        &w,
        &[("/v1/charges", none), ("/reset", none), ("/v1/charges", none)],
    );
    assert_eq!(statuses, [200, 502, 200]);
    assert_eq!(w.up.connections(), 3);
}

/// `GET /v1/charges` with `token` on an open client connection; the response status (its
/// body read, so the connection can carry the next request).
fn get_on(client: &mut std::net::TcpStream, token: &str) -> u16 {
    use std::io::{BufRead, BufReader, Read, Write};
    write!(
        client,
        "GET /v1/charges HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .expect("write");
    let mut reader = BufReader::new(client);
    let (mut status, mut length) = (0, 0);
    let mut line = String::new();
    while reader.read_line(&mut line).expect("read") > 0 && line != "\r\n" {
        let lower = line.to_ascii_lowercase();
        if let Some(code) = lower.strip_prefix("http/1.1 ") {
            status = code[..3].parse().expect("status");
        } else if let Some(n) = lower.strip_prefix("content-length:") {
            length = n.trim().parse().expect("length");
        }
        line.clear();
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    status
}
