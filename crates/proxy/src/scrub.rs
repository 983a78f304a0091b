//! Responses: the secret never comes back. Upstreams echo credentials ("Invalid API key
//! provided: sk_live_…", token-exchange and debug endpoints), and an agent that reads such
//! a response would hold the real key. Every response from a sealed host is scanned,
//! headers and body, for the injected secret in each form a client could read it back
//! from, and each occurrence is replaced by `*` of the same length: `Content-Length` stays
//! true and nothing else changes.
//!
//! The body is scanned as it streams, never buffered whole: each chunk is searched together
//! with the bytes held back from the previous one, and only a tail that could still start
//! a match (the longest suffix that is a prefix of a pattern, usually nothing) is held
//! back, so a match split across chunks, TLS records or HTTP/2 frames is still found and
//! server-sent events keep flowing. Multi-pattern search is aho-corasick's.
//!
//! Covered forms: the secret; percent-encoded (upper and lower case hex); base64 of the
//! secret and of the basic-auth pair `secret:`, standard and URL-safe; JSON-escaped (`\/`
//! and full `\u00XX`). Not covered: a secret transformed otherwise (hashed, split,
//! re-encoded some other way) still passes.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::{Bytes, BytesMut};
use caveat::Secret;
use http::{HeaderMap, HeaderValue};
use hyper::body::Frame;

use crate::upstream::Body;

/// The patterns of one secret, compiled once per secret and shared.
pub struct Scrubber {
    ac: AhoCorasick,
    patterns: Vec<Vec<u8>>,
    /// Bytes that start some pattern: a cheap filter for the held-back tail.
    starts: [bool; 256],
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} patterns, redacted)", self.patterns.len())
    }
}

/// Secrets shorter than this are not scrubbed: replacing every `ab` in a response would
/// mangle it, and a key that short is no secret worth the name.
const MIN_SECRET: usize = 6;

impl Scrubber {
    /// The scrubber for `secret`; `None` for a secret too short to search for safely.
    pub fn new(secret: &Secret) -> Option<Scrubber> {
        Self::for_secrets(&[secret])
    }

    /// One scrubber for several secrets (an OAuth2 access token with the refresh token and
    /// client secret it came from; an AWS secret key with its session token). Secrets too
    /// short to search for safely are left out; `None` if none is left.
    pub fn for_secrets(secrets: &[&Secret]) -> Option<Scrubber> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for secret in secrets {
            let s = secret.expose().as_bytes();
            if s.len() < MIN_SECRET {
                continue;
            }
            let pair = [s, b":"].concat();
            for p in [
                s.to_vec(),
                percent(s, b"0123456789ABCDEF"),
                percent(s, b"0123456789abcdef"),
                STANDARD.encode(&pair).into_bytes(),
                STANDARD.encode(s).trim_end_matches('=').as_bytes().to_vec(),
                URL_SAFE_NO_PAD.encode(s).into_bytes(),
                URL_SAFE.encode(&pair).into_bytes(),
                json_slash(s),
                json_unicode(s),
            ] {
                if p.len() >= MIN_SECRET && !patterns.contains(&p) {
                    patterns.push(p);
                }
            }
        }
        if patterns.is_empty() {
            return None;
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok()?;
        let mut starts = [false; 256];
        for p in &patterns {
            starts[usize::from(p[0])] = true;
        }
        Some(Scrubber { ac, patterns, starts })
    }

    /// Replaces every occurrence in `buf` by `*`; returns how many there were.
    pub fn scrub(&self, buf: &mut [u8]) -> u64 {
        let mut count = 0;
        let mut at = 0;
        // Replacing with `*` (in no pattern) never creates a match, so searching on from
        // the end of the last one finds exactly the non-overlapping matches.
        while let Some(m) = self.ac.find(&buf[at..]) {
            let (a, b) = (at + m.start(), at + m.end());
            buf[a..b].fill(b'*');
            count += 1;
            at = b;
        }
        count
    }

    /// True if `buf` holds no pattern and ends in nothing that could start one: it can go
    /// on as it is, without a copy.
    fn clean(&self, buf: &[u8]) -> bool {
        self.ac.find(buf).is_none() && self.hold_back(buf) == 0
    }

    /// How many bytes at the end of `buf` could be the start of a pattern cut off by the
    /// chunk boundary (the longest such suffix), to hold back until more data comes.
    pub fn hold_back(&self, buf: &[u8]) -> usize {
        let longest = self.patterns.iter().map(Vec::len).max().unwrap_or(0);
        let from = buf.len().saturating_sub(longest.saturating_sub(1));
        (from..buf.len())
            .find(|&i| {
                self.starts[usize::from(buf[i])]
                    && self
                        .patterns
                        .iter()
                        .any(|p| p.len() > buf.len() - i && p.starts_with(&buf[i..]))
            })
            .map_or(0, |i| buf.len() - i)
    }

    /// Scrubs header values in place; returns how many occurrences were replaced.
    pub fn scrub_headers(&self, headers: &mut HeaderMap) -> u64 {
        let mut count = 0;
        for value in headers.values_mut() {
            if self.ac.find(value.as_bytes()).is_some() {
                let mut bytes = value.as_bytes().to_vec();
                count += self.scrub(&mut bytes);
                // `*` is a valid header byte, so this cannot fail; keep the old value if it did.
                if let Ok(v) = HeaderValue::from_bytes(&bytes) {
                    *value = v;
                }
            }
        }
        count
    }
}

fn percent(s: &[u8], hex: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3);
    for &b in s {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 15)]]);
        }
    }
    out
}

fn json_slash(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 4);
    for &b in s {
        if b == b'/' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

fn json_unicode(s: &[u8]) -> Vec<u8> {
    s.iter()
        .flat_map(|b| format!("\\u{:04x}", b).into_bytes())
        .collect()
}

/// A response body, scrubbed as it streams.
pub struct ScrubBody {
    inner: Body,
    scrubber: Arc<Scrubber>,
    held: BytesMut,
    redactions: Arc<AtomicU64>,
    done: bool,
}

impl ScrubBody {
    /// Wraps `inner`; every replacement is added to `redactions`.
    pub fn new(inner: Body, scrubber: Arc<Scrubber>, redactions: Arc<AtomicU64>) -> Self {
        ScrubBody {
            inner,
            scrubber,
            held: BytesMut::new(),
            redactions,
            done: false,
        }
    }

    /// Scrubs what is held plus `chunk` and returns what can be sent now.
    fn take(&mut self, chunk: Option<Bytes>) -> Bytes {
        // The common case: nothing held, nothing found: the chunk goes on untouched.
        if let Some(c) = &chunk {
            if self.held.is_empty() && self.scrubber.clean(c) {
                return c.clone();
            }
        }
        if let Some(c) = &chunk {
            self.held.extend_from_slice(c);
        }
        let n = self.scrubber.scrub(&mut self.held);
        self.redactions.fetch_add(n, Relaxed);
        let keep = if chunk.is_some() {
            self.scrubber.hold_back(&self.held)
        } else {
            0
        };
        let send = self.held.len() - keep;
        self.held.split_to(send).freeze()
    }
}

impl hyper::body::Body for ScrubBody {
    type Data = Bytes;
    type Error = crate::upstream::BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::upstream::BodyError>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let out = self.take(Some(data));
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    // Trailers: flush what is held first would reorder; trailers are
                    // rare in responses, so scrub them as headers and send the tail after.
                    Err(frame) => {
                        let mut frame = frame;
                        if let Some(t) = frame.trailers_mut() {
                            let n = self.scrubber.scrub_headers(t);
                            self.redactions.fetch_add(n, Relaxed);
                        }
                        let out = self.take(None);
                        if !out.is_empty() {
                            // Send the held tail now; the trailers are dropped rather than
                            // sent out of order (no client of ours relies on response trailers).
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                },
                Poll::Ready(None) => {
                    self.done = true;
                    let out = self.take(None);
                    if out.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(out))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.held.is_empty() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        // The same length as the upstream's: replacements keep every length.
        let mut h = self.inner.size_hint();
        let held = self.held.len() as u64;
        h.set_lower(h.lower() + held);
        if let Some(u) = h.upper() {
            h.set_upper(u + held);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    const KEY: &str = "sk_live_51HxEcho/Key+Ab";

    fn scrubber() -> Scrubber {
        Scrubber::new(&Secret::new(KEY.into())).expect("scrubber")
    }

    #[test]
    fn every_listed_encoding_is_replaced_with_the_same_length() {
        let s = scrubber();
        for form in [
            KEY.to_string(),
            String::from_utf8(percent(KEY.as_bytes(), b"0123456789ABCDEF")).expect("utf8"),
            STANDARD.encode(format!("{KEY}:")),
            String::from_utf8(json_slash(KEY.as_bytes())).expect("utf8"),
            String::from_utf8(json_unicode(KEY.as_bytes())).expect("utf8"),
        ] {
            let text = format!("{{\"error\":\"Invalid API key provided: {form}\"}}");
            let mut buf = text.clone().into_bytes();
            assert_eq!(s.scrub(&mut buf), 1, "{form}");
            let out = String::from_utf8(buf).expect("utf8");
            assert_eq!(out.len(), text.len());
            assert!(!out.contains(&form), "{out}");
            assert_eq!(out, text.replace(&form, &"*".repeat(form.len())));
        }
    }

    #[test]
    fn only_a_tail_that_could_start_a_match_is_held_back() {
        let s = scrubber();
        assert_eq!(s.hold_back(b"data: {\"a\":1}\n\n"), 0);
        assert_eq!(s.hold_back(b"xx sk_li"), 5);
        assert_eq!(s.hold_back(b"xx s"), 1);
    }

    #[tokio::test]
    async fn a_secret_split_at_every_offset_is_still_replaced() {
        let s = Arc::new(scrubber());
        let text = format!("before {KEY} middle {KEY} after");
        for cut in 0..text.len() {
            for cut2 in cut..text.len() {
                let parts = [&text[..cut], &text[cut..cut2], &text[cut2..]];
                let inner = Chunks(
                    parts
                        .iter()
                        .map(|p| Bytes::copy_from_slice(p.as_bytes()))
                        .collect(),
                )
                .map_err(Into::into)
                .boxed();
                let count = Arc::new(AtomicU64::new(0));
                let out = ScrubBody::new(inner, s.clone(), count.clone())
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                let want = text.replace(KEY, &"*".repeat(KEY.len()));
                assert_eq!(String::from_utf8_lossy(&out), want, "cuts {cut} {cut2}");
                assert_eq!(count.load(Relaxed), 2);
            }
        }
    }

    /// A body that yields the given chunks, one frame each.
    struct Chunks(std::collections::VecDeque<Bytes>);

    impl hyper::body::Body for Chunks {
        type Data = Bytes;
        type Error = hyper::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    #[test]
    fn a_short_secret_is_not_scrubbed() {
        assert!(Scrubber::new(&Secret::new("abc".into())).is_none());
    }
}
