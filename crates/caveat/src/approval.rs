//! Approvals as macaroons: a third-party caveat whose third party is the proxy itself.
//!
//! `attenuate --approval` adds a standard third-party caveat, offline, with only the
//! proxy's public key: location [`APPROVAL_LOCATION`], caveat id `"ap1"` | proxy key id |
//! sealed box (to the proxy key) of `{"key","scope","nonce"}`. Only the proxy can open it;
//! when a person approves, the proxy mints the discharge from the sealed caveat key,
//! narrowed to what was approved, and the ordinary discharge verification checks it. So
//! "a person approved this" is itself a macaroon, and nothing here trusts a flag or a
//! database row.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::{KeyId, ProxyKeyPair, PublicKey};
use crate::request::{BodyView, Request};

/// The location of an approval caveat.
pub const APPROVAL_LOCATION: &str = "macaroon:approval";
/// The first bytes of an approval caveat id.
pub const APPROVAL_PREFIX: &[u8; 3] = b"ap1";
/// The longest window an approval may ask for (a day): longer is a standing grant, which a
/// token without the caveat already is.
pub const MAX_APPROVAL_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// What an approval covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalScope {
    /// One exact request (method, host, path, query and body).
    Once,
    /// Every request like the one approved for this long.
    Window(Duration),
}

impl ApprovalScope {
    /// `once`, or a duration (`10m`, `1h`), at most [`MAX_APPROVAL_WINDOW`].
    pub fn parse(text: &str) -> Result<ApprovalScope, String> {
        if text == "once" {
            return Ok(ApprovalScope::Once);
        }
        let d = humantime::parse_duration(text).map_err(|_| {
            format!("{text:?} is not an approval scope; use once or a duration like 10m or 1h")
        })?;
        if d.is_zero() || d > MAX_APPROVAL_WINDOW {
            return Err(format!(
                "an approval window is more than 0 and at most 24h, not {text}"
            ));
        }
        Ok(ApprovalScope::Window(Duration::from_secs(d.as_secs().max(1))))
    }

    /// The scope as the caveat id holds it (`once`, `10m`, `1h 30m`).
    pub fn text(&self) -> String {
        match self {
            ApprovalScope::Once => "once".into(),
            ApprovalScope::Window(d) => humantime::format_duration(*d).to_string(),
        }
    }

    /// In plain words, for `inspect`.
    pub fn explain(&self) -> String {
        match self {
            ApprovalScope::Once => "needs a person's approval for each request".into(),
            ApprovalScope::Window(d) => format!(
                "needs a person's approval, good for {}",
                humantime::format_duration(*d)
            ),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    key: String,
    scope: String,
    nonce: String,
}

/// An approval caveat, opened by the proxy.
#[derive(Clone)]
pub struct ApprovalCaveat {
    /// The caveat root key: the discharge is minted from it.
    pub key: Zeroizing<[u8; 32]>,
    /// What an approval covers.
    pub scope: ApprovalScope,
}

impl std::fmt::Debug for ApprovalCaveat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalCaveat")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ApprovalCaveat {
    /// A fresh caveat key for `scope`.
    pub fn new(scope: ApprovalScope) -> ApprovalCaveat {
        ApprovalCaveat {
            key: Zeroizing::new(crate::crypto::random::<32>()),
            scope,
        }
    }

    /// The caveat id, sealed to the proxy key `to`.
    pub fn seal(&self, to: &PublicKey) -> Vec<u8> {
        let wire = Wire {
            key: STANDARD.encode(*self.key),
            scope: self.scope.text(),
            nonce: hex::encode(crate::crypto::random::<12>()),
        };
        let json = Zeroizing::new(serde_json::to_vec(&wire).unwrap_or_default());
        let mut id = APPROVAL_PREFIX.to_vec();
        id.extend_from_slice(&to.key_id().0);
        id.extend_from_slice(&to.seal(&json));
        id
    }

    /// Opens an approval caveat id with one of `keys`; `None` if it is not one of ours.
    pub fn open(id: &[u8], keys: &[ProxyKeyPair]) -> Option<ApprovalCaveat> {
        let key_id = approval_key_id(id)?;
        let pair = keys.iter().find(|k| k.key_id() == key_id)?;
        let plain = pair.open(&id[3 + 8..])?;
        let wire: Wire = serde_json::from_slice(&plain).ok()?;
        let raw = Zeroizing::new(STANDARD.decode(&wire.key).ok()?);
        let key: [u8; 32] = raw.as_slice().try_into().ok()?;
        Some(ApprovalCaveat {
            key: Zeroizing::new(key),
            scope: ApprovalScope::parse(&wire.scope).ok()?,
        })
    }
}

/// The proxy key id an approval caveat id is sealed to, if it is one.
pub fn approval_key_id(id: &[u8]) -> Option<KeyId> {
    let rest = id.strip_prefix(APPROVAL_PREFIX.as_slice())?;
    let kid: [u8; 8] = rest.get(..8)?.try_into().ok()?;
    Some(KeyId(kid))
}

/// SHA-256 over the method, host, path, raw query and body of `req`, as `request digest`
/// caveats name one exact request. Each part but the body ends with a line feed, which
/// none of them may contain, so no two requests share the bytes hashed. `None` when the
/// body was not read.
pub fn request_digest(req: &Request) -> Option<[u8; 32]> {
    let BodyView::Read(body) = &req.body else {
        return None;
    };
    let mut bytes = Vec::with_capacity(64 + body.bytes.len());
    for part in [
        req.method.as_str(),
        req.host.as_str(),
        &req.path.to_string(),
        req.query.as_deref().unwrap_or(""),
    ] {
        bytes.extend_from_slice(part.as_bytes());
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(&body.bytes);
    Some(crate::crypto::sha256(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_approval_caveat_opens_only_with_its_proxy_key() {
        let proxy = ProxyKeyPair::generate();
        let other = ProxyKeyPair::generate();
        let c = ApprovalCaveat::new(ApprovalScope::parse("10m").expect("scope"));
        let id = c.seal(proxy.public());
        assert!(id.starts_with(b"ap1"));
        assert_eq!(approval_key_id(&id), Some(proxy.key_id()));
        let opened = ApprovalCaveat::open(&id, std::slice::from_ref(&proxy)).expect("opens");
        assert_eq!(*opened.key, *c.key);
        assert_eq!(opened.scope, ApprovalScope::Window(Duration::from_secs(600)));
        assert!(ApprovalCaveat::open(&id, &[other]).is_none());
        assert!(ApprovalCaveat::open(b"mk1xxxxxxxx", std::slice::from_ref(&proxy)).is_none());
        // Two caveats for the same scope never share an id.
        assert_ne!(id, ApprovalCaveat::new(ApprovalScope::Once).seal(proxy.public()));
    }

    #[test]
    fn scopes_parse_strictly() {
        assert_eq!(ApprovalScope::parse("once"), Ok(ApprovalScope::Once));
        assert_eq!(ApprovalScope::parse("1h").map(|s| s.text()), Ok("1h".to_string()));
        for bad in ["", "0s", "25h", "forever", "ONCE"] {
            assert!(ApprovalScope::parse(bad).is_err(), "{bad}");
        }
        assert!(ApprovalScope::Once.explain().contains("each request"));
        assert!(ApprovalScope::parse("10m")
            .expect("ok")
            .explain()
            .contains("good for 10m"));
    }
}
