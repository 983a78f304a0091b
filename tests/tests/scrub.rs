//! The secret never comes back: an upstream that echoes the key it was sent (in a header,
//! in a JSON error, split across chunks at every offset, in server-sent events) is scrubbed
//! before the client reads it; a response the proxy cannot read is refused.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::world::*;

fn stars() -> String {
    "*".repeat(SECRET.len())
}

fn get(w: &World, path: &str) -> Reply {
    curl(&[&format!("{}{path}", w.proxy.url()), "-H", &bearer(&w.token)])
}

/// No byte sequence the client saw holds the secret in any listed encoding.
fn assert_no_secret(text: &str) {
    let unicode: String = SECRET.bytes().map(|b| format!("\\u{b:04x}")).collect();
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains(&unicode), "{text}");
}

#[test]
fn a_secret_echoed_in_a_header_or_a_json_error_is_replaced_by_stars_of_its_length() {
    let w = world();
    let r = get(&w, "/echo/header");
    assert_eq!(r.status, 200);
    assert_no_secret(&r.headers);
    assert!(
        r.headers
            .contains(&format!("x-debug-authorization: Bearer {}", stars())),
        "{}",
        r.headers
    );

    let r = get(&w, "/echo/json");
    let body = String::from_utf8(r.body).expect("utf8");
    assert_no_secret(&body);
    let unicode_stars = "*".repeat(SECRET.len() * 6);
    assert_eq!(
        body,
        format!(
            "{{\"error\":{{\"message\":\"Invalid API key provided: {}\",\"escaped\":\"{unicode_stars}\"}}}}",
            stars()
        )
    );
    // The upstream was asked for an uncompressed response, and the audit line counts.
    assert_eq!(w.up.seen()[0].header("accept-encoding"), Some("identity"));
    let audit = w.proxy.audit();
    assert_eq!(audit[0]["redactions"], 1);
    assert_eq!(audit[1]["redactions"], 2);
    let m = String::from_utf8(curl(&[&format!("http://{}/metrics", w.proxy.admin)]).body).expect("utf8");
    assert!(m.contains("macaroon_redactions_total 3"), "{m}");
    w.assert_clean(2);
}

/// The default world (an HTTP/2 upstream) and one whose upstream speaks only HTTP/1.1
/// (its connections driven by the request using them).
fn both_worlds() -> [World; 2] {
    [
        world(),
        world_on(e2e::upstream::Options {
            http1_only: true,
            ..Default::default()
        }),
    ]
}

#[test]
fn a_secret_split_across_two_chunks_at_every_offset_is_still_replaced() {
    for w in both_worlds() {
        split_at_every_offset(&w);
    }
}

fn split_at_every_offset(w: &World) {
    let text = format!("{{\"echo\":\"{SECRET}\"}}");
    let want = text.replace(SECRET, &stars());
    for at in 0..=text.len() {
        let r = get(w, &format!("/echo/split?at={at}"));
        assert_eq!(String::from_utf8_lossy(&r.body), want, "split at {at}");
    }
    w.assert_clean(text.len() + 1);
}

#[test]
fn a_gzip_response_is_decoded_and_scrubbed_and_an_unknown_encoding_refused() {
    let w = world();
    // curl without --compressed: what it prints is exactly what the proxy sent.
    let r = get(&w, "/echo/gzip");
    assert_eq!(r.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!("{{\"echo\":\"{}\"}}", stars())
    );
    let headers = r.headers.to_ascii_lowercase();
    assert!(!headers.contains("content-encoding"), "{headers}");
    let r = get(&w, "/echo/compress");
    assert_eq!(r.status, 502);
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["error"]["code"], "unscannable_response", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("message")
            .contains("compress"),
        "{v}"
    );
    w.assert_clean(2);
}

#[test]
fn server_sent_events_are_scrubbed_and_keep_flowing() {
    for w in both_worlds() {
        events_flow(&w);
    }
}

fn events_flow(w: &World) {
    let mut child = Command::new("curl")
        .args(["-sS", "-N", "--max-time", "30"])
        .arg(format!("{}/echo/sse", w.proxy.url()))
        .args(["-H", &bearer(&w.token)])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // The first event arrives while the upstream is still holding the stream open.
    let first = lines.next().expect("first event").expect("read");
    assert_eq!(first, format!("data: {{\"key\":\"{}\"}}", stars()));
    w.up.release();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(rest, ["", "data: [DONE]", ""]);
    assert!(child.wait().expect("curl").success());
    w.assert_clean(1);
}

/// An HTTP/1.1 upstream (only HTTP/1.1 has a reason phrase, and a 101).
fn h1() -> e2e::upstream::Options {
    e2e::upstream::Options {
        http1_only: true,
        ..Default::default()
    }
}

/// One path through the proxy three ways: as its reverse proxy, and through CONNECT with
/// HTTP/1.1 and HTTP/2 inside the tunnel.
fn three_ways(w: &World, path: &str, headers: &[&str]) -> Vec<Reply> {
    let url = format!("https://{HOST}{path}");
    let mut direct = vec![format!("{}{path}", w.proxy.url())];
    let mut h1 = vec!["--http1.1".to_string()];
    let mut h2 = vec!["--http2".to_string()];
    for h in headers {
        for v in [&mut direct, &mut h1, &mut h2] {
            v.push("-H".into());
            v.push(h.to_string());
        }
    }
    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    vec![
        curl(&refs(&direct)),
        w.via_connect(&url, &refs(&h1)),
        w.via_connect(&url, &refs(&h2)),
    ]
}

/// The status line and header names never carry `secret`; returns how many requests.
fn status_line_and_header_names_are_clean(w: &World, secret: &str, headers: &[&str]) -> usize {
    let lower = secret.to_ascii_lowercase();
    for r in three_ways(w, "/echo/reason", headers) {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let status_line = r.headers.lines().next().unwrap_or_default();
        assert!(
            status_line == "HTTP/1.1 200 OK" || status_line.trim() == "HTTP/2 200",
            "{status_line}"
        );
        assert!(!r.headers.to_ascii_lowercase().contains(&lower), "{}", r.headers);
    }
    for r in three_ways(w, "/echo/header-name", headers) {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let all = r.headers.to_ascii_lowercase();
        assert!(!all.contains(&lower), "{all}");
        assert!(all.contains(&format!("{}: 1", "*".repeat(secret.len()))), "{all}");
    }
    6
}

#[test]
fn the_reason_phrase_and_header_names_never_carry_the_secret() {
    let w = world_on(h1());
    let n = status_line_and_header_names_are_clean(&w, SECRET, &[&bearer(&w.token)]);
    assert_eq!(
        w.proxy
            .audit()
            .iter()
            .map(|a| a["redactions"].as_u64().unwrap_or(0))
            .sum::<u64>(),
        6
    );
    w.assert_clean(n);
}

#[test]
fn an_oauth2_access_token_never_comes_back_in_the_status_line_or_a_header_name() {
    let json = r#"{"client_id":"cid_e2e","client_secret":"csecret_E2E_scrub_9d"}"#;
    let token_url = format!("https://{OTHER}/token");
    let w = world_keyed(
        json,
        HOST,
        &["--inject", "oauth2-client-credentials", "--token-url", &token_url],
        &[],
        h1(),
    );
    let access = e2e::upstream::ACCESS_TOKEN;
    let n = status_line_and_header_names_are_clean(&w, access, &[&bearer(&w.token)]);
    // The upstream got the access token (it is what it echoed), plus one exchange.
    assert!(w
        .up
        .seen()
        .iter()
        .any(|s| s.header("authorization") == Some(&format!("Bearer {access}"))));
    w.assert_clean(n + 1);
}

#[test]
fn a_sigv4_session_token_never_comes_back_in_the_status_line_or_a_header_name() {
    let session = "FwoGZXIvYXdzEScrubSessionToken0123456789";
    let json = format!(
        r#"{{"access_key_id":"AKIASCRUBE2EEXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYSCRUB","session_token":"{session}"}}"#
    );
    let w = world_keyed(&json, HOST, &["--inject", "sigv4:us-east-1:s3"], &[], h1());
    let n =
        status_line_and_header_names_are_clean(&w, session, &[&format!("X-Amz-Security-Token: {}", w.token)]);
    assert!(w
        .up
        .seen()
        .iter()
        .all(|s| s.header("x-amz-security-token") == Some(session)));
    w.assert_clean(n);
}

/// Runs `expr` (a Python expression of `s`) and returns what it printed.
fn python(expr: &str, s: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            &format!("import sys, json, urllib.parse; s = sys.argv[1]; sys.stdout.write({expr})"),
            s,
        ])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8")
}

/// Go's `json.Marshal` of a string: `<` `>` `&` as `\u003c`..., lower-case hex.
fn go_json(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            '<' | '>' | '&' => format!("\\u{:04x}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// .NET System.Text.Json's default encoder: `+` `&` `'` `<` `>` `` ` `` `"` as
/// `\u002B`..., upper-case hex.
fn dotnet_json(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\\' => "\\\\".to_string(),
            c if "\"&'+<>`".contains(c) || !c.is_ascii() => format!("\\u{:04X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

#[test]
fn what_real_encoders_write_is_scrubbed_from_the_body() {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine;
    // An AWS-style secret (`/` and `+`) with an Azure-style `~` and a `&`.
    let secret = "wJalrXUtnFEMI/K7MDENG+bP~xRf&iCY";
    let w = world_keyed(secret, HOST, &["--inject", "bearer"], &[], Default::default());
    // Each form, and for base64 how many bytes came before the secret.
    let forms = [
        (go_json(secret), None),
        (dotnet_json(secret), None),
        (
            secret.chars().map(|c| format!("\\u{:04X}", c as u32)).collect(),
            None,
        ),
        (python("urllib.parse.quote(s)", secret), None),
        (python("json.dumps(s)[1:-1]", secret), None),
        (STANDARD_NO_PAD.encode(format!("{secret}:")), Some(0)),
        (URL_SAFE_NO_PAD.encode(format!("{secret}:")), Some(0)),
        (STANDARD_NO_PAD.encode(format!("u:{secret}")), Some(2)),
        (STANDARD_NO_PAD.encode(format!("user:{secret}")), Some(5)),
    ];
    assert!(forms[0].0.contains("\\u0026") && forms[1].0.contains("\\u002B") && forms[3].0.contains("%2B"));
    for (form, before) in &forms {
        let body = format!("{{\"echo\":\"{form}\"}}");
        let r = curl(&[
            &format!("{}/echo/body", w.proxy.url()),
            "-H",
            &bearer(&w.token),
            "--data-binary",
            &body,
        ]);
        assert_eq!(r.status, 200);
        let got = String::from_utf8(r.body).expect("utf8");
        assert_eq!(got.len(), body.len(), "Content-Length stays true");
        let masked = got.matches('*').count();
        // Every character is masked; for base64, every one that holds only the secret's bits.
        let want = match before {
            None => form.len(),
            Some(n) => 8 * (n + secret.len()) / 6 - (8 * n).div_ceil(6),
        };
        assert_eq!(masked, want, "{form} -> {got}");
    }
    // The bytes the proxy itself put in a query, echoed back (`~` as `%7E`).
    let w = world_keyed(secret, HOST, &["--inject", "query:key"], &[], Default::default());
    let r = curl(&[&format!("{}/echo/query", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(r.status, 200);
    let got = String::from_utf8(r.body).expect("utf8");
    assert!(
        got.starts_with("key=*") && got.chars().skip(4).all(|c| c == '*'),
        "{got}"
    );
    assert!(w.up.seen()[0].target.contains("%7E"), "{}", w.up.seen()[0].target);
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd_are_decoded_whole() {
    let w = world();
    for path in ["/echo/gzip-members", "/echo/zstd-frames"] {
        let r = get(&w, path);
        assert_eq!(r.status, 200);
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            format!("{{\"first\":1,\"echo\":\"{}\"}}", stars()),
            "{path}"
        );
    }
    let audit = w.proxy.audit();
    assert_eq!(
        (audit[0]["redactions"].as_u64(), audit[1]["redactions"].as_u64()),
        (Some(1), Some(1))
    );
    w.assert_clean(2);
}

#[test]
fn raw_deflate_is_a_502_and_a_body_that_breaks_off_is_an_error_in_the_audit() {
    let w = world();
    let r = get(&w, "/echo/raw-deflate");
    assert_eq!(r.status, 502);
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["error"]["code"], "unscannable_response", "{v}");
    let audit = w.proxy.audit();
    assert_eq!(
        (audit[0]["status"].as_u64(), audit[0]["decision"].as_str()),
        (Some(502), Some("error"))
    );

    // The client sees a broken response (no complete body), and the audit line says why.
    let r = get(&w, "/echo/gzip-cut");
    assert!(!String::from_utf8_lossy(&r.body).contains(SECRET));
    let audit = w.proxy.audit();
    eprintln!(
        "cut: status {} {} bytes; audit {}",
        r.status,
        r.body.len(),
        audit[1]
    );
    assert_eq!(audit[1]["decision"], "error", "{}", audit[1]);
    assert!(
        audit[1]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("broke off"),
        "{}",
        audit[1]
    );
    w.assert_clean(2);
}

#[test]
fn an_unasked_101_switching_protocols_is_a_502() {
    let w = world_on(h1());
    let r = get(&w, "/echo/switch");
    assert_eq!(r.status, 502);
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["error"]["code"], "upstream_error", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap_or_default().contains("101"),
        "{v}"
    );
    // The connection still serves.
    assert_eq!(get(&w, "/v1/charges").status, 200);
    w.assert_clean(2);
}
