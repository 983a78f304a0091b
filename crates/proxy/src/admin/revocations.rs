//! `POST /api/revocations` (revoke role): revoke a branch (default) or a family, or lift a
//! revocation, with the code `macaroon-proxy revoke` uses: the `revoked` file in the
//! proxy's home (every replica sharing the home re-reads it within a second) and, with
//! `--state`, the shared store (every replica on it follows within a second).
//! `GET /api/revocations` (read role) lists what is revoked.

use caveat::Operator;
use http::StatusCode;

use super::reply::{audit_admin, json, ApiError, ApiResult, Ctx};
use super::state::AdminState;
use crate::proxy::Proxy;

/// `GET /api/revocations`: `[{"id", "grain": "family"|"branch", "note"}]`.
pub fn list(admin: &AdminState) -> ApiResult {
    let file = macaroon_home::ListFile::new(admin.home.join(crate::revoke::REVOKED_FILE));
    let entries = file.read().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "revocations_unavailable",
            e.to_string(),
        )
    })?;
    let out: Vec<serde_json::Value> = entries
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "id": e.value.to_ascii_lowercase(),
                "grain": if e.value.len() == 32 { "family" } else { "branch" },
                "note": e.note,
            })
        })
        .collect();
    Ok(json(StatusCode::OK, &out))
}

/// `POST /api/revocations` with `{"token": TOKEN}` or `{"id": KID_OR_BRANCH_ID}`, and
/// `"family": true` (the whole family) or `"undo": true` (lift it).
pub async fn post(
    proxy: &Proxy,
    admin: &AdminState,
    ctx: &Ctx<'_>,
    op: &Operator,
    body: &serde_json::Value,
) -> ApiResult {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m);
    let flag = |k: &str| body.get(k).and_then(serde_json::Value::as_bool).unwrap_or(false);
    let text = match (
        body.get("token").and_then(|v| v.as_str()),
        body.get("id").and_then(|v| v.as_str()),
    ) {
        (Some(t), None) => t.to_string(),
        (None, Some(id))
            if macaroon_home::listfile::is_kid(id) || macaroon_home::listfile::is_branch_id(id) =>
        {
            id.to_string()
        }
        (None, Some(_)) => return Err(bad("\"id\" is a kid (32 hex digits) or a branch id (64)".into())),
        _ => return Err(bad(
            "send {\"token\": TOKEN} or {\"id\": KID_OR_BRANCH_ID}, with \"family\" or \"undo\" if wanted"
                .into(),
        )),
    };
    let (family, undo) = (flag("family"), flag("undo"));
    let target = crate::revoke::target(&admin.home, &text, family).map_err(|e| bad(format!("{e:#}")))?;
    let home = &admin.home;
    let changed = if undo {
        crate::revoke::Revocations::remove(home, &target.id).map(|n| n > 0)
    } else if proxy.revoked.lists(&target.id) {
        Ok(false)
    } else {
        crate::revoke::Revocations::add(
            home,
            &target.id,
            &format!(
                "revoked {} by {} {}",
                caveat::fmt_time(std::time::SystemTime::now()),
                op.name,
                target.what
            ),
        )
        .map(|()| true)
    }
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "revocations_unavailable",
            e.to_string(),
        )
    })?;
    if let Some(url) = &proxy.config.state {
        crate::state::revocations::revoke(url, proxy.config.state_password.as_ref(), &target.id, undo)
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "state_unavailable",
                    format!("{e:#}"),
                )
            })?;
    }
    // This replica at once; the others within a second.
    proxy.revoked.refresh();
    let action = if undo {
        "revocations.undo"
    } else {
        "revocations.add"
    };
    audit_admin(
        proxy,
        ctx,
        Some(&op.name),
        action,
        StatusCode::OK,
        target.what.clone(),
    );
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"id": target.id, "grain": if target.id.len() == 32 { "family" } else { "branch" },
            "what": target.what, "undo": undo, "changed": changed}),
    ))
}
