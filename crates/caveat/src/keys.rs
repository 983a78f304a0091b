//! The proxy's X25519 keypair: anyone with the public key can seal a secret to the
//! proxy; only the holder of the private key can open it.
//!
//! Keys are text as the key files hold them: the 32 raw key bytes as standard base64 on
//! one line. Reading and writing those files (and refusing a private key others can read)
//! is the `macaroon-home` crate's job: this one does no I/O.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::crypto;

/// Why key text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not base64 of 32 bytes.
    #[error(
        "{what} is not a proxy key: expected 32 bytes as base64 on one line, but {why}; copy the key again \
         exactly as `macaroon-proxy keygen` printed it (it is also in the proxy's proxy.pub)"
    )]
    Malformed {
        /// What was being read (a file path or "the --proxy-key value").
        what: String,
        /// The decoding problem.
        why: String,
    },
}

/// The first 8 bytes of SHA-256 of a proxy public key: names the key inside sealed
/// identifiers, so a proxy holding several keys knows which one opens a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A proxy public key (X25519).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Decodes a public key from its one-line base64 text. `what` names the source in errors.
    pub fn from_base64(text: &str, what: &str) -> Result<Self, KeyError> {
        Ok(PublicKey(*decode32(text, what)?))
    }

    /// A public key from its raw 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PublicKey(bytes)
    }

    /// The key as standard base64, as key files and `--proxy-key` hold it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        let digest = crypto::sha256(&self.0);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }

    /// Seals `plain` to this key (libsodium's `crypto_box_seal`).
    pub(crate) fn seal(&self, plain: &[u8]) -> Vec<u8> {
        crypto::seal(&crypto_box::PublicKey::from(self.0), plain)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

/// A symmetric key derived from a proxy key ([`ProxyKeyPair::state_key`]), for what the
/// proxy keeps in a shared store: sealed there, only replicas holding the proxy key can
/// read or alter it.
#[derive(Clone)]
pub struct StateKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateKey(redacted)")
    }
}

impl StateKey {
    /// Encrypts and authenticates `plain` (random nonce, XSalsa20-Poly1305).
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        crypto::secretbox_seal(&self.0, plain)
    }

    /// Opens what [`StateKey::seal`] made with the same key; `None` otherwise.
    pub fn open(&self, data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        crypto::secretbox_open(&self.0, data)
    }
}

/// The proxy's keypair. The private half is wiped from memory on drop and never printed.
#[derive(Clone)]
pub struct ProxyKeyPair {
    public: PublicKey,
    // Kept as bytes rather than a `crypto_box::SecretKey`, whose drop wipes its scalar but
    // not its copy of these bytes; the box key is made for each opening (the proxy opens a
    // token once and caches the payload).
    secret: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for ProxyKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyKeyPair({}, private key redacted)", self.public.key_id())
    }
}

impl ProxyKeyPair {
    /// Generates a fresh random keypair.
    pub fn generate() -> Self {
        Self::from_private_bytes(crypto::random())
    }

    /// Builds a keypair from the 32 private key bytes (the public half is derived).
    pub fn from_private_bytes(bytes: [u8; 32]) -> Self {
        let secret = Zeroizing::new(bytes);
        ProxyKeyPair {
            public: PublicKey(crypto::public_key(&secret)),
            secret,
        }
    }

    /// Decodes a private key from its one-line base64 text (a `proxy.key` file's contents).
    /// `what` names the source in errors.
    pub fn from_base64(text: &str, what: &str) -> Result<Self, KeyError> {
        Ok(Self::from_private_bytes(*decode32(text, what)?))
    }

    /// The private key as standard base64, for writing a key file. Wiped on drop; never
    /// print it.
    pub fn private_to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(*self.secret))
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key id of the public half.
    pub fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    /// A key for state this proxy keeps outside itself (`purpose` names what it guards):
    /// HMAC-SHA256 keyed by the private key, so every replica holding this proxy key
    /// derives the same one, and nothing without it can.
    pub fn state_key(&self, purpose: &str) -> StateKey {
        StateKey(Zeroizing::new(crypto::hmac(&self.secret, purpose.as_bytes())))
    }

    /// Opens a box sealed to this key (libsodium's `crypto_box_seal_open`).
    pub(crate) fn open(&self, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        crypto::unseal(&self.secret, sealed)
    }
}

fn decode32(text: &str, what: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    base64_32(text).map_err(|why| KeyError::Malformed {
        what: what.to_string(),
        why,
    })
}

/// 32 bytes from one line of standard base64 (a key's text form), or what is wrong with it
/// in plain words. Shared by proxy keys and issuer keys.
pub(crate) fn base64_32(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let text = text.trim();
    let bytes = Zeroizing::new(STANDARD.decode(text).map_err(|e| {
        // 32 bytes are 44 characters with their padding: a word or a truncated copy is told
        // by its length, not by whichever base64 rule it breaks first.
        let len = text.chars().count();
        let alphabet = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
        if alphabet && len != 44 {
            format!("it is {len} characters long, not 44: it may be truncated, or not a key")
        } else {
            crate::token::base64_problem(&e).to_string()
        }
    })?);
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| format!("it decodes to {} bytes, not 32", bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_key_is_the_same_for_every_holder_of_the_proxy_key_and_no_one_else() {
        let a = ProxyKeyPair::generate();
        let same = ProxyKeyPair::from_base64(&a.private_to_base64(), "test").expect("key");
        let sealed = a.state_key("oauth").seal(b"access token");
        assert_eq!(
            same.state_key("oauth")
                .open(&sealed)
                .as_deref()
                .map(Vec::as_slice),
            Some(&b"access token"[..])
        );
        assert!(a.state_key("other purpose").open(&sealed).is_none());
        assert!(ProxyKeyPair::generate()
            .state_key("oauth")
            .open(&sealed)
            .is_none());
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(a.state_key("oauth").open(&altered).is_none());
        assert!(!format!("{:?}", a.state_key("oauth")).contains("oauth"));
    }

    #[test]
    fn private_key_text_round_trips() {
        let kp = ProxyKeyPair::generate();
        let text = kp.private_to_base64();
        assert_eq!(STANDARD.decode(text.as_str()).expect("b64").len(), 32);
        let back = ProxyKeyPair::from_base64(&format!("{}\n", *text), "proxy.key").expect("decodes");
        assert_eq!(back.public(), kp.public());
        let public = PublicKey::from_base64(&kp.public().to_base64(), "proxy.pub").expect("decodes");
        assert_eq!(&public, kp.public());
    }

    #[test]
    fn malformed_key_text_is_refused() {
        let e = PublicKey::from_base64("aGVsbG8=", "the --proxy-key value").expect_err("short");
        assert!(e.to_string().contains("5 bytes, not 32"), "{e}");
        assert!(e.to_string().contains("the --proxy-key value"), "{e}");
        let e = PublicKey::from_base64("not base64!", "the --proxy-key value")
            .expect_err("not base64")
            .to_string();
        assert_eq!(
            e,
            "the --proxy-key value is not a proxy key: expected 32 bytes as base64 on one line, but it \
             holds a character base64 does not use (a space, quote or line break copied with it?); copy \
             the key again exactly as `macaroon-proxy keygen` printed it (it is also in the proxy's proxy.pub)"
        );
        let e = PublicKey::from_base64("aGVsbG9", "x")
            .expect_err("cut short")
            .to_string();
        assert!(e.contains("it may be truncated") && !e.contains("offset"), "{e}");
        assert!(ProxyKeyPair::from_base64("aGVsbG8=", "proxy.key").is_err());
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let kp = ProxyKeyPair::generate();
        let private = kp.private_to_base64();
        let shown = format!("{kp:?}");
        assert!(!shown.contains(private.as_str()));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn key_id_is_sha256_prefix() {
        let pk = PublicKey([7u8; 32]);
        let d = crypto::sha256(&[7u8; 32]);
        assert_eq!(pk.key_id().0, d[..8]);
        // The first 8 bytes of SHA-256 of 32 bytes of 7, from Python's hashlib.
        assert_eq!(pk.key_id().to_string(), "4bb06f8e4e3a7715");
    }
}
