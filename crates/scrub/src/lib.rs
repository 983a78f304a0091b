//! Finds a secret in bytes under every encoding a client could read it back from, and
//! masks it with `*` of the same length.
//!
//! Upstreams echo credentials ("invalid key sk_live_…", token exchanges, debug endpoints),
//! and they do it through their encoders: Go's `json.Marshal` writes `&` as `\u0026`, .NET's
//! System.Text.Json writes `+` as `\u002B` (or every character escaped), Python's
//! `urllib.parse.quote` leaves `/` plain and encodes `~`'s neighbours, PHP writes `/` as
//! `\/`, a basic-auth echo is `base64("user:" + key)`. A list of whole spellings misses the
//! next encoder, so the patterns are built from per-character rules ([`rules`]) and matched
//! by an automaton ([`nfa`]) that tries every rule at every character:
//!
//! * the secret, each character as it is, percent-encoded (either hex case; `+` for a
//!   space), JSON-escaped (`\uXXXX` in either case, `\/` and the other short escapes) or
//!   an HTML character reference, mixed freely;
//! * its base64 at each of the three byte alignments, standard or URL-safe alphabet,
//!   padded or not, its `+` and `/` again spelled any of those ways.
//!
//! A base64 match masks the characters that encode the secret's bits only; the one
//! character at each end that shares bits with a neighbouring byte stays.
//!
//! Not caught: anything that is not a character-by-character spelling of the secret or
//! of its base64: encryption, hashing, other encodings (hex, base32, double
//! percent-encoding, quoted-printable, UTF-16), compression (decoded before scanning by
//! the proxy), and a secret split across places (half in a header, half in the body, or
//! interleaved with other text).
//!
//! [`Stream`] scans a body as it arrives: a chunk goes on at once unless a match is in
//! progress at its end, and only the bytes from that match's start are held back (at most
//! one pattern's length), so matches spanning chunk boundaries are found without ever
//! holding the whole body.

pub mod nfa;
pub mod reference;
pub mod rules;
#[cfg(test)]
mod tests;

use nfa::{Nfa, Scanner};

/// Secrets shorter than this are not searched for: masking every `ab` in a response would
/// mangle it, and a key that short is no secret worth the name.
pub const MIN_SECRET: usize = 6;

/// The compiled patterns of one or more secrets.
pub struct Patterns {
    nfa: Nfa,
}

impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Patterns({} states, redacted)", self.nfa.states())
    }
}

impl Patterns {
    /// The patterns of `secrets` (those shorter than [`MIN_SECRET`] are left out); `None`
    /// if none is left. With `fold_case`, ASCII letters match in either case (for header
    /// names, which HTTP lower-cases).
    pub fn new(secrets: &[&str], fold_case: bool) -> Option<Patterns> {
        let res = patterns(secrets);
        if res.is_empty() {
            return None;
        }
        Some(Patterns {
            nfa: Nfa::new(&res, fold_case),
        })
    }

    /// Masks every match in `buf` with `*`; returns how many separate places were masked.
    pub fn scrub(&self, buf: &mut [u8]) -> u64 {
        let mut scanner = Scanner::default();
        let mut found = Vec::new();
        scanner.scan(&self.nfa, buf, &mut |s, e| found.push((s, e)));
        let mut masked = Masked::default();
        for (s, e) in found {
            masked.mask(buf, 0, s, e);
        }
        masked.count
    }

    /// True if `buf` holds a match.
    pub fn found_in(&self, buf: &[u8]) -> bool {
        let mut any = false;
        Scanner::default().scan(&self.nfa, buf, &mut |_, _| any = true);
        any
    }

    /// How many byte pairs can start a match (the prefilter's literals).
    pub fn start_pairs(&self) -> usize {
        self.nfa.start_pairs()
    }

    /// The size of the automaton, in states.
    pub fn states(&self) -> usize {
        self.nfa.states()
    }
}

/// The patterns of `secrets`: each as text, and its base64 at each alignment.
pub fn patterns(secrets: &[&str]) -> Vec<rules::Re> {
    let mut res = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= MIN_SECRET) {
        res.push(rules::text(s));
        for align in 0..3 {
            let core = rules::base64_core(s.as_bytes(), align);
            if core.len() >= MIN_SECRET {
                res.push(rules::base64(&core));
            }
        }
    }
    res
}

/// Masks ranges and counts the separate places masked.
#[derive(Default)]
struct Masked {
    /// End of the last range counted (ranges arrive in order of their end).
    until: u64,
    count: u64,
}

impl Masked {
    /// Masks stream range `s..e` in `buf`, which starts at stream offset `from`.
    fn mask(&mut self, buf: &mut [u8], from: u64, s: u64, e: u64) {
        let (a, b) = (s.saturating_sub(from) as usize, e.saturating_sub(from) as usize);
        if let Some(r) = buf.get_mut(a..b) {
            r.fill(b'*');
        }
        if s >= self.until {
            self.count += 1;
        }
        self.until = self.until.max(e);
    }
}

/// What [`Stream::push`] says to send.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// The whole chunk, as it is (nothing found, nothing held).
    Whole,
    /// The chunk's first bytes, as they are; the rest is held (a match may be in progress).
    Prefix(usize),
    /// These bytes instead (something was masked, or bytes held before are released).
    Bytes(Vec<u8>),
}

impl Out {
    /// The bytes to send for `chunk`, copied.
    pub fn to_vec(&self, chunk: &[u8]) -> Vec<u8> {
        match self {
            Out::Whole => chunk.to_vec(),
            Out::Prefix(n) => chunk[..*n].to_vec(),
            Out::Bytes(b) => b.clone(),
        }
    }
}

/// A body being scrubbed as it streams.
#[derive(Default)]
pub struct Stream {
    scanner: Scanner,
    /// Bytes from where the earliest match in progress began: not final yet.
    held: Vec<u8>,
    found: Vec<(u64, u64)>,
    masked: Masked,
}

impl Stream {
    /// Scans `chunk` and says what can be sent now; the rest is held until the next chunk.
    pub fn push(&mut self, p: &Patterns, chunk: &[u8]) -> Out {
        let held_from = self.scanner.offset() - self.held.len() as u64;
        let found = &mut self.found;
        found.clear();
        self.scanner.scan(&p.nfa, chunk, &mut |s, e| found.push((s, e)));
        let keep_from = self.scanner.live_from().unwrap_or(self.scanner.offset());
        if self.held.is_empty() && self.found.is_empty() {
            // Nothing to mask: the chunk goes on as it is, but for a match in progress.
            let send = (keep_from - held_from) as usize;
            self.held.extend_from_slice(&chunk[send..]);
            return if send == chunk.len() {
                Out::Whole
            } else {
                Out::Prefix(send)
            };
        }
        self.held.extend_from_slice(chunk);
        for &(s, e) in &self.found {
            self.masked.mask(&mut self.held, held_from, s, e);
        }
        let send = (keep_from - held_from) as usize;
        Out::Bytes(self.held.drain(..send).collect())
    }

    /// The end of the body: what is still held, final now.
    pub fn finish(&mut self) -> Vec<u8> {
        self.scanner.end();
        std::mem::take(&mut self.held)
    }

    /// How many separate places were masked so far.
    pub fn count(&self) -> u64 {
        self.masked.count
    }

    /// How many bytes are held back.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}
