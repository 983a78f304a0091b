//! `/healthz`: whether this replica serves, and whether its state store answers.

use http::{Response, StatusCode};

use crate::http::{plain, Body};
use crate::proxy::Proxy;

/// `/healthz`: 200 while the proxy serves. The first line is `ok`, or `degraded` when the
/// shared store is unreachable (only requests whose tokens are counted are refused then,
/// so the replica stays in the load balancer); the second names the store.
pub fn health(proxy: &Proxy) -> Response<Body> {
    let (up, line) = proxy.state.health();
    let first = if up { "ok" } else { "degraded" };
    plain(StatusCode::OK, &format!("{first}\n{line}"))
}
