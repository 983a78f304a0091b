//! Copies of the request's token that the token finder does not read as a token: quoted,
//! followed by a comma, inside a `Cookie` or a `Forwarded` parameter, after other words,
//! base64-encoded (either alphabet, any padding), glued to other text in a query value, or
//! cut in pieces across path segments. The finder strips only the copies it reads; these
//! would reach the upstream beside the injected key. So once a token is found, any other
//! header value, query parameter or path that holds its text refuses the request (400
//! `token_copy`), and the audit line shows no piece of it.
//!
//! The search is one pass per value: an Aho-Corasick automaton over a 40-character window
//! of the token's signature in each spelling (the signature is what makes a token this
//! token; a 40-character window is 240 bits of it), built once per token text and kept
//! (about 5 KB each, the last 1024 tokens). Pieces are looked for only in paths.

use std::borrow::Cow;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use http::header::PROXY_AUTHORIZATION;
use http::request::Parts;

use crate::credentials::inject::{Place, DISCHARGE_HEADER};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;

/// Characters of each spelling searched for.
const WINDOW: usize = 40;
/// A piece of the token this long, in a path, is a copy (and is not logged).
const PIECE: usize = 24;

/// The spellings of one token to look for.
pub struct Copies {
    windows: AhoCorasick,
    /// The token as presented, for pieces.
    text: Arc<str>,
}

// Holds the token's text: a debug print shows nothing of it.
impl std::fmt::Debug for Copies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Copies(..)")
    }
}

impl Copies {
    /// The spellings of the token presented as `text`; `None` for text too short to hold a
    /// window (no token of ours is).
    pub fn of(text: Arc<str>) -> Option<Copies> {
        let t = text.as_bytes();
        if t.len() < WINDOW + 16 {
            return None;
        }
        // Near the end (the signature), clear of the last characters, which padding and
        // alignment change.
        let tail = |s: &[u8]| -> Option<Vec<u8>> {
            let end = s.len().checked_sub(8)?;
            Some(s.get(end.checked_sub(WINDOW)?..end)?.to_vec())
        };
        let mut needles: Vec<Vec<u8>> = Vec::with_capacity(8);
        needles.extend(tail(t));
        // The same bytes in the standard alphabet.
        let swapped: Vec<u8> = t
            .iter()
            .map(|&b| match b {
                b'-' => b'+',
                b'_' => b'/',
                b => b,
            })
            .collect();
        needles.extend(tail(&swapped));
        // The text base64-encoded, at each of the three alignments it can have inside a
        // longer encoded value.
        for engine in [&STANDARD, &URL_SAFE] {
            for lead in 0..3 {
                let mut input = vec![b'x'; lead];
                input.extend_from_slice(t);
                needles.extend(tail(engine.encode(&input).as_bytes()));
            }
        }
        needles.sort_unstable();
        needles.dedup();
        // A contiguous NFA (with its prefilter) is about 5 KB here and builds in tens of
        // microseconds; the default DFA would be about 85 KB per token kept.
        let windows = AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&needles)
            .ok()?;
        Some(Copies { windows, text })
    }

    /// Where the request holds the token other than in the places it was found (which
    /// are stripped): another header value, a query parameter or the path. Such a copy
    /// would reach the upstream beside the injected key.
    pub fn in_request(&self, parts: &Parts, places: &[Place]) -> Option<String> {
        for (name, value) in &parts.headers {
            let stripped = places.iter().any(|p| matches!(p, Place::Header(h) if h == name));
            // Proxy-Authorization never goes upstream; discharges are other tokens.
            if stripped || name == PROXY_AUTHORIZATION || name.as_str() == DISCHARGE_HEADER {
                continue;
            }
            if self.in_value(value.as_bytes()) {
                return Some(format!("the {name} header"));
            }
        }
        for pair in parts.uri.query().unwrap_or("").split('&') {
            let Some((key, value)) = form_urlencoded::parse(pair.as_bytes()).next() else {
                continue;
            };
            if places.contains(&Place::Query(key.to_string())) {
                continue;
            }
            if [pair.as_bytes(), key.as_bytes(), value.as_bytes()]
                .iter()
                .any(|v| self.in_value(v))
            {
                return Some("the query string".into());
            }
        }
        self.in_path(parts.uri.path()).then(|| "the path".into())
    }

    /// True if `value` holds a copy of the token in any spelling.
    pub fn in_value(&self, value: &[u8]) -> bool {
        value.len() >= WINDOW && self.windows.is_match(value)
    }

    /// True if `path` (as sent, or percent-decoded) holds a copy or a piece of the token.
    pub fn in_path(&self, path: &str) -> bool {
        self.in_value(path.as_bytes())
            || self.in_value(decoded(path).as_bytes())
            || pieces(path, &self.text).next().is_some()
            || pieces(&decoded(path), &self.text).next().is_some()
    }

    /// `text` with every run that holds a piece of the token replaced by `<token piece>`;
    /// borrowed when there is none.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let text = match decoded(text) {
            Cow::Owned(d) if pieces(&d, &self.text).next().is_some() => Cow::Owned(d),
            _ => Cow::Borrowed(text),
        };
        let runs: Vec<(usize, usize)> = pieces(&text, &self.text).collect();
        if runs.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (a, b) in runs {
            out.push_str(&text[copied..a]);
            out.push_str("<token piece>");
            copied = b;
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// The runs of base64 characters in `text` (as byte ranges) that hold a piece of `token`
/// at least [`PIECE`] long (one found where a piece of 32 or more is).
fn pieces<'a>(text: &'a str, token: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    let in_run = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'=');
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            while i < bytes.len() && !in_run(bytes[i]) {
                i += 1;
            }
            let start = i;
            while i < bytes.len() && in_run(bytes[i]) {
                i += 1;
            }
            let run = &text[start..i];
            let held = run.len() >= PIECE
                && (0..=run.len() - PIECE)
                    .step_by(8)
                    .any(|j| token.contains(&run[j..j + PIECE]));
            if held {
                return Some((start, i));
            }
        }
        None
    })
}

fn decoded(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(String::from_utf8_lossy(&percent_decode(text.as_bytes())).into_owned())
}

fn percent_decode(b: &[u8]) -> Vec<u8> {
    let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], hex(b.get(i + 1)), hex(b.get(i + 2))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        crate::proxy::test_token("sk_test_copies").encode()
    }

    #[test]
    fn every_shape_of_a_copy_is_found() {
        let t = token();
        let c = Copies::of(t.as_str().into()).expect("copies");
        let b64 = |e: &base64::engine::GeneralPurpose, s: &str| e.encode(s);
        let nopad = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for v in [
            format!("\"{t}\""),
            format!("{t},"),
            format!("session={t}; theme=dark"),
            format!("for=1.2.3.4;by=\"{t}\""),
            format!("please use {t} now"),
            b64(&STANDARD, &t),
            b64(&URL_SAFE, &t),
            b64(&nopad, &t),
            b64(&STANDARD, &format!("x{t}")),
            b64(&STANDARD, &format!("xy{t}")),
            b64(&URL_SAFE, &format!("user:{t}")),
            t.replace('-', "+").replace('_', "/"),
        ] {
            assert!(c.in_value(v.as_bytes()), "{v}");
        }
        for v in ["", "Bearer sk_live_0123456789abcdef", &token(), &"A".repeat(500)] {
            assert!(!c.in_value(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn copies_are_looked_for_everywhere_but_where_the_token_was_found() {
        let t = token();
        let c = Copies::of(t.as_str().into()).expect("copies");
        let parts = |uri: &str, headers: &[(&str, String)]| {
            let mut b = http::Request::builder().uri(uri);
            for (k, v) in headers {
                b = b.header(*k, v.as_str());
            }
            b.body(()).expect("request").into_parts().0
        };
        let auth = Place::Header(http::header::AUTHORIZATION);
        let bearer = ("authorization", format!("Bearer {t}"));
        let p = parts(
            "/v1/x?key=1",
            &[bearer.clone(), ("proxy-authorization", format!("x {t}"))],
        );
        assert_eq!(c.in_request(&p, std::slice::from_ref(&auth)), None);
        let p = parts(&format!("/v1/x?key={t}"), &[]);
        assert_eq!(c.in_request(&p, &[Place::Query("key".into())]), None);
        assert_eq!(c.in_request(&p, &[]).as_deref(), Some("the query string"));
        let p = parts("/v1/x", &[bearer.clone(), ("cookie", format!("s={t}"))]);
        assert_eq!(
            c.in_request(&p, std::slice::from_ref(&auth)).as_deref(),
            Some("the cookie header")
        );
        let p = parts(&format!("/v1/{t}"), &[bearer]);
        assert_eq!(c.in_request(&p, &[auth]).as_deref(), Some("the path"));
    }

    #[test]
    fn a_token_cut_across_path_segments_is_found_and_redacted() {
        let t = token();
        let c = Copies::of(t.as_str().into()).expect("copies");
        let (a, b) = t.split_at(t.len() / 2);
        let path = format!("/v1/{a}/{b}/x");
        assert!(c.in_path(&path));
        let shown = c.redact(&path);
        assert_eq!(shown, "/v1/<token piece>/<token piece>/x");
        let enc: String = b.chars().map(|ch| format!("%{:02X}", ch as u32)).collect();
        assert!(c.in_path(&format!("/v1/{enc}")));
        assert!(!c.redact(&format!("/v1/{enc}")).contains(&b[..PIECE]));
        for ok in [
            "/v1/charges",
            "/v1/customers/cus_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        ] {
            assert!(!c.in_path(ok), "{ok}");
            assert!(matches!(c.redact(ok), Cow::Borrowed(_)));
        }
    }
}
