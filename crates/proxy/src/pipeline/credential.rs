//! Phase 2, find the credential: every copy of the request's token (headers, query, or
//! the tunnel's `Proxy-Authorization`), resolved through the verified-token cache. No
//! token at all is allowed only toward a `--passthrough` host; otherwise [`absent`] says
//! what the request carried instead (a raw key, a damaged token), so the refusal can say
//! what to do about it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::request::Parts;

use crate::credentials::inject::{self, FindError, Found};
use crate::deny::{Absent, Deny};
use crate::proxy::Proxy;
use crate::request::Mode;

/// The request's token and where its copies are; `None` when it carries none.
pub fn find(proxy: &Proxy, parts: &Parts, mode: &Mode) -> Result<Option<Found>, Deny> {
    let found =
        inject::find(&parts.headers, parts.uri.query(), &mut |t| proxy.resolve(t)).map_err(|e| match e {
            FindError::Several => Deny::AmbiguousToken,
            FindError::Malformed => Deny::MalformedToken,
        })?;
    Ok(match (found, mode) {
        (Some(f), _) => Some(f),
        // A token on the CONNECT, for inner requests that carry none of their own (each is
        // still decided on its own; verified since, it is now a cache hit).
        (None, Mode::Tunnel { token: Some(t), .. }) => Some(Found {
            token: proxy.re_resolve(t),
            places: Vec::new(),
        }),
        (None, _) => None,
    })
}

/// Headers and query parameters that carry API keys.
const KEY_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "x-auth-token",
    "private-token",
];
const KEY_PARAMS: [&str; 5] = ["key", "api_key", "apikey", "access_token", "token"];

/// Prefixes of well-known providers' keys: what a user pastes by mistake.
const RAW_KEY_PREFIXES: [&str; 14] = [
    "sk_",
    "rk_",
    "pk_",
    "sk-",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "xox",
    "AKIA",
    "AIza",
    "ya29.",
    "shpat_",
];

/// Looks at what a request without a token carries (only on that cold path).
pub fn absent(parts: &Parts) -> Absent {
    let aws = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    if aws {
        return Absent::AwsSigned;
    }
    let headers = KEY_HEADERS.iter().flat_map(|name| {
        parts
            .headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(move |v| (format!("{name} header"), credential_of(v)))
    });
    let query = parts.uri.query().into_iter().flat_map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .filter(|(k, _)| KEY_PARAMS.contains(&k.as_ref()))
            .map(|(k, v)| (format!("query parameter {k}"), v.into_owned()))
    });
    let mut found = Absent::Nothing;
    for (place, value) in headers.chain(query) {
        match classify(&value) {
            Some(true) => return Absent::Damaged { place },
            Some(false) => found = Absent::RawKey { place },
            None => {}
        }
    }
    found
}

/// The credential in a header value: after a `Bearer`/`token` scheme, the longer half of
/// a `Basic` pair, or the value itself.
fn credential_of(value: &str) -> String {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(|pair| {
                let (user, pass) = pair.split_once(':').unwrap_or((&pair, ""));
                if user.len() >= pass.len() { user } else { pass }.to_string()
            })
            .unwrap_or_default(),
        Some((_, rest)) => rest.trim().to_string(),
        None => value.to_string(),
    }
}

/// `Some(true)` for a damaged macaroon, `Some(false)` for a raw key, `None` for nothing
/// worth mentioning. Only called on text that did not decode as a token.
fn classify(c: &str) -> Option<bool> {
    if c.len() < 8 {
        return None;
    }
    if RAW_KEY_PREFIXES.iter().any(|p| c.starts_with(p)) {
        return Some(false);
    }
    // V2 binary starts with byte 2 ("Ag" in base64), V1 with a hex length ("MDA"), V2JSON
    // with a brace: a token cut short or altered, not a key.
    let looks_like_token =
        c.len() >= 40 && (c.starts_with("Ag") || c.starts_with("MDA") || c.starts_with('{'));
    Some(looks_like_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)], uri: &str) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_raw_key_is_called_a_raw_key() {
        let p = parts(
            &[("authorization", "Bearer sk_live_4eC39HqLyjWDarjtT1zdp7dc")],
            "/v1/charges",
        );
        assert_eq!(
            absent(&p),
            Absent::RawKey {
                place: "authorization header".into()
            }
        );
        let p = parts(&[], "/maps?key=AIzaSyD-1234567890abcdef");
        assert!(matches!(absent(&p), Absent::RawKey { .. }));
    }

    #[test]
    fn a_truncated_token_is_called_damaged() {
        let p = parts(
            &[("x-api-key", "AgEQaHR0cHM6Ly9wcm94eS5leGFtcGxlAgJtazG8s2u1qQ3c")],
            "/",
        );
        assert_eq!(
            absent(&p),
            Absent::Damaged {
                place: "x-api-key header".into()
            }
        );
    }

    #[test]
    fn an_aws_signature_without_a_token_is_named() {
        let p = parts(
            &[(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host, Signature=00",
            )],
            "/",
        );
        assert_eq!(absent(&p), Absent::AwsSigned);
    }

    #[test]
    fn no_credential_is_nothing() {
        assert_eq!(absent(&parts(&[("accept", "*/*")], "/?page=2")), Absent::Nothing);
    }
}
