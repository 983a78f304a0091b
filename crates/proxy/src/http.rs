//! Body and header helpers shared by every floor: the body type, a complete body, an error chain on one
//! line, milliseconds for the audit line, and the hop-by-hop headers.

use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};

/// Why a body could not be read or made (hyper's errors, a response that does not decode).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body type the proxy sends and returns.
pub type Body = BoxBody<Bytes, BodyError>;

/// A complete body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// A duration in milliseconds, to the microsecond.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// An error and its causes on one line (upstream errors nest several deep).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Headers that describe one hop, never forwarded (RFC 9110 7.6.1), plus the ones a
/// `Connection` header names. Used on requests and responses.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    use http::header::{
        CONNECTION, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
    };
    const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
    const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
    let hop = |n: &HeaderName| {
        [
            &CONNECTION,
            &KEEP_ALIVE,
            &PROXY_CONNECTION,
            &PROXY_AUTHENTICATE,
            &PROXY_AUTHORIZATION,
            &TE,
            &TRAILER,
            &TRANSFER_ENCODING,
            &UPGRADE,
        ]
        .contains(&n)
    };
    // One pass over the names present (a handful) instead of nine hashed removals.
    let mut drop: Vec<HeaderName> = headers.keys().filter(|n| hop(n)).cloned().collect();
    if headers.contains_key(CONNECTION) {
        drop.extend(
            headers
                .get_all(CONNECTION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok()),
        );
    }
    for n in drop {
        headers.remove(n);
    }
}

/// A short plain-text answer (a line) with `status`.
pub fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(full(format!("{text}\n")));
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_removed() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic eDp5"),
            ("proxy-authenticate", "Basic"),
            ("te", "trailers"),
            ("trailer", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("x-secret-hop", "1"),
            ("accept", "*/*"),
            ("authorization", "Bearer k"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "authorization"]);
    }
}
