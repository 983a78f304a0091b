//! The encoders real upstreams use, reproduced exactly (Go and .NET from their documented
//! escaping rules, Python by running it), and the streaming matcher against the reference.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::{reference, Out, Patterns, Stream};

/// A Stripe key, an AWS secret key (`/` and `+`) and an Azure client secret (`~`, `.`).
const KEYS: [&str; 3] = [
    "sk_live_51HxEcho/Key+Ab",
    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "Xy8Q~a.Bc-9_dEfGhIjK~LmNoPq&rS<tU>v",
];

/// Go's `json.Marshal` of a string (encoding/json `appendString`, HTML escaping on):
/// `"` and `\` short, `\n` `\r` `\t` short, other controls and `<` `>` `&` U+2028 U+2029
/// as `\u00xx` in lower case.
fn go_json(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// .NET System.Text.Json with `JavaScriptEncoder.Default`: `\` and the controls with a
/// short form short; `"`, `&`, `'`, `+`, `<`, `>`, `` ` ``, other controls and everything
/// outside ASCII as `\uXXXX` in upper case.
fn dotnet_json(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || !c.is_ascii() || "\"&'+<>`".contains(c) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units).iter() {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Every character as `\u00XX`, upper case (an encoder that escapes whole strings).
fn escape_all_upper(s: &str) -> String {
    s.chars().map(|c| format!("\\u{:04X}", c as u32)).collect()
}

/// PHP's `json_encode` default: `/` as `\/`.
fn php_json(s: &str) -> String {
    s.replace('/', "\\/")
}

/// Runs `expr` (a Python expression of `s`) with python3 and returns what it printed.
fn python(expr: &str, s: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            &format!("import sys, json, re, urllib.parse; s = sys.argv[1]; sys.stdout.write({expr})"),
            s,
        ])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8")
}

/// Asserts that scrubbing `before + form + after` masks exactly `form`.
fn assert_masked(p: &Patterns, form: &str) {
    let text = format!("{{\"error\":\"invalid key: {form}\",\"n\":1}}");
    let mut buf = text.clone().into_bytes();
    let n = p.scrub(&mut buf);
    let want = text.replace(form, &"*".repeat(form.len()));
    assert_eq!(String::from_utf8_lossy(&buf), want, "form {form}");
    assert_eq!(n, 1, "{form}");
}

#[test]
fn go_dotnet_php_json_escapes_are_masked() {
    for key in KEYS {
        let p = Patterns::new(&[key], false).expect("patterns");
        for form in [
            go_json(key),
            dotnet_json(key),
            escape_all_upper(key),
            php_json(key),
        ] {
            assert_masked(&p, &form);
        }
    }
    // The escapes the brief names, seen in each: `\u0026` (Go), `\u002B` (.NET).
    assert!(go_json(KEYS[2]).contains("\\u0026"));
    assert!(dotnet_json(KEYS[1]).contains("\\u002B"));
}

#[test]
fn python_quote_and_json_dumps_are_masked() {
    for key in KEYS {
        let p = Patterns::new(&[key], false).expect("patterns");
        for expr in [
            "urllib.parse.quote(s)",
            "urllib.parse.quote(s, safe='')",
            "urllib.parse.quote_plus(s)",
            "re.sub('%..', lambda m: m.group(0).lower(), urllib.parse.quote(s))",
            "json.dumps(s)[1:-1]",
            "json.dumps(s, ensure_ascii=False)[1:-1]",
        ] {
            let form = python(expr, key);
            assert_masked(&p, &form);
        }
    }
}

#[test]
fn percent_encoding_of_any_subset_in_either_case_is_masked() {
    let key = KEYS[1];
    let p = Patterns::new(&[key], false).expect("patterns");
    for (i, _) in key.char_indices() {
        // One character encoded, the rest plain; and all but one encoded, mixed case.
        let one: String = key
            .char_indices()
            .map(|(j, c)| {
                if i == j {
                    format!("%{:02x}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect();
        let most: String = key
            .char_indices()
            .map(|(j, c)| match (i == j, j % 2) {
                (true, _) => c.to_string(),
                (false, 0) => format!("%{:02X}", c as u32),
                (false, _) => format!("%{:02x}", c as u32),
            })
            .collect();
        assert_masked(&p, &one);
        assert_masked(&p, &most);
    }
}

#[test]
fn base64_at_every_alignment_padded_or_not_standard_or_url_safe_is_masked() {
    for key in KEYS {
        let p = Patterns::new(&[key], false).expect("patterns");
        for prefix in ["", "u:", "user:", "ab", "x"] {
            for suffix in ["", ":"] {
                let raw = format!("{prefix}{key}{suffix}");
                for form in [
                    STANDARD.encode(&raw),
                    STANDARD_NO_PAD.encode(&raw),
                    URL_SAFE.encode(&raw),
                    URL_SAFE_NO_PAD.encode(&raw),
                    dotnet_json(&STANDARD.encode(&raw)),
                    php_json(&STANDARD.encode(&raw)),
                ] {
                    let text = format!("Basic {form}\r\n");
                    let mut buf = text.clone().into_bytes();
                    assert_eq!(p.scrub(&mut buf), 1, "{raw} {form}");
                    let out = String::from_utf8(buf).expect("utf8");
                    let enc = &out["Basic ".len()..out.len() - 2];
                    // Masked: every character that holds only bits of the key.
                    let first = (8 * prefix.len()).div_ceil(6);
                    let end = 8 * (prefix.len() + key.len()) / 6;
                    if !form.contains('\\') {
                        assert!(enc[first..end].bytes().all(|b| b == b'*'), "{form} -> {enc}");
                        assert_eq!(enc.matches('*').count(), end - first, "{form} -> {enc}");
                    }
                    let unmasked = enc.replace('*', "A").replace("\\u002B", "+").replace("\\/", "/");
                    let back = STANDARD
                        .decode(unmasked.trim_end_matches('='))
                        .or_else(|_| STANDARD_NO_PAD.decode(unmasked.trim_end_matches('=')))
                        .or_else(|_| URL_SAFE_NO_PAD.decode(unmasked.trim_end_matches('=')))
                        .unwrap_or_default();
                    assert!(!String::from_utf8_lossy(&back).contains(key), "{form}");
                }
            }
        }
    }
}

#[test]
fn header_names_match_in_either_case() {
    let key = "SK_Live_Abcdef123";
    let folded = Patterns::new(&[key], true).expect("patterns");
    let mut name = format!("x-{}", key.to_ascii_lowercase()).into_bytes();
    assert_eq!(folded.scrub(&mut name), 1);
    assert_eq!(name, b"x-*****************");
}

#[test]
fn text_without_the_secret_passes_untouched_and_uncopied() {
    let p = Patterns::new(&KEYS, false).expect("patterns");
    let text = br#"{"data":[{"id":"sk_test","url":"https://x/a%2Fb?q=\u0026","b64":"dXNlcjpwYXNz"}]}"#;
    let mut s = Stream::default();
    for chunk in text.chunks(7) {
        let out = s.push(&p, chunk);
        // Nothing is copied unless bytes held before are released.
        assert!(
            matches!(out, Out::Whole | Out::Prefix(_)) || s.held() < 64,
            "{out:?}"
        );
    }
    assert_eq!(s.count(), 0);
    let mut whole = text.to_vec();
    assert_eq!(p.scrub(&mut whole), 0);
    assert_eq!(&whole[..], &text[..]);
}

/// A small deterministic generator for the randomised comparison.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn streaming_matches_the_reference_at_random_chunk_cuts() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let key = KEYS[1];
    let p = Patterns::new(&[key], false).expect("patterns");
    let alphabet = b"ab/+%\\u0\"JwK=*:";
    for round in 0..300 {
        let mut text = Vec::new();
        for _ in 0..rng.below(4) {
            text.extend((0..rng.below(20)).map(|_| alphabet[rng.below(alphabet.len())]));
            let form = match rng.below(5) {
                0 => key.to_string(),
                1 => go_json(key),
                2 => dotnet_json(key),
                3 => STANDARD.encode(format!("{}{key}:", "u".repeat(rng.below(3)))),
                _ => escape_all_upper(key),
            };
            text.extend_from_slice(form.as_bytes());
        }
        let want = reference::scrub(&[key], false, &text);
        let mut got = Vec::new();
        let mut s = Stream::default();
        let mut at = 0;
        while at < text.len() {
            let n = 1 + rng.below(40).min(text.len() - at - 1);
            let chunk = &text[at..at + n];
            got.extend(s.push(&p, chunk).to_vec(chunk));
            at += n;
        }
        got.extend(s.finish());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "round {round}"
        );
        let mut whole = text.clone();
        p.scrub(&mut whole);
        assert_eq!(whole, want, "round {round}");
    }
}

#[test]
fn what_is_held_back_is_at_most_one_match_in_progress() {
    let key = KEYS[0];
    let p = Patterns::new(&[key], false).expect("patterns");
    let mut s = Stream::default();
    assert_eq!(s.push(&p, b"data: {\"a\":1}\n\n"), Out::Whole);
    assert_eq!(s.push(&p, b"xx sk_li"), Out::Prefix(3));
    assert_eq!(s.held(), 5);
    let Out::Bytes(rest) = s.push(&p, b"ve_51HxEcho/Key+Ab!") else {
        panic!("masked bytes")
    };
    assert_eq!(rest, format!("{}!", "*".repeat(key.len())).into_bytes());
    assert_eq!(s.count(), 1);
}

#[test]
fn a_short_secret_is_not_searched_for() {
    assert!(Patterns::new(&["abc"], false).is_none());
}

#[test]
fn many_threads_at_once_are_told_apart_the_same_way() {
    // A secret of one repeated letter in a run of it: a thread per offset, more than the
    // few a look through them handles, so the per-state table takes over.
    let key = "a".repeat(48);
    let p = Patterns::new(&[&key], false).expect("patterns");
    let text = format!("x{}%61{}y", "a".repeat(60), "a".repeat(10));
    let want = reference::scrub(&[&key], false, text.as_bytes());
    let mut s = Stream::default();
    let mut got = Vec::new();
    for chunk in text.as_bytes().chunks(5) {
        got.extend(s.push(&p, chunk).to_vec(chunk));
    }
    got.extend(s.finish());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
    assert_eq!(got.iter().filter(|&&b| b == b'*').count(), text.len() - 2);
}
