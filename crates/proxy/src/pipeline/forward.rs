//! Phase 5, forward: send the built request over the pooled client of this worker
//! (HTTPS for anything carrying a secret; plain HTTP only for `--passthrough` `http://`
//! requests), within `--upstream-timeout`. Failures become 502/504 naming the host and the
//! likely fix.

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use http::{Response, StatusCode};

use super::response::Filtered;
use super::{logging, obtain, response, upstream_request};
use crate::deny::Deny;
use crate::http::{Body, BodyError};
use crate::proxy::Proxy;
use crate::request::{Outgoing, RequestCtx, Retry};
use crate::upstream::client::UpstreamBody;

/// Sends the request and hands the response to the response filter.
///
/// A plain function returning its future, not an `async fn`: an `async fn` keeps each
/// argument twice in its future (as given, and moved into the body), and this future is
/// part of what hyper copies per request.
pub fn forward(
    proxy: Arc<Proxy>,
    out: Outgoing,
    mut ctx: Box<RequestCtx>,
) -> impl Future<Output = Response<Body>> + Send {
    ctx.decided();
    let retry = ctx.retry.take();
    let timeout = proxy.config.upstream_timeout;
    // If the client goes away while we wait, hyper drops this future: the guard still
    // writes the audit line (the request may already have reached the upstream).
    let mut pending = ClientGone(Some((proxy.clone(), ctx)));
    async move {
        let sent = send(&proxy, out, timeout).await;
        let Some((_, ctx)) = pending.0.take() else {
            return Response::new(crate::http::full(""));
        };
        match (sent, retry) {
            // An OAuth2 access token refused (revoked, or expired early): one new token,
            // one retry. Boxed: an OAuth2 exchange is a large future, and rare.
            (Ok(Ok(resp)), Some(retry)) if resp.status() == StatusCode::UNAUTHORIZED => {
                Box::pin(again(proxy, *retry, ctx, timeout, resp)).await
            }
            (sent, _) => answer(proxy, sent, ctx, timeout).response().await,
        }
    }
}

/// The request once more with a new OAuth2 access token, after the 401 `refused`; or
/// `refused` itself when a new token was forced too recently.
async fn again(
    proxy: Arc<Proxy>,
    retry: Retry,
    ctx: Box<RequestCtx>,
    timeout: std::time::Duration,
    refused: Response<UpstreamBody>,
) -> Response<Body> {
    let mut pending = ClientGone(Some((proxy.clone(), ctx)));
    match Box::pin(obtain::after_refusal(&proxy, &retry)).await {
        Ok(None) => {
            let Some((_, ctx)) = pending.0.take() else {
                return Response::new(crate::http::full(""));
            };
            answer(proxy, Ok(Ok(refused)), ctx, timeout).response().await
        }
        Ok(Some(access)) => {
            let req = match upstream_request::retried(retry, &access.token) {
                Ok(req) => req,
                Err(deny) => {
                    let Some((_, ctx)) = pending.0.take() else {
                        return Response::new(crate::http::full(""));
                    };
                    return logging::refused(&proxy, ctx, deny);
                }
            };
            let sent = send(&proxy, Outgoing::Secret(req), timeout).await;
            let Some((_, mut ctx)) = pending.0.take() else {
                return Response::new(crate::http::full(""));
            };
            ctx.scrub = access.scrubber;
            answer(proxy, sent, ctx, timeout).response().await
        }
        Err(deny) => {
            let Some((_, ctx)) = pending.0.take() else {
                return Response::new(crate::http::full(""));
            };
            logging::refused(&proxy, ctx, deny)
        }
    }
}

/// The upstream's answer for the client, or the 502/504 that says why there is none.
fn answer(proxy: Arc<Proxy>, sent: Sent, ctx: Box<RequestCtx>, timeout: std::time::Duration) -> Filtered {
    Filtered::Ready(match sent {
        Ok(Ok(resp)) => return response::filter(proxy, resp, ctx),
        Ok(Err(e)) => {
            proxy.metrics.upstream_errors.fetch_add(1, Relaxed);
            let host = ctx.rec.host.clone();
            let detail = crate::http::chain(&*e);
            let deny = Deny::Upstream {
                detail: format!("{detail}{}", crate::deny::hint(&host, &detail)),
                host,
            };
            logging::refused(&proxy, ctx, deny)
        }
        Err(_) => {
            proxy.metrics.upstream_timeouts.fetch_add(1, Relaxed);
            let host = ctx.rec.host.clone();
            logging::refused(&proxy, ctx, Deny::UpstreamTimeout { host, after: timeout })
        }
    })
}

type Sent = Result<Result<Response<UpstreamBody>, BodyError>, tokio::time::error::Elapsed>;

/// Sends one request on this worker's pool, within `timeout`.
async fn send(proxy: &Proxy, out: Outgoing, timeout: std::time::Duration) -> Sent {
    match out {
        Outgoing::Passthrough(req) if req.uri().scheme_str() == Some("http") => {
            // Boxed: plain passthrough is rare, and hyper-util's client future is large.
            let plain = async {
                let resp = proxy.pools().plain.request(req).await?;
                Ok(resp.map(UpstreamBody::new))
            };
            tokio::time::timeout(timeout, Box::pin(plain)).await
        }
        Outgoing::Passthrough(req) | Outgoing::Secret(req) => {
            tokio::time::timeout(timeout, proxy.pools().tls.send(req)).await
        }
    }
}

/// Writes the audit line of a forwarded request whose client disconnected before the
/// upstream answered (status 499, as nginx logs it).
struct ClientGone(Option<(Arc<Proxy>, Box<RequestCtx>)>);

impl Drop for ClientGone {
    fn drop(&mut self) {
        if let Some((proxy, mut ctx)) = self.0.take() {
            ctx.rec.status = 499;
            ctx.rec.reason = Some("the client went away before the upstream answered".into());
            logging::finish(&proxy, ctx);
        }
    }
}
