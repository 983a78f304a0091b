//! The one decision: may this request go through with this token?
//!
//! We verify the HMAC chain ourselves instead of using the `macaroon` crate's `Verifier`:
//! it compares signatures with `==` (not constant time), accepts caveats only through
//! plain function pointers (no request context), and reports failures as strings. Here
//! the chain is a dozen lines over HMAC-SHA256 (the same primitives the crate uses), every
//! MAC comparison is constant time, discharges must be bound to the presented token, and
//! each first-party caveat of the token *and* of every discharge is parsed and checked
//! against the request. Anything not understood denies.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::caveat::{fmt_time, Caveat};
use crate::content::Content;
use crate::crypto;
use crate::keys::{KeyId, ProxyKeyPair};
use crate::limit::{Limit, LimitKind, MAX_LIMITS};
use crate::request::Request;
use crate::sealed::{unix, Payload, RootKey, SealedId, UnsealError};
use crate::token::Token;

/// Discharges nest at most this deep (a discharge's own third-party caveats).
const MAX_DISCHARGE_DEPTH: usize = 8;

/// Which check denied a request. `is_unauthenticated` tells 401 from 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenyKind {
    /// The identifier is not a sealed identifier of ours.
    NotSealed,
    /// Sealed to a key this verifier does not hold.
    UnknownProxyKey,
    /// The sealed box did not open or held a bad payload.
    CorruptIdentifier,
    /// The HMAC chain does not verify: forged, altered or truncated.
    BadSignature,
    /// The hard expiry sealed at wrap time has passed.
    SealedExpired,
    /// The request's host is not one the secret was sealed for.
    HostNotSealed,
    /// A caveat could not be parsed (unknown field or operator, malformed).
    UnknownCaveat,
    /// A caveat does not hold for this request.
    CaveatFailed,
    /// The body is larger than a `body size` caveat allows (HTTP 413).
    BodyTooLarge,
    /// A third-party caveat has no (valid) discharge.
    DischargeMissing,
    /// More usage and rate caveats than [`crate::MAX_LIMITS`].
    TooManyLimits,
}

impl DenyKind {
    /// The stable error code the proxy answers with (and `macaroon verify --json` shows).
    pub fn code(self) -> &'static str {
        match self {
            DenyKind::NotSealed
            | DenyKind::UnknownProxyKey
            | DenyKind::CorruptIdentifier
            | DenyKind::BadSignature => "invalid_token",
            DenyKind::HostNotSealed => "host_not_sealed",
            DenyKind::DischargeMissing => "discharge_required",
            DenyKind::BodyTooLarge => "body_too_large",
            DenyKind::TooManyLimits => "too_many_limits",
            DenyKind::SealedExpired | DenyKind::UnknownCaveat | DenyKind::CaveatFailed => "caveat_failed",
        }
    }

    /// True when the token itself is not acceptable (HTTP 401), as opposed to a
    /// valid token that does not allow this request (HTTP 403).
    pub fn is_unauthenticated(self) -> bool {
        matches!(
            self,
            DenyKind::NotSealed
                | DenyKind::UnknownProxyKey
                | DenyKind::CorruptIdentifier
                | DenyKind::BadSignature
        )
    }
}

/// A denial: which check, which caveat if one, and why in plain words.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Denial {
    /// Which check failed.
    pub kind: DenyKind,
    /// The caveat text that failed, when a caveat did.
    pub caveat: Option<String>,
    /// What was wrong, for a person.
    pub reason: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.caveat {
            Some(c) => write!(f, "caveat \"{c}\" failed: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl Denial {
    fn new(kind: DenyKind, reason: impl Into<String>) -> Self {
        Denial {
            kind,
            caveat: None,
            reason: reason.into(),
        }
    }
}

/// The verdict on one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Everything holds: forward it.
    Allow,
    /// Something failed: answer with an error, send nothing upstream.
    Deny(Denial),
}

impl Decision {
    /// True for [`Decision::Allow`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Opens a token's sealed identifier with one of `keys`.
pub fn unseal(token: &Token, keys: &[ProxyKeyPair]) -> Result<Payload, Denial> {
    let id = token.identifier();
    let sid = SealedId::parse(&id)
        .ok_or_else(|| Denial::new(DenyKind::NotSealed, UnsealError::NotSealed.to_string()))?;
    sid.open(keys).map_err(|e| {
        let kind = match e {
            UnsealError::UnknownKey(_) => DenyKind::UnknownProxyKey,
            _ => DenyKind::CorruptIdentifier,
        };
        Denial::new(kind, e.to_string())
    })
}

/// Decides a request: unseal, then [`decide_unsealed`].
pub fn decide(token: &Token, discharges: &[Token], keys: &[ProxyKeyPair], req: &Request) -> Decision {
    match unseal(token, keys) {
        Ok(payload) => decide_unsealed(token, &payload, discharges, req),
        Err(d) => Decision::Deny(d),
    }
}

/// Decides a request for a token whose identifier is already open (the proxy caches
/// payloads). Order: signature chain (with discharges), sealed expiry, sealed hosts, then
/// every first-party caveat of the token and its discharges.
pub fn decide_unsealed(token: &Token, payload: &Payload, discharges: &[Token], req: &Request) -> Decision {
    let predicates = match verify_chain(token, &payload.root, discharges) {
        Ok(p) => p,
        Err(d) => return Decision::Deny(d),
    };
    if let Err(d) = check_sealed(payload, req) {
        return Decision::Deny(d);
    }
    check_predicates(&predicates, req)
}

/// The denial of a token with more than [`MAX_LIMITS`] usage and rate caveats.
fn too_many_limits(n: usize) -> Denial {
    Denial::new(
        DenyKind::TooManyLimits,
        format!(
            "the token carries {n} usage and rate caveats; at most {MAX_LIMITS} are allowed: \
             narrow a token with fewer --uses/--rate caveats"
        ),
    )
}

fn is_counted(c: &Checked) -> bool {
    matches!(c, Checked::Caveat(Caveat::Uses(_) | Caveat::Rate { .. }))
}

/// The checks of what was sealed at wrap time: hard expiry, then the request's host.
fn check_sealed(payload: &Payload, req: &Request) -> Result<(), Denial> {
    if let Some(exp) = payload.exp {
        if unix(req.time) >= exp {
            let at = payload.expires_at().map(fmt_time).unwrap_or_default();
            return Err(Denial::new(
                DenyKind::SealedExpired,
                format!("the wrapped key expired at {at}; wrap it again for a new root token"),
            ));
        }
    }
    if !payload.hosts.contains(&req.host) {
        let hosts: Vec<&str> = payload.hosts.iter().map(|h| h.as_str()).collect();
        return Err(Denial::new(
            DenyKind::HostNotSealed,
            format!(
                "host {} is not one the key was wrapped for ({})",
                req.host,
                hosts.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Checks raw first-party predicates against a request: at most [`MAX_LIMITS`] counted
/// ones, then each in order; the first failure denies.
pub fn check_predicates(predicates: &[Vec<u8>], req: &Request) -> Decision {
    let checked: Vec<Checked> = predicates.iter().map(|raw| Checked::parse(raw)).collect();
    let counted = checked.iter().filter(|c| is_counted(c)).count();
    if counted > MAX_LIMITS {
        return Decision::Deny(too_many_limits(counted));
    }
    let content = Content::new(req);
    for c in &checked {
        if let Err(d) = c.check(req, &content) {
            return Decision::Deny(d);
        }
    }
    Decision::Allow
}

/// One first-party predicate, parsed once: a caveat to check per request, or the denial
/// that a predicate this verifier cannot read always gives.
#[derive(Clone, Debug)]
enum Checked {
    Caveat(Caveat),
    Unreadable(Denial),
}

impl Checked {
    fn parse(raw: &[u8]) -> Checked {
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(_) => {
                return Checked::Unreadable(Denial {
                    kind: DenyKind::UnknownCaveat,
                    caveat: Some(String::from_utf8_lossy(raw).into_owned()),
                    reason: "the caveat is not UTF-8 text, so it cannot be checked".into(),
                })
            }
        };
        match Caveat::parse(text) {
            Ok(c) => Checked::Caveat(c),
            Err(e) => Checked::Unreadable(Denial {
                kind: DenyKind::UnknownCaveat,
                caveat: Some(text.to_string()),
                reason: format!(
                    "this verifier does not understand it, so it denies ({})",
                    e.message
                ),
            }),
        }
    }

    fn heap_bytes(&self) -> usize {
        use crate::caveat::string_heap;
        match self {
            Checked::Caveat(c) => c.heap_bytes(),
            Checked::Unreadable(d) => d.caveat.as_deref().map_or(0, string_heap) + string_heap(&d.reason),
        }
    }

    fn check(&self, req: &Request, content: &Content<'_>) -> Result<(), Denial> {
        match self {
            // The language is strict and canonical: a parsed caveat prints back exactly as
            // it was written, so the denial names the caveat's own text.
            Checked::Caveat(c) => c.check_in(req, content).map_err(|(kind, why)| Denial {
                kind,
                caveat: Some(c.to_string()),
                reason: why,
            }),
            Checked::Unreadable(d) => Err(d.clone()),
        }
    }
}

/// What verifying a token's signature chain produced: the open payload and every
/// first-party caveat of the token and its discharges, parsed. It depends only on the
/// token's bytes, its discharges and the proxy keys, never on a request, so a verifier may
/// keep it for byte-identical tokens (under a [`CacheKey`]); [`Verified::decide`] still runs
/// every request-dependent check (time, method, host, path, sealed expiry and hosts) on
/// each request.
#[derive(Debug)]
pub struct Verified {
    payload: Arc<Payload>,
    caveats: Vec<Checked>,
    fingerprint: String,
    key_id: Option<KeyId>,
    identity: [u8; 32],
    used_discharges: bool,
    needs_body: bool,
    reads_params: bool,
    limits: Vec<Limit>,
    /// The branch ids of the token's chain (see [`crate::branch_id`]): before each caveat,
    /// then its own. The token is in a revoked branch when any of them is revoked.
    branches: Vec<[u8; 32]>,
    /// The `label = NAME` caveats met, in chain order: who holds the token.
    labels: Arc<[String]>,
    weight: usize,
}

impl Verified {
    /// Verifies `token`'s chain from the open `payload`, with `discharges` for its
    /// third-party caveats, and parses every caveat met. A bad chain or a missing
    /// discharge is an error; an unreadable caveat is not (it denies every request).
    pub fn new(token: &Token, payload: Arc<Payload>, discharges: &[Token]) -> Result<Verified, Denial> {
        let mut used_discharges = false;
        let mut sigs = Vec::new();
        let predicates =
            verify_chain_inner(token, &payload.root, discharges, &mut used_discharges, &mut sigs)?;
        let branches: Vec<[u8; 32]> = sigs.iter().map(crate::token::branch_digest).collect();
        let caveats: Vec<Checked> = predicates.iter().map(|p| Checked::parse(&p.text)).collect();
        let labels: Vec<String> = caveats
            .iter()
            .filter_map(|c| match c {
                Checked::Caveat(Caveat::Label(l)) => Some(l.clone()),
                _ => None,
            })
            .collect();
        let limits = limits(&payload, &predicates, &caveats);
        let needs_body = caveats
            .iter()
            .any(|c| matches!(c, Checked::Caveat(c) if c.needs_body()));
        let reads_params = caveats.iter().any(|c| {
            matches!(
                c,
                Checked::Caveat(Caveat::MethodIs(_) | Caveat::MethodIn(_) | Caveat::Query { .. })
            )
        });
        // What the entry keeps alive, estimated from the parsed form (a caveat of many short
        // values holds many times its text) and the payload (shared with the unseal cache,
        // but counted here in full: the entry may outlive the unseal cache's copy).
        let weight = std::mem::size_of::<Verified>()
            + crate::caveat::vec_heap(&caveats)
            + caveats.iter().map(Checked::heap_bytes).sum::<usize>()
            + std::mem::size_of::<Payload>()
            + payload.heap_bytes()
            + 2 * crate::caveat::string_heap("fingerprint-and-key-id")
            + crate::caveat::vec_heap(&limits)
            + crate::caveat::vec_heap(&branches)
            + crate::caveat::vec_heap(&labels)
            + labels
                .iter()
                .map(|l| crate::caveat::string_heap(l))
                .sum::<usize>()
            + limits
                .iter()
                .map(|l| crate::caveat::string_heap(&l.caveat))
                .sum::<usize>();
        Ok(Verified {
            caveats,
            payload,
            fingerprint: token.signature_fingerprint(),
            key_id: token.key_id(),
            identity: token.identity(),
            used_discharges,
            needs_body,
            reads_params,
            limits,
            branches,
            labels: labels.into(),
            weight,
        })
    }

    /// The token's usage and rate caveats (its own and its discharges'), each with the key
    /// its count lives under, in chain order. Empty for most tokens: then nothing is counted.
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// When the token stops being usable: the earliest `time <` caveat or the sealed
    /// expiry. Not a counter's life: that is each [`Limit::expires`].
    pub fn expires_at(&self) -> Option<SystemTime> {
        let caveat_expiry = self
            .caveats
            .iter()
            .filter_map(|c| match c {
                Checked::Caveat(Caveat::TimeBefore(t)) => Some(*t),
                _ => None,
            })
            .min();
        match (caveat_expiry, self.payload.expires_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Decides one request: sealed expiry, sealed hosts, then every caveat in chain order.
    /// Exactly the decision [`decide_unsealed`] gives for the same token and request.
    pub fn decide(&self, req: &Request) -> Decision {
        self.decide_where(req, |_| true)
    }

    /// Decides everything that does not need the body: the sealed checks and every caveat
    /// but `form`, `json`, `body size`, `mcp` and `graphql`. The proxy asks this before it reads a body (and
    /// before it answers `Expect: 100-continue`), then [`Verified::decide`] with the body.
    pub fn decide_before_body(&self, req: &Request) -> Decision {
        self.decide_where(req, |c| !matches!(c, Checked::Caveat(c) if c.needs_body()))
    }

    fn decide_where(&self, req: &Request, include: impl Fn(&Checked) -> bool) -> Decision {
        if let Err(d) = check_sealed(&self.payload, req) {
            return Decision::Deny(d);
        }
        if self.limits.len() > MAX_LIMITS {
            return Decision::Deny(too_many_limits(self.limits.len()));
        }
        let content = Content::new(req);
        for c in self.caveats.iter().filter(|c| include(c)) {
            if let Err(d) = c.check(req, &content) {
                return Decision::Deny(d);
            }
        }
        Decision::Allow
    }

    /// The open sealed payload.
    pub fn payload(&self) -> &Arc<Payload> {
        &self.payload
    }

    /// The branch digests of the token's chain, root first and its own last (see
    /// [`crate::branch_id`]).
    pub fn branches(&self) -> &[[u8; 32]] {
        &self.branches
    }

    /// The token's labels (`label = NAME`), in chain order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The labels, shared (for records that outlive the request).
    pub fn shared_labels(&self) -> Arc<[String]> {
        self.labels.clone()
    }

    /// The token's signature fingerprint ([`Token::signature_fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The proxy key id the token is sealed to.
    pub fn key_id(&self) -> Option<KeyId> {
        self.key_id
    }

    /// The token's [`Token::identity`].
    pub fn identity(&self) -> &[u8; 32] {
        &self.identity
    }

    /// True when a discharge took part in the chain: then the result depends on the
    /// discharges too, and must not be kept under the token's text alone.
    pub fn used_discharges(&self) -> bool {
        self.used_discharges
    }

    /// True when a caveat of the token or of its discharges is on the body (`form`,
    /// `json`, `body size`): the proxy must read the body whole into
    /// [`crate::BodyView::Read`] before [`Verified::decide`]; unread, such caveats deny.
    pub fn needs_body(&self) -> bool {
        self.needs_body
    }

    /// True when the body must be read whole before [`Verified::decide`], for a request
    /// whose `Content-Type` is `content_type`: a token with body caveats always; one with
    /// `method` or `query` caveats when the body is a form or JSON, which frameworks read
    /// `_method` and query fields from ([`crate::params_in_body`]). Other bodies
    /// stream.
    pub fn needs_body_for(&self, content_type: Option<&str>) -> bool {
        self.needs_body || (self.reads_params && content_type.is_some_and(crate::content::params_in_body))
    }

    /// The tools a `tools/list` result may show: those every `mcp tool in` caveat of the
    /// token (and its discharges) allows ([`crate::mcp::allowed_tools`]); `None` without one.
    pub fn mcp_tools(&self) -> Option<Vec<String>> {
        crate::mcp::allowed_tools(self.caveats.iter().filter_map(|c| match c {
            Checked::Caveat(c) => Some(c),
            Checked::Unreadable(_) => None,
        }))
    }

    /// About how many bytes of memory this verification keeps alive.
    pub fn weight(&self) -> usize {
        self.weight
    }
}

/// The key a verified token may be kept under: the SHA-256 of the token's text exactly as
/// it was presented. A hit means the very same bytes were verified before, so the HMAC
/// chain and the caveat parsing may be skipped; every request is still decided on its own
/// by [`Verified::decide`]. A digest, never the signature: a token with caveats cut off
/// keeps signature-like bytes but is other text, so it misses and is verified (and
/// fails). The digest also keeps the key small and lookups free of token bytes. (The proxy
/// keeps these in a bounded cache that evicts the least useful entries first.)
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheKey(..)")
    }
}

impl CacheKey {
    /// The key for a token's text, exactly as it was presented.
    pub fn of(text: &str) -> CacheKey {
        CacheKey(crypto::sha256(text.as_bytes()))
    }
}

/// The counted caveats among `predicates`, keyed by family, chain position and text, each
/// bounded by the expiry in force at it: the sealed one and the `time <` caveats before it
/// in its own macaroon (a discharge's times never bound the token's counts, nor the other
/// way round: either can be paired with another of the other kind).
fn limits(payload: &Payload, predicates: &[Predicate], caveats: &[Checked]) -> Vec<Limit> {
    let sealed = payload.expires_at();
    let mut in_force: HashMap<usize, SystemTime> = HashMap::new();
    predicates
        .iter()
        .zip(caveats)
        .filter_map(|(p, c)| {
            if let Checked::Caveat(Caveat::TimeBefore(t)) = c {
                let e = in_force.entry(p.scope).or_insert(*t);
                *e = (*e).min(*t);
            }
            let expires = match (in_force.get(&p.scope), sealed) {
                (Some(a), Some(b)) => Some((*a).min(b)),
                (a, b) => a.copied().or(b),
            };
            let kind = match c {
                Checked::Caveat(Caveat::Uses(max)) => LimitKind::Uses(*max),
                Checked::Caveat(Caveat::Rate { max, window }) => LimitKind::Rate {
                    max: *max,
                    window: window.duration(),
                },
                _ => return None,
            };
            Some(Limit {
                key: crate::limit::counter_key(&payload.kid, &p.sig_before, &p.text),
                kind,
                caveat: String::from_utf8_lossy(&p.text).into_owned(),
                expires,
            })
        })
        .collect()
}

/// Verifies the HMAC chain of `token` from `root`, with discharges for its third-party
/// caveats, and returns every first-party predicate met on the way (token and discharges).
pub fn verify_chain(token: &Token, root: &RootKey, discharges: &[Token]) -> Result<Vec<Vec<u8>>, Denial> {
    let predicates = verify_chain_inner(token, root, discharges, &mut false, &mut Vec::new())?;
    Ok(predicates.into_iter().map(|p| p.text).collect())
}

/// The branch ids ([`crate::branch_id`]) of every token on `token`'s chain, root first and
/// its own last, once the chain verifies from `root` (discharges are not needed: only the
/// token's own chain is walked, and third-party caveats are not checked).
pub fn chain_branch_ids(token: &Token, root: &RootKey) -> Vec<String> {
    let mac = token.macaroon();
    let mut sig = crypto::hmac(&root.derived(), &mac.identifier().0);
    let mut ids = Vec::new();
    for c in mac.caveats() {
        ids.push(crate::token::branch_id_of(&sig));
        sig = match &c {
            macaroon::Caveat::FirstParty(fp) => crypto::hmac(&sig, &fp.predicate().0),
            macaroon::Caveat::ThirdParty(tp) => crypto::hmac2(&sig, &tp.verifier_id().0, &tp.id().0),
        };
    }
    ids.push(crate::token::branch_id_of(&sig));
    ids
}

/// A first-party caveat met on the chain, with the chain's signature just before it (what
/// a usage or rate caveat's counter key is derived from).
struct Predicate {
    text: Vec<u8>,
    sig_before: [u8; 32],
    /// Which macaroon it is in: 0 the token, then each discharge met, in order.
    scope: usize,
}

fn verify_chain_inner(
    token: &Token,
    root: &RootKey,
    discharges: &[Token],
    used_discharges: &mut bool,
    sigs: &mut Vec<[u8; 32]>,
) -> Result<Vec<Predicate>, Denial> {
    let mut by_id: HashMap<Vec<u8>, &Token> = HashMap::new();
    for d in discharges {
        by_id.entry(d.identifier()).or_insert(d);
    }
    let presented = by_id.len();
    let root_sig = token.signature();
    let mut predicates = Vec::new();
    chain(
        token,
        &root.derived(),
        &root_sig,
        true,
        &mut by_id,
        &mut predicates,
        (0, &mut 0, sigs),
    )?;
    *used_discharges = by_id.len() < presented;
    Ok(predicates)
}

fn chain(
    m: &Token,
    key: &[u8; 32],
    root_sig: &[u8; 32],
    is_root: bool,
    discharges: &mut HashMap<Vec<u8>, &Token>,
    predicates: &mut Vec<Predicate>,
    (depth, scopes, sigs): (usize, &mut usize, &mut Vec<[u8; 32]>),
) -> Result<(), Denial> {
    let scope = *scopes;
    let bad_sig = || {
        Denial::new(
            DenyKind::BadSignature,
            if is_root {
                "the token's signature does not verify: it was altered, truncated or forged"
            } else {
                "a discharge's signature does not verify, or it is not bound to this token"
            },
        )
    };
    let mac = m.macaroon();
    let mut sig = crypto::hmac(key, &mac.identifier().0);
    for c in mac.caveats() {
        if is_root {
            sigs.push(sig);
        }
        match &c {
            macaroon::Caveat::FirstParty(fp) => predicates.push(Predicate {
                text: fp.predicate().0,
                sig_before: sig,
                scope,
            }),
            macaroon::Caveat::ThirdParty(tp) => {
                let missing = |why: &str| Denial {
                    kind: DenyKind::DischargeMissing,
                    caveat: Some(format!("third-party caveat at {}", tp.location())),
                    reason: why.to_string(),
                };
                if depth >= MAX_DISCHARGE_DEPTH {
                    return Err(missing("discharges nest too deeply"));
                }
                let caveat_key = crypto::open_caveat_key(&sig, &tp.verifier_id().0).ok_or_else(bad_sig)?;
                let d = discharges.remove(&tp.id().0).ok_or_else(|| {
                    missing("no discharge was presented for it (send one in a Macaroon-Discharge header)")
                })?;
                *scopes += 1;
                chain(
                    d,
                    &caveat_key,
                    root_sig,
                    false,
                    discharges,
                    predicates,
                    (depth + 1, &mut *scopes, &mut Vec::new()),
                )?;
            }
        }
        // libmacaroons: HMAC(sig, predicate) for first-party caveats,
        // hash2(sig, verifier id, caveat id) for third-party ones.
        sig = match &c {
            macaroon::Caveat::FirstParty(fp) => crypto::hmac(&sig, &fp.predicate().0),
            macaroon::Caveat::ThirdParty(tp) => crypto::hmac2(&sig, &tp.verifier_id().0, &tp.id().0),
        };
    }
    if is_root {
        sigs.push(sig);
    }
    let expected = if is_root {
        sig
    } else {
        crypto::bind(root_sig, &sig)
    };
    if crypto::mac_eq(&expected, &m.signature()) {
        Ok(())
    } else {
        Err(bad_sig())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::path::RequestPath;
    use crate::request::Method;
    use crate::sealed::{Injection, Secret};
    use crate::token::MintRequest;
    use std::time::{Duration, SystemTime};

    fn setup() -> (ProxyKeyPair, Token, SystemTime) {
        let proxy = ProxyKeyPair::generate();
        let now = SystemTime::now();
        let root = Token::mint(
            proxy.public(),
            MintRequest {
                secret: Secret::new("sk_test_cache".into()),
                inject: Injection::Bearer,
                hosts: vec![Host::normalize("api.stripe.com").expect("host")],
                expires: None,
                location: None,
                issuer: crate::IssuerKey::generate(),
            },
            now,
        )
        .expect("mint");
        (proxy, root, now)
    }

    fn get(now: SystemTime, path: &str) -> Request {
        Request::new(
            now,
            Method::new("GET").expect("method"),
            Host::normalize("api.stripe.com").expect("host"),
            RequestPath::parse(path).expect("path"),
        )
    }

    fn verified(proxy: &ProxyKeyPair, token: &Token, discharges: &[Token]) -> Result<Verified, Denial> {
        let payload = Arc::new(unseal(token, std::slice::from_ref(proxy)).expect("unseals"));
        Verified::new(token, payload, discharges)
    }

    #[test]
    fn a_branch_holds_a_token_and_its_children_not_its_siblings() {
        let (proxy, root, _) = setup();
        let payload = Arc::new(unseal(&root, std::slice::from_ref(&proxy)).expect("unseal"));
        let agent = root.attenuate(&Caveat::Label("agent".into()));
        let child = agent.attenuate(&Caveat::Label("sub".into()));
        let sibling = root.attenuate(&Caveat::Label("other".into()));
        let ids = |t: &Token| -> Vec<String> {
            Verified::new(t, payload.clone(), &[])
                .expect("verified")
                .branches()
                .iter()
                .map(hex::encode)
                .collect()
        };
        let agent_id = agent.branch_id();
        assert!(agent_id.starts_with(&agent.signature_fingerprint()));
        assert_eq!(ids(&agent).last(), Some(&agent_id));
        assert!(ids(&child).contains(&agent_id));
        assert!(!ids(&sibling).contains(&agent_id));
        assert!(!ids(&root).contains(&agent_id));
        assert!(
            ids(&sibling).contains(&root.branch_id()),
            "the root's branch is the family"
        );
        assert_eq!(ids(&child), chain_branch_ids(&child, &payload.root));
        let v = Verified::new(&child, payload, &[]).expect("verified");
        assert_eq!(v.labels(), ["agent".to_string(), "sub".to_string()]);
    }

    #[test]
    fn a_token_with_a_caveat_cut_off_has_another_key_and_fails() {
        let (proxy, root, now) = setup();
        let narrow = root
            .attenuate(&Caveat::parse("path prefix /v1/charges").expect("caveat"))
            .attenuate(&Caveat::TimeBefore(now + Duration::from_secs(600)));
        let text = narrow.encode();
        let kept = verified(&proxy, &narrow, &[]).expect("verifies");
        // The same token in another encoding is other text: another key, verified on its own.
        let json = narrow.encode_as(crate::token::WireFormat::V2Json);
        assert_ne!(CacheKey::of(&json), CacheKey::of(&text));
        // Cut the path caveat out: the signature bytes stay the same, the text does not;
        // its key differs, and the full verification refuses it.
        let mut doc: serde_json::Value = serde_json::from_str(&json).expect("json");
        doc["c"].as_array_mut().expect("caveats").remove(0);
        let forged = Token::decode(&doc.to_string()).expect("decodes");
        assert_ne!(CacheKey::of(&forged.encode()), CacheKey::of(&text));
        let d = verified(&proxy, &forged, &[]).expect_err("forged");
        assert_eq!(d.kind, DenyKind::BadSignature);
        // What is kept still decides each request: a path outside the prefix is denied.
        assert!(kept.decide(&get(now, "/v1/charges/ch_1")).is_allowed());
        assert!(!kept.decide(&get(now, "/v1/refunds")).is_allowed());
        assert!(!kept
            .decide(&get(now + Duration::from_secs(601), "/v1/charges"))
            .is_allowed());
    }

    #[test]
    fn form_or_json_bodies_are_read_under_method_and_query_caveats() {
        let (proxy, root, _) = setup();
        let with = |c: &str| verified(&proxy, &root.attenuate(&limit(c)), &[]).expect("verifies");
        let form = Some("application/x-www-form-urlencoded");
        for c in ["method = POST", "method in GET POST", "query limit = 10"] {
            let v = with(c);
            assert!(!v.needs_body(), "{c}");
            assert!(v.needs_body_for(form), "{c}");
            assert!(
                v.needs_body_for(Some("application/vnd.api+json; charset=latin1")),
                "{c}"
            );
            assert!(!v.needs_body_for(Some("text/plain")), "{c}");
            assert!(!v.needs_body_for(Some("multipart/form-data; boundary=x")), "{c}");
            assert!(!v.needs_body_for(None), "{c}");
        }
        let v = with("path prefix /v1");
        assert!(!v.needs_body_for(form), "no caveat reads parameters");
        let v = with("form amount <= 5");
        assert!(v.needs_body_for(None) && v.needs_body_for(Some("text/plain")));
    }

    fn limit(c: &str) -> Caveat {
        Caveat::parse(c).expect("caveat")
    }

    #[test]
    fn a_limit_counts_for_the_token_and_everything_attenuated_from_it() {
        let (proxy, root, now) = setup();
        let shared = root.attenuate(&limit("uses <= 20"));
        let v = verified(&proxy, &shared, &[]).expect("verifies");
        assert_eq!(v.limits().len(), 1);
        assert_eq!(v.limits()[0].kind, LimitKind::Uses(20));
        assert_eq!(v.limits()[0].caveat, "uses <= 20");
        // A narrower child counts under the same key: its holder cannot reset the count.
        let child = shared
            .attenuate(&limit("method = GET"))
            .attenuate(&limit("rate <= 60/1m"));
        let c = verified(&proxy, &child, &[]).expect("verifies");
        assert_eq!(c.limits().len(), 2);
        assert_eq!(c.limits()[0].key, v.limits()[0].key);
        assert_eq!(
            c.limits()[1].kind,
            LimitKind::Rate {
                max: 60,
                window: Duration::from_secs(60)
            }
        );
        // The same caveat added after a different chain counts on its own.
        let other = root
            .attenuate(&limit("method = GET"))
            .attenuate(&limit("uses <= 20"));
        let o = verified(&proxy, &other, &[]).expect("verifies");
        assert_ne!(o.limits()[0].key, v.limits()[0].key);
        // Usage and rate caveats hold for every single request: the proxy counts them.
        assert!(c.decide(&get(now, "/v1/charges")).is_allowed());
        assert!(verified(&proxy, &root, &[]).expect("root").limits().is_empty());
    }

    #[test]
    fn a_limits_key_never_shows_in_debug_output() {
        let (proxy, root, _) = setup();
        let t = root.attenuate(&limit("uses <= 3"));
        let v = verified(&proxy, &t, &[]).expect("verifies");
        let shown = format!("{:?}", v.limits());
        assert!(shown.contains("uses <= 3"), "{shown}");
        assert!(!shown.contains(&v.limits()[0].key_hex()), "{shown}");
        assert!(!shown.contains("key"), "{shown}");
    }

    #[test]
    fn expiry_is_the_earliest_time_caveat_or_the_sealed_one() {
        let (proxy, root, now) = setup();
        let v = verified(&proxy, &root, &[]).expect("root");
        assert_eq!(v.expires_at(), None);
        let soon = now + Duration::from_secs(600);
        let t = root
            .attenuate(&Caveat::TimeBefore(now + Duration::from_secs(3600)))
            .attenuate(&Caveat::TimeBefore(soon));
        let v = verified(&proxy, &t, &[]).expect("verifies");
        let got = v.expires_at().expect("expiry");
        // Caveat times are to the second.
        assert!(got <= soon && soon.duration_since(got).unwrap_or_default() < Duration::from_secs(1));
    }

    #[test]
    fn a_counter_lives_as_long_as_the_expiry_in_force_at_its_caveat() {
        let (proxy, root, now) = setup();
        let hour = now + Duration::from_secs(3600);
        let parent = root
            .attenuate(&Caveat::TimeBefore(hour))
            .attenuate(&limit("uses <= 3"));
        let p = verified(&proxy, &parent, &[]).expect("verifies");
        let bound = p.limits()[0].expires.expect("bounded");
        assert!(bound <= hour && hour.duration_since(bound).unwrap_or_default() < Duration::from_secs(1));
        // A 3-second child (and a rate it adds after) never shortens the family's count.
        let child = parent
            .attenuate(&Caveat::TimeBefore(now + Duration::from_secs(3)))
            .attenuate(&limit("rate <= 5/1m"));
        let c = verified(&proxy, &child, &[]).expect("verifies");
        assert_eq!(c.limits()[0].key, p.limits()[0].key);
        assert_eq!(c.limits()[0].expires, Some(bound));
        assert!(c.limits()[1].expires < Some(bound));
        // A count with no expiry before it is unbounded, whatever comes after.
        let open = root
            .attenuate(&limit("uses <= 3"))
            .attenuate(&Caveat::TimeBefore(hour));
        assert_eq!(
            verified(&proxy, &open, &[]).expect("verifies").limits()[0].expires,
            None
        );
        // A discharge's expiry does not bound the token's own counts.
        let key = b"0123456789abcdef0123456789abcdef";
        let token = parent.add_third_party("https://approve.example", key, b"approve-1");
        let discharge = Token::discharge(None, key, b"approve-1")
            .expect("discharge")
            .attenuate(&Caveat::TimeBefore(now + Duration::from_secs(2)));
        let v = verified(&proxy, &token, &[token.bind(&discharge)]).expect("verifies");
        assert_eq!(v.limits()[0].expires, Some(bound));
    }

    #[test]
    fn more_than_eight_counted_caveats_deny_before_anything_is_counted() {
        let (proxy, root, now) = setup();
        let mut t = root;
        for i in 1..=MAX_LIMITS {
            t = t.attenuate(&limit(&format!("uses <= {i}")));
        }
        let eight = verified(&proxy, &t, &[]).expect("verifies");
        assert!(eight.decide(&get(now, "/")).is_allowed());
        let nine = t.attenuate(&limit("rate <= 9/1m"));
        let v = verified(&proxy, &nine, &[]).expect("verifies");
        let Decision::Deny(d) = v.decide(&get(now, "/")) else {
            panic!("a ninth counted caveat was allowed")
        };
        assert_eq!(
            (d.kind, d.kind.code()),
            (DenyKind::TooManyLimits, "too_many_limits")
        );
        assert!(!d.kind.is_unauthenticated());
        assert!(d.reason.contains("at most 8"), "{}", d.reason);
        // The path without a cache (what `macaroon verify` uses) says the same.
        let Decision::Deny(d) = decide(&nine, &[], std::slice::from_ref(&proxy), &get(now, "/")) else {
            panic!("allowed")
        };
        assert_eq!(d.kind, DenyKind::TooManyLimits);
    }

    /// A caveat of many one-character values is small text and a large parsed form; the
    /// weight must follow the parsed form, or a budget of bytes would hold hundreds of MB.
    #[test]
    fn weight_follows_the_parsed_form_not_the_text() {
        let (proxy, root, _) = setup();
        let many = format!("path prefix {}", vec!["/"; 20_000].join(" "));
        let t = root.attenuate_raw(many.as_bytes());
        let v = verified(&proxy, &t, &[]).expect("verifies");
        // 20,000 paths, each two strings and a struct: well over 100 bytes each.
        assert!(v.weight() > 20_000 * 100, "weight {}", v.weight());
        let small = verified(&proxy, &root, &[]).expect("verifies");
        assert!(small.weight() < 2_000, "weight {}", small.weight());
    }

    #[test]
    fn a_result_that_used_a_discharge_says_so() {
        let (proxy, root, now) = setup();
        let key = b"0123456789abcdef0123456789abcdef";
        let token = root.add_third_party("https://approve.example", key, b"approve-1");
        let discharge = Token::discharge(None, key, b"approve-1").expect("discharge");
        let bound = token.bind(&discharge);
        let v = verified(&proxy, &token, &[bound]).expect("verifies");
        assert!(v.used_discharges());
        assert!(v.decide(&get(now, "/")).is_allowed());
        // Without its discharge the same token does not verify at all.
        assert_eq!(
            verified(&proxy, &token, &[]).expect_err("missing").kind,
            DenyKind::DischargeMissing
        );
        // A discharge presented but not needed leaves the result cacheable.
        let plain = verified(&proxy, &root, &[token.bind(&discharge)]).expect("verifies");
        assert!(!plain.used_discharges());
    }
}
