//! `/metrics`: the proxy's counters ([`crate::metrics`]), the state store's and the audit
//! log's, in Prometheus' text format.

use http::Response;

use crate::http::{full, Body};
use crate::proxy::Proxy;

/// The `/metrics` answer.
pub fn metrics(proxy: &Proxy) -> Response<Body> {
    let mut r = Response::new(full(text(proxy)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// The metrics, in Prometheus' text format (for `/metrics` and the console's Health view).
pub fn text(proxy: &Proxy) -> String {
    let mut text = proxy.metrics.render();
    text.push_str(&format!(
        "# HELP macaroon_state_up 1 when the state store answered lately (always 1 for the embedded store).\n\
         # TYPE macaroon_state_up gauge\nmacaroon_state_up {}\n",
        u8::from(proxy.state.up())
    ));
    text.push_str(&proxy.audit.render_metrics());
    text.push_str(&proxy.audit.live().render_metrics());
    text.push_str(&format!(
        "# HELP macaroon_approvals_pending Approvals waiting for a person.\n\
         # TYPE macaroon_approvals_pending gauge\nmacaroon_approvals_pending {}\n",
        proxy.approvals.pending()
    ));
    text.push_str(&proxy.webhooks.render_metrics());
    text
}
