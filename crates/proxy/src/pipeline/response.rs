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
use hyper::body::{Frame, Incoming};

use super::upstream_request::strip_hop_by_hop;
use super::{logging, ms, Proxy, RequestCtx};
use crate::upstream::Body;

/// Filters the upstream's response for the client.
pub fn filter(proxy: Arc<Proxy>, resp: Response<Incoming>, mut ctx: RequestCtx) -> Response<Body> {
    ctx.rec.upstream_ms = Some(ms(ctx.start.elapsed()));
    ctx.rec.status = resp.status().as_u16();
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Ok(v) = HeaderValue::from_str(&ctx.rec.request_id) {
        parts.headers.insert("x-request-id", v);
    }
    let audited = Audited {
        inner: body.boxed(),
        done: Some((proxy, ctx)),
        bytes: 0,
    };
    Response::from_parts(parts, audited.boxed())
}

/// The response body, counted; its audit line is written when it ends or is dropped.
struct Audited {
    inner: Body,
    done: Option<(Arc<Proxy>, RequestCtx)>,
    bytes: u64,
}

impl Audited {
    fn finish(&mut self) {
        if let Some((proxy, mut ctx)) = self.done.take() {
            ctx.rec.bytes_out = self.bytes;
            logging::finish(&proxy, ctx);
        }
    }
}

impl hyper::body::Body for Audited {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
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
