//! The few primitives the token chain needs, byte for byte what libmacaroons and PyNaCl
//! compute, all from RustCrypto (no C library to build or initialise).
//!
//! HMAC-SHA256 and SHA-256 (`hmac` + `sha2`) use the CPU's SHA extensions when present: the
//! chain is one HMAC per caveat on every uncached request, and libsodium's portable C took
//! about 1 µs per step against 0.3 µs here (docs/performance.md). The boxes are libsodium's
//! formats: sealed identifiers are `crypto_box_seal` (X25519 + XSalsa20-Poly1305, the
//! `crypto_box` crate's `seal` feature) and third-party verifier ids are
//! `crypto_secretbox` (`crypto_secretbox`), so PyNaCl, pymacaroons and libmacaroons open
//! what we write and we open what they write.

use crypto_box::aead::rand_core::RngCore;
use crypto_box::aead::OsRng;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bytes a sealed box adds to its plaintext: the ephemeral public key and the MAC.
pub(crate) const SEAL_OVERHEAD: usize = crypto_box::SEALBYTES;

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
    a.ct_eq(b).into()
}

/// Opens a third-party caveat's verifier id (24-byte nonce || secretbox, libmacaroons'
/// layout) with the chain key.
pub(crate) fn open_caveat_key(sig: &[u8; 32], vid: &[u8]) -> Option<[u8; 32]> {
    const NONCE: usize = 24;
    const MAC: usize = 16;
    if vid.len() < NONCE + MAC {
        return None;
    }
    let (nonce, boxed) = vid.split_at(NONCE);
    // Both lengths are fixed above, so `from_slice` cannot panic.
    let cipher = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(sig));
    let plain = Zeroizing::new(
        cipher
            .decrypt(crypto_secretbox::Nonce::from_slice(nonce), boxed)
            .ok()?,
    );
    <[u8; 32]>::try_from(plain.as_slice()).ok()
}

/// Encrypts and authenticates `plain` under `key`: a random 24-byte nonce, then
/// XSalsa20-Poly1305 (libsodium's `crypto_secretbox`).
pub(crate) fn secretbox_seal(key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
    let nonce: [u8; 24] = random();
    let cipher = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key));
    let boxed = cipher
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), plain)
        .unwrap_or_else(|_| unreachable_seal());
    [nonce.as_slice(), &boxed].concat()
}

/// Opens what [`secretbox_seal`] made; `None` if the key differs or a byte changed.
pub(crate) fn secretbox_open(key: &[u8; 32], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if data.len() < 24 + 16 {
        return None;
    }
    let (nonce, boxed) = data.split_at(24);
    let cipher = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key));
    cipher
        .decrypt(crypto_secretbox::Nonce::from_slice(nonce), boxed)
        .ok()
        .map(Zeroizing::new)
}

/// Seals `plain` to an X25519 public key: libsodium's `crypto_box_seal`.
pub(crate) fn seal(to: &crypto_box::PublicKey, plain: &[u8]) -> Vec<u8> {
    // Encryption fails only for plaintexts beyond XSalsa20's 256 GiB keystream.
    to.seal(&mut OsRng, plain).unwrap_or_else(|_| unreachable_seal())
}

#[cold]
fn unreachable_seal() -> ! {
    panic!("XSalsa20-Poly1305 refused a plaintext shorter than its keystream")
}

/// Opens a sealed box with the recipient's private key bytes: libsodium's
/// `crypto_box_seal_open`. `None` if it was not sealed to this key or was altered.
pub(crate) fn unseal(private: &[u8; 32], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let key = crypto_box::SecretKey::from_bytes(*private);
    key.unseal(sealed).ok().map(Zeroizing::new)
}

/// The X25519 public key of a private key.
pub(crate) fn public_key(private: &[u8; 32]) -> [u8; 32] {
    crypto_box::SecretKey::from_bytes(*private)
        .public_key()
        .to_bytes()
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Fills a fresh array with random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng.fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    /// HMAC-SHA256 and SHA-256 give the bytes of an independent implementation (Python's
    /// `hmac` + `hashlib`) for every message length around the block boundaries. The pinned
    /// value is SHA-256 over each length's HMAC then SHA-256, concatenated.
    #[test]
    fn hmac_and_sha256_match_python_hashlib() {
        let key = [0x5au8; 32];
        let mut all = Vec::new();
        for len in [0usize, 1, 23, 55, 56, 63, 64, 65, 119, 200, 1000] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            all.extend_from_slice(&hmac(&key, &msg));
            all.extend_from_slice(&sha256(&msg));
        }
        assert_eq!(
            hex::encode(sha256(&all)),
            "5a623a2cc2fe1fa2f8166a8a86289ed0d81a59c4a379ab50bd0e87535a710e45"
        );
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

    /// The private key bytes 1..=32 as PyNaCl's `PrivateKey(bytes(range(1, 33)))`.
    fn pynacl_private() -> [u8; 32] {
        std::array::from_fn(|i| i as u8 + 1)
    }

    /// A box PyNaCl sealed (`SealedBox(pk).encrypt(...)`, libsodium's `crypto_box_seal`)
    /// opens here, and the public key derived here is PyNaCl's.
    #[test]
    fn opens_a_box_sealed_by_pynacl() {
        let private = pynacl_private();
        assert_eq!(
            STANDARD.encode(public_key(&private)),
            "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="
        );
        let sealed = STANDARD
            .decode(
                "wgPMxcumokVOhDAMbByHpCEebQXY4YTDiQJFAC/+4F1txhrcKUF85l68CHjuO8V7NBjsqroRF9luCMjd4jw+BmE+bEqJP0vqFj5bDQ==",
            )
            .expect("b64");
        let plain = unseal(&private, &sealed).expect("opens");
        assert_eq!(plain.as_slice(), br#"{"hello":"sealed by PyNaCl"}"#);
        let mut altered = sealed.clone();
        altered[40] ^= 1;
        assert!(unseal(&private, &altered).is_none());
        assert!(unseal(&[9u8; 32], &sealed).is_none());
    }

    /// What we seal opens with the same private key, and every seal is fresh (a new
    /// ephemeral key), as libsodium's.
    #[test]
    fn seal_then_unseal_round_trips_with_fresh_ephemeral_keys() {
        let private = pynacl_private();
        let public = crypto_box::PublicKey::from(public_key(&private));
        let a = seal(&public, b"payload");
        let b = seal(&public, b"payload");
        assert_eq!(a.len(), b"payload".len() + SEAL_OVERHEAD);
        assert_ne!(a, b);
        assert_eq!(unseal(&private, &a).expect("opens").as_slice(), b"payload");
    }

    /// A verifier id made by PyNaCl's `SecretBox(key).encrypt(plain, nonce)` (libsodium's
    /// `crypto_secretbox_easy`, as pymacaroons and libmacaroons write them) opens here.
    #[test]
    fn opens_a_caveat_key_boxed_by_pynacl() {
        let vid = STANDARD
            .decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXAuAkgAqeMR7PF5LmdXEwtsCLcFrALECxTzfZ5qLD2mFkl3+ufjSH5I1drnQ/OiGy")
            .expect("b64");
        assert_eq!(open_caveat_key(&[0x42; 32], &vid), Some([0xa5; 32]));
        assert_eq!(open_caveat_key(&[0x43; 32], &vid), None);
        assert_eq!(open_caveat_key(&[0x42; 32], &vid[..39]), None);
    }

    #[test]
    fn mac_eq_compares_every_byte() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(mac_eq(&a, &b));
        b[31] ^= 0x80;
        assert!(!mac_eq(&a, &b));
    }
}
