//! Other spellings of a valid token (invariant 6): the same macaroon with bytes after its
//! signature, or with non-zero unused bits in its last base64 character. Each must be
//! refused as malformed, never read as the token it imitates.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

const URL_SAFE_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `token` (V2, base64url without padding, as `wrap` prints it) with `extra` appended to its
/// binary form, after the signature.
pub fn with_bytes_after_signature(token: &str, extra: &[u8]) -> String {
    let mut bin = URL_SAFE_NO_PAD.decode(token).expect("a V2 token");
    bin.extend_from_slice(extra);
    URL_SAFE_NO_PAD.encode(bin)
}

/// `token` with the lowest unused bit of its last base64 character set: it decodes to the
/// same bytes under a lenient decoder. `None` when the token's length (a multiple of 3
/// bytes) leaves no unused bits.
pub fn with_trailing_bits(token: &str) -> Option<String> {
    // A last group of 2 or 3 characters (1 or 2 bytes) leaves 4 or 2 bits unused.
    let last_group = token.len() % 4;
    if last_group < 2 {
        return None;
    }
    let last = *token.as_bytes().last()?;
    let value = URL_SAFE_ALPHABET.iter().position(|c| *c == last)?;
    let mut out = token[..token.len() - 1].to_string();
    out.push(char::from(URL_SAFE_ALPHABET[value | 1]));
    Some(out)
}
