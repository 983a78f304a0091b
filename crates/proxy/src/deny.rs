//! Every answer the proxy gives itself, instead of an upstream's: one enum, and one table
//! mapping each case to its HTTP status and stable error code. The body has the shape API
//! SDKs already read (`{"error":{"type","code","message","caveat","request_id"}}`), so
//! the Stripe and OpenAI SDKs show our reason instead of crashing or saying only "403"; an
//! MCP request refused by an `mcp` caveat gets a JSON-RPC error instead, which MCP clients
//! show ([`Deny::jsonrpc_response`]).

use std::time::Duration;

use bytes::Bytes;
use caveat::{Denial, DenyKind, Host};
use http::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

use crate::http::Body;

/// The JSON-RPC error code of an MCP request the proxy refused (a server-defined code).
pub const JSONRPC_REFUSED: i64 = -32001;

/// Why the proxy answered a request itself.
#[derive(Debug, Clone)]
pub enum Deny {
    /// The request target is longer than the limit.
    UriTooLong(usize),
    /// The request headers are larger than the limit.
    HeadersTooLarge(usize),
    /// The request is not one we can proxy (no host, bad Host header, bad method...).
    BadRequest(String),
    /// Two places name different hosts (Host vs URI vs CONNECT target).
    AuthorityMismatch(String),
    /// No token, and the host is not a `--passthrough` host.
    NoToken {
        /// The host asked for, when known.
        host: Option<Host>,
        /// What the request carried instead.
        absent: Absent,
    },
    /// Two different tokens in one request.
    AmbiguousToken,
    /// A malformed spelling of a token (bytes after its signature, say).
    MalformedToken,
    /// A `Macaroon-Discharge` header that is not a token.
    InvalidDischarge,
    /// The token does not verify or cannot be opened (401).
    BadToken(Denial),
    /// The payload was signed by an issuer this proxy does not trust (or by none).
    UntrustedIssuer {
        /// The issuer's public key.
        issuer: String,
    },
    /// A sealed host is outside the operator's `--allow-host` list.
    HostNotAllowed {
        /// The sealed host refused.
        host: String,
    },
    /// The token is valid, but the request's host is not one it was sealed for.
    HostNotSealed(Denial),
    /// The token is valid, but a caveat (or the sealed expiry) does not hold.
    Caveat(Denial),
    /// The token's family, or a branch on its chain, is revoked on this proxy.
    Revoked(crate::revoke::Revocation),
    /// The path is refused (dot segments, encoded separators...).
    BadPath(String),
    /// The sealed secret cannot be sent where its rule says.
    BadSecret,
    /// A copy of the token somewhere other than where it was found (and stripped).
    TokenCopy {
        /// Where: "the cookie header", "the query string", "the path".
        place: String,
    },
    /// More than one `Content-Type` header: servers read different ones.
    AmbiguousContentType(usize),
    /// The body did not arrive whole within `--body-timeout`.
    BodyTimeout {
        /// The `--body-timeout` that passed.
        after: Duration,
    },
    /// The body is over `--max-body`.
    BodyTooLarge {
        /// The limit, bytes.
        max: usize,
    },
    /// The upstream failed (connect, TLS, protocol).
    Upstream {
        /// The upstream host.
        host: String,
        /// What failed, with its causes.
        detail: String,
    },
    /// A response from a sealed host in an encoding the proxy cannot read, so cannot scrub.
    Unscannable {
        /// The upstream host.
        host: String,
        /// Its `Content-Encoding`.
        encoding: String,
    },
    /// A compressed response from a sealed host whose body does not decode (raw deflate
    /// sent as `deflate`, a corrupt header), so cannot be scrubbed.
    Undecodable {
        /// The upstream host.
        host: String,
        /// Its `Content-Encoding`.
        encoding: &'static str,
        /// What the decoder said.
        error: String,
    },
    /// The OAuth2 token endpoint refused or failed the exchange.
    CredentialExchange(crate::credentials::oauth::ExchangeError),
    /// A SigV4 request that cannot be signed as sent.
    Unsignable(String),
    /// A usage or rate caveat allows no more requests (429).
    Limited {
        /// The caveat's text.
        caveat: String,
        /// What it counts.
        kind: caveat::LimitKind,
        /// When a request could succeed again (rates).
        retry_after: Option<Duration>,
    },
    /// The shared store cannot be asked, and this request's token needs it (503).
    StateUnavailable(String),
    /// A person denied the request's approval (403).
    ApprovalDenied {
        /// The approval.
        id: String,
        /// Who denied it.
        by: Option<String>,
        /// Why, in their words.
        reason: Option<String>,
    },
    /// Nobody decided in time (403, `Retry-After`); the approval stays open unless it
    /// expired.
    ApprovalPending {
        /// The approval.
        id: String,
        /// It was open longer than `--approval-ttl`.
        expired: bool,
    },
    /// The token's family has too many open approvals (429).
    TooManyApprovals,
    /// The proxy is stopping: a held request is answered 503.
    Stopping,
    /// The upstream sent no response headers in time.
    UpstreamTimeout {
        /// The upstream host.
        host: String,
        /// The `--upstream-timeout` that passed.
        after: Duration,
    },
}

impl Deny {
    /// The one table: HTTP status and stable error code of each case.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Deny::UriTooLong(_) => (S::URI_TOO_LONG, "uri_too_long"),
            Deny::HeadersTooLarge(_) => (S::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large"),
            Deny::BadRequest(_) => (S::BAD_REQUEST, "bad_request"),
            Deny::AuthorityMismatch(_) => (S::FORBIDDEN, "authority_mismatch"),
            Deny::NoToken {
                absent: Absent::Damaged { .. },
                ..
            } => (S::UNAUTHORIZED, "invalid_token"),
            Deny::NoToken { .. } => (S::UNAUTHORIZED, "no_token"),
            Deny::AmbiguousToken => (S::UNAUTHORIZED, "ambiguous_token"),
            Deny::MalformedToken => (S::UNAUTHORIZED, "invalid_token"),
            Deny::InvalidDischarge => (S::UNAUTHORIZED, "invalid_discharge"),
            Deny::BadToken(d) => (S::UNAUTHORIZED, d.kind.code()),
            Deny::UntrustedIssuer { .. } => (S::UNAUTHORIZED, "untrusted_issuer"),
            Deny::HostNotAllowed { .. } => (S::FORBIDDEN, "host_not_allowed"),
            Deny::HostNotSealed(d) => (S::FORBIDDEN, d.kind.code()),
            Deny::Caveat(d) if d.kind == DenyKind::BodyTooLarge => (S::PAYLOAD_TOO_LARGE, d.kind.code()),
            Deny::Caveat(d) => (S::FORBIDDEN, d.kind.code()),
            Deny::BodyTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, "body_too_large"),
            Deny::TokenCopy { .. } => (S::BAD_REQUEST, "token_copy"),
            Deny::AmbiguousContentType(_) => (S::BAD_REQUEST, "ambiguous_content_type"),
            Deny::BodyTimeout { .. } => (S::REQUEST_TIMEOUT, "body_timeout"),
            Deny::Revoked(_) => (S::FORBIDDEN, "revoked"),
            Deny::BadPath(_) => (S::BAD_REQUEST, "bad_path"),
            Deny::BadSecret => (S::INTERNAL_SERVER_ERROR, "bad_secret"),
            Deny::Upstream { .. } => (S::BAD_GATEWAY, "upstream_error"),
            Deny::Unscannable { .. } | Deny::Undecodable { .. } => (S::BAD_GATEWAY, "unscannable_response"),
            Deny::UpstreamTimeout { .. } => (S::GATEWAY_TIMEOUT, "upstream_timeout"),
            Deny::CredentialExchange(_) => (S::BAD_GATEWAY, "credential_exchange_failed"),
            Deny::Unsignable(_) => (S::BAD_REQUEST, "unsignable_request"),
            Deny::Limited {
                kind: caveat::LimitKind::Uses(_),
                ..
            } => (S::TOO_MANY_REQUESTS, "usage_exhausted"),
            Deny::Limited { .. } => (S::TOO_MANY_REQUESTS, "rate_limited"),
            Deny::StateUnavailable(_) => (S::SERVICE_UNAVAILABLE, "state_unavailable"),
            Deny::ApprovalDenied { .. } => (S::FORBIDDEN, "approval_denied"),
            Deny::ApprovalPending { .. } => (S::FORBIDDEN, "approval_pending"),
            Deny::TooManyApprovals => (S::TOO_MANY_REQUESTS, "too_many_approvals"),
            Deny::Stopping => (S::SERVICE_UNAVAILABLE, "proxy_stopping"),
        }
    }

    /// A core denial, sorted into the case it is.
    pub fn from_denial(d: Denial) -> Self {
        if d.kind.is_unauthenticated() {
            Deny::BadToken(d)
        } else if d.kind == DenyKind::HostNotSealed {
            Deny::HostNotSealed(d)
        } else {
            Deny::Caveat(d)
        }
    }

    /// `deny` for the client's faults, `error` for the upstream's or ours (audit and metrics).
    pub fn decision(&self) -> &'static str {
        match self {
            Deny::Upstream { .. }
            | Deny::UpstreamTimeout { .. }
            | Deny::BadSecret
            | Deny::StateUnavailable(_)
            | Deny::Unscannable { .. }
            | Deny::Undecodable { .. }
            | Deny::CredentialExchange(_) => "error",
            _ => "deny",
        }
    }

    /// The caveat that failed, if one did.
    pub fn caveat(&self) -> Option<&str> {
        match self {
            Deny::BadToken(d) | Deny::HostNotSealed(d) | Deny::Caveat(d) => d.caveat.as_deref(),
            Deny::Limited { caveat, .. } => Some(caveat),
            Deny::ApprovalDenied { .. } | Deny::ApprovalPending { .. } | Deny::TooManyApprovals => {
                Some("third-party caveat at macaroon:approval")
            }
            _ => None,
        }
    }

    /// What was wrong and what to do, for a person.
    pub fn message(&self) -> String {
        match self {
            Deny::UriTooLong(max) => format!("the request target is longer than {max} bytes"),
            Deny::HeadersTooLarge(max) => format!("the request headers are larger than {max} bytes"),
            Deny::BadRequest(why) | Deny::AuthorityMismatch(why) | Deny::BadPath(why) => why.clone(),
            Deny::NoToken { host, absent } => no_token_message(host.as_ref(), absent),
            Deny::AmbiguousToken => "the request carries two different tokens; send one".into(),
            Deny::MalformedToken => {
                "the request carries a malformed macaroon (bytes after its signature, or \
                                     another spelling of a token); send the token exactly as it was printed"
                    .into()
            }
            Deny::InvalidDischarge => "a Macaroon-Discharge header is not a valid token".into(),
            Deny::BadToken(d) | Deny::HostNotSealed(d) | Deny::Caveat(d) => d.to_string(),
            Deny::UntrustedIssuer { issuer } => format!(
                "this token was wrapped by issuer {issuer}, which this proxy does not trust; if you \
                 do, run where the proxy runs: macaroon-proxy issuers add {issuer} --name NAME (or wrap the key \
                 with an issuer this proxy trusts)"
            ),
            Deny::HostNotAllowed { host } => format!(
                "this token's key is sealed for {host}, which this proxy's operator does not allow \
                 (run --allow-host); ask the operator, or wrap a key for an allowed host"
            ),
            Deny::Revoked(crate::revoke::Revocation::Family(kid)) => {
                format!("this token's family {kid} is revoked on this proxy")
            }
            Deny::Revoked(crate::revoke::Revocation::Branch(id)) => format!(
                "this token is in a revoked branch ({}): it, or a token it was narrowed from, was revoked \
                 on this proxy; ask for a new token",
                &id[..16.min(id.len())]
            ),
            Deny::BodyTooLarge { max } => format!(
                "the request body is over this proxy's limit of {max} bytes for bodies it checks (a token \
                 with body caveats, or a form or JSON body under a method or query caveat; run --max-body); \
                 nothing was sent upstream"
            ),
            Deny::TokenCopy { place } => format!(
                "the request carries a copy of its token in {place}, besides the place the key goes, \
                 where the upstream would receive it; send the token once, in the place the key goes \
                 (e.g. Authorization: Bearer TOKEN), and nowhere else"
            ),
            Deny::AmbiguousContentType(n) => format!(
                "the request has {n} Content-Type headers, which servers read differently; send exactly one"
            ),
            Deny::BodyTimeout { after } => format!(
                "the request body did not arrive whole within {} (the proxy's --body-timeout); \
                 nothing was sent upstream: send the body without pauses, or ask the operator to raise it",
                humantime::format_duration(*after)
            ),
            Deny::BadSecret => "the sealed key cannot be sent where its rule says; wrap it again".into(),
            Deny::CredentialExchange(e) => exchange_message(e),
            Deny::Unsignable(why) => why.clone(),
            Deny::Upstream { host, detail } => format!("the upstream {host} failed: {detail}"),
            Deny::Unscannable { host, encoding } => unscannable_message(host, encoding),
            Deny::Undecodable { host, encoding, error } => undecodable_message(host, encoding, error),
            Deny::Limited {
                caveat,
                kind,
                retry_after,
            } => limited_message(caveat, kind, *retry_after),
            Deny::StateUnavailable(why) => format!(
                "{why}; this token has usage or rate caveats, which are counted there, so the request was \
                 not forwarded (requests without such caveats are not affected); try again shortly"
            ),
            Deny::ApprovalDenied { id, by, reason } => denied_message(id, by.as_deref(), reason.as_deref()),
            Deny::ApprovalPending { id, expired } => pending_message(id, *expired),
            Deny::TooManyApprovals => format!(
                "this token's family already has {} approvals waiting for a person; wait for them to be \
                 decided before sending more requests that need one",
                crate::approvals::MAX_PENDING_PER_FAMILY
            ),
            Deny::Stopping => "the proxy is stopping; send the request again (to another replica)".into(),
            Deny::UpstreamTimeout { host, after } => format!(
                "the upstream {host} sent no response within {}; raise --upstream-timeout if it is slow",
                humantime::format_duration(*after)
            ),
        }
    }

    /// The refusal of one MCP (JSON-RPC) request by an `mcp` caveat, as the JSON-RPC error
    /// response for its `id`, so an MCP client shows the message: same status, and the usual
    /// fields (`type`, `code`, `caveat`, `request_id`) in `error.data`.
    pub fn jsonrpc_response(&self, id: serde_json::Value, request_id: &str) -> Response<Body> {
        let mut resp = self.response(request_id);
        let (_, code) = self.status_and_code();
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {
                "code": JSONRPC_REFUSED,
                "message": format!("macaroon: {}", self.message()),
                "data": {
                    "type": "macaroon_error",
                    "code": code,
                    "caveat": self.caveat(),
                    "request_id": request_id,
                },
            },
        });
        *resp.body_mut() = crate::http::full(Bytes::from(serde_json::to_vec(&body).unwrap_or_default()));
        resp
    }

    /// The JSON response the client gets.
    pub fn response(&self, request_id: &str) -> Response<Body> {
        let (status, code) = self.status_and_code();
        // A struct, not a map, so the fields keep this order for people reading curl output.
        #[derive(serde::Serialize)]
        struct Error<'a> {
            r#type: &'static str,
            code: &'static str,
            message: String,
            caveat: Option<&'a str>,
            request_id: &'a str,
        }
        #[derive(serde::Serialize)]
        struct Body<'a> {
            error: Error<'a>,
        }
        let body = Body {
            error: Error {
                r#type: "macaroon_error",
                code,
                message: self.message(),
                caveat: self.caveat(),
                request_id,
            },
        };
        let mut resp = Response::new(crate::http::full(Bytes::from(
            serde_json::to_vec(&body).unwrap_or_default(),
        )));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-request-id", v);
        }
        if matches!(self, Deny::ApprovalPending { expired: false, .. }) {
            h.insert(http::header::RETRY_AFTER, HeaderValue::from(5u64));
        }
        if let Deny::Limited {
            retry_after: Some(after),
            ..
        } = self
        {
            h.insert(
                http::header::RETRY_AFTER,
                HeaderValue::from(retry_secs(Some(*after))),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"macaroon\""),
            );
        }
        resp
    }
}

/// A spent `uses` caveat, or a rate limit reached.
fn limited_message(caveat: &str, kind: &caveat::LimitKind, retry_after: Option<Duration>) -> String {
    match kind {
        caveat::LimitKind::Uses(max) => format!(
            "this token's uses are spent: \"{caveat}\" allows {max} request{} in all, by this token and \
             every token narrowed from the same one; ask for a new token",
            if *max == 1 { "" } else { "s" }
        ),
        _ => format!(
            "rate limit reached: \"{caveat}\"; retry in {}s",
            retry_secs(retry_after)
        ),
    }
}

/// A person said no.
fn denied_message(id: &str, by: Option<&str>, reason: Option<&str>) -> String {
    format!(
        "a person{} denied this request (approval {id}){}; nothing was sent",
        by.map(|b| format!(" ({b})")).unwrap_or_default(),
        reason.map(|r| format!(": {r}")).unwrap_or_default()
    )
}

/// Nobody decided in time, or nobody decided before the approval expired.
fn pending_message(id: &str, expired: bool) -> String {
    if expired {
        return format!(
            "approval {id} expired before anyone decided; send the request again to ask anew. Nothing was sent"
        );
    }
    format!(
        "this request needs a person's approval and nobody has decided yet: it is approval {id}, \
         still open. Ask an approver (`macaroon-proxy approvals approve {id}`, or the console), then \
         send the same request again: once approved it goes through at once. Nothing was sent"
    )
}

/// A response in an encoding the proxy cannot decode, so cannot scan for the secret.
fn unscannable_message(host: &str, encoding: &str) -> String {
    format!(
        "the upstream {host} answered with Content-Encoding {encoding:?} although it was asked for \
         identity; the proxy decodes only gzip, deflate, br and zstd, cannot scan this one for the \
         secret, and so does not pass it on"
    )
}

/// A response whose body does not decode as its encoding says.
fn undecodable_message(host: &str, encoding: &str, error: &str) -> String {
    format!(
        "the upstream {host} answered with Content-Encoding {encoding:?} but its body does not decode \
         as {encoding} ({error}); HTTP's deflate is the zlib format, raw deflate is not. The proxy \
         cannot scan it for the secret, and so does not pass it on: fix the upstream's encoding, or \
         have it honour Accept-Encoding: identity"
    )
}

/// Whole seconds to wait, rounded up (a client that waits this long is not refused again
/// by the same window), at least 1.
fn retry_secs(after: Option<Duration>) -> u64 {
    after.map_or(1, |d| d.as_millis().div_ceil(1000).max(1) as u64)
}

fn no_token_message(host: Option<&Host>, absent: &Absent) -> String {
    let h = host.map_or("HOST".to_string(), |h| h.to_string());
    match absent {
        Absent::RawKey { place } => format!(
            "the {place} holds what looks like a raw API key, not a macaroon; the proxy never forwards \
             raw keys: wrap it once with `macaroon wrap NAME --host {h}` and send the printed token in its place"
        ),
        Absent::Damaged { place } => format!(
            "the {place} holds what looks like a damaged macaroon (cut short or altered in copying); \
             send the whole token exactly as `macaroon attenuate` or `macaroon wrap` printed it"
        ),
        Absent::AwsSigned => format!(
            "this request is signed with AWS keys and carries no macaroon; the proxy signs for you: \
             wrap the keys once with `macaroon wrap NAME --host {h} --inject sigv4:REGION:SERVICE` and \
             run the client with `macaroon exec --aws --token NAME -- COMMAND` (the token goes in \
             AWS_SESSION_TOKEN)"
        ),
        Absent::Nothing => {
            let hint = host.map_or(String::new(), |h| {
                format!(" or, if {h} needs no key at all, let it through with: macaroon-proxy run --passthrough {h}")
            });
            format!(
                "no macaroon in this request: wrap a key with `macaroon wrap NAME --host {h}` and send the \
                 token where the key would go (e.g. Authorization: Bearer TOKEN){hint}"
            )
        }
    }
}

/// What a failed OAuth2 exchange says: the provider's status and error code, never its body.
fn exchange_message(e: &crate::credentials::oauth::ExchangeError) -> String {
    let hint = hint(&e.host, &e.detail);
    match (e.status, &e.code) {
        (Some(status), Some(code)) => format!(
            "the token endpoint {} refused the OAuth2 exchange (HTTP {status}, error {code}); \
             {}",
            e.host,
            match code.as_str() {
                "invalid_grant" => "the refresh token is expired or revoked: wrap a new one",
                "invalid_client" | "unauthorized_client" =>
                    "the client id or secret is wrong: wrap the right ones",
                _ => "see the provider's documentation for this error code",
            }
        ),
        (Some(status), None) => format!(
            "the token endpoint {} failed the OAuth2 exchange (HTTP {status}): {}",
            e.host, e.detail
        ),
        (None, _) => format!(
            "the proxy could not reach the token endpoint {} for the OAuth2 exchange: {}{hint}",
            e.host, e.detail
        ),
    }
}

/// What a request without a token carried where a key goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Absent {
    /// No credential at all.
    Nothing,
    /// Something that looks like a real API key, not a macaroon.
    RawKey {
        /// Where it was (a header or query parameter name).
        place: String,
    },
    /// Something that looks like a macaroon but does not decode (cut short or altered).
    Damaged {
        /// Where it was.
        place: String,
    },
    /// An AWS SigV4 signature made with real keys (or dummy ones without the token).
    AwsSigned,
}

/// What an operator can do about the commonest upstream failures.
pub(crate) fn hint(host: &str, detail: &str) -> String {
    let d = detail.to_ascii_lowercase();
    if d.contains("dns error") || d.contains("failed to lookup") || d.contains("name or service not known") {
        format!(" (the proxy cannot resolve {host}; to send it elsewhere, run the proxy with --resolve {host}=IP:PORT)")
    } else if d.contains("unknownissuer")
        || d.contains("unknown issuer")
        || d.contains("invalid peer certificate")
    {
        format!(" (the proxy does not trust {host}'s certificate; add its CA with --upstream-ca PEM)")
    } else if d.contains("connection refused") {
        format!(" (nothing accepts connections for {host} at the address it resolves to; check --resolve)")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn denial(kind: DenyKind, caveat: Option<&str>) -> Denial {
        Denial {
            kind,
            caveat: caveat.map(str::to_string),
            reason: "method POST is not allowed; only GET".into(),
        }
    }

    #[test]
    fn core_denials_map_to_401_or_403_with_their_code() {
        let cases = [
            (DenyKind::BadSignature, 401, "invalid_token"),
            (DenyKind::NotSealed, 401, "invalid_token"),
            (DenyKind::HostNotSealed, 403, "host_not_sealed"),
            (DenyKind::CaveatFailed, 403, "caveat_failed"),
            (DenyKind::UnknownCaveat, 403, "caveat_failed"),
            (DenyKind::SealedExpired, 403, "caveat_failed"),
            (DenyKind::DischargeMissing, 403, "discharge_required"),
            (DenyKind::TooManyLimits, 403, "too_many_limits"),
        ];
        for (kind, status, code) in cases {
            let (s, c) = Deny::from_denial(denial(kind, None)).status_and_code();
            assert_eq!((s.as_u16(), c), (status, code), "{kind:?}");
        }
    }

    #[tokio::test]
    async fn the_body_is_what_sdks_read_and_401_carries_a_challenge() {
        let r = Deny::Caveat(denial(DenyKind::CaveatFailed, Some("method = GET"))).response("abc");
        assert_eq!(r.status(), 403);
        let body = r.into_body().collect().await.expect("body").to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["error"]["type"], "macaroon_error");
        assert_eq!(v["error"]["code"], "caveat_failed");
        assert_eq!(v["error"]["caveat"], "method = GET");
        assert_eq!(v["error"]["request_id"], "abc");
        assert!(v["error"]["message"]
            .as_str()
            .expect("message")
            .contains("only GET"));
        let r = Deny::NoToken {
            host: None,
            absent: Absent::Nothing,
        }
        .response("x");
        assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"macaroon\"");
    }

    #[test]
    fn a_failed_exchange_is_a_502_that_says_what_to_do_without_the_provider_body() {
        let e = |status, code: Option<&str>, detail: &str| {
            Deny::CredentialExchange(crate::credentials::oauth::ExchangeError {
                host: "oauth2.googleapis.com".into(),
                status,
                code: code.map(str::to_string),
                detail: detail.into(),
            })
        };
        let d = e(Some(400), Some("invalid_grant"), "it gave no access token");
        assert_eq!(
            d.status_and_code(),
            (StatusCode::BAD_GATEWAY, "credential_exchange_failed")
        );
        assert_eq!(d.decision(), "error");
        let m = d.message();
        assert!(
            m.contains("invalid_grant") && m.contains("HTTP 400") && m.contains("wrap a new one"),
            "{m}"
        );
        let m = e(
            None,
            None,
            "client error (Connect): dns error: failed to lookup address",
        )
        .message();
        assert!(
            m.contains("could not reach") && m.contains("--resolve oauth2.googleapis.com"),
            "{m}"
        );
        let m = e(Some(500), None, "its answer is not a JSON token response").message();
        assert!(
            m.contains("HTTP 500") && m.contains("not a JSON token response"),
            "{m}"
        );
        let u = Deny::Unsignable("chunk-signed".into());
        assert_eq!(
            u.status_and_code(),
            (StatusCode::BAD_REQUEST, "unsignable_request")
        );
    }

    #[test]
    fn the_timeout_message_names_the_configured_timeout() {
        let m = Deny::UpstreamTimeout {
            host: "api.example.com".into(),
            after: Duration::from_secs(2),
        }
        .message();
        assert!(m.contains("2s") && m.contains("api.example.com"), "{m}");
        assert!(!m.contains("120"), "{m}");
    }

    #[test]
    fn upstream_failures_say_what_to_do() {
        let dns = hint(
            "api.example.com",
            "client error (Connect): dns error: failed to lookup address",
        );
        assert!(dns.contains("--resolve api.example.com=IP:PORT"), "{dns}");
        let tls = hint("api.example.com", "invalid peer certificate: UnknownIssuer");
        assert!(tls.contains("--upstream-ca"), "{tls}");
        assert_eq!(hint("h", "connection reset"), "");
    }
}
