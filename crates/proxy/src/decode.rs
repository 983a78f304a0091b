//! Compressed responses, decoded so they can be scrubbed. The proxy asks sealed upstreams
//! for `Accept-Encoding: identity`; one that compresses anyway (gzip, deflate, br, zstd)
//! is decoded as it streams and sent on uncompressed, with its headers corrected. Any
//! other encoding cannot be scanned, and the response is refused (fail closed).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::upstream::{Body, BodyError};

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
    let reader = StreamReader::new(DataStream(body));
    let decoder: Pin<Box<dyn AsyncRead + Send + Sync>> = match encoding {
        "gzip" => Box::pin(GzipDecoder::new(reader)),
        // HTTP's "deflate" is the zlib format (RFC 9110 8.4.1.2).
        "deflate" => Box::pin(ZlibDecoder::new(reader)),
        "br" => Box::pin(BrotliDecoder::new(reader)),
        _ => Box::pin(ZstdDecoder::new(reader)),
    };
    FrameStream(ReaderStream::new(decoder)).boxed()
}

/// A body's data frames as a stream of byte chunks (trailers dropped: not decodable text).
struct DataStream(Body);

impl futures_core::Stream for DataStream {
    type Item = io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            return match hyper::body::Body::poll_frame(Pin::new(&mut self.0), cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(io::Error::other(e)))),
                Poll::Ready(Some(Ok(f))) => match f.into_data() {
                    Ok(d) => Poll::Ready(Some(Ok(d))),
                    Err(_) => continue,
                },
            };
        }
    }
}

/// Decoded chunks as a body; a stream that does not decode ends the body with an error, so
/// the client sees a broken response, never a truncated one that looks whole.
struct FrameStream<R>(ReaderStream<R>);

impl<R: AsyncRead + Unpin> hyper::body::Body for FrameStream<R> {
    type Data = Bytes;
    type Error = BodyError;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        futures_core::Stream::poll_next(Pin::new(&mut self.0), cx)
            .map(|o| o.map(|r| r.map(Frame::data).map_err(|e| Box::new(e) as BodyError)))
    }
}
