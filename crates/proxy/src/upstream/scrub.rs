//! Responses: the secret never comes back. Upstreams echo credentials ("Invalid API key
//! provided: sk_live_…", token-exchange and debug endpoints), and an agent that reads such
//! a response would hold the real key. Every response from a sealed host is scanned, status
//! line, header names and values and body, for the injected secret in each form a client
//! could read it back from (the `scrub` crate's rules: every character plain,
//! percent-encoded, JSON-escaped or an HTML reference, mixed freely; base64 at every
//! alignment), and each occurrence is replaced by `*` of the same length: `Content-Length`
//! stays true and nothing else changes.
//!
//! The body is scanned as it streams, never buffered whole: a chunk goes on untouched
//! unless a match is in progress at its end, and then only the bytes from that match's
//! start are held back, so a match split across chunks, TLS records or HTTP/2 frames is
//! still found and server-sent events keep flowing.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use caveat::Secret;
use http::{HeaderMap, HeaderName, HeaderValue};
use hyper::body::Frame;
use scrub::{Out, Patterns, Stream};

use crate::http::Body;

/// The patterns of one credential's secrets, compiled once per secret and shared.
pub struct Scrubber {
    /// For bodies, header values and the reason phrase.
    exact: Patterns,
    /// For header names, which HTTP lower-cases: letters match in either case.
    folded: Patterns,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} states, redacted)", self.exact.states())
    }
}

impl Scrubber {
    /// The scrubber for `secret`; `None` for a secret too short to search for safely.
    pub fn new(secret: &Secret) -> Option<Scrubber> {
        Self::for_secrets(&[secret])
    }

    /// One scrubber for several secrets (an OAuth2 access token with the refresh token and
    /// client secret it came from; an AWS secret key with its session token). Secrets too
    /// short to search for safely are left out; `None` if none is left.
    pub fn for_secrets(secrets: &[&Secret]) -> Option<Scrubber> {
        let texts: Vec<&str> = secrets.iter().map(|s| s.expose()).collect();
        Some(Scrubber {
            exact: Patterns::new(&texts, false)?,
            folded: Patterns::new(&texts, true)?,
        })
    }

    /// Replaces every occurrence in `buf` by `*`; returns how many there were.
    pub fn scrub(&self, buf: &mut [u8]) -> u64 {
        self.exact.scrub(buf)
    }

    /// True if `text` holds the secret.
    pub fn found_in(&self, text: &[u8]) -> bool {
        self.exact.found_in(text)
    }

    /// Scrubs header names and values in place; returns how many occurrences were
    /// replaced. A name that holds the secret is renamed with `*` in its place (a valid
    /// header-name character), so the header stays, its name unreadable.
    pub fn scrub_headers(&self, headers: &mut HeaderMap) -> u64 {
        let mut count = 0;
        let renamed = headers
            .keys()
            .any(|k| self.folded.found_in(k.as_str().as_bytes()));
        if renamed {
            let old = std::mem::take(headers);
            let mut name = None;
            for (k, v) in old {
                if let Some(k) = k {
                    let mut bytes = k.as_str().as_bytes().to_vec();
                    let n = self.folded.scrub(&mut bytes);
                    count += n;
                    name = Some(if n > 0 {
                        // `*` is a token character, so this cannot fail; drop the header if it did.
                        HeaderName::from_bytes(&bytes).ok()
                    } else {
                        Some(k)
                    });
                }
                if let Some(Some(k)) = &name {
                    headers.append(k.clone(), v);
                }
            }
        }
        for value in headers.values_mut() {
            if self.exact.found_in(value.as_bytes()) {
                let mut bytes = value.as_bytes().to_vec();
                count += self.exact.scrub(&mut bytes);
                // `*` is a valid header byte, so this cannot fail; empty the value if it did.
                *value = HeaderValue::from_bytes(&bytes).unwrap_or(HeaderValue::from_static(""));
            }
        }
        count
    }
}

/// A response body, scrubbed as it streams.
pub struct ScrubBody {
    inner: Body,
    scrubber: Arc<Scrubber>,
    stream: Stream,
    redactions: Arc<AtomicU64>,
    done: bool,
}

impl ScrubBody {
    /// Wraps `inner`; every replacement is added to `redactions`.
    pub fn new(inner: Body, scrubber: Arc<Scrubber>, redactions: Arc<AtomicU64>) -> Self {
        ScrubBody {
            inner,
            scrubber,
            stream: Stream::default(),
            redactions,
            done: false,
        }
    }

    /// The count of replacements this body adds to (the headers' are in it).
    pub fn redactions(&self) -> Arc<AtomicU64> {
        self.redactions.clone()
    }

    /// Scrubs `chunk` (`None`: the end) and returns what can be sent now.
    fn take(&mut self, chunk: Option<Bytes>) -> Bytes {
        let before = self.stream.count();
        let out = match chunk {
            Some(c) => match self.stream.push(&self.scrubber.exact, &c) {
                // The common case: nothing found, nothing held: the chunk goes on untouched.
                Out::Whole => c,
                Out::Prefix(n) => c.slice(..n),
                Out::Bytes(out) => Bytes::from(out),
            },
            None => Bytes::from(self.stream.finish()),
        };
        self.redactions.fetch_add(self.stream.count() - before, Relaxed);
        out
    }
}

impl hyper::body::Body for ScrubBody {
    type Data = Bytes;
    type Error = crate::http::BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::http::BodyError>>> {
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
        self.done || (self.stream.held() == 0 && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        // The same length as the upstream's: replacements keep every length.
        let mut h = self.inner.size_hint();
        let held = self.stream.held() as u64;
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
    fn the_bytes_a_query_injection_sent_are_replaced_when_echoed() {
        // An Azure client secret: `~` is sent as `%7E` by the query injection's encoder.
        let key = "Xy8Q~a.Bc-9_dEfGhIjK~LmNo Pq";
        let s = Scrubber::new(&Secret::new(key.into())).expect("scrubber");
        let sent = form_urlencoded::Serializer::new(String::new())
            .append_pair("code", key)
            .finish();
        let value = &sent["code=".len()..];
        assert!(value.contains("%7E") && value.contains('+'), "{value}");
        let text = format!("{{\"next\":\"https://api.example/x?code={value}&page=2\"}}");
        let mut buf = text.clone().into_bytes();
        assert_eq!(s.scrub(&mut buf), 1);
        assert_eq!(
            String::from_utf8_lossy(&buf),
            text.replace(value, &"*".repeat(value.len()))
        );
    }

    #[test]
    fn header_names_and_values_are_scrubbed_names_in_either_case() {
        let s = scrubber();
        let mut h = HeaderMap::new();
        // `/` cannot be in a header name; `%2F` (folded to `%2f`) can.
        let spelled = KEY.replace('/', "%2F").to_ascii_lowercase();
        let name = HeaderName::from_bytes(format!("x-{spelled}").as_bytes()).expect("name");
        h.insert(name, HeaderValue::from_static("1"));
        h.insert(
            "set-cookie",
            HeaderValue::from_str(&format!("k={KEY}; Path=/")).expect("value"),
        );
        h.insert(
            "location",
            HeaderValue::from_str(&format!("/cb?k={}", KEY.replace('/', "%2F"))).expect("value"),
        );
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(s.scrub_headers(&mut h), 3);
        let stars = "*".repeat(KEY.len());
        let name_stars = "*".repeat(spelled.len());
        assert_eq!(
            h.get(format!("x-{name_stars}").as_str())
                .map(HeaderValue::as_bytes),
            Some(&b"1"[..])
        );
        assert_eq!(h["set-cookie"], format!("k={stars}; Path=/").as_str());
        assert_eq!(
            h["location"],
            format!("/cb?k={}", "*".repeat(KEY.len() + 2)).as_str()
        );
        assert_eq!(h["content-type"], "text/plain");
        assert_eq!(h.len(), 4);
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
