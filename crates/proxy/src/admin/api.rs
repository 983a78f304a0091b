//! `/api/...`: the JSON admin API, open only to an operator token
//! (`Authorization: Bearer OPTOKEN`, docs/admin-api.md).
//!
//! Every request is authenticated first ([`authenticate`]: none or an invalid token is
//! 401), then routed; each route names the [`Role`] it needs ([`require`]: 403 when the
//! token's roles do not cover it). A change is an `admin` audit line naming the operator
//! ([`audit_admin`]). To add a route: a match arm in `route` that calls
//! `require(&op, Role::X)?` and returns a [`Response`].

use std::net::SocketAddr;
use std::sync::Arc;

use caveat::{Operator, Role};
use http::header::HeaderValue;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;

use super::auth::{authenticate_request, require};
use super::reply::{audit_admin, json, read_json, ApiError, ApiResult, Ctx};
use super::state::AdminState;
use crate::http::Body;
use crate::proxy::Proxy;

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
    let mut resp = match authenticate_request(&admin, &parts.method, &parts.headers) {
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
            super::events::events(proxy, ctx.query).await
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
        (&Method::GET, "approvals") => {
            require(op, Role::Read)?;
            super::approvals::list(proxy).await
        }
        (&Method::GET, p) if p.starts_with("approvals/") && p.ends_with("/discharge") => {
            require(op, Role::Approve)?;
            super::approvals::discharge(proxy, &p["approvals/".len()..p.len() - "/discharge".len()]).await
        }
        (&Method::GET, p) if p.starts_with("approvals/") => {
            require(op, Role::Read)?;
            super::approvals::get(proxy, &p["approvals/".len()..]).await
        }
        (&Method::POST, p) if p.starts_with("approvals/") && (p.ends_with("/approve") || p.ends_with("/deny")) => {
            require(op, Role::Approve)?;
            let approve = p.ends_with("/approve");
            let id = p["approvals/".len()..].rsplit_once('/').map_or("", |(id, _)| id);
            let body = read_json(body).await?;
            super::approvals::decide(proxy, ctx, op, id, approve, &body).await
        }
        (&Method::GET, "revocations") => {
            require(op, Role::Read)?;
            super::revocations::list(admin)
        }
        (&Method::POST, "revocations") => {
            require(op, Role::Revoke)?;
            let body = read_json(body).await?;
            super::revocations::post(proxy, admin, ctx, op, &body).await
        }
        (_, "whoami" | "events" | "tokens" | "issuers" | "approvals" | "revocations") => Err(ApiError::new(
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
                "{} is not part of the admin API: try /api/whoami, /api/events, /api/tokens, /api/issuers, /api/approvals or /api/revocations",
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
