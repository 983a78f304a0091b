//! The response scrubber (crates/scrub): a secret made from the input, one encoding of it
//! written by an independent encoder under a rule the input picks (each character plain,
//! percent-encoded, JSON-escaped or an HTML reference, hex digits in either case; or
//! base64 at any alignment, either alphabet, padded or not, its `+` and `/` escaped the
//! same ways), put in random bytes and cut into random chunks. The streamed output must
//! be the reference matcher's (every match of every pattern masked, found by walking the
//! rules directly), the same length, changed only to `*`, and the encoding must be masked
//! (for base64, every character that holds only the secret's bits).
#![no_main]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use scrub::{reference, Patterns, Stream};

/// Reads bytes off the input, zeros once it is used up.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

fn hex(n: u32, upper: bool) -> char {
    let c = char::from_digit(n & 15, 16).unwrap_or('0');
    if upper { c.to_ascii_uppercase() } else { c }
}

/// One character spelled by the rule `how` picks (an independent encoder).
fn spell(c: char, how: u8) -> String {
    let up = |bit: u8| how >> bit & 1 == 1;
    match how % 6 {
        1 => {
            let mut buf = [0u8; 4];
            c.encode_utf8(&mut buf)
                .bytes()
                .map(|b| format!("%{}{}", hex(u32::from(b >> 4), up(3)), hex(u32::from(b), up(4))))
                .collect()
        }
        2 => {
            let mut units = [0u16; 2];
            c.encode_utf16(&mut units)
                .iter()
                .map(|&u| {
                    let u = u32::from(u);
                    format!("\\u{}{}{}{}", hex(u >> 12, up(3)), hex(u >> 8, up(4)), hex(u >> 4, up(5)), hex(u, up(6)))
                })
                .collect()
        }
        3 => match c {
            '/' => "\\/".into(),
            '"' => "\\\"".into(),
            '\\' => "\\\\".into(),
            ' ' => "+".into(),
            c => c.to_string(),
        },
        4 => format!("&#{};", c as u32),
        5 => format!("&#{}{:x};", if up(3) { 'X' } else { 'x' }, c as u32),
        _ => c.to_string(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    // The secret: 6 to 40 characters, printable ASCII or a few others.
    let len = 6 + usize::from(input.byte() % 35);
    let secret: String = input
        .take(len)
        .iter()
        .map(|&b| match b {
            0xf0..=0xf7 => ['é', 'ß', '€', '😀', '\n', '\t', '~', '+'][usize::from(b - 0xf0)],
            b => char::from(0x20 + b % 95),
        })
        .collect();
    if secret.chars().count() < 6 {
        return;
    }
    let rule = input.byte();
    let mix = input.take(64).to_vec();
    let n = usize::from(input.byte());
    let before = input.take(n).to_vec();
    let n = usize::from(input.byte());
    let after = input.take(n).to_vec();
    let cuts = input.take(16).to_vec();

    // The encoding, and the byte range of it that must end up masked.
    let per_char = |text: &str| -> String {
        text.chars()
            .enumerate()
            .map(|(i, c)| spell(c, if rule & 1 == 1 { mix.get(i % mix.len().max(1)).copied().unwrap_or(0) } else { rule >> 1 }))
            .collect()
    };
    let (encoded, masked): (String, std::ops::Range<usize>) = if rule & 0x80 == 0 {
        let e = per_char(&secret);
        let n = e.len();
        (e, 0..n)
    } else {
        let prefix = &"u:x"[..usize::from(rule >> 1) % 3];
        let suffix = if rule & 0x08 == 0 { "" } else { ":" };
        let raw = format!("{prefix}{secret}{suffix}");
        let b64 = match (rule >> 4) & 3 {
            0 => STANDARD.encode(&raw),
            1 => STANDARD_NO_PAD.encode(&raw),
            2 => URL_SAFE.encode(&raw),
            _ => URL_SAFE_NO_PAD.encode(&raw),
        };
        let first = (8 * prefix.len()).div_ceil(6);
        let end = 8 * (prefix.len() + secret.len()) / 6;
        // Escape `+` and `/` too (a JSON encoder's `\u002B`), tracking where the core is.
        let b64_escaped = |t: &str| -> String {
            t.chars()
                .enumerate()
                .map(|(i, c)| match c {
                    '+' | '/' => spell(c, mix.get(i % mix.len().max(1)).copied().unwrap_or(rule >> 1)),
                    c => c.to_string(),
                })
                .collect()
        };
        let escaped_prefix = b64_escaped(&b64[..first]);
        let core = b64_escaped(&b64[first..end]);
        let rest = b64_escaped(&b64[end..]);
        let at = escaped_prefix.len();
        (format!("{escaped_prefix}{core}{rest}"), at..at + core.len())
    };
    let mut text = before.clone();
    let start = text.len();
    text.extend_from_slice(encoded.as_bytes());
    text.extend_from_slice(&after);
    let masked = start + masked.start..start + masked.end;

    let patterns = Patterns::new(&[&secret], false).expect("a secret of 6 or more bytes");
    let mut out = Vec::with_capacity(text.len());
    let mut stream = Stream::default();
    let mut at = 0;
    let mut k = 0;
    while at < text.len() {
        let n = (1 + usize::from(cuts.get(k).copied().unwrap_or(255))).min(text.len() - at);
        k += 1;
        let chunk = &text[at..at + n];
        out.extend(stream.push(&patterns, chunk).to_vec(chunk));
        at += n;
    }
    out.extend(stream.finish());

    assert_eq!(out.len(), text.len(), "lengths differ");
    for (o, t) in out.iter().zip(&text) {
        assert!(o == t || *o == b'*', "a byte changed to something other than *");
    }
    assert!(out[masked.clone()].iter().all(|&b| b == b'*'), "the encoding was not masked");
    if text.len() <= 600 {
        let want = reference::scrub(&[&secret], false, &text);
        assert!(out == want, "the stream differs from the reference");
        let mut whole = text.clone();
        patterns.scrub(&mut whole);
        assert!(whole == want, "the one-shot scrub differs from the reference");
    }
});
