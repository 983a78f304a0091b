//! Tokens: libmacaroons macaroons, read in V1, V2 and V2JSON, written as V2 base64url
//! without padding.
//!
//! The `macaroon` crate does the wire formats and appends caveats; we never use its
//! `Verifier` (see [`crate::verify`] for why).

use std::fmt;
use std::time::SystemTime;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use macaroon::{ByteString, Format, Macaroon, MacaroonKey};

use crate::caveat::Caveat;
use crate::crypto;
use crate::host::Host;
use crate::issuer::IssuerKey;
use crate::keys::{KeyId, PublicKey};
use crate::sealed::{Injection, Payload, SealedId, Secret};

/// Longest encoded token we read. Real tokens with 50 caveats are a few kilobytes; the
/// limit bounds the work a hostile header can cause.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(false)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
pub(crate) const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);

/// The serialization a token was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum WireFormat {
    /// libmacaroons V1 (base64 of packets).
    V1,
    /// libmacaroons V2 binary (base64).
    V2,
    /// libmacaroons V2 JSON.
    V2Json,
}

impl fmt::Display for WireFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireFormat::V1 => "V1",
            WireFormat::V2 => "V2",
            WireFormat::V2Json => "V2JSON",
        })
    }
}

/// Why a token could not be read. Messages never quote the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Empty input.
    #[error("the token is empty")]
    Empty,
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("the token is {0} bytes long; tokens longer than {MAX_TOKEN_LEN} bytes are refused")]
    TooLong(usize),
    /// Not base64 or JSON.
    #[error(
        "the token is not valid base64url: {0}; copy it again exactly as `macaroon wrap` or `attenuate` printed it"
    )]
    Encoding(String),
    /// Decoded, but not a macaroon.
    #[error("the token is not a whole macaroon: {0}; copy it again exactly as `macaroon wrap` or `attenuate` printed it")]
    Format(String),
    /// A valid macaroon spelled in a way no encoder writes: bytes after the signature,
    /// non-zero base64 trailing bits, a length in a longer form than needed. Refused, so
    /// that a token has one spelling and nothing can hide behind a valid one.
    #[error(
        "the token is malformed: {0}; pass the token exactly as `macaroon wrap` or `attenuate` printed it"
    )]
    Malformed(String),
}

/// Why a token could not be minted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// No hosts.
    #[error("at least one host is required: the secret may only ever be sent to the sealed hosts")]
    NoHosts,
    /// Empty secret.
    #[error("the secret is empty")]
    EmptySecret,
    /// The secret does not have the shape its injection rule needs (OAuth2, SigV4).
    #[error("{0}")]
    Credential(#[from] crate::credential::CredentialError),
    /// The macaroon library refused it.
    #[error("could not build the macaroon: {0}")]
    Library(String),
}

/// A third-party caveat as a token shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ThirdPartyCaveat {
    /// Where the discharge comes from.
    pub location: String,
    /// The caveat id, lossy UTF-8 (it is not secret: the discharger reads it).
    pub id: String,
}

/// A macaroon. Its `Debug` shows a fingerprint, never the signature.
#[derive(Clone)]
pub struct Token {
    mac: Macaroon,
    format: WireFormat,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Token({} caveats, fingerprint {})",
            self.mac.caveats().len(),
            self.signature_fingerprint()
        )
    }
}

/// What `wrap` needs to mint a root token.
#[derive(Debug)]
pub struct MintRequest {
    /// The real API key.
    pub secret: Secret,
    /// Where it goes upstream.
    pub inject: Injection,
    /// The only hosts it may go to.
    pub hosts: Vec<Host>,
    /// Hard expiry, sealed.
    pub expires: Option<SystemTime>,
    /// Advisory location (not authenticated by the signature).
    pub location: Option<String>,
    /// Who wraps it: signs the sealed payload, so that a proxy trusting this issuer opens it.
    pub issuer: IssuerKey,
}

impl Token {
    /// Mints a root token whose identifier seals `req` to the proxy key `to`.
    /// If `expires` is set, a `time <` caveat is added as well, so that every
    /// implementation (not only the proxy) sees the expiry.
    pub fn mint(to: &PublicKey, req: MintRequest, now: SystemTime) -> Result<Token, MintError> {
        Token::mint_root(to, req, now).map(|(token, _)| token)
    }

    /// [`Token::mint`], also returning the family id (`kid`) sealed inside, which only
    /// the proxy could read back: `wrap` keeps it beside the stored token so `list` and
    /// `inspect` can show it.
    pub fn mint_root(
        to: &PublicKey,
        req: MintRequest,
        now: SystemTime,
    ) -> Result<(Token, String), MintError> {
        if req.hosts.is_empty() {
            return Err(MintError::NoHosts);
        }
        if req.secret.expose().is_empty() {
            return Err(MintError::EmptySecret);
        }
        crate::credential::Credential::read(&req.inject, &req.secret)?;
        let payload = Payload::new(req.secret, req.inject, req.hosts, now, req.expires, &req.issuer);
        let identifier = payload.seal(to);
        let key = MacaroonKey::from(payload.root.derived());
        let mac = Macaroon::create(req.location, &key, ByteString(identifier))
            .map_err(|e| MintError::Library(format!("{e:?}")))?;
        let mut token = Token {
            mac,
            format: WireFormat::V2,
        };
        if let Some(exp) = payload.expires_at() {
            token = token.attenuate(&Caveat::TimeBefore(exp));
        }
        Ok((token, payload.kid.clone()))
    }

    /// Builds a token with an arbitrary identifier and root key (for other
    /// implementations' tokens and tests).
    pub fn create(location: Option<String>, root: &crate::sealed::RootKey, identifier: &[u8]) -> Token {
        let key = MacaroonKey::from(root.derived());
        let mac = Macaroon::create(location, &key, ByteString(identifier.to_vec()))
            // `create` only fails on an empty identifier.
            .unwrap_or_else(|_| unreachable_empty());
        Token {
            mac,
            format: WireFormat::V2,
        }
    }

    /// Reads a token in V2 or V1 (base64, URL-safe or standard, padded or not) or V2JSON.
    ///
    /// Strictly: text that decodes to more than the macaroon (bytes after the signature),
    /// base64 whose last character carries non-zero unused bits, or binary that is not
    /// exactly what the format's encoder writes is [`DecodeError::Malformed`], never
    /// another spelling of a valid token.
    pub fn decode(text: &str) -> Result<Token, DecodeError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DecodeError::Empty);
        }
        if text.len() > MAX_TOKEN_LEN {
            return Err(DecodeError::TooLong(text.len()));
        }
        if text.starts_with('{') {
            let bin = crate::v2json::to_binary(text).map_err(DecodeError::Format)?;
            let mac = Macaroon::deserialize_binary(&bin).map_err(lib_err)?;
            return Ok(Token {
                mac,
                format: WireFormat::V2Json,
            });
        }
        let bin = b64_decode(text).map_err(b64_err)?;
        if bin.first() == Some(&2) {
            let mac = Macaroon::deserialize_binary(&bin).map_err(lib_err)?;
            strict(&bin, &v2_binary(&mac))?;
            return Ok(Token {
                mac,
                format: WireFormat::V2,
            });
        }
        let mac = Macaroon::deserialize_binary(&crate::v1::to_v2(&bin).map_err(DecodeError::Format)?)
            .map_err(lib_err)?;
        strict(&bin, &v1_binary(&mac))?;
        Ok(Token {
            mac,
            format: WireFormat::V1,
        })
    }

    /// Encodes as V2 binary, base64url without padding.
    pub fn encode(&self) -> String {
        URL_SAFE.encode(v2_binary(&self.mac))
    }

    /// Encodes in another libmacaroons format (V1 or V2JSON are for interop).
    pub fn encode_as(&self, format: WireFormat) -> String {
        match format {
            WireFormat::V1 => self.mac.serialize(Format::V1).unwrap_or_default(),
            WireFormat::V2 => self.encode(),
            WireFormat::V2Json => crate::v2json::from_macaroon(&self.mac),
        }
    }

    /// Adds a first-party caveat. Taking a parsed [`Caveat`] means nothing unparsable
    /// can be added by mistake.
    pub fn attenuate(&self, caveat: &Caveat) -> Token {
        self.attenuate_raw(caveat.to_string().as_bytes())
    }

    /// Adds a first-party caveat without checking it (other implementations' caveats,
    /// tests). The proxy denies any caveat it cannot parse.
    pub fn attenuate_raw(&self, predicate: &[u8]) -> Token {
        let mut mac = self.mac.clone();
        mac.add_first_party_caveat(ByteString(predicate.to_vec()));
        Token {
            mac,
            format: self.format,
        }
    }

    /// Adds a third-party caveat: requests need a discharge minted at `location` with the
    /// shared `key` for caveat id `id`. `key` is taken as pymacaroons and libmacaroons take
    /// it (any bytes, derived with the key generator).
    pub fn add_third_party(&self, location: &str, key: &[u8], id: &[u8]) -> Token {
        init_libsodium();
        let mut mac = self.mac.clone();
        let derived = MacaroonKey::from(crypto::derive_key(key));
        mac.add_third_party_caveat(location, &derived, ByteString(id.to_vec()));
        Token {
            mac,
            format: self.format,
        }
    }

    /// Mints a discharge for the third-party caveat `id`, from the shared `key`.
    pub fn discharge(location: Option<String>, key: &[u8], id: &[u8]) -> Result<Token, MintError> {
        let derived = MacaroonKey::from(crypto::derive_key(key));
        let mac = Macaroon::create(location, &derived, ByteString(id.to_vec()))
            .map_err(|_| MintError::Library("a discharge needs a non-empty caveat id".into()))?;
        Ok(Token {
            mac,
            format: WireFormat::V2,
        })
    }

    /// Binds `discharge` to this token, as a client does just before a request
    /// (libmacaroons `prepare_for_request`). Bind after the last attenuation: a discharge
    /// bound to one token is refused with any other, narrower ones included.
    pub fn bind(&self, discharge: &Token) -> Token {
        let mut d = discharge.mac.clone();
        self.mac.bind(&mut d);
        Token {
            mac: d,
            format: discharge.format,
        }
    }

    /// The format this token was read from (V2 for tokens made here).
    pub fn wire_format(&self) -> WireFormat {
        self.format
    }

    /// The identifier bytes.
    pub fn identifier(&self) -> Vec<u8> {
        self.mac.identifier().0
    }

    /// The sealed identifier's proxy key id, if the identifier is one of ours.
    pub fn key_id(&self) -> Option<KeyId> {
        SealedId::parse(&self.identifier()).map(|s| s.key_id)
    }

    /// The advisory location. Not covered by the signature: never route by it.
    pub fn location(&self) -> Option<String> {
        self.mac.location()
    }

    /// The first-party caveat predicates, in order, as raw bytes.
    pub fn first_party(&self) -> Vec<Vec<u8>> {
        self.mac
            .caveats()
            .into_iter()
            .filter_map(|c| match c {
                macaroon::Caveat::FirstParty(fp) => Some(fp.predicate().0),
                macaroon::Caveat::ThirdParty(_) => None,
            })
            .collect()
    }

    /// The third-party caveats, in order, as (location, raw id).
    pub fn third_party_raw(&self) -> Vec<(String, Vec<u8>)> {
        self.mac
            .caveats()
            .into_iter()
            .filter_map(|c| match c {
                macaroon::Caveat::ThirdParty(tp) => Some((tp.location(), tp.id().0)),
                macaroon::Caveat::FirstParty(_) => None,
            })
            .collect()
    }

    /// The third-party caveats, in order.
    pub fn third_party(&self) -> Vec<ThirdPartyCaveat> {
        self.mac
            .caveats()
            .into_iter()
            .filter_map(|c| match c {
                macaroon::Caveat::ThirdParty(tp) => Some(ThirdPartyCaveat {
                    location: tp.location(),
                    id: String::from_utf8_lossy(&tp.id().0).into_owned(),
                }),
                macaroon::Caveat::FirstParty(_) => None,
            })
            .collect()
    }

    /// First 8 bytes of SHA-256 of the signature, hex: tells tokens apart without
    /// revealing them.
    pub fn signature_fingerprint(&self) -> String {
        hex::encode(&crypto::sha256(&self.signature())[..8])
    }

    /// SHA-256 of the identifier, hex: the same for every token of one family (narrowing
    /// never changes the identifier), so it finds a stored root without revealing it.
    pub fn identifier_digest(&self) -> String {
        hex::encode(crypto::sha256(&self.mac.identifier().0))
    }

    /// The token's branch id ([`branch_id_of`] its signature): what `revoke` writes to
    /// revoke this token and every token narrowed from it.
    pub fn branch_id(&self) -> String {
        branch_id_of(&self.signature())
    }

    /// SHA-256 over the identifier and signature: the same for one token in any wire
    /// format, different for any other token. Compares tokens without keeping them.
    pub fn identity(&self) -> [u8; 32] {
        let id = self.mac.identifier();
        let mut bytes = Vec::with_capacity(8 + id.0.len() + 32);
        bytes.extend_from_slice(&(id.0.len() as u64).to_be_bytes());
        bytes.extend_from_slice(&id.0);
        bytes.extend_from_slice(&self.signature());
        crypto::sha256(&bytes)
    }

    pub(crate) fn signature(&self) -> [u8; 32] {
        let sig = self.mac.signature();
        let mut out = [0u8; 32];
        out.copy_from_slice(&sig[..32.min(sig.len())]);
        out
    }

    pub(crate) fn macaroon(&self) -> &Macaroon {
        &self.mac
    }
}

/// Decodes base64 in either alphabet, padded or not. Non-zero trailing bits are refused
/// (the engine's default), so one byte string has one spelling per alphabet.
pub(crate) fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let engine = if text.contains(['+', '/']) {
        &STANDARD
    } else {
        &URL_SAFE
    };
    engine.decode(text)
}

/// A base64 error in plain words: the decoder's own ("Invalid last symbol 50, offset 6")
/// names bytes and offsets, which tell a user nothing about what to do.
fn b64_err(e: base64::DecodeError) -> DecodeError {
    match e {
        base64::DecodeError::InvalidLastSymbol(..) => DecodeError::Malformed(
            "its last character has non-zero unused bits, so it is not the encoding of any token \
             (it was cut short or altered in copying)"
                .into(),
        ),
        other => DecodeError::Encoding(base64_problem(&other).into()),
    }
}

/// What is wrong with text that is not base64, in words a user can act on. Shared by
/// everything that reads base64 (tokens, proxy keys, issuer keys).
pub(crate) fn base64_problem(e: &base64::DecodeError) -> &'static str {
    match e {
        base64::DecodeError::InvalidByte(..) => {
            "it holds a character base64 does not use (a space, quote or line break copied with it?)"
        }
        base64::DecodeError::InvalidLength(_) => {
            "its length is not that of any base64 text: it may be truncated or have extra characters"
        }
        base64::DecodeError::InvalidLastSymbol(..) => {
            "its last character is not one base64 can end with: it may be truncated or altered"
        }
        base64::DecodeError::InvalidPadding => "its '=' padding is misplaced: it may be truncated or altered",
    }
}

/// Compares the bytes read with what the format's encoder writes for the macaroon they
/// held: any difference is another spelling, refused.
fn strict(read: &[u8], canonical: &[u8]) -> Result<(), DecodeError> {
    if read == canonical {
        return Ok(());
    }
    Err(DecodeError::Malformed(match read.strip_prefix(canonical) {
        Some(extra) => format!("{} extra byte(s) follow the signature", extra.len()),
        None => "its binary form is not the one the format writes (a length in a longer form than needed, or fields out of order)".into(),
    }))
}

/// The V2 binary form, as libmacaroons, pymacaroons and the `macaroon` crate write it.
fn v2_binary(m: &Macaroon) -> Vec<u8> {
    use crate::v2json::field;
    const EOS: u8 = 0;
    let mut out = vec![2u8];
    if let Some(l) = m.location() {
        field(1, l.as_bytes(), &mut out);
    }
    field(2, &m.identifier().0, &mut out);
    out.push(EOS);
    for c in m.caveats() {
        match c {
            macaroon::Caveat::FirstParty(fp) => field(2, &fp.predicate().0, &mut out),
            macaroon::Caveat::ThirdParty(tp) => {
                field(1, tp.location().as_bytes(), &mut out);
                field(2, &tp.id().0, &mut out);
                field(4, &tp.verifier_id().0, &mut out);
            }
        }
        out.push(EOS);
    }
    out.push(EOS);
    field(6, &m.signature(), &mut out);
    out
}

/// The V1 packets, as libmacaroons and pymacaroons write them (the crate's writer).
fn v1_binary(m: &Macaroon) -> Vec<u8> {
    let text = m.serialize(Format::V1).unwrap_or_default();
    URL_SAFE.decode(text.trim_end_matches('=')).unwrap_or_default()
}

/// The `macaroon` crate draws third-party caveat nonces from libsodium, which wants
/// initialising once to be thread-safe. Everything else here is RustCrypto.
fn init_libsodium() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        // Fails only without a randomness source; the nonce draw would then fail loudly.
        let _ = macaroon::initialize();
    });
}

fn lib_err(e: macaroon::MacaroonError) -> DecodeError {
    // The library describes structure ("Buffer overrun"), but errors it passes on from
    // serde_json may quote input; those are replaced so no token bytes reach a message.
    let text = match e {
        // What the library says of a token cut short ("Unexpected end of field", "Buffer
        // overrun"), in words that say what happened.
        macaroon::MacaroonError::DeserializationError(s)
            if s.contains("end of") || s.contains("overrun") || s.contains("EOF") =>
        {
            "it ends in the middle: it was cut short in copying (a token runs to its last character, \
             often past the edge of a terminal)"
                .to_string()
        }
        macaroon::MacaroonError::DeserializationError(s) if !s.contains(['"', '`', '\'']) => s,
        macaroon::MacaroonError::IncompleteMacaroon(s) | macaroon::MacaroonError::IncompleteCaveat(s) => {
            format!("{s}: it was cut short, or is not a macaroon")
        }
        _ => "its structure is not a macaroon's".to_string(),
    };
    DecodeError::Format(text)
}

#[cold]
fn unreachable_empty() -> ! {
    // Only an empty identifier makes the library fail, and tokens always have one.
    panic!("macaroon library refused a token with a non-empty identifier")
}

/// The digest a branch is known by: SHA-256 of the chain signature at that point. The
/// signature itself (with the identifier and caveats, the token) is never written down;
/// its first 8 bytes are the token's fingerprint, so a branch id starts with the
/// fingerprint the audit line shows.
pub fn branch_digest(sig: &[u8; 32]) -> [u8; 32] {
    crypto::sha256(sig)
}

/// [`branch_digest`] in hex (64 digits): how revocation lists write a branch.
pub fn branch_id_of(sig: &[u8; 32]) -> String {
    hex::encode(branch_digest(sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the user reads for text that is not base64: what is wrong and what to do, never
    /// the decoder's "Invalid byte 33, offset 6".
    fn decode_message(text: &str) -> String {
        let e = Token::decode(text).expect_err("not a token");
        let shown = e.to_string();
        for internal in ["Invalid", "offset", "symbol"] {
            assert!(!shown.contains(internal), "decoder internals in {shown:?}");
        }
        shown
    }

    #[test]
    fn base64_errors_say_what_was_wrong_and_to_copy_the_token_again() {
        assert_eq!(
            decode_message("AgEFaGVsbG8!"),
            "the token is not valid base64url: it holds a character base64 does not use (a space, \
             quote or line break copied with it?); copy it again exactly as `macaroon wrap` or \
             `attenuate` printed it"
        );
        assert_eq!(
            decode_message("AgEFaGVsb"),
            "the token is not valid base64url: its length is not that of any base64 text: it may be \
             truncated or have extra characters; copy it again exactly as `macaroon wrap` or \
             `attenuate` printed it"
        );
        assert!(decode_message("AgE=FaGV").contains("copy it again"));
        // "AA" holds one byte and 4 unused bits; "AF" sets two of them.
        let e = decode_message("AF");
        assert!(matches!(Token::decode("AF"), Err(DecodeError::Malformed(_))));
        assert!(
            e.contains("non-zero unused bits") && e.contains("copy") && e.contains("printed it"),
            "{e}"
        );
    }
}
