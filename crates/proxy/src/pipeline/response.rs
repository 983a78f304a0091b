//! Phase 6, the response filter: what comes back from the upstream before the client sees
//! it. Hop-by-hop headers go, `x-request-id` is added, and the body is counted; the audit
//! line is written when the body ends (or the client drops it), and says so if the body
//! broke off. A response to a request that carried a secret is scrubbed of it (the secret
//! never comes back): the reason phrase replaced by the standard one, header names and
//! values, and the body, decoded first if the upstream compressed it. A `tools/list` result
//! under `mcp tool` caveats is narrowed first ([`crate::upstream::tools`]), then scrubbed.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use std::future::Future;

use bytes::Bytes;
use http::header::HeaderValue;
use http::response::Parts;
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Frame;

use crate::upstream::client::UpstreamBody;

use super::logging;
use crate::deny::Deny;
use crate::http::Body;
use crate::http::{ms, strip_hop_by_hop};
use crate::proxy::Proxy;
use crate::request::RequestCtx;
use crate::upstream::decode::{self, Encoding};
use crate::upstream::scrub::ScrubBody;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The filtered response: ready, or waiting for a compressed body's first decoded bytes
/// (boxed: rare, and it keeps the common request future small).
pub enum Filtered {
    /// The response for the client.
    Ready(Response<Body>),
    /// The response once the body has started to decode (or the 502 if it does not).
    Decoding(Pin<Box<dyn Future<Output = Response<Body>> + Send>>),
}

impl Filtered {
    /// The response for the client.
    pub async fn response(self) -> Response<Body> {
        match self {
            Filtered::Ready(r) => r,
            Filtered::Decoding(f) => f.await,
        }
    }
}

/// Filters the upstream's response for the client: a response to a request that carried
/// a secret is scrubbed of it, status line, headers and body (and refused if it cannot be
/// read).
pub fn filter(proxy: Arc<Proxy>, resp: Response<UpstreamBody>, mut ctx: Box<RequestCtx>) -> Filtered {
    ctx.rec.upstream_ms = Some(ms(ctx.start.elapsed()));
    let (mut parts, body) = resp.into_parts();
    // The proxy forwards no upgrade request (Upgrade is hop-by-hop and removed), so a
    // switch is one nobody asked for: relayed, it would take over the client's connection.
    if parts.status == StatusCode::SWITCHING_PROTOCOLS {
        let deny = Deny::Upstream {
            host: ctx.rec.host.clone(),
            detail: "it answered 101 Switching Protocols to a request that asked for no upgrade; the proxy \
                     relays no protocol switch (is the URL a WebSocket endpoint?)"
                .into(),
        };
        return Filtered::Ready(logging::refused(&proxy, ctx, deny));
    }
    let body = body.map_err(Into::into).boxed();
    // Only a response to a request that carried a secret is scanned (and counted).
    let Some(scrubber) = ctx.scrub.clone() else {
        let body = narrowed(&mut parts, body, &mut ctx);
        return Filtered::Ready(finish(proxy, parts, body, ctx, None));
    };
    // The reason phrase is the upstream's text: the client gets the standard one.
    let mut count = 0;
    if let Some(reason) = parts.extensions.remove::<hyper::ext::ReasonPhrase>() {
        count += u64::from(scrubber.found_in(reason.as_bytes()));
    }
    count += scrubber.scrub_headers(&mut parts.headers);
    let encoding = match decode::encoding(&parts.headers) {
        Encoding::Known(e) if !hyper::body::Body::is_end_stream(&body) => e,
        // Nothing to decode (HEAD, 204, 304, an empty body).
        Encoding::Identity | Encoding::Known(_) => {
            let body = narrowed(&mut parts, body, &mut ctx);
            let body = ScrubBody::new(body, scrubber, Arc::new(AtomicU64::new(count)));
            return Filtered::Ready(finish_scrubbed(proxy, parts, body, ctx));
        }
        Encoding::Unknown(encoding) => {
            let host = ctx.rec.host.clone();
            return Filtered::Ready(logging::refused(
                &proxy,
                ctx,
                Deny::Unscannable { host, encoding },
            ));
        }
    };
    let body = decode::decoded(body, encoding, &mut parts.headers);
    Filtered::Decoding(Box::pin(async move {
        match decode::first_decoded(body).await {
            Ok(body) => {
                let body = narrowed(&mut parts, body, &mut ctx);
                let body = ScrubBody::new(body, scrubber, Arc::new(AtomicU64::new(count)));
                finish_scrubbed(proxy, parts, body, ctx)
            }
            Err(e) => {
                let deny = Deny::Undecodable {
                    host: ctx.rec.host.clone(),
                    encoding,
                    error: crate::http::chain(&*e),
                };
                logging::refused(&proxy, ctx, deny)
            }
        }
    }))
}

/// The body with `tools/list` results narrowed to the tools the token may call, for a
/// request that asked for them under `mcp tool` caveats (before the scrubber, which then
/// scans what the client gets); any other body as it was.
fn narrowed(parts: &mut Parts, body: Body, ctx: &mut RequestCtx) -> Body {
    match ctx.tools.take() {
        Some(filter) => filter.wrap(parts.status, &mut parts.headers, body),
        None => body,
    }
}

fn finish_scrubbed(proxy: Arc<Proxy>, parts: Parts, body: ScrubBody, ctx: Box<RequestCtx>) -> Response<Body> {
    let redactions = body.redactions();
    finish(proxy, parts, body.boxed(), ctx, Some(redactions))
}

/// The response as the client gets it: hop-by-hop headers out, `x-request-id` in, the
/// body counted for the audit line.
fn finish(
    proxy: Arc<Proxy>,
    mut parts: Parts,
    body: Body,
    mut ctx: Box<RequestCtx>,
    redactions: Option<Arc<AtomicU64>>,
) -> Response<Body> {
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
        failed: None,
    };
    Response::from_parts(parts, audited.boxed())
}

/// The response body, counted; its audit line is written when it ends or is dropped.
struct Audited {
    inner: Body,
    done: Option<(Arc<Proxy>, Box<RequestCtx>)>,
    bytes: u64,
    redactions: Option<Arc<AtomicU64>>,
    /// Why the body broke off, if it did: the client got fewer bytes than the upstream
    /// meant, and the audit line says so.
    failed: Option<String>,
}

impl Audited {
    fn finish(&mut self) {
        if let Some((proxy, mut ctx)) = self.done.take() {
            ctx.rec.bytes_out = self.bytes;
            if let Some(r) = &self.redactions {
                ctx.rec.redactions = r.load(Relaxed);
                proxy.metrics.redacted(ctx.rec.redactions);
            }
            if let Some(why) = self.failed.take() {
                ctx.rec.decision = "error";
                ctx.rec.reason = Some(format!(
                    "the response from {} broke off after {} bytes ({why}); the client got an incomplete body",
                    ctx.rec.host, self.bytes
                ));
            }
            logging::finish(&proxy, ctx);
        }
    }
}

impl hyper::body::Body for Audited {
    type Data = Bytes;
    type Error = crate::http::BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::http::BodyError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.bytes += d.len() as u64;
                }
            }
            Poll::Ready(Some(Err(e))) => {
                self.failed = Some(crate::http::chain(&**e));
                self.finish();
            }
            Poll::Ready(None) => self.finish(),
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
