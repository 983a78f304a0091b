//! The shared [`Proxy`]: keys, caches, the per-worker upstream pools, the audit log and
//! the metrics, built once and shared by every connection.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use caveat::{CacheKey, Payload, ProxyKeyPair, Token, Verified};

use crate::audit::Audit;
use crate::ca::LocalCa;
use crate::config::Config;
use crate::credentials::inject::Resolved;
use crate::http::Body;
use crate::issuers::Issuers;
use crate::limits::{COPIES_CACHE_MAX, UNSEAL_CACHE_MAX, VERIFIED_CACHE_BYTES, VERIFIED_CACHE_MAX};
use crate::metrics::Metrics;
use crate::revoke::Revocations;
use crate::upstream::policy::{AddressPolicy, PolicyConnector};

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
    /// Approval webhooks, checked at start-up.
    pub webhooks: Arc<crate::webhook::Webhooks>,
}

/// Everything the pipeline needs, shared by all connections.
pub struct Proxy {
    /// The validated `run` settings.
    pub config: Arc<Config>,
    /// The settings a reload (SIGHUP) swaps: read lock-free, never cached by a request.
    pub live: arc_swap::ArcSwap<crate::live::Live>,
    /// Proxy keys, any of which may open a token.
    pub keys: Vec<ProxyKeyPair>,
    /// The local CA for interception.
    pub ca: LocalCa,
    /// Intercepted connections' TLS settings, with the session store they share.
    pub intercept_tls: crate::intercept_tls::InterceptTls,
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
    /// Requests held for a person's approval, and the discharges approving minted.
    pub approvals: crate::approvals::Approvals,
    /// Where new approvals are announced (`--approval-webhook`).
    pub webhooks: Arc<crate::webhook::Webhooks>,
    /// Upstream clients: one pool per runtime thread, so a request and the pooled
    /// connection it uses are driven by the same thread (index 0 for any other thread).
    pools: Vec<Pools>,
    /// Opened identifiers, by identifier bytes.
    unsealed: quick_cache::sync::Cache<Vec<u8>, Arc<Payload>>,
    /// Response scrubbers, by the issuer's signature of the payload (one secret each): not
    /// by `kid`, which is no secret, so a trusted issuer that copied another's `kid` cannot
    /// get its own scrubber used for that family's responses.
    scrubbers: quick_cache::sync::Cache<String, Option<Arc<crate::upstream::scrub::Scrubber>>>,
    /// OAuth2 access tokens obtained, by credential.
    pub access_tokens: crate::credentials::oauth::AccessTokens,
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
        let idle = crate::limits::MAX_IDLE_UPSTREAM.div_ceil(workers);
        let metrics = Metrics::default();
        let connector = Arc::new(crate::upstream::client::Connector::new(
            policy.clone(),
            crate::upstream::policy::tls_config(loaded.roots),
            metrics.upstream_connects.clone(),
        ));
        let pools = (0..=workers)
            .map(|_| Pools {
                tls: crate::upstream::client::Pool::new(connector.clone(), idle),
                plain: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build(PolicyConnector(policy.clone())),
            })
            .collect();
        let access_tokens = crate::credentials::oauth::AccessTokens::new(
            crate::credentials::shared_tokens::SharedTokens::new(&loaded.state, &loaded.keys),
        );
        // Hosts the operator named exactly: their leaves are never cycled out.
        for p in &config.allow_hosts {
            if let crate::config::HostPattern::Exact(h) = p {
                loaded.ca.protect(h.as_str());
            }
        }
        Proxy {
            live: arc_swap::ArcSwap::from_pointee(crate::live::Live::from_config(&config)),
            approvals: crate::approvals::Approvals::shared(config.approval_ttl, loaded.state.clone()),
            webhooks: loaded.webhooks,
            config,
            keys: loaded.keys,
            ca: loaded.ca,
            intercept_tls: crate::intercept_tls::InterceptTls::new(),
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
    /// [`crate::limits::UPSTREAM_IDLE_TIMEOUT`].
    pub fn sweep_idle_upstreams(&self) {
        for p in &self.pools {
            p.tls.sweep();
        }
    }

    /// The upstream clients of the current thread.
    pub(crate) fn pools(&self) -> &Pools {
        let i = crate::worker::current_worker();
        self.pools
            .get(i)
            .or(self.pools.first())
            .unwrap_or_else(|| unreachable_pools())
    }

    /// Whether a token-shaped string is a token: text verified before (a cache hit), or
    /// one that decodes.
    pub fn resolve(&self, text: &str) -> Option<Resolved> {
        let key = cache_key(text);
        let text_of = || crate::credentials::inject::TokenText(text.into());
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
    pub(crate) fn re_resolve(&self, earlier: &Resolved) -> Resolved {
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
    pub(crate) fn remember(&self, key: CacheKey, verified: Arc<Verified>) {
        if !verified.used_discharges() {
            self.verified.insert(key, verified);
        }
    }

    /// What copies of a token look like (built once per token text).
    pub(crate) fn copies(&self, token: &Resolved) -> Option<Arc<crate::copies::Copies>> {
        let key = token.key();
        if let Some(hit) = self.copies.get(&key) {
            return hit;
        }
        let c = crate::copies::Copies::of(token.text().0.clone()).map(Arc::new);
        self.copies.insert(key, c.clone());
        c
    }

    /// The scrubber for a payload's secret (compiled once per family).
    pub(crate) fn scrubber(&self, payload: &Payload) -> Option<Arc<crate::upstream::scrub::Scrubber>> {
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
            Ok(c) => crate::upstream::scrub::Scrubber::for_secrets(&c.secrets()).map(Arc::new),
            Err(_) => crate::upstream::scrub::Scrubber::new(&payload.secret).map(Arc::new),
        };
        if let Some(k) = sig {
            self.scrubbers.insert(k.to_string(), s.clone());
        }
        s
    }

    pub(crate) fn unseal(&self, token: &Token) -> Result<Arc<Payload>, caveat::Denial> {
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
pub(crate) struct Pools {
    pub(crate) tls: Arc<crate::upstream::client::Pool>,
    pub(crate) plain: hyper_util::client::legacy::Client<PolicyConnector, Body>,
}

#[cold]
fn unreachable_pools() -> ! {
    panic!("Proxy::new always builds at least one upstream pool")
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

/// How many token texts each thread remembers the cache key of.
const KEY_MEMO_SLOTS: usize = 8;

/// The last token texts a thread keyed, with their keys, and the slot the next one takes.
type KeyMemo = (Vec<(Box<str>, CacheKey)>, usize);

thread_local! {
    static KEY_MEMO: std::cell::RefCell<KeyMemo> = const { std::cell::RefCell::new((Vec::new(), 0)) };
}

/// [`CacheKey::of`], remembered per thread for the last few texts: a kept-alive client
/// sends the same token with every request, and the SHA-256 of its text (about 1.5k
/// cycles) was 2-3 % of a kept-alive request's CPU. A hit needs the exact text (its
/// length, then its last bytes, where the signature is, then every byte), so it never
/// gives another text's key.
fn cache_key(text: &str) -> CacheKey {
    fn tail(s: &str) -> &[u8] {
        &s.as_bytes()[s.len().saturating_sub(16)..]
    }
    KEY_MEMO.with(|memo| {
        let Ok(mut memo) = memo.try_borrow_mut() else {
            return CacheKey::of(text);
        };
        let (slots, next) = &mut *memo;
        if let Some((_, key)) = slots
            .iter()
            .find(|(t, _)| t.len() == text.len() && tail(t) == tail(text) && **t == *text)
        {
            return *key;
        }
        let key = CacheKey::of(text);
        if slots.len() < KEY_MEMO_SLOTS {
            slots.push((text.into(), key));
        } else {
            slots[*next] = (text.into(), key);
            *next = (*next + 1) % KEY_MEMO_SLOTS;
        }
        key
    })
}

#[cfg(test)]
mod key_memo_tests {
    use super::*;

    /// The memo answers exactly what `CacheKey::of` does: for repeats, for more texts
    /// than it holds, and for texts of the same length and ending that differ inside.
    #[test]
    fn the_memo_gives_each_text_its_own_key() {
        let base = "a".repeat(300);
        let mut texts: Vec<String> = (0..20).map(|i| format!("{i:02}{base}sig-end")).collect();
        let mut inner = base.clone();
        inner.replace_range(150..151, "b");
        texts.push(format!("00{inner}sig-end"));
        for round in 0..3 {
            for t in &texts {
                assert_eq!(cache_key(t), CacheKey::of(t), "round {round}: {}", &t[..4]);
                assert_eq!(cache_key(t), CacheKey::of(t), "repeat");
            }
        }
        assert_ne!(cache_key(&texts[0]), cache_key(&texts[20]));
    }
}
