//! Issuers: who wrapped a key. The proxy's public key is public (`wrap` needs it), so
//! sealing alone would let anyone — an agent inside the sandbox included — wrap a secret
//! of its own for any host and use the proxy as an open relay. So every sealed payload is
//! signed with an issuer's Ed25519 key; the issuer's public key (`iss`) and the signature
//! (`sig`) travel inside the sealed box, and the proxy opens only payloads signed by an
//! issuer it trusts.
//!
//! The signature covers the payload's *canonical* JSON: every field but `sig`, object
//! keys sorted, no whitespace, UTF-8 (Python: `json.dumps(p, sort_keys=True,
//! separators=(",", ":"), ensure_ascii=False)`), after the domain prefix
//! [`SIGNING_CONTEXT`], so the signature cannot be replayed as anything else.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::crypto;

/// What an issuer signature covers, before the canonical payload.
pub const SIGNING_CONTEXT: &[u8] = b"macaroon-issuer-v1\n";

/// Why an issuer key or signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// Not 32 bytes of base64.
    #[error(
        "{what} is not an issuer key: expected 32 bytes as base64 on one line, but {why}; copy the key \
         again exactly as `macaroon issuer show` printed it"
    )]
    Malformed {
        /// What was read.
        what: String,
        /// The decoding problem.
        why: String,
    },
    /// The signature does not verify.
    #[error("the issuer signature does not match the sealed payload: it was altered after signing")]
    BadSignature,
}

/// An issuer's private signing key. Wiped on drop; never printed.
#[derive(Clone)]
pub struct IssuerKey(SigningKey);

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerKey({}, private key redacted)", self.public())
    }
}

impl IssuerKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let seed = Zeroizing::new(crypto::random::<32>());
        IssuerKey(SigningKey::from_bytes(&seed))
    }

    /// From the 32 private key bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        IssuerKey(SigningKey::from_bytes(bytes))
    }

    /// From its one-line base64 text (as stored in `issuer.key`).
    pub fn from_base64(text: &str, what: &str) -> Result<Self, IssuerError> {
        let bytes = decode32(text, what)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The private key as base64, for storing it (0600 file or keyring).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.to_bytes()))
    }

    /// The public half.
    pub fn public(&self) -> IssuerPublic {
        IssuerPublic(self.0.verifying_key())
    }

    /// Signs a sealed payload given as a JSON object (for tools and tests that build
    /// payloads by hand): sets its `iss` and `sig`, replacing any there were.
    pub fn sign_json(&self, payload: &mut serde_json::Value) {
        if let Some(m) = payload.as_object_mut() {
            m.remove("sig");
            m.insert("iss".into(), self.public().to_string().into());
        }
        let sig = STANDARD.encode(self.sign(&canonical_json(payload)));
        if let Some(m) = payload.as_object_mut() {
            m.insert("sig".into(), sig.into());
        }
    }

    /// Signs a payload's canonical bytes.
    pub(crate) fn sign(&self, canonical: &[u8]) -> [u8; 64] {
        let mut msg = Vec::with_capacity(SIGNING_CONTEXT.len() + canonical.len());
        msg.extend_from_slice(SIGNING_CONTEXT);
        msg.extend_from_slice(canonical);
        let sig = self.0.sign(&msg).to_bytes();
        zeroize::Zeroize::zeroize(&mut msg);
        sig
    }
}

/// An issuer's public key: what an operator trusts. Shown as standard base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IssuerPublic(VerifyingKey);

impl IssuerPublic {
    /// From its one-line base64 text (`macaroon issuer show`, an `issuers` file line).
    pub fn from_base64(text: &str, what: &str) -> Result<Self, IssuerError> {
        let bytes = decode32(text, what)?;
        VerifyingKey::from_bytes(&bytes)
            .map(IssuerPublic)
            .map_err(|_| IssuerError::Malformed {
                what: what.to_string(),
                why: "not a valid Ed25519 public key".into(),
            })
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Checks a signature over a payload's canonical bytes (strict: no malleable forms).
    pub(crate) fn verify(&self, canonical: &[u8], sig: &[u8; 64]) -> Result<(), IssuerError> {
        let mut msg = Zeroizing::new(Vec::with_capacity(SIGNING_CONTEXT.len() + canonical.len()));
        msg.extend_from_slice(SIGNING_CONTEXT);
        msg.extend_from_slice(canonical);
        self.0
            .verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(sig))
            .map_err(|_| IssuerError::BadSignature)
    }
}

impl fmt::Display for IssuerPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for IssuerPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerPublic({self})")
    }
}

fn decode32(text: &str, what: &str) -> Result<[u8; 32], IssuerError> {
    crate::keys::base64_32(text)
        .map(|b| *b)
        .map_err(|why| IssuerError::Malformed {
            what: what.to_string(),
            why,
        })
}

/// The canonical JSON of a value: object keys sorted at every level, no whitespace. This
/// is what serde_json writes for a `BTreeMap`, whatever map order the crate was built with.
pub(crate) fn canonical_json(v: &serde_json::Value) -> Vec<u8> {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // A map of sorted keys serializes in that order (insertion order if `preserve_order`
    // is on, key order otherwise: the same).
    serde_json::to_vec(&sorted(v)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let k = IssuerKey::generate();
        let sig = k.sign(b"{\"a\":1}");
        assert!(k.public().verify(b"{\"a\":1}", &sig).is_ok());
        assert_eq!(
            k.public().verify(b"{\"a\":2}", &sig),
            Err(IssuerError::BadSignature)
        );
        let other = IssuerKey::generate();
        assert!(other.public().verify(b"{\"a\":1}", &sig).is_err());
    }

    #[test]
    fn keys_round_trip_as_base64_and_never_show_the_private_half() {
        let k = IssuerKey::generate();
        let back = IssuerKey::from_base64(&k.to_base64(), "x").expect("private");
        assert_eq!(back.public(), k.public());
        let p = IssuerPublic::from_base64(&k.public().to_string(), "x").expect("public");
        assert_eq!(p, k.public());
        assert!(!format!("{k:?}").contains(k.to_base64().as_str()));
        assert!(IssuerPublic::from_base64("aGVsbG8=", "the --issuer value")
            .expect_err("short")
            .to_string()
            .contains("5 bytes, not 32"));
        assert!(IssuerPublic::from_base64("notakey", "the key")
            .expect_err("a word")
            .to_string()
            .contains("but it is 7 characters long, not 44: it may be truncated, or not a key;"));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = serde_json::json!({"z": 1, "a": {"y": [ {"b": 1, "a": 2} ], "x": null}, "m": "é"});
        assert_eq!(
            String::from_utf8(canonical_json(&v)).expect("utf8"),
            r#"{"a":{"x":null,"y":[{"a":2,"b":1}]},"m":"é","z":1}"#
        );
    }
}
