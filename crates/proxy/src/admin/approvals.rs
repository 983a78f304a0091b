//! `/api/approvals`: requests held for a person (`GET`, read role), and deciding them
//! (`POST /api/approvals/ID/approve|deny`, approve role). Approving mints the discharge
//! the held request (and, for a window, the ones after it) goes upstream with;
//! `GET /api/approvals/ID/discharge` (approve role: it is a capability) returns it.
//! Each decision is an audit line of its own (`"event":"approval"`).

use std::time::Duration;

use caveat::Operator;
use http::StatusCode;

use super::reply::{json, ApiError, ApiResult, Ctx};
use crate::approvals::{Answer, AnswerError, Approval};
use crate::audit::ApprovalRecord;
use crate::proxy::Proxy;

fn unknown(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_approval",
        format!("no approval {id} on this proxy: see GET /api/approvals (`macaroon-proxy approvals list`)"),
    )
}

/// `GET /api/approvals`: newest first.
pub async fn list(proxy: &Proxy) -> ApiResult {
    let list = proxy.approvals.list().await.map_err(unavailable)?;
    Ok(json(StatusCode::OK, &list))
}

fn unavailable(e: crate::state::store::Unavailable) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "state_unavailable",
        e.to_string(),
    )
}

/// `GET /api/approvals/ID`.
pub async fn get(proxy: &Proxy, id: &str) -> ApiResult {
    Ok(json(StatusCode::OK, &existing(proxy, id).await?))
}

/// The approval `id`: 404 if there is none, 503 if the store cannot say.
async fn existing(proxy: &Proxy, id: &str) -> Result<crate::approvals::Approval, ApiError> {
    proxy
        .approvals
        .get(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| unknown(id))
}

/// `GET /api/approvals/ID/discharge`: `{"discharge": TOKEN}` (standard V2; verifiable
/// with the caveat key, e.g. in pymacaroons).
pub async fn discharge(proxy: &Proxy, id: &str) -> ApiResult {
    let a = existing(proxy, id).await?;
    let d = proxy
        .approvals
        .discharge(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_discharge",
                format!(
                "approval {id} is {:?} and has no discharge kept (only an approved one has, until it is used \
                 or expires)",
                a.state
            )
                .to_lowercase(),
            )
        })?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"id": id, "discharge": d.encode()}),
    ))
}

/// `POST /api/approvals/ID/approve` with `{"for"?: "10m", "method"?: "POST", "path"?:
/// "/v1/refunds", "note"?: "..."}`, or `.../deny` with `{"reason"?: "..."}`.
pub async fn decide(
    proxy: &Proxy,
    ctx: &Ctx<'_>,
    op: &Operator,
    id: &str,
    approve: bool,
    body: &serde_json::Value,
) -> ApiResult {
    let text = |k: &str| -> Result<Option<String>, ApiError> {
        match body.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("\"{k}\" must be a string"),
            )),
        }
    };
    let answer = if approve {
        let window = match text("for")? {
            None => None,
            Some(w) => Some(
                humantime::parse_duration(&w)
                    .ok()
                    .filter(|d| !d.is_zero() && *d <= caveat::MAX_APPROVAL_WINDOW)
                    .map(|d| Duration::from_secs(d.as_secs().max(1)))
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "bad_request",
                            format!(
                                "\"for\": {w:?} is not a window; use e.g. \"10m\" or \"1h\" (at most 24h)"
                            ),
                        )
                    })?,
            ),
        };
        Answer::Approve {
            window,
            method: text("method")?,
            path: text("path")?,
            note: text("note")?,
        }
    } else {
        Answer::Deny {
            reason: text("reason")?,
        }
    };
    let decided = proxy
        .approvals
        .answer(id, &op.name, answer, &proxy.keys)
        .await
        .map_err(|e| match e {
            AnswerError::Unavailable(e) => unavailable(e),
            AnswerError::Unknown(id) => unknown(&id),
            AnswerError::Decided(..) => ApiError::new(StatusCode::CONFLICT, "already_decided", e.to_string()),
            AnswerError::Bad(_) => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
            AnswerError::Sealed(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "approval_sealed",
                e.to_string(),
            ),
        })?;
    audit_decision(proxy, ctx, op, &decided);
    Ok(json(StatusCode::OK, &decided))
}

/// The decision's own audit line: the held request's method, host and path, who decided.
fn audit_decision(proxy: &Proxy, ctx: &Ctx<'_>, op: &Operator, a: &Approval) {
    let decision = match a.state {
        crate::approvals::State::Approved => "approved",
        crate::approvals::State::Denied => "denied",
        crate::approvals::State::Expired => "expired",
        crate::approvals::State::Pending => "pending",
    };
    proxy.audit.write(&crate::audit::Record {
        time: crate::audit::now(),
        request_id: ctx.request_id.to_string(),
        client: crate::ids::peer_text(ctx.peer),
        mode: "admin",
        method: a.method.clone(),
        host: a.host.clone(),
        path: a.path.clone(),
        kid: Some(a.kid.clone()),
        issuer: a.issuer.as_deref().map(std::sync::Arc::from),
        labels: Some(a.labels.clone().into()),
        decision: if decision == "approved" { "allow" } else { "deny" },
        reason: a.granted.clone().or_else(|| a.reason.clone()),
        status: 200,
        approval: Some(Box::new(ApprovalRecord {
            id: Some(a.id.clone()),
            decision,
            by: Some(op.name.clone()),
            waited_ms: 0.0,
            scope: a.scope.clone(),
        })),
        event: Some("approval"),
        operator: Some(op.name.clone()),
        action: Some(if decision == "approved" {
            "approvals.approve"
        } else {
            "approvals.deny"
        }),
        ..Default::default()
    });
}
