//! Phase 5, forward: send the built request over the pooled client of this worker
//! (HTTPS for anything carrying a secret; plain HTTP only for `--passthrough` `http://`
//! requests), within `--upstream-timeout`. Failures become 502/504 naming the host and the
//! likely fix.

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use caveat::Secret;
use http::header::{HeaderValue, AUTHORIZATION};
use http::{HeaderMap, Method, Response, StatusCode, Uri};

use super::obtain::{self, Injected};
use crate::oauth::Family;
use crate::scrub::Scrubber;

use super::ctx::{Outgoing, RequestCtx};
use super::deny::Deny;
use super::response::Filtered;
use super::{logging, response};
use crate::client::UpstreamBody;
use crate::proxy::Proxy;
use crate::upstream::{Body, BodyError};

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
    match retry.again(&proxy).await {
        Ok(None) => {
            let Some((_, ctx)) = pending.0.take() else {
                return Response::new(crate::http::full(""));
            };
            answer(proxy, Ok(Ok(refused)), ctx, timeout).response().await
        }
        Ok(Some((req, scrubber))) => {
            let sent = send(&proxy, Outgoing::Secret(req), timeout).await;
            let Some((_, mut ctx)) = pending.0.take() else {
                return Response::new(crate::http::full(""));
            };
            ctx.scrub = scrubber;
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
                detail: format!("{detail}{}", hint(&host, &detail)),
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

/// A bodyless OAuth2 request, kept to be sent once more if the upstream refuses its access
/// token (401). Requests with a body are not retried: their body is gone.
pub struct Retry {
    family: Arc<Family>,
    used: Secret,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Retry {
    /// The retry of `out`, if it is a bodyless request with an OAuth2 access token.
    pub fn for_request(injected: &Injected, out: &Outgoing) -> Option<Retry> {
        let (Injected::OAuth2 { family, access }, Outgoing::Secret(req)) = (injected, out) else {
            return None;
        };
        if !hyper::body::Body::is_end_stream(req.body()) {
            return None;
        }
        Some(Retry {
            family: family.clone(),
            used: access.token.clone(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            headers: req.headers().clone(),
        })
    }

    /// A new access token (one exchange, whoever else saw the 401) and the request again;
    /// `None` when the 401 should be passed on (a new token was forced moments ago).
    async fn again(
        self,
        proxy: &Arc<Proxy>,
    ) -> Result<Option<(http::Request<Body>, Option<Arc<Scrubber>>)>, Deny> {
        let (proxy, oauth) = (proxy.clone(), self.family.oauth().clone());
        let Some(access) = self
            .family
            .after_refusal(&self.used, move |r| obtain::exchange(proxy, oauth, r))
            .await
            .map_err(Deny::CredentialExchange)?
        else {
            return Ok(None);
        };
        let mut value = HeaderValue::from_str(&format!("Bearer {}", access.token.expose()))
            .map_err(|_| Deny::BadSecret)?;
        value.set_sensitive(true);
        let mut req = http::Request::new(crate::http::full(""));
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.headers_mut() = self.headers;
        req.headers_mut().insert(AUTHORIZATION, value);
        Ok(Some((req, access.scrubber)))
    }
}

/// What an operator can do about the commonest upstream failures.
pub(crate) fn hint(host: &str, detail: &str) -> String {
    let d = detail.to_ascii_lowercase();
    if d.contains("dns error") || d.contains("failed to lookup") || d.contains("name or service not known") {
        format!(" (the proxy cannot resolve {host}; to send it elsewhere, run the proxy with --resolve {host}=IP:PORT)")
    } else if d.contains("unknownissuer")
        || d.contains("unknown issuer")
        || d.contains("invalid peer certificate")
    {
        format!(" (the proxy does not trust {host}'s certificate; add its CA with --upstream-ca PEM)")
    } else if d.contains("connection refused") {
        format!(" (nothing accepts connections for {host} at the address it resolves to; check --resolve)")
    } else {
        String::new()
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

#[cfg(test)]
mod tests {
    use super::hint;

    #[test]
    fn upstream_failures_say_what_to_do() {
        let dns = hint(
            "api.example.com",
            "client error (Connect): dns error: failed to lookup address",
        );
        assert!(dns.contains("--resolve api.example.com=IP:PORT"), "{dns}");
        let tls = hint("api.example.com", "invalid peer certificate: UnknownIssuer");
        assert!(tls.contains("--upstream-ca"), "{tls}");
        assert_eq!(hint("h", "connection reset"), "");
    }
}
