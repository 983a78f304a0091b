//! Compressed responses, decoded so they can be scrubbed. The proxy asks sealed upstreams
//! for `Accept-Encoding: identity`; one that compresses anyway (gzip, deflate, br, zstd)
//! is decoded as it streams and sent on uncompressed, with its headers corrected. Any
//! other encoding cannot be scanned, and the response is refused (fail closed); so is one
//! whose first bytes do not decode ([`first_decoded`]), such as raw deflate sent as
//! `deflate`.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::http::{Body, BodyError};

/// What a response's `Content-Encoding` asks of the reader.
pub enum Encoding {
    /// None (or `identity`): the bytes are the text.
    Identity,
    /// One we decode.
    Known(&'static str),
    /// One we cannot decode (or several stacked): refuse.
    Unknown(String),
}

/// Reads the `Content-Encoding` of a response.
pub fn encoding(headers: &HeaderMap) -> Encoding {
    let all: Vec<String> = headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|e| e.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|e| !e.is_empty() && e != "identity")
        .collect();
    match all.as_slice() {
        [] => Encoding::Identity,
        [one] => match one.as_str() {
            "gzip" | "x-gzip" => Encoding::Known("gzip"),
            "deflate" => Encoding::Known("deflate"),
            "br" => Encoding::Known("br"),
            "zstd" => Encoding::Known("zstd"),
            other => Encoding::Unknown(other.to_string()),
        },
        many => Encoding::Unknown(many.join(", ")),
    }
}

/// The body decoded from `encoding` (one [`encoding`] called known), and the headers
/// corrected: no `Content-Encoding`, no `Content-Length` (the length changes).
pub fn decoded(body: Body, encoding: &'static str, headers: &mut HeaderMap) -> Body {
    headers.remove(CONTENT_ENCODING);
    headers.remove(CONTENT_LENGTH);
    let (seen, empty) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let reader = StreamReader::new(DataStream(body, seen, empty.clone()));
    // A gzip body may be several members and a zstd one several frames, one after the
    // other (RFC 1952 2.2, RFC 8878 3.1): decode them all, never just the first.
    let decoder: Pin<Box<dyn AsyncRead + Send + Sync>> = match encoding {
        "gzip" => {
            let mut d = GzipDecoder::new(reader);
            d.multiple_members(true);
            Box::pin(d)
        }
        // HTTP's "deflate" is the zlib format (RFC 9110 8.4.1.2); raw deflate fails its
        // header check, and the caller refuses the response.
        "deflate" => Box::pin(ZlibDecoder::new(reader)),
        "br" => Box::pin(BrotliDecoder::new(reader)),
        _ => {
            let mut d = ZstdDecoder::new(reader);
            d.multiple_members(true);
            Box::pin(d)
        }
    };
    FrameStream(ReaderStream::new(decoder), empty).boxed()
}

/// A body's data frames as a stream of byte chunks (trailers dropped: not decodable text);
/// the flags say whether a byte has come, and whether it ended (cleanly) with none.
struct DataStream(Body, Arc<AtomicBool>, Arc<AtomicBool>);

impl futures_core::Stream for DataStream {
    type Item = io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            return match hyper::body::Body::poll_frame(Pin::new(&mut self.0), cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => {
                    if !self.1.load(Relaxed) {
                        self.2.store(true, Relaxed);
                    }
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(io::Error::other(e)))),
                Poll::Ready(Some(Ok(f))) => match f.into_data() {
                    Ok(d) => {
                        if !d.is_empty() {
                            self.1.store(true, Relaxed);
                        }
                        Poll::Ready(Some(Ok(d)))
                    }
                    Err(_) => continue,
                },
            };
        }
    }
}

/// Decoded chunks as a body; a stream that does not decode ends the body with an error, so
/// the client sees a broken response, never a truncated one that looks whole (and the
/// audit line says so). An empty body (no byte at all, whatever its `Content-Encoding`) is
/// an empty body, not an error: there is nothing in it to scan (the flag: the body ended
/// with no byte).
struct FrameStream<R>(ReaderStream<R>, Arc<AtomicBool>);

impl<R: AsyncRead + Unpin> hyper::body::Body for FrameStream<R> {
    type Data = Bytes;
    type Error = BodyError;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match futures_core::Stream::poll_next(Pin::new(&mut self.0), cx) {
            Poll::Ready(Some(Err(_))) if self.1.load(Relaxed) => Poll::Ready(None),
            polled => polled.map(|o| o.map(|r| r.map(Frame::data).map_err(|e| Box::new(e) as BodyError))),
        }
    }
}

/// Waits for the first decoded bytes of `body`: a body that does not even start to decode
/// (raw deflate sent as `deflate`, a corrupt header) is refused before any response goes
/// out, rather than sent as a 200 that ends at once. Returns the same body, whole.
pub async fn first_decoded(mut body: Body) -> Result<Body, BodyError> {
    match body.frame().await {
        None => Ok(body),
        Some(Err(e)) => Err(e),
        Some(Ok(first)) => Ok(Prepended {
            first: Some(first),
            rest: body,
        }
        .boxed()),
    }
}

/// A body with one frame already read put back in front.
struct Prepended {
    first: Option<Frame<Bytes>>,
    rest: Body,
}

impl hyper::body::Body for Prepended {
    type Data = Bytes;
    type Error = BodyError;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.first.take() {
            Some(f) => Poll::Ready(Some(Ok(f))),
            None => Pin::new(&mut self.rest).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn body(bytes: Vec<u8>) -> Body {
        crate::http::full(bytes)
    }

    async fn decode(encoding: &'static str, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut h = HeaderMap::new();
        let b = first_decoded(decoded(body(bytes), encoding, &mut h))
            .await
            .map_err(|e| e.to_string())?;
        b.collect()
            .await
            .map(|c| c.to_bytes().to_vec())
            .map_err(|e| e.to_string())
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text).expect("gzip");
        e.finish().expect("gzip")
    }

    #[tokio::test]
    async fn every_gzip_member_is_decoded() {
        let two = [gzip(b"first member, "), gzip(b"second member")].concat();
        assert_eq!(
            decode("gzip", two).await.as_deref(),
            Ok(&b"first member, second member"[..])
        );
    }

    #[tokio::test]
    async fn every_zstd_frame_is_decoded() {
        let frame = |t: &[u8]| zstd::encode_all(t, 3).expect("zstd");
        let two = [frame(b"first frame, "), frame(b"second frame")].concat();
        assert_eq!(
            decode("zstd", two).await.as_deref(),
            Ok(&b"first frame, second frame"[..])
        );
    }

    #[tokio::test]
    async fn an_empty_compressed_body_is_an_empty_body() {
        for encoding in ["gzip", "deflate", "br", "zstd"] {
            assert_eq!(
                decode(encoding, Vec::new()).await.as_deref(),
                Ok(&b""[..]),
                "{encoding}"
            );
        }
    }

    #[tokio::test]
    async fn raw_deflate_is_refused_before_the_response_starts() {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"raw deflate, no zlib header").expect("deflate");
        let raw = e.finish().expect("deflate");
        assert!(decode("deflate", raw).await.is_err());
    }

    #[tokio::test]
    async fn a_body_cut_mid_stream_ends_in_an_error_not_a_short_success() {
        let whole = gzip(&vec![b'x'; 100_000]);
        let cut = whole[..whole.len() / 2].to_vec();
        assert!(decode("gzip", cut).await.is_err());
    }
}
