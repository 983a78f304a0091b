//! `/api/...`: the JSON admin API, open only to an operator token
//! (`Authorization: Bearer OPTOKEN`, docs/admin-api.md).
//!
//! Every request is authenticated first ([`authenticate`]: none or an invalid token is
//! 401), then routed; each route names the [`Role`] it needs ([`require`]: 403 when the
//! token's roles do not cover it). A change is an `admin` audit line naming the operator
//! ([`audit_admin`]). To add a route: a match arm in [`route`] that calls
//! `require(&op, Role::X)?` and returns a [`Response`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use caveat::{Operator, Role};
use http::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Serialize;

use super::AdminState;
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

/// Verifies the request's operator token (`Authorization: Bearer`) against `operator.key`:
/// the signature chain (constant-time), every caveat, the expiry. 401 otherwise.
pub fn authenticate(admin: &AdminState, headers: &http::HeaderMap) -> Result<Operator, ApiError> {
    let unauthorized = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", m);
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no_token",
            "the admin API needs an operator token: send Authorization: Bearer OPTOKEN; mint one on the \
             proxy's host with: macaroon-proxy operator mint --name YOUR-NAME --role read",
        ));
    };
    let text = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
        })
        .ok_or_else(|| unauthorized("the Authorization header must be \"Bearer OPTOKEN\"".into()))?;
    let token = caveat::Token::decode(text).map_err(|e| {
        unauthorized(format!(
            "the operator token is malformed ({e}); mint one with: macaroon-proxy operator mint"
        ))
    })?;
    let key = admin.operator_key().ok_or_else(|| {
        unauthorized(
            "this proxy has no operator key yet: mint a token with `macaroon-proxy operator mint --name NAME` \
             in its home (that creates operator.key)"
                .into(),
        )
    })?;
    key.verify(&token, SystemTime::now()).map_err(unauthorized)
}

/// 403 unless the operator's roles cover `need`.
pub fn require(op: &Operator, need: Role) -> Result<(), ApiError> {
    if op.may(need) {
        return Ok(());
    }
    let has: Vec<&str> = op.roles().iter().map(|r| r.as_str()).collect();
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "operator {} may not do this: it needs the {need} role, and the token allows {}; ask an admin for a \
             token with --role {need}",
            op.name,
            if has.is_empty() { "nothing".to_string() } else { has.join(", ") }
        ),
    ))
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

/// Answers one `/api/...` request.
pub async fn handle(
    proxy: Arc<Proxy>,
    admin: Arc<AdminState>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let request_id = crate::ids::request_id();
    let (parts, body) = req.into_parts();
    let ctx = Ctx {
        request_id: &request_id,
        peer,
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query(),
    };
    let mut resp = match authenticate(&admin, &parts.headers) {
        Ok(op) => match route(&proxy, &admin, &ctx, &op, body).await {
            Ok(r) => r,
            Err(e) => {
                if changes(ctx.method) && e.status == StatusCode::FORBIDDEN {
                    audit_admin(
                        &proxy,
                        &ctx,
                        Some(&op.name),
                        "refused",
                        e.status,
                        e.message.clone(),
                    );
                }
                e.response(&request_id)
            }
        },
        Err(e) => e.response(&request_id),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

fn changes(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The routes. Each checks its role first.
async fn route(
    proxy: &Arc<Proxy>,
    admin: &AdminState,
    ctx: &Ctx<'_>,
    op: &Operator,
    body: Incoming,
) -> ApiResult {
    let rest = ctx.path.strip_prefix("/api/").unwrap_or("");
    match (ctx.method, rest) {
        (&Method::GET, "whoami") => {
            require(op, Role::Read)?;
            Ok(whoami(op))
        }
        (&Method::GET, "events") => {
            require(op, Role::Read)?;
            super::events::events(proxy, ctx.query)
        }
        (&Method::GET, "tokens") => {
            require(op, Role::Read)?;
            Ok(json(StatusCode::OK, &proxy.audit.live().families.list()))
        }
        (&Method::GET, "issuers") => {
            require(op, Role::Read)?;
            super::issuers::list(proxy, admin)
        }
        (&Method::POST, "issuers") => {
            require(op, Role::Admin)?;
            let body = read_json(body).await?;
            super::issuers::add(proxy, admin, ctx, op, &body)
        }
        (&Method::DELETE, key) if key.starts_with("issuers/") => {
            require(op, Role::Admin)?;
            super::issuers::remove(proxy, admin, ctx, op, &key["issuers/".len()..])
        }
        (_, "whoami" | "events" | "tokens" | "issuers") => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{} {} is not part of the admin API; see docs/admin-api.md",
                ctx.method, ctx.path
            ),
        )),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "{} is not part of the admin API: try /api/whoami, /api/events, /api/tokens or /api/issuers",
                ctx.path
            ),
        )),
    }
}

/// `GET /api/whoami`.
fn whoami(op: &Operator) -> Response<Body> {
    #[derive(Serialize)]
    struct Whoami<'a> {
        operator: &'a str,
        roles: Vec<Role>,
        expires: Option<String>,
    }
    json(
        StatusCode::OK,
        &Whoami {
            operator: &op.name,
            roles: op.roles(),
            expires: op.expires.map(caveat::fmt_time),
        },
    )
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

    #[test]
    fn a_role_that_does_not_cover_is_403_naming_the_role() {
        let key = caveat::OperatorKey::generate();
        let t = key
            .mint(
                "alice",
                &[Role::Read],
                SystemTime::now() + std::time::Duration::from_secs(60),
            )
            .expect("mint");
        let op = key.verify(&t, SystemTime::now()).expect("op");
        assert!(require(&op, Role::Read).is_ok());
        let e = require(&op, Role::Admin).expect_err("403");
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.message.contains("admin role"), "{}", e.message);
        assert!(!e.message.contains(&t.encode()));
    }
}
