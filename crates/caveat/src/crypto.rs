//! The few primitives the token chain needs, byte for byte what libmacaroons and PyNaCl
//! compute.
//!
//! HMAC-SHA256 and SHA-256 come from RustCrypto (`hmac` + `sha2`), which use the CPU's SHA
//! extensions when present: the chain is one HMAC per caveat on every uncached request, and
//! libsodium's portable C took about 1 µs per step against 0.3 µs here (docs/performance.md).
//! The boxes (sealed identifiers, third-party verifier ids) stay on libsodium.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
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
    // A 32-byte key is always a valid HMAC key; `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_key());
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_key() -> ! {
    panic!("HMAC-SHA256 refused a 32-byte key")
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
    Sha256::digest(data).into()
}

/// Fills a fresh array with random bytes.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    init();
    let mut out = [0u8; N];
    sodiumoxide::randombytes::randombytes_into(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sodiumoxide::crypto::auth::hmacsha256;

    /// The RustCrypto HMAC and SHA-256 give libsodium's bytes (which libmacaroons and
    /// pymacaroons use) for every message length around the block boundaries.
    #[test]
    fn hmac_and_sha256_match_libsodium() {
        init();
        let key = [0x5au8; 32];
        for len in [0usize, 1, 23, 55, 56, 63, 64, 65, 119, 200, 1000] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert_eq!(
                hmac(&key, &msg),
                hmacsha256::authenticate(&msg, &hmacsha256::Key(key)).0,
                "len {len}"
            );
            assert_eq!(
                sha256(&msg),
                sodiumoxide::crypto::hash::sha256::hash(&msg).0,
                "len {len}"
            );
        }
    }

    /// RFC 4231 test case 2 ("Jefe"), with the key zero-padded to 32 bytes as HMAC does.
    #[test]
    fn hmac_rfc4231_case_2() {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
