//! What every admin API route shares: JSON answers, errors in the shape of the proxy's
//! denials ([`ApiError`]), the request's facts ([`Ctx`]), the `admin` audit line
//! ([`audit_admin`]) and reading a JSON body.

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Serialize;

use crate::http::{full, Body};
use crate::proxy::Proxy;

/// Largest request body the API reads.
const MAX_BODY: usize = 64 * 1024;

/// An answer other than success: a status, a stable code and a message for a person.
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable machine name (`no_token`, `invalid_token`, `forbidden`, `not_found`...).
    pub code: &'static str,
    /// What was wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The JSON body, in the shape of the proxy's denials.
    pub fn response(&self, request_id: &str) -> Response<Body> {
        #[derive(Serialize)]
        struct Error<'a> {
            r#type: &'static str,
            code: &'static str,
            message: &'a str,
            caveat: Option<&'a str>,
            request_id: &'a str,
        }
        #[derive(Serialize)]
        struct Wrap<'a> {
            error: Error<'a>,
        }
        let mut r = json(
            self.status,
            &Wrap {
                error: Error {
                    r#type: "macaroon_error",
                    code: self.code,
                    message: &self.message,
                    caveat: None,
                    request_id,
                },
            },
        );
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"macaroon-admin\""),
            );
        }
        r
    }
}

/// What a route answers: a response, or an error to render.
pub type ApiResult = Result<Response<Body>, ApiError>;

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from(serde_json::to_vec(value).unwrap_or_default())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Writes an `admin` audit line: who did what (`action`, e.g. `issuers.add`), the request,
/// and what it changed (`detail`), with `status`.
pub fn audit_admin(
    proxy: &Proxy,
    ctx: &Ctx<'_>,
    operator: Option<&str>,
    action: &'static str,
    status: StatusCode,
    detail: String,
) {
    proxy.audit.write(&crate::audit::Record {
        time: crate::audit::now(),
        request_id: ctx.request_id.to_string(),
        client: crate::ids::peer_text(ctx.peer),
        mode: "admin",
        method: ctx.method.to_string(),
        path: ctx.path.to_string(),
        decision: if status.is_success() { "allow" } else { "deny" },
        reason: Some(detail),
        status: status.as_u16(),
        event: Some("admin"),
        operator: operator.map(str::to_string),
        action: Some(action),
        ..Default::default()
    });
}

/// One API request's facts, for routes and audit lines.
pub struct Ctx<'a> {
    /// The request id (also in `x-request-id` and error bodies).
    pub request_id: &'a str,
    /// The client.
    pub peer: SocketAddr,
    /// The method.
    pub method: &'a Method,
    /// The path.
    pub path: &'a str,
    /// The query, if any.
    pub query: Option<&'a str>,
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes.
pub async fn read_json(body: Incoming) -> Result<serde_json::Value, ApiError> {
    let bytes = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the request body could not be read, or is over {MAX_BODY} bytes"),
            )
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the request body is not JSON ({e}); send Content-Type: application/json"),
        )
    })
}

/// Percent-decodes a path segment (`%2F` and the like); `None` if it is not valid UTF-8
/// or has a broken escape.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_and_refuses_broken_escapes() {
        assert_eq!(percent_decode("a%2Fb+c=").as_deref(), Some("a/b+c="));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
    }
}
