//! `/api/issuers`: the trusted issuers (`GET`, read role), and trusting or dropping one
//! (`POST`, `DELETE /api/issuers/KEY`, admin role) with the code `macaroon-proxy issuers`
//! uses: the `issuers` file in the proxy's home, which every replica sharing the home
//! re-reads within a second.

use http::StatusCode;
use serde::Serialize;

use super::reply::{audit_admin, json, percent_decode, ApiError, ApiResult, Ctx};
use super::state::AdminState;
use crate::proxy::Proxy;

/// One trusted issuer.
#[derive(Serialize)]
pub struct Issuer {
    /// Its public key.
    pub key: String,
    /// Its name (the note in the issuers file).
    pub name: String,
    /// `file` ($MACAROON_HOME/issuers), `local` (this home's own) or `flag` (`run --issuer`).
    pub source: &'static str,
}

fn failed(e: anyhow::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "issuers_unavailable",
        format!("{e:#}"),
    )
}

/// `GET /api/issuers`.
pub fn list(proxy: &Proxy, admin: &AdminState) -> ApiResult {
    Ok(json(StatusCode::OK, &entries(proxy, admin)?))
}

/// The trusted issuers (for the API and the console).
pub fn entries(proxy: &Proxy, admin: &AdminState) -> Result<Vec<Issuer>, ApiError> {
    let mut out = Vec::new();
    if let Some(k) = crate::issuers::local(&admin.home) {
        out.push(Issuer {
            key: k.to_string(),
            name: "local".into(),
            source: "local",
        });
    }
    for (k, note) in crate::issuers::list(&admin.home).map_err(failed)? {
        out.push(Issuer {
            key: k.to_string(),
            name: crate::issuers::name_of(&k, &note),
            source: "file",
        });
    }
    for k in &proxy.config.issuers {
        out.push(Issuer {
            key: k.to_string(),
            name: crate::issuers::name_of(k, ""),
            source: "flag",
        });
    }
    Ok(out)
}

/// `POST /api/issuers` with `{"key": "BASE64", "name": "alice"}`.
pub fn add(
    proxy: &Proxy,
    admin: &AdminState,
    ctx: &Ctx<'_>,
    op: &caveat::Operator,
    body: &serde_json::Value,
) -> ApiResult {
    let key = body["key"].as_str().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"key\": \"ISSUER-PUBLIC-KEY\", \"name\": \"alice\"} (the key from `macaroon issuer show`)",
        )
    })?;
    let name = body["name"].as_str().unwrap_or_default();
    if name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the name must be one line of at most 200 bytes",
        ));
    }
    let note = if name.is_empty() {
        format!(
            "added by {} {}",
            op.name,
            caveat::fmt_time(std::time::SystemTime::now())
        )
    } else {
        name.to_string()
    };
    let (k, added) = crate::issuers::add(&admin.home, key, &note, !name.is_empty())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("{e:#}")))?;
    // A key trusted already keeps its name unless this call gave one.
    let note = match added {
        crate::issuers::Added::Already(old) => old,
        crate::issuers::Added::New | crate::issuers::Added::Renamed { .. } => note,
    };
    audit_admin(
        proxy,
        ctx,
        Some(&op.name),
        "issuers.add",
        StatusCode::CREATED,
        format!("trusted issuer {k} ({note})"),
    );
    Ok(json(
        StatusCode::CREATED,
        &Issuer {
            key: k.to_string(),
            name: crate::issuers::name_of(&k, &note),
            source: "file",
        },
    ))
}

/// `DELETE /api/issuers/KEY` (the key percent-encoded, or as is).
pub fn remove(
    proxy: &Proxy,
    admin: &AdminState,
    ctx: &Ctx<'_>,
    op: &caveat::Operator,
    key: &str,
) -> ApiResult {
    let key = percent_decode(key).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the key in the path is badly escaped",
        )
    })?;
    let removed = crate::issuers::remove(&admin.home, &key)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("{e:#}")))?;
    if removed == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{key} is not in the issuers file; GET /api/issuers lists the trusted ones"),
        ));
    }
    audit_admin(
        proxy,
        ctx,
        Some(&op.name),
        "issuers.remove",
        StatusCode::OK,
        format!("stopped trusting issuer {key}: every token it wrapped is refused"),
    );
    Ok(json(StatusCode::OK, &serde_json::json!({ "removed": key })))
}
