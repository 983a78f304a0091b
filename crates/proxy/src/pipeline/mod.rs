//! The per-request pipeline, as named phases over one [`RequestCtx`] (the shape of
//! pingora's `ProxyHttp`, as plain functions: no trait, no cost on the hot path):
//!
//! 1. [`authority`]: limits, then the one host this request is for;
//! 2. [`credential`]: every copy of the token, or a `--passthrough` host;
//! 3. [`decide`]: unseal (cached), the core's decision, revocation, any copy of the token
//!    in a shape the finder does not strip ([`crate::copies`]); then [`body`] reads a
//!    body that caveats are on; [`obtain`]: the credential to inject (an OAuth2 access
//!    token from the cache or one exchange); and [`count`] charges usage and rate caveats
//!    (last, so a refused request never spends a count);
//! 4. [`upstream_request`]: strip the token and hop-by-hop headers, inject the secret (or
//!    sign the request: SigV4);
//! 5. [`forward`]: over TLS with this worker's pooled client (an OAuth2 request without a
//!    body that gets a 401 is sent once more with a new access token);
//! 6. [`response`]: the response filter (hop-by-hop headers, request id, byte count);
//! 7. [`logging`]: the only place that writes the audit line and the metrics.
//!
//! A phase that refuses returns a [`Deny`], which maps to status, error code and message
//! in one table. Nothing is sent upstream before phase 3 allows, and every request is
//! decided on its own: the tenth request on a kept-alive connection or inside a tunnel goes
//! through all of this exactly like the first.

pub mod authority;
pub mod body;
pub mod count;
pub mod credential;
pub mod decide;
mod deny;
pub mod forward;
pub mod logging;
pub mod obtain;
pub mod response;
pub mod upstream_request;

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use caveat::{CacheKey, Payload, ProxyKeyPair, Token, Verified};
use http::Response;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

pub use self::deny::Deny;
use crate::audit::{Audit, Record};
use crate::ca::LocalCa;
use crate::config::Config;
use crate::inject::Resolved;
use crate::issuers::Issuers;
use crate::metrics::Metrics;
use crate::revoke::Revocations;
use crate::upstream::{AddressPolicy, Body, PolicyConnector};

/// Most opened identifiers kept in memory (least useful evicted first).
const UNSEAL_CACHE_MAX: usize = 10_000;
/// Most token texts whose copy searchers are kept (about 5 KB each).
const COPIES_CACHE_MAX: usize = 1024;
/// Most verified tokens kept, and about how many bytes they may hold (a token may be up to
/// 64 KiB; a typical one is under 2 KiB).
const VERIFIED_CACHE_MAX: usize = 4096;
const VERIFIED_CACHE_BYTES: u64 = 8 << 20;

/// What the proxy loads from its home before it serves.
pub struct Loaded {
    /// Proxy keys, any of which may open a token.
    pub keys: Vec<ProxyKeyPair>,
    /// The local CA for interception.
    pub ca: LocalCa,
    /// Roots trusted for upstream TLS.
    pub roots: rustls::RootCertStore,
    /// Where audit lines go.
    pub audit: Audit,
    /// Revoked token families (reloaded in the background).
    pub revoked: Arc<Revocations>,
    /// Trusted issuers (reloaded in the background).
    pub issuers: Arc<Issuers>,
    /// Usage and rate counts (and shared revocations): here, or in `--state`.
    pub state: Arc<crate::state::State>,
}

/// Everything the pipeline needs, shared by all connections.
pub struct Proxy {
    /// The validated `run` settings.
    pub config: Arc<Config>,
    /// Proxy keys, any of which may open a token.
    pub keys: Vec<ProxyKeyPair>,
    /// The local CA for interception.
    pub ca: LocalCa,
    /// Where connections may go.
    pub policy: Arc<AddressPolicy>,
    /// Audit log.
    pub audit: Audit,
    /// Counters.
    pub metrics: Metrics,
    /// Revoked token families.
    pub revoked: Arc<Revocations>,
    /// Issuers whose payloads are opened.
    pub issuers: Arc<Issuers>,
    /// Usage and rate counts.
    pub state: Arc<crate::state::State>,
    /// Every connection and tunnel task, so shutdown can wait for them.
    pub tasks: tokio_util::task::TaskTracker,
    /// Cancelled on SIGINT/SIGTERM: connections finish the request in flight and close.
    pub stopping: tokio_util::sync::CancellationToken,
    /// Upstream clients: one pool per runtime thread, so a request and the pooled
    /// connection it uses are driven by the same thread (index 0 for any other thread).
    pools: Vec<Pools>,
    /// Opened identifiers, by identifier bytes.
    unsealed: quick_cache::sync::Cache<Vec<u8>, Arc<Payload>>,
    /// Response scrubbers, by the issuer's signature of the payload (one secret each): not
    /// by `kid`, which is no secret, so a trusted issuer that copied another's `kid` cannot
    /// get its own scrubber used for that family's responses.
    scrubbers: quick_cache::sync::Cache<String, Option<Arc<crate::scrub::Scrubber>>>,
    /// OAuth2 access tokens obtained, by credential.
    pub access_tokens: crate::oauth::AccessTokens,
    /// Verified tokens, by the digest of their exact text.
    verified: quick_cache::sync::Cache<CacheKey, Arc<Verified>, VerifiedWeight>,
    /// What copies of a token look like ([`crate::copies`]), by the digest of its text.
    copies: quick_cache::sync::Cache<CacheKey, Option<Arc<crate::copies::Copies>>>,
}

/// Weighs a verified token by the memory it holds, so the cache bounds bytes as well as
/// entries; quick_cache evicts the least useful entries first, so a client cycling
/// through distinct tokens cannot flush everyone else's.
#[derive(Clone)]
struct VerifiedWeight;

impl quick_cache::Weighter<CacheKey, Arc<Verified>> for VerifiedWeight {
    fn weight(&self, _key: &CacheKey, v: &Arc<Verified>) -> u64 {
        v.weight().max(1) as u64
    }
}

impl Proxy {
    /// Assembles the shared state: `own` are the proxy's own listening addresses (never
    /// connected to), and there is one upstream pool per worker of `config`.
    pub fn new(config: Arc<Config>, loaded: Loaded, own: Vec<SocketAddr>) -> Self {
        let policy = Arc::new(AddressPolicy {
            overrides: config.resolve.clone(),
            allow_private: config.allow_private,
            own,
        });
        // The idle upstream connections kept, shared out between the pools.
        let workers = config.workers.max(1);
        let idle = crate::upstream::MAX_IDLE_UPSTREAM.div_ceil(workers);
        let metrics = Metrics::default();
        let connector = Arc::new(crate::client::Connector::new(
            policy.clone(),
            crate::upstream::tls_config(loaded.roots),
            metrics.upstream_connects.clone(),
        ));
        let pools = (0..=workers)
            .map(|_| Pools {
                tls: crate::client::Pool::new(connector.clone(), idle),
                plain: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build(PolicyConnector(policy.clone())),
            })
            .collect();
        let access_tokens = crate::oauth::AccessTokens::new(crate::shared_tokens::SharedTokens::new(
            &loaded.state,
            &loaded.keys,
        ));
        // Hosts the operator named exactly: their leaves are never cycled out.
        for p in &config.allow_hosts {
            if let crate::config::HostPattern::Exact(h) = p {
                loaded.ca.protect(h.as_str());
            }
        }
        Proxy {
            config,
            keys: loaded.keys,
            ca: loaded.ca,
            policy,
            audit: loaded.audit,
            metrics,
            revoked: loaded.revoked,
            issuers: loaded.issuers,
            state: loaded.state,
            tasks: tokio_util::task::TaskTracker::new(),
            stopping: tokio_util::sync::CancellationToken::new(),
            pools,
            unsealed: quick_cache::sync::Cache::new(UNSEAL_CACHE_MAX),
            scrubbers: quick_cache::sync::Cache::new(UNSEAL_CACHE_MAX),
            copies: quick_cache::sync::Cache::new(COPIES_CACHE_MAX),
            access_tokens,
            verified: quick_cache::sync::Cache::with_weighter(
                VERIFIED_CACHE_MAX,
                VERIFIED_CACHE_BYTES,
                VerifiedWeight,
            ),
        }
    }

    /// Closes every worker's upstream connections idle for longer than
    /// [`crate::client::IDLE_TIMEOUT`].
    pub fn sweep_idle_upstreams(&self) {
        for p in &self.pools {
            p.tls.sweep();
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
        let key = CacheKey::of(text);
        let text_of = || crate::copies::TokenText(text.into());
        if let Some(verified) = self.verified.get(&key) {
            return Some(Resolved::Verified {
                verified,
                key,
                text: text_of(),
            });
        }
        Token::decode(text).ok().map(|token| Resolved::Decoded {
            token: Arc::new(token),
            key,
            text: text_of(),
        })
    }

    /// A token resolved earlier (a tunnel's), looked up again: verified since, it is a hit.
    fn re_resolve(&self, earlier: &Resolved) -> Resolved {
        match earlier {
            Resolved::Decoded { key, text, .. } => match self.verified.get(key) {
                Some(verified) => Resolved::Verified {
                    verified,
                    key: *key,
                    text: text.clone(),
                },
                None => earlier.clone(),
            },
            Resolved::Verified { .. } => earlier.clone(),
        }
    }

    /// Keeps a verified token under the key of its text. Results that used discharges
    /// depend on more than the token's text and are not kept.
    fn remember(&self, key: CacheKey, verified: Arc<Verified>) {
        if !verified.used_discharges() {
            self.verified.insert(key, verified);
        }
    }

    /// What copies of a token look like (built once per token text).
    fn copies(&self, token: &Resolved) -> Option<Arc<crate::copies::Copies>> {
        let key = token.key();
        if let Some(hit) = self.copies.get(&key) {
            return hit;
        }
        let c = crate::copies::Copies::of(token.text().0.clone()).map(Arc::new);
        self.copies.insert(key, c.clone());
        c
    }

    /// The scrubber for a payload's secret (compiled once per family).
    fn scrubber(&self, payload: &Payload) -> Option<Arc<crate::scrub::Scrubber>> {
        if cfg!(feature = "bench-no-scrub") {
            return None;
        }
        // Every payload that opened is signed; an unsigned one (never opened) is not cached.
        // Looked up by reference: the key is copied only when a new scrubber is filed.
        let sig = payload.sig.as_deref().filter(|s| !s.is_empty());
        if let Some(hit) = sig.and_then(|k| self.scrubbers.get(k)) {
            return hit;
        }
        // Every secret part of the credential: the key; the AWS secret key and session token;
        // an OAuth2 refresh token and client secret (access tokens have their own).
        let s = match payload.credential() {
            Ok(c) => crate::scrub::Scrubber::for_secrets(&c.secrets()).map(Arc::new),
            Err(_) => crate::scrub::Scrubber::new(&payload.secret).map(Arc::new),
        };
        if let Some(k) = sig {
            self.scrubbers.insert(k.to_string(), s.clone());
        }
        s
    }

    fn unseal(&self, token: &Token) -> Result<Arc<Payload>, caveat::Denial> {
        let id = token.identifier();
        if let Some(hit) = self.unsealed.get(&id) {
            self.metrics.unseal_hit();
            return Ok(hit);
        }
        self.metrics.unseal_misses.fetch_add(1, Relaxed);
        let payload = Arc::new(caveat::unseal(token, &self.keys)?);
        self.unsealed.insert(id, payload.clone());
        Ok(payload)
    }
}

/// The HTTPS client (secrets) and the plain one (passthrough `http://`, never a secret).
struct Pools {
    tls: Arc<crate::client::Pool>,
    plain: hyper_util::client::legacy::Client<PolicyConnector, Body>,
}

#[cold]
fn unreachable_pools() -> ! {
    panic!("Proxy::new always builds at least one upstream pool")
}

thread_local! {
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The runtime worker the current thread is (1-based), or 0 for any other thread.
pub fn current_worker() -> usize {
    WORKER.with(|w| w.get())
}

/// Marks the current thread as runtime worker `i` (1-based, at most the configured
/// workers): requests it serves use that worker's own upstream pool.
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
        host: caveat::Host,
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

/// One request on its way through the phases: how it came, when, and its audit record,
/// which each phase fills in and [`logging`] alone writes.
pub struct RequestCtx {
    /// When the request arrived.
    pub start: Instant,
    /// How it reached us.
    pub mode: Mode,
    /// The audit line being built.
    pub rec: Record,
    /// The secret's scrubber, for a request that carries one: its response is scrubbed.
    pub scrub: Option<Arc<crate::scrub::Scrubber>>,
    /// An OAuth2 request without a body: sent again once with a new access token if the
    /// upstream answers 401.
    pub retry: Option<Box<forward::Retry>>,
    /// The request's token, to keep pieces of it out of the audit line.
    pub copies: Option<Arc<crate::copies::Copies>>,
}

impl RequestCtx {
    fn new<B>(req: &http::Request<B>, client: SocketAddr, mode: Mode) -> Self {
        RequestCtx {
            start: Instant::now(),
            rec: Record {
                time: logging::now(),
                request_id: request_id(),
                client: peer_text(client),
                mode: mode.name(),
                method: logging::method_text(req.method().as_str()),
                path: req.uri().path().to_string(),
                ..Record::default()
            },
            mode,
            scrub: None,
            retry: None,
            copies: None,
        }
    }

    /// Marks the decision as taken now.
    fn decided(&mut self) {
        self.rec.decide_ms = ms(self.start.elapsed());
    }
}

/// What the decision produced: a request for the upstream.
pub enum Outgoing {
    /// A verified request carrying the secret, to a sealed host, over TLS.
    Secret(http::Request<Body>),
    /// A request without a token to a `--passthrough` host, untouched.
    Passthrough(http::Request<Body>),
}

/// The whole pipeline for one request. Always answers; never panics on input.
///
/// A plain function returning its future (as [`forward::forward`]): an `async fn` would
/// keep the request twice in the future hyper copies per request.
pub fn handle(
    proxy: Arc<Proxy>,
    req: http::Request<Incoming>,
    client: SocketAddr,
    mode: Mode,
) -> impl std::future::Future<Output = Response<Body>> + Send {
    // Boxed: it travels through every phase into the response body, and at ~700 bytes
    // each move was a copy (and a slot in each future that holds it).
    let mut ctx = Box::new(RequestCtx::new(&req, client, mode));
    async move {
        match request_phases(&proxy, req, &mut ctx).await {
            Ok(out) => forward::forward(proxy, out, ctx).await,
            Err(deny) => logging::refused(&proxy, ctx, deny),
        }
    }
}

/// Phases 1 to 4: from the client's request to the one for the upstream, or a refusal.
async fn request_phases(
    proxy: &Arc<Proxy>,
    req: http::Request<Incoming>,
    ctx: &mut RequestCtx,
) -> Result<Outgoing, Deny> {
    let (parts, body) = req.into_parts();
    authority::limits(&parts)?;
    let authority = authority::authority(&parts, &ctx.mode)?;
    if let Some((h, _)) = &authority.target {
        ctx.rec.host = h.to_string();
    }
    let Some(found) = credential::find(proxy, &parts, &ctx.mode)? else {
        // No token: only `--passthrough` hosts, untouched.
        let target = authority.target;
        let Some((host, port)) = target
            .clone()
            .filter(|(h, _)| proxy.config.passthrough.contains(h))
        else {
            return Err(Deny::NoToken {
                host: target.map(|(h, _)| h),
                absent: credential::absent(&parts),
            });
        };
        ctx.rec.mode = "passthrough";
        ctx.rec.decision = "allow";
        return upstream_request::passthrough(parts, body, authority.scheme, &host, port);
    };
    // Known from here, so that no piece of the token is logged, whatever the outcome.
    ctx.copies = proxy.copies(&found.token);
    let pending = decide::decide(proxy, &parts, authority, found, ctx)?;
    // The awaits most requests skip (a body read, an OAuth2 exchange, a SigV4 body hash, a
    // count) are boxed: this future's size is what hyper keeps for every open connection,
    // about 5 KB more without.
    let (allowed, body) = if pending.needs_body() {
        let view = Box::pin(body::read(&parts, body, &proxy.config)).await?;
        let bytes = match &view {
            caveat::BodyView::Read(b) => b.bytes.clone(),
            caveat::BodyView::NotRead => Bytes::new(),
        };
        (
            pending.with_body(view)?,
            upstream_request::OutBody::Checked(bytes),
        )
    } else {
        (pending.allowed(), upstream_request::OutBody::Stream(body))
    };
    let injected = match allowed.payload.credential() {
        Ok(caveat::Credential::Static(_)) => obtain::Injected::Static,
        _ => Box::pin(obtain::obtain(proxy, &allowed.payload)).await?,
    };
    let body = match injected {
        obtain::Injected::SigV4 { .. } => {
            Box::pin(body::for_signature(&parts, &injected, body, &proxy.config)).await?
        }
        _ => body,
    };
    let out = upstream_request::with_secret(parts, body, &allowed, &injected)?;
    // Last of all: a request refused above (its credential not obtained, or the request
    // not signable) never spends a count.
    if !allowed.verified.limits().is_empty() {
        Box::pin(count::charge(proxy, &allowed, ctx)).await?;
    }
    ctx.rec.decision = "allow";
    ctx.scrub = injected.scrubber(proxy, &allowed.payload);
    ctx.retry = forward::Retry::for_request(&injected, &out).map(Box::new);
    Ok(out)
}

/// A request id: 16 hex digits, unique enough to find a line in the audit log. A counter
/// through a bijective mixer keyed once per process (so ids are distinct and do not show
/// how many requests came before): no hashing, one allocation.
pub fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static KEY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let key = *KEY.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x6d61_6361_726f_6f6e);
        h.finish()
    });
    // splitmix64's finalizer: a bijection on u64, so distinct counts give distinct ids.
    let mut z = COUNTER.fetch_add(1, Relaxed).wrapping_add(key);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let mut id = String::with_capacity(16);
    for shift in (0..16).rev() {
        id.push(char::from(
            b"0123456789abcdef"[((z >> (shift * 4)) & 0xf) as usize],
        ));
    }
    id
}

/// A client address as text (`1.2.3.4:5678`, `[::1]:5678`), IPv4 without the formatting
/// machinery: it is written on every request.
fn peer_text(addr: SocketAddr) -> String {
    let SocketAddr::V4(v4) = addr else {
        return addr.to_string();
    };
    let mut s = String::with_capacity(21);
    let push_num = |n: u32, s: &mut String| {
        let mut digits = [0u8; 5];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        s.extend(digits[i..].iter().map(|&d| char::from(d)));
    };
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        push_num(u32::from(octet), &mut s);
    }
    s.push(':');
    push_num(u32::from(v4.port()), &mut s);
    s
}

/// A complete body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
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

/// A root token for api.example.com with `secret`, sealed to a throwaway proxy key.
#[cfg(test)]
pub(crate) fn test_token(secret: &str) -> Token {
    let proxy = caveat::ProxyKeyPair::generate();
    Token::mint(
        proxy.public(),
        caveat::MintRequest {
            secret: caveat::Secret::new(secret.into()),
            inject: caveat::Injection::Bearer,
            hosts: vec![caveat::Host::normalize("api.example.com").expect("host")],
            expires: None,
            location: None,
            issuer: caveat::IssuerKey::generate(),
        },
        std::time::SystemTime::now(),
    )
    .expect("mint")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tunnel's token travels in `Mode`, which derives `Debug`: it must not show.
    #[test]
    fn peers_are_written_as_std_writes_them() {
        for a in [
            "1.2.3.4:5678",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "127.0.0.1:80",
            "[::1]:443",
        ] {
            let addr: SocketAddr = a.parse().expect("addr");
            assert_eq!(peer_text(addr), addr.to_string());
        }
    }

    #[test]
    fn request_ids_are_16_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids
            .iter()
            .all(|i| i.len() == 16 && i.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn a_tunnel_mode_never_shows_its_token() {
        let text = test_token("sk_test_tunnel").encode();
        let token = Token::decode(&text).expect("decodes");
        let mode = Mode::Tunnel {
            host: caveat::Host::normalize("api.example.com").expect("host"),
            port: 443,
            token: Some(Resolved::Decoded {
                token: Arc::new(token),
                key: CacheKey::of(&text),
                text: crate::copies::TokenText(text.as_str().into()),
            }),
            transparent: false,
        };
        let shown = format!("{mode:?}");
        assert!(!shown.contains(&text), "{shown}");
        assert!(!shown.contains("sk_test_tunnel"), "{shown}");
        assert!(shown.contains("fingerprint"), "{shown}");
    }
}
