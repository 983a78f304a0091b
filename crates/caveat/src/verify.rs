//! The one decision: may this request go through with this token?
//!
//! We verify the HMAC chain ourselves instead of using the `macaroon` crate's `Verifier`:
//! it compares signatures with `==` (not constant time), accepts caveats only through
//! plain function pointers (no request context), and reports failures as strings. Here
//! the chain is a dozen lines over libsodium (the same primitives the crate uses), every
//! MAC comparison is constant time, discharges must be bound to the presented token, and
//! each first-party caveat of the token *and* of every discharge is parsed and checked
//! against the request. Anything not understood denies.

use std::collections::HashMap;
use std::fmt;

use crate::caveat::{fmt_time, Caveat};
use crate::crypto;
use crate::keys::ProxyKeyPair;
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
    /// A third-party caveat has no (valid) discharge.
    DischargeMissing,
}

impl DenyKind {
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
    if let Some(exp) = payload.exp {
        if unix(req.time) >= exp {
            let at = payload.expires_at().map(fmt_time).unwrap_or_default();
            return Decision::Deny(Denial::new(
                DenyKind::SealedExpired,
                format!("the wrapped key expired at {at}; wrap it again for a new root token"),
            ));
        }
    }
    if !payload.hosts.contains(&req.host) {
        let hosts: Vec<&str> = payload.hosts.iter().map(|h| h.as_str()).collect();
        return Decision::Deny(Denial::new(
            DenyKind::HostNotSealed,
            format!(
                "host {} is not one the key was wrapped for ({})",
                req.host,
                hosts.join(", ")
            ),
        ));
    }
    check_predicates(&predicates, req)
}

/// Checks raw first-party predicates against a request; the first failure denies.
pub fn check_predicates(predicates: &[Vec<u8>], req: &Request) -> Decision {
    for raw in predicates {
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(_) => {
                return Decision::Deny(Denial {
                    kind: DenyKind::UnknownCaveat,
                    caveat: Some(String::from_utf8_lossy(raw).into_owned()),
                    reason: "the caveat is not UTF-8 text, so it cannot be checked".into(),
                })
            }
        };
        let caveat = match Caveat::parse(text) {
            Ok(c) => c,
            Err(e) => {
                return Decision::Deny(Denial {
                    kind: DenyKind::UnknownCaveat,
                    caveat: Some(text.to_string()),
                    reason: format!(
                        "this verifier does not understand it, so it denies ({})",
                        e.message
                    ),
                })
            }
        };
        if let Err(why) = caveat.check(req) {
            return Decision::Deny(Denial {
                kind: DenyKind::CaveatFailed,
                caveat: Some(text.to_string()),
                reason: why,
            });
        }
    }
    Decision::Allow
}

/// Verifies the HMAC chain of `token` from `root`, with discharges for its third-party
/// caveats, and returns every first-party predicate met on the way (token and discharges).
pub fn verify_chain(token: &Token, root: &RootKey, discharges: &[Token]) -> Result<Vec<Vec<u8>>, Denial> {
    crypto::init();
    let mut by_id: HashMap<Vec<u8>, &Token> = HashMap::new();
    for d in discharges {
        by_id.entry(d.identifier()).or_insert(d);
    }
    let root_sig = token.signature();
    let mut predicates = Vec::new();
    chain(
        token,
        &root.derived(),
        &root_sig,
        true,
        &mut by_id,
        &mut predicates,
        0,
    )?;
    Ok(predicates)
}

fn chain(
    m: &Token,
    key: &[u8; 32],
    root_sig: &[u8; 32],
    is_root: bool,
    discharges: &mut HashMap<Vec<u8>, &Token>,
    predicates: &mut Vec<Vec<u8>>,
    depth: usize,
) -> Result<(), Denial> {
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
        match &c {
            macaroon::Caveat::FirstParty(fp) => predicates.push(fp.predicate().0),
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
                chain(d, &caveat_key, root_sig, false, discharges, predicates, depth + 1)?;
            }
        }
        let next = c.sign(&macaroon::MacaroonKey::from(sig));
        sig = *<macaroon::MacaroonKey as AsRef<[u8; 32]>>::as_ref(&next);
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
