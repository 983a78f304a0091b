//! `RequestPath::parse` must never panic, and every accepted path must hold the invariants
//! documented on `RequestPath` (crates/caveat/src/path.rs). `PathGlob::parse` of the same
//! text and `matches` must not panic either.
#![no_main]

use caveat::{PathGlob, RequestPath};
use libfuzzer_sys::fuzz_target;

/// Independent percent-decoder: `None` on a malformed escape.
fn pct_decode(raw: &str) -> Option<Vec<u8>> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

fn check_invariants(raw: &str, p: &RequestPath) {
    assert_eq!(p.as_str(), raw, "the forwarded text must be the input, unchanged");
    assert_eq!(p.to_string(), raw);
    // Starts with '/'.
    assert!(raw.starts_with('/'));
    assert!(p.decoded().starts_with('/'));
    // No raw backslash, control character (NUL included), space, query or fragment.
    for &c in raw.as_bytes() {
        assert!(c != b'\\', "raw backslash accepted");
        assert!(c >= 0x20 && c != 0x7f, "raw control byte {c:#04x} accepted");
        assert!(c != b' ', "raw space accepted");
        assert!(c != b'?' && c != b'#', "query/fragment accepted");
    }
    // Escapes are well formed and none encodes '.', '/', '\\', '%' or a control character.
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = raw.get(i + 1..i + 3).expect("truncated escape accepted");
            let v = u8::from_str_radix(hex, 16).expect("malformed escape accepted");
            assert!(
                !matches!(v, b'.' | b'/' | b'\\' | b'%' | 0..=0x1f | 0x7f),
                "encoded {v:#04x} accepted"
            );
            i += 3;
        } else {
            i += 1;
        }
    }
    // The decoded form is exactly the percent-decoding of the raw text, and it is UTF-8
    // (`decoded()` is a &str, so UTF-8 is given by construction).
    let decoded = pct_decode(raw).expect("well-formed escapes");
    assert_eq!(
        p.decoded().as_bytes(),
        decoded.as_slice(),
        "decoded() is not the percent-decoding"
    );
    let d = p.decoded();
    assert!(!d.contains('\\') && !d.contains('\0'));
    assert!(
        !d.bytes().any(|c| c < 0x20 || c == 0x7f),
        "decoded control character"
    );
    // No dot segments (also with ;params) and no empty interior segment, on the decoded
    // text; and decoding maps raw segments one-to-one onto decoded segments.
    let raw_segs: Vec<&str> = raw[1..].split('/').collect();
    let segs: Vec<&str> = p.segments().collect();
    assert_eq!(segs, d[1..].split('/').collect::<Vec<_>>());
    assert_eq!(raw_segs.len(), segs.len(), "decoding split or joined segments");
    for (n, (rs, s)) in raw_segs.iter().zip(&segs).enumerate() {
        assert_eq!(pct_decode(rs).expect("escape").as_slice(), s.as_bytes());
        let bare = s.split(';').next().unwrap_or(s);
        assert!(bare != "." && bare != "..", "dot segment {s:?} accepted");
        assert!(
            !s.is_empty() || n + 1 == segs.len(),
            "empty interior segment accepted"
        );
    }
    for bad in ["/../", "/./", "//"] {
        assert!(!d.contains(bad), "decoded path contains {bad:?}");
    }
    assert!(!d.ends_with("/..") && !d.ends_with("/."), "trailing dot segment");
    // Prefix relation is reflexive, and everything is under "/".
    assert!(p.is_under(p));
    let root = RequestPath::parse("/").expect("root");
    assert!(p.is_under(&root));
    // Parsing is deterministic and the decoded form re-parses when it is still a valid
    // raw path (it may not be: raw UTF-8 and '%' are fine decoded, not always raw).
    assert_eq!(RequestPath::parse(raw).as_ref(), Ok(p));
}

/// The straightforward backtracking matcher (path.rs before the dynamic-programming
/// rewrite), as an oracle: exponential in the number of `**`, so only run on small inputs.
fn reference_match(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|k| reference_match(rest, &segs[k..])),
        Some((p, rest)) => match segs.split_first() {
            Some((s, srest)) => (*p == "*" && !s.is_empty() || p == s) && reference_match(rest, srest),
            None => false,
        },
    }
}

/// Input "GLOB\nPATH": `PathGlob::matches` must agree with the reference matcher.
fn glob_differential(glob: &str, path: &str) {
    let (Ok(g), Ok(p)) = (PathGlob::parse(glob), RequestPath::parse(path)) else {
        return;
    };
    let g_path = RequestPath::parse(glob).expect("a glob is a path");
    let pat: Vec<&str> = g_path.segments().collect();
    let segs: Vec<&str> = p.segments().collect();
    if pat.iter().filter(|s| **s == "**").count() > 6 || segs.len() > 24 {
        return;
    }
    assert_eq!(
        g.matches(&p),
        reference_match(&pat, &segs),
        "glob {glob:?} vs path {path:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((glob, path)) = text.split_once('\n') {
        glob_differential(glob, path);
        return;
    }
    let path = RequestPath::parse(text);
    if let Ok(p) = &path {
        check_invariants(text, p);
    }
    if let Ok(glob) = PathGlob::parse(text) {
        // A glob is a valid path first.
        let p = path.as_ref().expect("a glob that is not a valid path");
        assert_eq!(glob.as_str(), text);
        // Every glob matches its own text (literal segments match themselves, '*' a
        // non-empty one, '**' anything).
        assert!(glob.matches(p), "glob {text:?} does not match itself");
        let _ = glob.matches(&RequestPath::parse("/").expect("root"));
        let _ = glob.matches(&RequestPath::parse("/v1/charges/ch_1").expect("path"));
    }
});
