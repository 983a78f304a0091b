//! Phase 5, forward: send the built request over the pooled client of this worker
//! (HTTPS for anything carrying a secret; plain HTTP only for `--passthrough` `http://`
//! requests), within `--upstream-timeout`. Failures become 502/504 naming the host and the
//! likely fix.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use http::Response;

use super::{logging, response, Deny, Outgoing, Proxy, RequestCtx};
use crate::upstream::Body;

/// Sends the request and hands the response to the response filter.
pub async fn forward(proxy: Arc<Proxy>, out: Outgoing, mut ctx: RequestCtx) -> Response<Body> {
    ctx.decided();
    let host = ctx.rec.host.clone();
    // If the client goes away while we wait, hyper drops this future: the guard still
    // writes the audit line (the request may already have reached the upstream).
    let mut pending = ClientGone(Some((proxy.clone(), ctx)));
    let timeout = proxy.config.upstream_timeout;
    let sent = match out {
        Outgoing::Passthrough(req) if req.uri().scheme_str() == Some("http") => {
            tokio::time::timeout(timeout, proxy.pools().plain.request(req)).await
        }
        Outgoing::Passthrough(req) | Outgoing::Secret(req) => {
            tokio::time::timeout(timeout, proxy.pools().tls.request(req)).await
        }
    };
    let Some((_, ctx)) = pending.0.take() else {
        return Response::new(super::full(""));
    };
    match sent {
        Ok(Ok(resp)) => response::filter(proxy, resp, ctx),
        Ok(Err(e)) => {
            proxy.metrics.upstream_errors.fetch_add(1, Relaxed);
            let detail = super::chain(&e);
            let deny = Deny::Upstream {
                detail: format!("{detail}{}", hint(&host, &detail)),
                host,
            };
            logging::refused(&proxy, ctx, deny)
        }
        Err(_) => {
            proxy.metrics.upstream_timeouts.fetch_add(1, Relaxed);
            logging::refused(&proxy, ctx, Deny::UpstreamTimeout { host, after: timeout })
        }
    }
}

/// What an operator can do about the commonest upstream failures.
fn hint(host: &str, detail: &str) -> String {
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
struct ClientGone(Option<(Arc<Proxy>, RequestCtx)>);

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
