//! Phase 4, build the upstream request: exactly what was checked (the same path text, the
//! sealed host, over TLS), with every copy of the token stripped, hop-by-hop headers and
//! method or URL override headers removed and the secret injected where its sealed rule says (an OAuth2 access token as a
//! bearer token; a SigV4 request signed once it is built, after every other change, so the
//! signature covers what is sent). A request without a token to a `--passthrough` host is
//! passed on untouched but for the hop-by-hop headers.

use std::borrow::Cow;

use caveat::{Host, Injection, Payload, Scheme, Secret};
use http::header::{HeaderValue, ACCEPT_ENCODING, CONTENT_LENGTH, HOST};
use http::request::Parts;
use http::{HeaderMap, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::decide::Allowed;
use super::obtain::Injected;
use crate::credentials::{inject, sigv4};
use crate::deny::Deny;
use crate::http::strip_hop_by_hop;
use crate::request::{OutBody, Outgoing, Retry};

/// The request that carries the secret, to the sealed host, over TLS.
pub fn with_secret(
    mut parts: Parts,
    body: OutBody,
    allowed: &Allowed,
    injected: &Injected,
) -> Result<Outgoing, Deny> {
    strip_hop_by_hop(&mut parts.headers);
    strip_overrides(&mut parts.headers);
    parts.headers.remove(inject::DISCHARGE_HEADER);
    parts.headers.remove(HOST);
    let signing = match injected {
        Injected::SigV4 { service, .. } => {
            let p = sigv4::payload(service, &parts.headers).map_err(|e| Deny::Unsignable(e.to_string()))?;
            sigv4::strip_client_signature(&mut parts.headers);
            Some(p)
        }
        _ => None,
    };
    let (rule, secret) = what_to_inject(injected, &allowed.payload);
    let query = inject::strip_and_inject(
        &mut parts.headers,
        parts.uri.query(),
        &allowed.places,
        &rule,
        secret,
    )
    .map_err(|_| Deny::BadSecret)?;
    // A secret never travels in cleartext: http:// requests go upstream as https.
    let port = if allowed.scheme == Scheme::Http && allowed.port == 80 {
        443
    } else {
        allowed.port
    };
    parts.uri = build_uri(
        "https",
        &allowed.host,
        port,
        443,
        allowed.path.as_str(),
        query.as_deref(),
    )?;
    parts.version = Version::HTTP_11;
    // A response must be readable to be scrubbed: ask for it uncompressed.
    parts
        .headers
        .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let (body, checked) = match body {
        OutBody::Stream(b) => (b.map_err(Into::into).boxed(), None),
        OutBody::Checked(bytes) => {
            // The length of what was checked: no chunking, no trailers, nothing else to frame.
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            (crate::http::full(bytes.clone()), Some(bytes))
        }
    };
    let mut req = http::Request::from_parts(parts, body);
    if let (
        Some(p),
        Injected::SigV4 {
            keys,
            region,
            service,
        },
    ) = (signing, injected)
    {
        sigv4::sign_request(&mut req, checked.as_deref(), p, region, service, keys)
            .map_err(|e| Deny::Unsignable(e.to_string()))?;
    }
    Ok(Outgoing::Secret(req))
}

/// The rule and the secret that go into the request: the sealed ones; an OAuth2 access
/// token as a bearer token; for SigV4 the sealed rule, which injects nothing (the request
/// is signed once built).
fn what_to_inject<'a>(injected: &'a Injected, payload: &'a Payload) -> (Cow<'a, Injection>, &'a Secret) {
    match injected {
        Injected::OAuth2 { access, .. } => (Cow::Owned(Injection::Bearer), &access.token),
        Injected::Static | Injected::SigV4 { .. } => (Cow::Borrowed(&payload.inject), &payload.secret),
    }
}

/// A request without a token to a `--passthrough` host.
pub fn passthrough(
    mut parts: Parts,
    body: Incoming,
    scheme: Scheme,
    host: &Host,
    port: u16,
) -> Result<Outgoing, Deny> {
    strip_hop_by_hop(&mut parts.headers);
    let scheme_text = if scheme == Scheme::Http { "http" } else { "https" };
    parts.uri = build_uri(
        scheme_text,
        host,
        port,
        scheme.default_port(),
        parts.uri.path(),
        parts.uri.query(),
    )?;
    parts.version = Version::HTTP_11;
    parts.headers.remove(HOST);
    Ok(Outgoing::Passthrough(http::Request::from_parts(
        parts,
        body.map_err(Into::into).boxed(),
    )))
}

fn build_uri(
    scheme: &str,
    host: &Host,
    port: u16,
    default: u16,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, Deny> {
    let h = if host.as_str().contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let authority = if port == default { h } else { format!("{h}:{port}") };
    let pq = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(pq)
        .build()
        .map_err(|_| Deny::BadRequest("the request cannot be rebuilt for the upstream".into()))
}

/// Headers with which upstreams let a request name another method or path than its own
/// (Google APIs honour `X-HTTP-Method-Override`; IIS and Symfony `X-Original-URL` and
/// `X-Rewrite-URL`): the upstream would act on something other than what was checked.
const OVERRIDES: [&str; 5] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
];

/// Removes every method or URL override header: one pass over the names present (a
/// handful, and almost never one of these) instead of five hashed removals.
pub fn strip_overrides(headers: &mut HeaderMap) {
    let present: Vec<http::HeaderName> = headers
        .keys()
        .filter(|n| OVERRIDES.contains(&n.as_str()))
        .cloned()
        .collect();
    for name in present {
        headers.remove(name);
    }
}

/// The retry of `out`, kept if it is a bodyless request with an OAuth2 access token.
pub fn retry(injected: &Injected, out: &Outgoing) -> Option<Retry> {
    let (Injected::OAuth2 { family, access }, Outgoing::Secret(req)) = (injected, out) else {
        return None;
    };
    if !hyper::body::Body::is_end_stream(req.body()) {
        return None;
    }
    Some(Retry {
        family: family.clone(),
        used: access.token.clone(),
        method: req.method().clone(),
        uri: req.uri().clone(),
        headers: req.headers().clone(),
    })
}

/// The kept request again, as it was sent but for the new access token `access`.
pub fn retried(retry: Retry, access: &Secret) -> Result<http::Request<crate::http::Body>, Deny> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", access.expose())).map_err(|_| Deny::BadSecret)?;
    value.set_sensitive(true);
    let mut req = http::Request::new(crate::http::full(""));
    *req.method_mut() = retry.method;
    *req.uri_mut() = retry.uri;
    *req.headers_mut() = retry.headers;
    req.headers_mut().insert(http::header::AUTHORIZATION, value);
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderName;

    #[test]
    fn method_and_url_override_headers_are_removed() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("X-HTTP-Method-Override", "DELETE"),
            ("x-http-method", "DELETE"),
            ("X-Method-Override", "PUT"),
            ("X-Original-URL", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("x-http-method-override", "PATCH"),
            ("accept", "*/*"),
        ] {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_static(v),
            );
        }
        strip_overrides(&mut h);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["accept"]);
    }
}
