//! Phase 7, logging: the only place that writes an audit line or counts a request in the
//! metrics. Every other phase fills in the request's record; this writes it once, whatever
//! the outcome (denied, forwarded, upstream failure, client gone), after replacing any
//! token a client put in a logged field (a token in the URL path, say) by its fingerprint.

use std::borrow::Cow;

use caveat::Token;
use http::Response;

use crate::audit::Record;
use crate::deny::Deny;
use crate::http::ms;
use crate::http::Body;
pub use crate::metrics::Tunnel;
use crate::proxy::Proxy;
use crate::request::RequestCtx;

/// The answer for a refused request, logged.
pub fn refused(proxy: &Proxy, mut ctx: Box<RequestCtx>, deny: Deny) -> Response<Body> {
    let resp = match ctx.jsonrpc_id.take() {
        Some(id) => deny.jsonrpc_response(*id, &ctx.rec.request_id),
        None => deny.response(&ctx.rec.request_id),
    };
    ctx.rec.decision = deny.decision();
    ctx.rec.status = resp.status().as_u16();
    ctx.rec.reason = Some(deny.message());
    ctx.rec.caveat = deny.caveat().map(str::to_string);
    if ctx.rec.upstream_ms.is_none() && deny.decision() == "deny" {
        ctx.decided();
    }
    finish(proxy, ctx);
    resp
}

/// Writes the request's audit line and counts it.
pub fn finish(proxy: &Proxy, mut ctx: Box<RequestCtx>) {
    let rec = &mut ctx.rec;
    rec.total_ms = ms(ctx.start.elapsed());
    let decision = if rec.mode == "passthrough" && rec.decision == "allow" {
        "passthrough"
    } else {
        rec.decision
    };
    proxy.metrics.request(
        decision,
        rec.status,
        rec.upstream_ms.unwrap_or(rec.total_ms) / 1e3,
    );
    redact_record(rec);
    if let Some(copies) = &ctx.copies {
        for field in [&mut rec.method, &mut rec.path] {
            if let Cow::Owned(s) = copies.redact(field) {
                *field = s;
            }
        }
        if let Some(reason) = &mut rec.reason {
            if let Cow::Owned(s) = copies.redact(reason) {
                *reason = s;
            }
        }
    }
    proxy.audit.write(rec);
}

/// Logs a `CONNECT`: an audit line with method CONNECT, and the tunnel counter (never the
/// request counters or latency histogram: a tunnel is not a request of 0 seconds).
pub fn connect(proxy: &Proxy, mut rec: Record, outcome: Tunnel) {
    proxy.metrics.tunnel(outcome);
    rec.method = "CONNECT".into();
    rec.event = Some("connect");
    rec.decision = match outcome {
        Tunnel::Intercepted => "allow",
        Tunnel::Passthrough => "passthrough",
        Tunnel::Refused => "deny",
    };
    redact_record(&mut rec);
    proxy.audit.write(&rec);
}

fn redact_record(rec: &mut Record) {
    for field in [&mut rec.method, &mut rec.host, &mut rec.path] {
        if let Cow::Owned(s) = redact_tokens(field) {
            *field = s;
        }
    }
    for field in [&mut rec.reason, &mut rec.caveat].into_iter().flatten() {
        if let Cow::Owned(s) = redact_tokens(field) {
            *field = s;
        }
    }
}

/// Our tokens are hundreds of characters; shorter runs are never decoded.
const MIN_TOKEN_RUN: usize = 40;

/// `text` with every token in it (base64url or standard base64, percent-encoded or not)
/// replaced by `<token:FINGERPRINT>`. Borrowed, at no cost, when there is none.
pub fn redact_tokens(text: &str) -> Cow<'_, str> {
    // Shorter text holds no token (percent-decoding only shortens it): the usual method,
    // host and path are passed over without a scan.
    if text.len() < MIN_TOKEN_RUN {
        return Cow::Borrowed(text);
    }
    let mut out = redact_once(text);
    if out.contains('%') {
        let decoded = percent_decode(&out);
        if let Cow::Owned(s) = redact_once(&decoded) {
            // Logged decoded: the encoded form would still hold the token.
            out = Cow::Owned(s);
        }
    }
    if let Some(at) = token_head(&out) {
        // The start of a token that did not decode whole: the rest of it may follow in
        // the next segments, so nothing after it is logged.
        let len = out.len() - at;
        out = Cow::Owned(format!("{}<token-like text, {len} bytes>", &out[..at]));
    }
    out
}

/// Where a run of base64url starts that begins as our tokens do (a V2 macaroon: version
/// 2, then its location or identifier field: `AgE` to `AgL`) and is at least
/// [`MIN_TOKEN_RUN`] long: half of a token cut in two, say.
fn token_head(text: &str) -> Option<usize> {
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !url_safe(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && url_safe(b[i]) {
            i += 1;
        }
        let run = &text[start..i];
        let head = run.as_bytes();
        if run.len() >= MIN_TOKEN_RUN && head.starts_with(b"Ag") && (b'E'..=b'L').contains(&head[2]) {
            return Some(start);
        }
    }
    None
}

fn redact_once(text: &str) -> Cow<'_, str> {
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=');
    let mut out = match replace_runs(text, &url_safe, &|run| {
        Token::decode(run).ok().map(|t| (0, run.len(), t))
    }) {
        Some(s) => Cow::Owned(s),
        None => Cow::Borrowed(text),
    };
    // Standard base64 holds `/`, so a token's run may be glued to path segments around it:
    // try the stretches between slashes. Only runs with a `+` (which base64url never has,
    // and a standard token of hundreds of characters all but surely has) are tried.
    let standard = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if let Some(s) = replace_runs(&out, &standard, &within_slashes) {
        out = Cow::Owned(s);
    }
    out
}

/// The longest stretch of `run` between slashes that decodes as a token, as (start, end).
fn within_slashes(run: &str) -> Option<(usize, usize, Token)> {
    if !run.contains('+') {
        return None;
    }
    let cuts: Vec<usize> = std::iter::once(0)
        .chain(run.match_indices('/').map(|(i, _)| i + 1))
        .collect();
    let ends: Vec<usize> = run
        .match_indices('/')
        .map(|(i, _)| i)
        .chain(std::iter::once(run.len()))
        .collect();
    let mut tries = 0;
    for &a in &cuts {
        for &b in ends.iter().rev() {
            if b < a + MIN_TOKEN_RUN {
                break;
            }
            tries += 1;
            if tries > 64 {
                return None;
            }
            if let Ok(t) = Token::decode(&run[a..b]) {
                return Some((a, b, t));
            }
        }
    }
    None
}

/// A run's token, as (start, end, token) within the run.
type FindIn<'a> = dyn Fn(&str) -> Option<(usize, usize, Token)> + 'a;

/// Replaces the token `find` sees in each maximal run of `in_run` bytes at least
/// [`MIN_TOKEN_RUN`] long; `None` if there was none.
fn replace_runs(text: &str, in_run: &dyn Fn(u8) -> bool, find: &FindIn<'_>) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        if !in_run(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && in_run(bytes[i]) {
            i += 1;
        }
        if i - start < MIN_TOKEN_RUN {
            continue;
        }
        // Runs hold ASCII only, so these are character boundaries.
        if let Some((a, b, token)) = find(&text[start..i]) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..start + a]);
            o.push_str("<token:");
            o.push_str(&token.signature_fingerprint());
            o.push('>');
            copied = start + b;
        }
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

fn percent_decode(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn token() -> Token {
        crate::proxy::test_token("sk_test_path")
    }

    #[test]
    fn a_token_in_the_path_is_logged_as_its_fingerprint() {
        let t = token();
        let text = t.encode();
        let path = format!("/v1/charges/{text}/refunds");
        let shown = redact_tokens(&path);
        assert!(!shown.contains(&text), "{shown}");
        assert_eq!(
            shown,
            format!("/v1/charges/<token:{}>/refunds", t.signature_fingerprint())
        );
    }

    #[test]
    fn a_standard_base64_or_percent_encoded_token_is_found_too() {
        // A standard-alphabet token with a `+` (nearly all are; mint until one is).
        let (t, std) = std::iter::repeat_with(|| {
            let t = token();
            let bin = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t.encode())
                .expect("base64url");
            let std = base64::engine::general_purpose::STANDARD.encode(bin);
            (t, std)
        })
        .find(|(_, std)| std.contains('+'))
        .expect("a token with +");
        let path = format!("/x/{std}/y");
        let shown = redact_tokens(&path).into_owned();
        assert_eq!(shown, format!("/x/<token:{}>/y", t.signature_fingerprint()));
        let encoded = std.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
        let path = format!("/x/{encoded}");
        let shown = redact_tokens(&path).into_owned();
        assert!(!shown.contains(&encoded) && !shown.contains(&std), "{shown}");
        assert!(shown.contains(&t.signature_fingerprint()), "{shown}");
    }

    #[test]
    fn the_first_half_of_a_cut_token_hides_what_follows() {
        let text = token().encode();
        let (a, b) = text.split_at(text.len() / 2);
        let shown = redact_tokens(&format!("/v1/{a}/{b}")).into_owned();
        assert_eq!(shown, format!("/v1/<token-like text, {} bytes>", text.len() + 1));
        assert!(!shown.contains(&b[..20]));
    }

    #[test]
    fn ordinary_paths_are_untouched_and_borrowed() {
        for p in [
            "/v1/charges",
            "/v1/customers/cus_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef/sources",
            "/a%20b",
        ] {
            assert!(matches!(redact_tokens(p), Cow::Borrowed(_)), "{p}");
        }
    }
}
