//! The per-request pipeline: find token, unseal (cached), check the one authority,
//! decide with the core, strip every copy of the token, inject the secret, forward over
//! TLS, stream the response back, audit.
//!
//! Nothing is sent upstream before the decision, and every request is decided on its own:
//! the tenth request on a kept-alive connection or inside a tunnel goes through all of
//! this exactly like the first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use caveat::{
    Decision, Host, Method, Payload, ProxyKeyPair, Request as CoreRequest, RequestPath, Scheme, Token,
    Verified, VerifiedCache,
};
use http::header::{HeaderName, HeaderValue, HOST};
use http::{HeaderMap, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};

use crate::audit::{Audit, Record};
use crate::ca::LocalCa;
use crate::inject::{self, FindError, Resolved};
use crate::metrics::Metrics;
use crate::upstream::{AddressPolicy, Body, HttpsClient, PolicyConnector};

/// How long the upstream may take to send response headers, unless `--upstream-timeout`.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest request target accepted (414 beyond).
const MAX_URI: usize = 16 * 1024;
/// Most header bytes accepted (431 beyond); hyper bounds the read buffer as well.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most unsealed identifiers kept in memory; the cache is cleared when it would grow past it.
const UNSEAL_CACHE_MAX: usize = 10_000;
/// Most verified tokens kept, and about how many bytes they may hold (a token may be up to
/// 64 KiB; a typical one is under 2 KiB). Cleared when either would be exceeded.
const VERIFIED_CACHE_MAX: usize = 4096;
const VERIFIED_CACHE_BYTES: usize = 8 << 20;

/// Everything the pipeline needs, shared by all connections.
pub struct Proxy {
    /// Proxy keys, any of which may open a token.
    pub keys: Vec<ProxyKeyPair>,
    /// Hosts that requests without a token may reach untouched.
    pub passthrough: Vec<Host>,
    /// The local CA for interception.
    pub ca: LocalCa,
    /// Upstream clients: one pool per runtime thread, so a request and the pooled
    /// connection it uses are driven by the same thread (index 0 for any other thread).
    pools: Vec<Pools>,
    /// Where connections may go.
    pub policy: Arc<AddressPolicy>,
    /// Audit log.
    pub audit: Audit,
    /// Counters.
    pub metrics: Metrics,
    /// Revoked token families.
    pub revoked: crate::revoke::Revocations,
    /// How long the upstream may take to send response headers.
    pub response_timeout: Duration,
    /// Every connection and tunnel task, so shutdown can wait for them.
    pub tasks: tokio_util::task::TaskTracker,
    /// Cancelled on SIGINT/SIGTERM: connections finish the request in flight and close.
    pub stopping: tokio_util::sync::CancellationToken,
    cache: Mutex<HashMap<Vec<u8>, Arc<Payload>>>,
    verified: VerifiedCache,
}

impl Proxy {
    /// Assembles the shared state, with upstream pools for `workers` runtime threads
    /// (see [`set_worker`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        keys: Vec<ProxyKeyPair>,
        passthrough: Vec<Host>,
        ca: LocalCa,
        policy: Arc<AddressPolicy>,
        roots: rustls::RootCertStore,
        audit: Audit,
        revoked: crate::revoke::Revocations,
        workers: usize,
    ) -> Self {
        // The idle upstream connections kept, shared out between the pools.
        let idle = crate::upstream::MAX_IDLE_UPSTREAM.div_ceil(workers.max(1));
        let tls = crate::upstream::tls_config(roots);
        let pools = (0..=workers)
            .map(|_| Pools {
                tls: crate::upstream::client(policy.clone(), &tls, idle),
                plain: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build(PolicyConnector(policy.clone())),
            })
            .collect();
        Proxy {
            keys,
            passthrough,
            ca,
            pools,
            policy,
            audit,
            metrics: Metrics::default(),
            revoked,
            response_timeout: RESPONSE_TIMEOUT,
            tasks: tokio_util::task::TaskTracker::new(),
            stopping: tokio_util::sync::CancellationToken::new(),
            cache: Mutex::new(HashMap::new()),
            verified: VerifiedCache::new(VERIFIED_CACHE_MAX, VERIFIED_CACHE_BYTES),
        }
    }

    /// The upstream clients of the current thread.
    fn pools(&self) -> &Pools {
        let i = WORKER.with(|w| w.get());
        self.pools
            .get(i)
            .or(self.pools.first())
            .unwrap_or_else(|| unreachable_pools())
    }

    /// Whether a token-shaped string is a token: text verified before (a cache hit), or
    /// one that decodes.
    pub fn resolve(&self, text: &str) -> Option<Resolved> {
        let key = VerifiedCache::key(text);
        if let Some(verified) = self.verified.get(&key) {
            return Some(Resolved::Verified { verified, key });
        }
        Token::decode(text).ok().map(|token| Resolved::Decoded {
            token: Arc::new(token),
            key,
        })
    }

    /// A token resolved earlier (a tunnel's), looked up again: verified since, it is a hit.
    fn re_resolve(&self, earlier: &Resolved) -> Resolved {
        match earlier {
            Resolved::Decoded { key, .. } => match self.verified.get(key) {
                Some(verified) => Resolved::Verified { verified, key: *key },
                None => earlier.clone(),
            },
            Resolved::Verified { .. } => earlier.clone(),
        }
    }

    fn unseal(&self, token: &Token) -> Result<Arc<Payload>, caveat::Denial> {
        let id = token.identifier();
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&id).cloned()) {
            self.metrics.unseal_hits.fetch_add(1, Relaxed);
            return Ok(hit);
        }
        self.metrics.unseal_misses.fetch_add(1, Relaxed);
        let payload = Arc::new(caveat::unseal(token, &self.keys)?);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= UNSEAL_CACHE_MAX {
                c.clear();
            }
            c.insert(id, payload.clone());
        }
        Ok(payload)
    }
}

/// The HTTPS client (secrets) and the plain one (passthrough `http://`, never a secret).
struct Pools {
    tls: HttpsClient,
    plain: hyper_util::client::legacy::Client<PolicyConnector, Body>,
}

#[cold]
fn unreachable_pools() -> ! {
    panic!("Proxy::new always builds at least one upstream pool")
}

thread_local! {
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Marks the current thread as runtime worker `i` (1-based, below the `workers` given to
/// [`Proxy::new`]): requests it serves use that worker's own upstream pool.
pub fn set_worker(i: usize) {
    WORKER.with(|w| w.set(i));
}

/// How the request reached us, which decides whose authority counts.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Origin-form on the plain listener: the token's first sealed host.
    Reverse,
    /// Absolute-form (HTTP_PROXY): the URI's host.
    Forward,
    /// Inside an intercepted CONNECT tunnel: the CONNECT target, and nothing else.
    Tunnel {
        /// The CONNECT target host.
        host: Host,
        /// The CONNECT target port.
        port: u16,
        /// A token from the CONNECT's `Proxy-Authorization`, used by inner requests that
        /// carry none of their own (each is still decided on its own).
        token: Option<Resolved>,
        /// Reached by a transparent redirect (SNI named the host) rather than CONNECT.
        transparent: bool,
    },
    /// Plain HTTP redirected to the transparent listener: the Host header is the authority
    /// (the secret still goes upstream over TLS).
    TransparentHttp {
        /// The original destination port.
        port: u16,
    },
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Reverse => "reverse",
            Mode::Forward => "forward",
            Mode::Tunnel {
                transparent: false, ..
            } => "tunnel",
            Mode::Tunnel {
                transparent: true, ..
            }
            | Mode::TransparentHttp { .. } => "transparent",
        }
    }
}

/// A request id: 16 hex digits, unique enough to find a line in the audit log.
pub fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Relaxed));
    format!("{:016x}", h.finish())
}

/// A response to the client that the pipeline produced itself (no upstream involved).
struct Refusal {
    status: StatusCode,
    error: &'static str,
    reason: String,
    caveat: Option<String>,
    decision: &'static str,
}

impl Refusal {
    fn new(status: StatusCode, error: &'static str, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            error,
            reason: reason.into(),
            caveat: None,
            decision: "deny",
        }
    }
}

fn json_response(r: &Refusal, request_id: &str) -> Response<Body> {
    let body = serde_json::json!({"error": r.error, "reason": r.reason, "request_id": request_id});
    let mut resp = Response::new(full(serde_json::to_vec(&body).unwrap_or_default()));
    *resp.status_mut() = r.status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    if r.status == StatusCode::UNAUTHORIZED {
        h.insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"macaroon\""),
        );
    }
    resp
}

/// A complete body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Headers that describe one hop, never forwarded (RFC 9110 7.6.1), plus the ones a
/// `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    use http::header::{
        CONNECTION, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
    };
    const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
    const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
    let hop = |n: &HeaderName| {
        [
            &CONNECTION,
            &KEEP_ALIVE,
            &PROXY_CONNECTION,
            &PROXY_AUTHENTICATE,
            &PROXY_AUTHORIZATION,
            &TE,
            &TRAILER,
            &TRANSFER_ENCODING,
            &UPGRADE,
        ]
        .contains(&n)
    };
    // One pass over the names present (a handful) instead of nine hashed removals.
    let mut drop: Vec<HeaderName> = headers.keys().filter(|n| hop(n)).cloned().collect();
    if headers.contains_key(CONNECTION) {
        drop.extend(
            headers
                .get_all(CONNECTION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok()),
        );
    }
    for n in drop {
        headers.remove(n);
    }
}

#[cfg(test)]
mod hop_tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_removed() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic eDp5"),
            ("proxy-authenticate", "Basic"),
            ("te", "trailers"),
            ("trailer", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("x-secret-hop", "1"),
            ("accept", "*/*"),
            ("authorization", "Bearer k"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "authorization"]);
    }
}

/// Splits a Host header or URI authority into a normalized host and optional port.
fn parse_authority(text: &str) -> Option<(Host, Option<u16>)> {
    let a: http::uri::Authority = text.parse().ok()?;
    if a.as_str().contains('@') {
        return None;
    }
    Some((Host::normalize(a.host()).ok()?, a.port_u16()))
}

/// The whole pipeline for one request. Always answers; never panics on input.
pub async fn handle(
    proxy: Arc<Proxy>,
    req: http::Request<Incoming>,
    client: SocketAddr,
    mode: Mode,
) -> Response<Body> {
    let start = Instant::now();
    let mut rec = Record {
        time: caveat::fmt_time(SystemTime::now()),
        request_id: request_id(),
        client: client.to_string(),
        mode: mode.name(),
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        ..Record::default()
    };
    match decide_and_build(&proxy, req, &mode, &mut rec).await {
        Ok(Outgoing::Secret(up)) => forward(proxy, up, rec, start, false).await,
        Ok(Outgoing::Passthrough(up)) => forward(proxy, up, rec, start, true).await,
        Err(r) => {
            rec.decision = r.decision;
            rec.status = r.status.as_u16();
            rec.reason = Some(r.reason.clone());
            rec.caveat = r.caveat.clone();
            rec.decide_ms = ms(start.elapsed());
            rec.total_ms = rec.decide_ms;
            proxy
                .metrics
                .request(r.decision, rec.status, start.elapsed().as_secs_f64());
            proxy.audit.write(&rec);
            json_response(&r, &rec.request_id)
        }
    }
}

enum Outgoing {
    /// A verified request carrying the secret, to a sealed host, over TLS.
    Secret(http::Request<Body>),
    /// A request without a token to a `--passthrough` host, untouched.
    Passthrough(http::Request<Body>),
}

async fn decide_and_build(
    proxy: &Proxy,
    req: http::Request<Incoming>,
    mode: &Mode,
    rec: &mut Record,
) -> Result<Outgoing, Refusal> {
    let (mut parts, body) = req.into_parts();
    let uri_len = parts.uri.scheme_str().map_or(0, |s| s.len() + 3)
        + parts.uri.authority().map_or(0, |a| a.as_str().len())
        + parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI {
        return Err(Refusal::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is longer than {MAX_URI} bytes"),
        ));
    }
    let header_bytes: usize = parts
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(Refusal::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        ));
    }
    let host_header = match parts.headers.get_all(HOST).iter().count() {
        0 => None,
        1 => Some(
            parts
                .headers
                .get(HOST)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_authority)
                .ok_or_else(|| {
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "the Host header is not a valid host",
                    )
                })?,
        ),
        _ => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "several Host headers",
            ))
        }
    };
    let uri_authority = match parts.uri.authority() {
        Some(a) => Some(parse_authority(a.as_str()).ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request URI's host is not valid",
            )
        })?),
        None => None,
    };
    // One authority per request: work out whose host counts, and insist that every other
    // place naming a host names the same one.
    let same = |a: &(Host, Option<u16>), b: &(Host, Option<u16>), default: u16| {
        a.0 == b.0 && a.1.unwrap_or(default) == b.1.unwrap_or(default)
    };
    let (scheme, target): (Scheme, Option<(Host, u16)>) = match mode {
        Mode::Tunnel { host, port, .. } => {
            let t = (host.clone(), Some(*port));
            for (what, other) in [("request URI", &uri_authority), ("Host header", &host_header)] {
                if let Some(o) = other {
                    if !same(o, &t, 443) {
                        return Err(Refusal::new(
                            StatusCode::FORBIDDEN,
                            "authority_mismatch",
                            format!(
                                "the {what} names {}, but this tunnel was opened to {host}:{port}",
                                o.0
                            ),
                        ));
                    }
                }
            }
            (Scheme::Https, Some((host.clone(), *port)))
        }
        Mode::Forward => {
            let scheme = match parts.uri.scheme_str() {
                Some("http") => Scheme::Http,
                Some("https") => Scheme::Https,
                _ => {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "only http:// and https:// URIs can be proxied",
                    ))
                }
            };
            let Some(u) = uri_authority.clone() else {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request URI has no host",
                ));
            };
            if let Some(h) = &host_header {
                if !same(h, &u, scheme.default_port()) {
                    return Err(Refusal::new(
                        StatusCode::FORBIDDEN,
                        "authority_mismatch",
                        format!("the Host header names {}, but the request URI names {}", h.0, u.0),
                    ));
                }
            }
            (scheme, Some((u.0, u.1.unwrap_or(scheme.default_port()))))
        }
        Mode::TransparentHttp { port } => {
            let Some(h) = host_header.clone() else {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "no Host header",
                ));
            };
            if let Some(u) = &uri_authority {
                if !same(u, &h, 80) {
                    return Err(Refusal::new(
                        StatusCode::FORBIDDEN,
                        "authority_mismatch",
                        format!("the request URI names {}, but the Host header names {}", u.0, h.0),
                    ));
                }
            }
            (Scheme::Http, Some((h.0, h.1.unwrap_or(*port))))
        }
        Mode::Reverse => (Scheme::Https, None),
    };
    if let Some((h, _)) = &target {
        rec.host = h.to_string();
    }

    let found = inject::find(&parts.headers, parts.uri.query(), &mut |t| proxy.resolve(t)).map_err(
        |FindError::Several| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "ambiguous_token",
                "the request carries two different tokens; send one",
            )
        },
    )?;
    let found = match (found, mode) {
        (Some(f), _) => Some(f),
        (None, Mode::Tunnel { token: Some(t), .. }) => Some(inject::Found {
            token: proxy.re_resolve(t),
            places: Vec::new(),
        }),
        (None, _) => None,
    };
    let Some(found) = found else {
        // No token: only passthrough hosts, untouched.
        if let Some((host, port)) = &target {
            if proxy.passthrough.contains(host) {
                rec.mode = "passthrough";
                rec.decision = "allow";
                strip_hop_by_hop(&mut parts.headers);
                let scheme_text = if scheme == Scheme::Http { "http" } else { "https" };
                parts.uri = build_uri(
                    scheme_text,
                    host,
                    *port,
                    scheme.default_port(),
                    parts.uri.path(),
                    parts.uri.query(),
                )?;
                parts.version = Version::HTTP_11;
                parts.headers.remove(HOST);
                return Ok(Outgoing::Passthrough(http::Request::from_parts(
                    parts,
                    body.boxed(),
                )));
            }
        }
        let hint = match &target {
            Some((h, _)) => {
                format!(" or, if {h} needs no key, let it through with: macaroon-proxy run --passthrough {h}")
            }
            None => String::new(),
        };
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "no_token",
            format!(
                "no macaroon in this request: wrap a key with `macaroon wrap NAME --host HOST` and send the token where the key would go (e.g. Authorization: Bearer TOKEN){hint}"
            ),
        ));
    };
    // A token verified before (the same text) skips unsealing, decoding and the HMAC
    // chain; one seen for the first time is unsealed here and verified below.
    let payload = match &found.token {
        Resolved::Verified { verified, .. } => {
            proxy.metrics.verified_hits.fetch_add(1, Relaxed);
            rec.token = Some(verified.fingerprint().to_string());
            rec.key_id = verified.key_id().map(|k| k.to_string());
            verified.payload().clone()
        }
        Resolved::Decoded { token, .. } => {
            proxy.metrics.verified_misses.fetch_add(1, Relaxed);
            rec.token = Some(token.signature_fingerprint());
            rec.key_id = token.key_id().map(|k| k.to_string());
            proxy.unseal(token).map_err(|d| {
                let mut r = Refusal::new(StatusCode::UNAUTHORIZED, "invalid_token", d.reason);
                r.caveat = d.caveat;
                r
            })?
        }
    };
    rec.kid = Some(payload.kid.clone());
    let (host, port) = match target {
        Some(t) => t,
        None => match payload.hosts.first() {
            Some(h) => (h.clone(), 443),
            None => {
                return Err(Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the token has no sealed host",
                ))
            }
        },
    };
    rec.host = host.to_string();
    // The token travels where the key would; if the rule is a query parameter and the
    // token was not found there, that's fine: every copy found is stripped regardless.
    let method = Method::new(parts.method.as_str())
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))?;
    let path = RequestPath::parse(parts.uri.path()).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_path",
            format!("the path is refused: {e}"),
        )
    })?;
    let discharges = parts
        .headers
        .get_all(inject::DISCHARGE_HEADER)
        .iter()
        .map(|v| v.to_str().ok().and_then(|s| Token::decode(s).ok()))
        .collect::<Option<Vec<Token>>>()
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "invalid_discharge",
                "a Macaroon-Discharge header is not a valid token",
            )
        })?;
    let core = CoreRequest {
        time: SystemTime::now(),
        method,
        scheme,
        host: host.clone(),
        port,
        path,
        query: parts.uri.query().map(str::to_string),
        headers: Vec::new(),
        client: None,
    };
    let verified = match found.token {
        Resolved::Verified { verified, .. } => Ok(verified),
        Resolved::Decoded { token, key } => Verified::new(&token, payload.clone(), &discharges).map(|v| {
            let v = Arc::new(v);
            proxy.verified.insert(key, v.clone());
            v
        }),
    };
    let decision = match verified {
        Ok(v) => v.decide(&core),
        Err(d) => Decision::Deny(d),
    };
    if let Decision::Deny(d) = decision {
        let status = if d.kind.is_unauthenticated() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::FORBIDDEN
        };
        let mut r = Refusal::new(
            status,
            if d.kind.is_unauthenticated() {
                "invalid_token"
            } else {
                "forbidden"
            },
            d.to_string(),
        );
        r.caveat = d.caveat;
        return Err(r);
    }
    if proxy.revoked.is_revoked(&payload.kid) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "revoked",
            format!("this token's family {} is revoked on this proxy", payload.kid),
        ));
    }
    rec.decision = "allow";

    // Build exactly what was checked: the same path text, the sealed host, over TLS.
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(inject::DISCHARGE_HEADER);
    parts.headers.remove(HOST);
    let query = inject::strip_and_inject(
        &mut parts.headers,
        parts.uri.query(),
        &found.places,
        &payload.inject,
        &payload.secret,
    )
    .map_err(|_| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "bad_secret",
            "the sealed key cannot be sent in a header",
        )
    })?;
    // A secret never travels in cleartext: http:// requests go upstream as https.
    let upstream_port = if scheme == Scheme::Http && port == 80 {
        443
    } else {
        port
    };
    parts.uri = build_uri(
        "https",
        &host,
        upstream_port,
        443,
        core.path.as_str(),
        query.as_deref(),
    )?;
    parts.version = Version::HTTP_11;
    Ok(Outgoing::Secret(http::Request::from_parts(parts, body.boxed())))
}

fn build_uri(
    scheme: &str,
    host: &Host,
    port: u16,
    default: u16,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, Refusal> {
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
        .map_err(|_| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request cannot be rebuilt for the upstream",
            )
        })
}

async fn forward(
    proxy: Arc<Proxy>,
    req: http::Request<Body>,
    mut rec: Record,
    start: Instant,
    plain: bool,
) -> Response<Body> {
    rec.decide_ms = ms(start.elapsed());
    // If the client goes away while we wait, hyper drops this future: the guard still
    // writes the audit line (the request may already have reached the upstream).
    let mut pending = ClientGone(Some((proxy.clone(), rec, start)));
    let sent = if plain && req.uri().scheme_str() == Some("http") {
        tokio::time::timeout(proxy.response_timeout, proxy.pools().plain.request(req)).await
    } else {
        tokio::time::timeout(proxy.response_timeout, proxy.pools().tls.request(req)).await
    };
    let Some((_, mut rec, _)) = pending.0.take() else {
        return Response::new(full(""));
    };
    let resp = match sent {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            proxy.metrics.upstream_errors.fetch_add(1, Relaxed);
            let r = Refusal {
                decision: "error",
                ..Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    format!("the upstream failed: {}", chain(&e)),
                )
            };
            return finish_refusal(&proxy, r, rec, start);
        }
        Err(_) => {
            proxy.metrics.upstream_timeouts.fetch_add(1, Relaxed);
            let r = Refusal {
                decision: "error",
                ..Refusal::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    format!(
                        "the upstream sent no response within {}s",
                        RESPONSE_TIMEOUT.as_secs()
                    ),
                )
            };
            return finish_refusal(&proxy, r, rec, start);
        }
    };
    rec.upstream_ms = Some(ms(start.elapsed()));
    rec.status = resp.status().as_u16();
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Ok(v) = HeaderValue::from_str(&rec.request_id) {
        parts.headers.insert("x-request-id", v);
    }
    let audited = Audited {
        inner: body.boxed(),
        done: Some((proxy, rec, start)),
        bytes: 0,
    };
    Response::from_parts(parts, audited.boxed())
}

fn finish_refusal(proxy: &Proxy, r: Refusal, mut rec: Record, start: Instant) -> Response<Body> {
    rec.decision = r.decision;
    rec.status = r.status.as_u16();
    rec.reason = Some(r.reason.clone());
    rec.total_ms = ms(start.elapsed());
    proxy
        .metrics
        .request(r.decision, rec.status, start.elapsed().as_secs_f64());
    proxy.audit.write(&rec);
    json_response(&r, &rec.request_id)
}

/// An error and its causes on one line (upstream errors nest several deep).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Writes the audit line of a forwarded request whose client disconnected before the
/// upstream answered (status 499, as nginx logs it).
struct ClientGone(Option<(Arc<Proxy>, Record, Instant)>);

impl Drop for ClientGone {
    fn drop(&mut self) {
        if let Some((proxy, mut rec, start)) = self.0.take() {
            rec.status = 499;
            rec.reason = Some("the client went away before the upstream answered".into());
            rec.total_ms = ms(start.elapsed());
            proxy
                .metrics
                .request(rec.decision, 499, start.elapsed().as_secs_f64());
            proxy.audit.write(&rec);
        }
    }
}

/// The response body, counted; its audit line is written when it ends or is dropped.
struct Audited {
    inner: Body,
    done: Option<(Arc<Proxy>, Record, Instant)>,
    bytes: u64,
}

impl Audited {
    fn finish(&mut self) {
        if let Some((proxy, mut rec, start)) = self.done.take() {
            rec.bytes_out = self.bytes;
            rec.total_ms = ms(start.elapsed());
            let decision = if rec.mode == "passthrough" {
                "passthrough"
            } else {
                "allow"
            };
            proxy.metrics.request(
                decision,
                rec.status,
                rec.upstream_ms.unwrap_or(rec.total_ms) / 1e3,
            );
            proxy.audit.write(&rec);
        }
    }
}

impl hyper::body::Body for Audited {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.bytes += d.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Audited {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tunnel's token travels in `Mode`, which derives `Debug`: it must not show.
    #[test]
    fn a_tunnel_mode_never_shows_its_token() {
        let proxy = caveat::ProxyKeyPair::generate();
        let text = Token::mint(
            proxy.public(),
            caveat::MintRequest {
                secret: caveat::Secret::new("sk_test_tunnel".into()),
                inject: caveat::Injection::Bearer,
                hosts: vec![Host::normalize("api.example.com").expect("host")],
                expires: None,
                location: None,
            },
            SystemTime::now(),
        )
        .expect("mint")
        .encode();
        let token = Token::decode(&text).expect("decodes");
        let mode = Mode::Tunnel {
            host: Host::normalize("api.example.com").expect("host"),
            port: 443,
            token: Some(Resolved::Decoded {
                token: Arc::new(token),
                key: VerifiedCache::key(&text),
            }),
            transparent: false,
        };
        let shown = format!("{mode:?}");
        assert!(!shown.contains(&text), "{shown}");
        assert!(!shown.contains("sk_test_tunnel"), "{shown}");
        assert!(shown.contains("fingerprint"), "{shown}");
    }
}
