//! Phase 6, the response filter: what comes back from the upstream before the client sees
//! it. Hop-by-hop headers go, `x-request-id` is added, and the body is counted; the audit
//! line is written when the body ends (or the client drops it). Response scrubbing (the
//! secret never comes back) belongs here.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::HeaderValue;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Frame;

use crate::client::UpstreamBody;

use super::upstream_request::strip_hop_by_hop;
use super::{logging, ms, Deny, Proxy, RequestCtx};
use crate::decode::{self, Encoding};
use crate::scrub::ScrubBody;
use crate::upstream::Body;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Filters the upstream's response for the client: a response to a request that carried
/// a secret is scrubbed of it, headers and body (and refused if it cannot be read).
pub fn filter(proxy: Arc<Proxy>, resp: Response<UpstreamBody>, mut ctx: Box<RequestCtx>) -> Response<Body> {
    ctx.rec.upstream_ms = Some(ms(ctx.start.elapsed()));
    let (mut parts, body) = resp.into_parts();
    let mut body = body.map_err(Into::into).boxed();
    // Only a response to a request that carried a secret is scanned (and counted).
    let mut redactions = None;
    if let Some(scrubber) = ctx.scrub.clone() {
        match decode::encoding(&parts.headers) {
            Encoding::Identity => {}
            Encoding::Known(e) => body = decode::decoded(body, e, &mut parts.headers),
            Encoding::Unknown(encoding) => {
                let host = ctx.rec.host.clone();
                return logging::refused(&proxy, ctx, Deny::Unscannable { host, encoding });
            }
        }
        let count = Arc::new(AtomicU64::new(scrubber.scrub_headers(&mut parts.headers)));
        body = ScrubBody::new(body, scrubber, count.clone()).boxed();
        redactions = Some(count);
    }
    ctx.rec.status = parts.status.as_u16();
    strip_hop_by_hop(&mut parts.headers);
    if let Ok(v) = HeaderValue::from_str(&ctx.rec.request_id) {
        parts.headers.insert("x-request-id", v);
    }
    let audited = Audited {
        inner: body,
        done: Some((proxy, ctx)),
        bytes: 0,
        redactions,
    };
    Response::from_parts(parts, audited.boxed())
}

/// The response body, counted; its audit line is written when it ends or is dropped.
struct Audited {
    inner: Body,
    done: Option<(Arc<Proxy>, Box<RequestCtx>)>,
    bytes: u64,
    redactions: Option<Arc<AtomicU64>>,
}

impl Audited {
    fn finish(&mut self) {
        if let Some((proxy, mut ctx)) = self.done.take() {
            ctx.rec.bytes_out = self.bytes;
            if let Some(r) = &self.redactions {
                ctx.rec.redactions = r.load(Relaxed);
                proxy.metrics.redacted(ctx.rec.redactions);
            }
            logging::finish(&proxy, ctx);
        }
    }
}

impl hyper::body::Body for Audited {
    type Data = Bytes;
    type Error = crate::upstream::BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::upstream::BodyError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.bytes += d.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Audited {
    fn drop(&mut self) {
        self.finish();
    }
}
