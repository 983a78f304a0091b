//! Who is calling the admin API: [`authenticate`] verifies the operator token (401 when
//! there is none or it does not verify), [`require`] checks its roles cover a route (403).

use std::time::SystemTime;

use caveat::{Operator, Role};
use http::StatusCode;

use super::reply::ApiError;
use super::state::AdminState;

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
    verify_text(admin, text)
}

/// Verifies an operator token given as text (the `Authorization` header's, or the
/// console's login form's). 401 when it does not verify.
pub fn verify_text(admin: &AdminState, text: &str) -> Result<Operator, ApiError> {
    let unauthorized = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", m);
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

/// Who is calling: the operator token in `Authorization`, or else the console's session
/// cookie, which for anything but GET and HEAD also needs the session's CSRF token in
/// `X-CSRF-Token` (403 without it).
pub fn authenticate_request(
    admin: &AdminState,
    method: &http::Method,
    headers: &http::HeaderMap,
) -> Result<Operator, ApiError> {
    if headers.contains_key(http::header::AUTHORIZATION) {
        return authenticate(admin, headers);
    }
    let Some(id) = crate::console::session::cookie_id(headers) else {
        return authenticate(admin, headers);
    };
    let session = admin.sessions.get(&id, SystemTime::now()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the console session has ended (logged out, or the operator token expired): log in again at /login",
        )
    })?;
    if !matches!(*method, http::Method::GET | http::Method::HEAD) {
        let sent = headers
            .get(crate::console::session::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !session.csrf_ok(sent) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a change made with the console's session needs its CSRF token in the X-CSRF-Token header                  (the console's pages send it); reload the page and try again",
            ));
        }
    }
    Ok(session.op)
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

#[cfg(test)]
mod tests {
    use super::*;

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
