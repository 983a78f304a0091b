//! The rules: how encoders spell a secret. Each rule is written once, per character, and
//! the patterns are built from them, never from a list of whole spellings: a JSON encoder
//! that escapes `+` but not `/`, an URL encoder that leaves `/` plain and writes `%2b`, or
//! a .NET serializer that escapes every character in upper-case hex are all the same rules
//! applied to different characters.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;

/// A set of bytes, one bit each.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ByteSet(pub [u64; 4]);

impl ByteSet {
    /// The set of one byte.
    pub fn one(b: u8) -> Self {
        let mut s = ByteSet::default();
        s.insert(b);
        s
    }

    /// Adds `b`.
    pub fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    /// True if `b` is in the set.
    #[inline]
    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] >> (b & 63) & 1 == 1
    }

    /// The set with both cases of every ASCII letter in it.
    pub fn fold_case(mut self) -> Self {
        for b in b'a'..=b'z' {
            if self.contains(b) || self.contains(b.to_ascii_uppercase()) {
                self.insert(b);
                self.insert(b.to_ascii_uppercase());
            }
        }
        self
    }
}

/// A star-free regular expression over bytes: all a pattern needs.
#[derive(Clone, Debug)]
pub enum Re {
    /// One byte of the set.
    Set(ByteSet),
    /// Each in turn (never empty).
    Seq(Vec<Re>),
    /// Any one of them (never empty).
    Alt(Vec<Re>),
}

/// The bytes `s`, exactly.
fn lit(s: &[u8]) -> Re {
    Re::Seq(s.iter().map(|&b| Re::Set(ByteSet::one(b))).collect())
}

/// The hex digit of `n` (0..16) in either case.
fn hex(n: u32) -> Re {
    let d = char::from_digit(n & 15, 16).unwrap_or('0') as u8;
    let mut s = ByteSet::one(d);
    s.insert(d.to_ascii_uppercase());
    Re::Set(s)
}

/// Every spelling of the character `c` that a common encoder writes:
///
/// * as it is;
/// * percent-encoded, each UTF-8 byte or not, hex digits in either case (`+` for a space);
/// * JSON-escaped: `\uXXXX` of the code point (a surrogate pair beyond the BMP) in either
///   case, and the short escapes (`\/`, `\"`, `\\`, `\n`...);
/// * an HTML character reference, `&#DDD;` or `&#xHH;` (either case), or its named one.
pub fn spellings(c: char) -> Re {
    let mut alts = Vec::new();
    let mut buf = [0u8; 4];
    let bytes = c.encode_utf8(&mut buf).as_bytes();
    alts.push(Re::Seq(
        bytes
            .iter()
            .map(|&b| {
                Re::Alt(vec![
                    Re::Set(ByteSet::one(b)),
                    Re::Seq(vec![lit(b"%"), hex(u32::from(b >> 4)), hex(u32::from(b & 15))]),
                ])
            })
            .collect(),
    ));
    if c == ' ' {
        alts.push(lit(b"+"));
    }
    let mut units = [0u16; 2];
    let mut json = Vec::new();
    for &u in c.encode_utf16(&mut units).iter() {
        json.push(lit(b"\\u"));
        json.extend((0..4).rev().map(|i| hex(u32::from(u >> (4 * i)))));
    }
    alts.push(Re::Seq(json));
    let short: &[u8] = match c {
        '/' => b"\\/",
        '"' => b"\\\"",
        '\\' => b"\\\\",
        '\u{8}' => b"\\b",
        '\u{c}' => b"\\f",
        '\n' => b"\\n",
        '\r' => b"\\r",
        '\t' => b"\\t",
        _ => b"",
    };
    if !short.is_empty() {
        alts.push(lit(short));
    }
    let code = u32::from(c);
    alts.push(Re::Seq(vec![
        lit(b"&#"),
        lit(code.to_string().as_bytes()),
        lit(b";"),
    ]));
    let digits = format!("{code:x}");
    let mut x = ByteSet::one(b'x');
    x.insert(b'X');
    let mut hex_ref = vec![lit(b"&#"), Re::Set(x)];
    hex_ref.extend(digits.chars().map(|d| hex(d.to_digit(16).unwrap_or(0))));
    hex_ref.push(lit(b";"));
    alts.push(Re::Seq(hex_ref));
    let named: &[u8] = match c {
        '&' => b"&amp;",
        '<' => b"&lt;",
        '>' => b"&gt;",
        '"' => b"&quot;",
        '\'' => b"&apos;",
        _ => b"",
    };
    if !named.is_empty() {
        alts.push(lit(named));
    }
    Re::Alt(alts)
}

/// The secret as text, each character spelled any of its ways, independently.
pub fn text(secret: &str) -> Re {
    Re::Seq(secret.chars().map(spellings).collect())
}

/// The base64 characters that encode only bytes of the secret when it starts `align`
/// (0, 1 or 2) bytes into a 3-byte group: `base64(secret)`, `base64("user:" + secret)`,
/// `base64(secret + ":")`, padded or not, all hold one of the three. The characters at
/// either end that mix the secret's bits with a neighbour's are not part of it.
pub fn base64_core(secret: &[u8], align: usize) -> Vec<u8> {
    let mut shifted = vec![0u8; align];
    shifted.extend_from_slice(secret);
    let encoded = STANDARD_NO_PAD.encode(&shifted).into_bytes();
    // Character k holds bits 6k..6k+6; the secret holds bits 8*align..8*(align+len).
    let first = (8 * align).div_ceil(6);
    let end = (8 * (align + secret.len())) / 6;
    encoded.get(first..end).map(<[u8]>::to_vec).unwrap_or_default()
}

/// A base64 core in the standard or URL-safe alphabet (or a mix), its `+` and `/` spelled
/// any of their ways (a JSON encoder writes `+` as `\u002B`, an URL encoder as `%2B`, PHP
/// `/` as `\/`). Letters and digits stay plain: no encoder escapes them in base64, and
/// spelling each of a long token's characters every way would make its automaton many
/// times larger.
pub fn base64(core: &[u8]) -> Re {
    Re::Seq(
        core.iter()
            .map(|&c| match c {
                b'+' => Re::Alt(vec![spellings('+'), lit(b"-")]),
                b'/' => Re::Alt(vec![spellings('/'), lit(b"_")]),
                _ => Re::Set(ByteSet::one(c)),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn base64_cores_are_inside_every_alignment_of_the_encoding() {
        let secret = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCY";
        for (align, prefix) in [(0, ""), (1, "u:"), (2, "u")] {
            // "u:" is two bytes: the secret starts at 2 mod 3, "u" at 1 mod 3.
            let _ = align;
            let pair = [prefix.as_bytes(), secret, b":"].concat();
            let padded = STANDARD.encode(&pair);
            let own = (prefix.len()) % 3;
            let core = String::from_utf8(base64_core(secret, own)).expect("ascii");
            assert!(core.len() >= 36, "{core}");
            assert!(padded.contains(&core), "{padded} {core}");
        }
    }
}
