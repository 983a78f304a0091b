//! The web console on the admin listener (never the agents'): server-rendered pages
//! ([`pages`]) with a little JavaScript and CSS embedded in the binary, for operators who
//! logged in with their operator token ([`session`]).
//!
//! Routes: `GET /` (to the Live view or the login form), `GET|POST /login`, `POST /logout`,
//! `GET /live`, `/approvals`, `/tokens`, `/issuers`, `/health`, and `/static/console.css`,
//! `/static/console.js`. Changes go through the JSON admin API (`/api/...`), which takes the
//! session cookie plus the CSRF token in `X-CSRF-Token` ([`crate::admin::auth`]). Every page
//! carries a strict Content-Security-Policy: no inline script or style, no framing.

pub mod pages;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use caveat::Role;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::admin::reply::{audit_admin, Ctx};
use crate::admin::state::AdminState;
use crate::http::{full, Body};
use crate::proxy::Proxy;
use session::Session;

/// The console's stylesheet.
const CSS: &str = include_str!("console.css");
/// The console's script.
const JS: &str = include_str!("console.js");
/// Largest login form read.
const MAX_FORM: usize = 16 * 1024;

/// Every console answer's policy: only this origin's script, style and connections; no
/// inline code, no plugins, no framing, forms post only here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
                       frame-ancestors 'none'";

pub use pages::VIEWS;

/// True for the paths the console answers.
pub fn serves(path: &str) -> bool {
    matches!(
        path,
        "/" | "/login" | "/logout" | "/static/console.css" | "/static/console.js"
    ) || VIEWS.iter().any(|(p, _)| *p == path)
}

/// Answers one console request.
pub async fn handle(
    proxy: Arc<Proxy>,
    admin: Arc<AdminState>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let now = SystemTime::now();
    let (parts, body) = req.into_parts();
    let session =
        session::cookie_id(&parts.headers).and_then(|id| admin.sessions.get(&id, now).map(|s| (id, s)));
    let path = parts.uri.path();
    let resp = match (&parts.method, path) {
        (&Method::GET, "/static/console.css") => asset(CSS, "text/css; charset=utf-8"),
        (&Method::GET, "/static/console.js") => asset(JS, "text/javascript; charset=utf-8"),
        (&Method::GET, "/") => redirect(if session.is_some() { "/live" } else { "/login" }),
        (&Method::GET, "/login") => match session {
            Some(_) => redirect("/live"),
            None => html(StatusCode::OK, pages::login(None)),
        },
        (&Method::POST, "/login") => login(&proxy, &admin, &parts, body, peer, now).await,
        (&Method::POST, "/logout") => match session {
            None => redirect("/login"),
            Some((id, s)) => logout(&proxy, &admin, &parts, body, peer, &id, &s).await,
        },
        (&Method::GET, view) => match session {
            None => redirect("/login"),
            Some((_, s)) => {
                // Approvals may live in the shared store: read before the page is made.
                let all = if view == "/approvals" {
                    proxy.approvals.list().await.unwrap_or_default()
                } else {
                    Vec::new()
                };
                html(StatusCode::OK, pages::view(&proxy, &admin, &s, view, &all))
            }
        },
        _ => html(
            StatusCode::METHOD_NOT_ALLOWED,
            pages::message(
                "Not allowed",
                "The console's pages are read with GET; changes go through its buttons.",
            ),
        ),
    };
    secure(resp)
}

/// `POST /login` with the form field `token`: a session for a valid operator token.
async fn login(
    proxy: &Proxy,
    admin: &AdminState,
    parts: &http::request::Parts,
    body: Incoming,
    peer: SocketAddr,
    now: SystemTime,
) -> Response<Body> {
    // A login form posted from another site would log the browser in as someone else.
    if !same_origin(parts) {
        return html(
            StatusCode::FORBIDDEN,
            pages::login(Some(
                "This login came from another site; open the console's own login page.",
            )),
        );
    }
    let form = match read_form(body).await {
        Some(f) => f,
        None => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::login(Some(
                    "The login form could not be read; paste the operator token and try again.",
                )),
            )
        }
    };
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    let request_id = crate::ids::request_id();
    let ctx = Ctx {
        request_id: &request_id,
        peer,
        method: &parts.method,
        path: parts.uri.path(),
        query: None,
    };
    let op = match crate::admin::auth::verify_text(admin, token) {
        Ok(op) if op.may(Role::Read) => op,
        Ok(op) => {
            return html(
                StatusCode::FORBIDDEN,
                pages::login(Some(&format!(
                    "Operator {} may not read the console: ask an admin for a token with --role read.",
                    op.name
                ))),
            )
        }
        Err(e) => {
            audit_admin(proxy, &ctx, None, "console.login", e.status, e.message.clone());
            return html(e.status, pages::login(Some(&e.message)));
        }
    };
    let name = op.name.clone();
    let (id, s) = admin.sessions.start(op, now);
    audit_admin(
        proxy,
        &ctx,
        Some(&name),
        "console.login",
        StatusCode::OK,
        format!("logged in to the console until {}", caveat::fmt_time(s.expires)),
    );
    let mut r = redirect("/live");
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&id, &s, admin.tls.is_some(), now)) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}

/// `POST /logout` with the form field `csrf`.
async fn logout(
    proxy: &Proxy,
    admin: &AdminState,
    parts: &http::request::Parts,
    body: Incoming,
    peer: SocketAddr,
    id: &str,
    s: &Session,
) -> Response<Body> {
    let form = read_form(body).await.unwrap_or_default();
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !s.csrf_ok(csrf) {
        return html(
            StatusCode::FORBIDDEN,
            pages::message(
                "Refused",
                "This form lacked the console's CSRF token: use the Log out button on a console page.",
            ),
        );
    }
    admin.sessions.end(id);
    let request_id = crate::ids::request_id();
    let ctx = Ctx {
        request_id: &request_id,
        peer,
        method: &parts.method,
        path: parts.uri.path(),
        query: None,
    };
    audit_admin(
        proxy,
        &ctx,
        Some(&s.op.name),
        "console.logout",
        StatusCode::OK,
        "logged out".into(),
    );
    let mut r = redirect("/login");
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(admin.tls.is_some())) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}

/// False when the request says it comes from another origin (`Sec-Fetch-Site`, or else
/// `Origin`) than the admin listener's own `Host`.
fn same_origin(parts: &http::request::Parts) -> bool {
    let h = &parts.headers;
    // Browsers say where a request comes from in Sec-Fetch-Site; under our
    // `Referrer-Policy: no-referrer` they send `Origin: null` for our own forms.
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (h.get(http::header::ORIGIN), h.get(http::header::HOST)) {
        (None, _) => true,
        (Some(o), Some(host)) => {
            let (Ok(o), Ok(host)) = (o.to_str(), host.to_str()) else {
                return false;
            };
            o.split_once("://").is_some_and(|(_, rest)| rest == host)
        }
        (Some(_), None) => false,
    }
}

/// A urlencoded form body of at most [`MAX_FORM`] bytes.
async fn read_form(body: Incoming) -> Option<Vec<(String, String)>> {
    let bytes = http_body_util::Limited::new(body, MAX_FORM)
        .collect()
        .await
        .ok()?
        .to_bytes();
    Some(form_urlencoded::parse(&bytes).into_owned().collect())
}

fn asset(text: &'static str, kind: &'static str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from_static(text.as_bytes())));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    r
}

fn html(status: StatusCode, page: maud::Markup) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from(page.into_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

fn redirect(to: &'static str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    r.headers_mut().insert(LOCATION, HeaderValue::from_static(to));
    r
}

/// The headers every console answer carries.
fn secure(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = Request::builder().method("POST").uri("/login");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_login_posted_from_another_site_is_refused() {
        assert!(same_origin(&parts(&[("host", "127.0.0.1:9090")])));
        assert!(same_origin(&parts(&[
            ("host", "127.0.0.1:9090"),
            ("origin", "http://127.0.0.1:9090")
        ])));
        assert!(!same_origin(&parts(&[
            ("host", "127.0.0.1:9090"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&parts(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&parts(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&parts(&[("origin", "null"), ("host", "a")])));
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_no_framing() {
        assert!(!CSP.contains("unsafe"));
        assert!(CSP.contains("frame-ancestors 'none'"));
        assert!(CSP.contains("script-src 'self'"));
        assert!(
            !JS.contains("innerHTML"),
            "the script never parses data as markup"
        );
    }
}
