//! The few primitives the token chain needs, all from libsodium so that our bytes are
//! exactly libmacaroons' and PyNaCl's bytes.

use sodiumoxide::crypto::auth::hmacsha256;
use sodiumoxide::crypto::secretbox;

/// Initialises libsodium once; every entry point that uses it calls this first.
pub(crate) fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        // `init` only fails when no randomness source is available; the first key
        // generation would then fail loudly too, so there is nothing better to do here.
        let _ = sodiumoxide::init();
    });
}

/// HMAC-SHA256 with a 32-byte key, as libmacaroons chains signatures.
pub(crate) fn hmac(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    hmacsha256::authenticate(msg, &hmacsha256::Key(*key)).0
}

/// The libmacaroons / pymacaroons key derivation: HMAC("macaroons-key-generator", key).
/// Root keys and third-party keys are both taken through it.
pub(crate) fn derive_key(key: &[u8]) -> [u8; 32] {
    let mut generator = [0u8; 32];
    generator[..23].copy_from_slice(b"macaroons-key-generator");
    hmac(&generator, key)
}

/// libmacaroons' `hash2`: HMAC(key, HMAC(key, a) || HMAC(key, b)).
pub(crate) fn hmac2(key: &[u8; 32], a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(&hmac(key, a));
    both[32..].copy_from_slice(&hmac(key, b));
    hmac(key, &both)
}

/// Binds a discharge signature to the root token's signature (libmacaroons `bind`).
pub(crate) fn bind(root_sig: &[u8; 32], discharge_sig: &[u8; 32]) -> [u8; 32] {
    hmac2(&[0u8; 32], root_sig, discharge_sig)
}

/// Constant-time equality of two MACs.
pub(crate) fn mac_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    sodiumoxide::utils::memcmp(a, b)
}

/// Opens a third-party caveat's verifier id (nonce || secretbox) with the chain key.
pub(crate) fn open_caveat_key(sig: &[u8; 32], vid: &[u8]) -> Option<[u8; 32]> {
    if vid.len() < secretbox::NONCEBYTES + secretbox::MACBYTES {
        return None;
    }
    let (nonce, boxed) = vid.split_at(secretbox::NONCEBYTES);
    let nonce = secretbox::Nonce::from_slice(nonce)?;
    let plain = zeroize::Zeroizing::new(secretbox::open(boxed, &nonce, &secretbox::Key(*sig)).ok()?);
    <[u8; 32]>::try_from(plain.as_slice()).ok()
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    init();
    sodiumoxide::crypto::hash::sha256::hash(data).0
}

/// Fills a fresh array with random bytes.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    init();
    let mut out = [0u8; N];
    sodiumoxide::randombytes::randombytes_into(&mut out);
    out
}
