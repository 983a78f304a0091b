//! The per-request pipeline, as named phases over one [`RequestCtx`] (the shape of
//! pingora's `ProxyHttp`, as plain functions: no trait, no cost on the hot path):
//!
//! 1. [`authority`]: limits, then the one host this request is for;
//! 2. [`credential`]: every copy of the token, or a `--passthrough` host;
//! 3. [`decide`] (3a): unseal (cached), the core's decision, revocation, any copy of the
//!    token in a shape the finder does not strip ([`crate::copies`]);
//!    3b. [`body`]: read a body that caveats are on (or that an approval names), then
//!    [`approve`]: a request that needs a person's approval is held until one decides;
//!    3c. [`obtain`]: the credential to inject (an OAuth2 access token from the cache or
//!    one exchange);
//!    3d. [`count`]: charge usage and rate caveats (last, so a refused request never
//!    spends a count);
//! 4. [`upstream_request`]: strip the token and hop-by-hop headers, inject the secret (or
//!    sign the request: SigV4);
//! 5. [`forward`]: over TLS with this worker's pooled client (an OAuth2 request without a
//!    body that gets a 401 is sent once more: a new access token from [`obtain`], the
//!    request from [`upstream_request`]);
//! 6. [`response`]: the response filter (hop-by-hop headers, request id, byte count,
//!    MCP `tools/list` results narrowed under `mcp tool` caveats);
//! 7. [`logging`]: the only place that writes the audit line and the metrics.
//!
//! Each phase imports only earlier ones (and the floors below the pipeline: [`crate::request`],
//! [`crate::deny`], [`crate::proxy`], ...). A phase that refuses returns a [`Deny`], which maps to status, error code and message
//! in one table. Nothing is sent upstream before phase 3 allows, and every request is
//! decided on its own: the tenth request on a kept-alive connection or inside a tunnel goes
//! through all of this exactly like the first.

pub mod approve;
pub mod authority;
pub mod body;
pub mod count;
pub mod credential;
pub mod decide;
pub mod forward;
pub mod logging;
pub mod obtain;
pub mod response;
pub mod upstream_request;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use hyper::body::Incoming;

use crate::deny::Deny;
use crate::http::Body;
use crate::proxy::Proxy;
use crate::request::{Mode, OutBody, Outgoing, RequestCtx};

/// The whole pipeline for one request. Always answers; never panics on input.
///
/// A plain function returning its future (as [`forward::forward`]): an `async fn` would
/// keep the request twice in the future hyper copies per request.
pub fn handle(
    proxy: Arc<Proxy>,
    req: http::Request<Incoming>,
    client: SocketAddr,
    mode: Mode,
) -> impl std::future::Future<Output = Response<Body>> + Send {
    // Boxed: it travels through every phase into the response body, and at ~700 bytes
    // each move was a copy (and a slot in each future that holds it).
    let mut ctx = Box::new(RequestCtx::new(&req, client, mode));
    async move {
        match request_phases(&proxy, req, &mut ctx).await {
            Ok(out) => forward::forward(proxy, out, ctx).await,
            Err(deny) => logging::refused(&proxy, ctx, deny),
        }
    }
}

/// Phases 1 to 4: from the client's request to the one for the upstream, or a refusal.
async fn request_phases(
    proxy: &Arc<Proxy>,
    req: http::Request<Incoming>,
    ctx: &mut RequestCtx,
) -> Result<Outgoing, Deny> {
    let (parts, body) = req.into_parts();
    authority::limits(&parts)?;
    let authority = authority::authority(&parts, &ctx.mode)?;
    if let Some((h, _)) = &authority.target {
        ctx.rec.host = h.to_string();
    }
    let Some(found) = credential::find(proxy, &parts, &ctx.mode)? else {
        // No token: only `--passthrough` hosts, untouched.
        let target = authority.target;
        let Some((host, port)) = target
            .clone()
            .filter(|(h, _)| proxy.config.passthrough.contains(h))
        else {
            return Err(Deny::NoToken {
                host: target.map(|(h, _)| h),
                absent: credential::absent(&parts),
            });
        };
        ctx.rec.mode = "passthrough";
        ctx.rec.decision = "allow";
        return upstream_request::passthrough(parts, body, authority.scheme, &host, port);
    };
    // Known from here, so that no piece of the token is logged, whatever the outcome.
    ctx.copies = proxy.copies(&found.token);
    let pending = decide::decide(proxy, &parts, authority, found, ctx)?;
    // The awaits most requests skip (a body read, an OAuth2 exchange, a SigV4 body hash, a
    // count) are boxed: this future's size is what hyper keeps for every open connection,
    // about 5 KB more without.
    let (allowed, body) = if pending.needs_body() {
        let view = Box::pin(body::read(&parts, body, &proxy.config)).await?;
        let bytes = match &view {
            caveat::BodyView::Read(b) => b.bytes.clone(),
            caveat::BodyView::NotRead => Bytes::new(),
        };
        match pending.with_body(view) {
            Ok(allowed) => (allowed, OutBody::Checked(bytes)),
            Err(deny) => {
                // An MCP client shows a JSON-RPC error's message; a bare 403 it does not.
                if deny.caveat().is_some_and(|c| c.starts_with("mcp ")) {
                    ctx.jsonrpc_id = crate::upstream::tools::request_id(&bytes).map(Box::new);
                }
                return Err(deny);
            }
        }
    } else {
        (pending.allowed(), OutBody::Stream(body))
    };
    // A tools/list under `mcp tool` caveats: its result will show only the allowed tools.
    if let (Some(tools), OutBody::Checked(bytes)) = (allowed.verified.mcp_tools(), &body) {
        ctx.tools = crate::upstream::tools::ToolsFilter::for_request(tools, bytes).map(Box::new);
    }
    let allowed = if allowed.approval.is_some() {
        Box::pin(approve::settle(proxy, allowed, ctx)).await?
    } else {
        allowed
    };
    let injected = match allowed.payload.credential() {
        Ok(caveat::Credential::Static(_)) => obtain::Injected::Static,
        _ => Box::pin(obtain::obtain(proxy, &allowed.payload)).await?,
    };
    let body = match &injected {
        obtain::Injected::SigV4 { service, .. } => {
            Box::pin(body::for_signature(&parts, service, body, &proxy.config)).await?
        }
        _ => body,
    };
    let out = upstream_request::with_secret(parts, body, &allowed, &injected)?;
    // Last of all: a request refused above (its credential not obtained, or the request
    // not signable) never spends a count.
    if !allowed.verified.limits().is_empty() {
        Box::pin(count::charge(proxy, &allowed, ctx)).await?;
    }
    ctx.rec.decision = "allow";
    ctx.scrub = injected.scrubber(proxy, &allowed.payload);
    ctx.retry = upstream_request::retry(&injected, &out).map(Box::new);
    Ok(out)
}
