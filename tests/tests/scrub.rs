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
