//! Sealed identifiers: the real API key travels inside the token, sealed to the proxy.
//!
//! Bytes: `"mk1"` | 8-byte proxy key id | libsodium sealed box (X25519 +
//! XSalsa20-Poly1305) of a JSON [`Payload`]. Anyone with the proxy's public key can seal;
//! only the proxy can open. The proxy needs no database: the token carries its own secret,
//! root key, injection rule and the only hosts the secret may ever be sent to.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto;
use crate::host::Host;
use crate::issuer::{canonical_json, IssuerError, IssuerKey, IssuerPublic};
use crate::keys::{KeyId, ProxyKeyPair, PublicKey};

/// The magic prefix of our identifiers (format version 1).
pub const SEALED_PREFIX: &[u8; 3] = b"mk1";

/// A secret (API key). Wiped on drop; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The secret itself, for injecting it upstream. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// The 32-byte root key of the macaroon, exactly as libmacaroons and pymacaroons take it
/// (`Macaroon(key=root)`), before their "macaroons-key-generator" derivation.
#[derive(Clone, PartialEq, Eq)]
pub struct RootKey(Zeroizing<[u8; 32]>);

impl RootKey {
    /// A fresh random root key.
    pub fn generate() -> Self {
        RootKey(Zeroizing::new(crypto::random()))
    }

    /// A root key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        RootKey(Zeroizing::new(bytes))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key the HMAC chain starts from: HMAC("macaroons-key-generator", root).
    pub(crate) fn derived(&self) -> [u8; 32] {
        crypto::derive_key(self.0.as_slice())
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(redacted)")
    }
}

impl Serialize for RootKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Zeroizing::new(STANDARD.encode(self.0.as_slice())))
    }
}

impl<'de> Deserialize<'de> for RootKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = Zeroizing::new(STANDARD.decode(text.as_bytes()).map_err(|e| {
            serde::de::Error::custom(format!(
                "root is not base64: {}",
                crate::token::base64_problem(&e)
            ))
        })?);
        let arr = <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::custom("root key must be 32 bytes"))?;
        Ok(RootKey::from_bytes(arr))
    }
}

/// Where the proxy puts the secret upstream. Sealed: the client cannot choose.
///
/// Parsing (`wrap --inject`) and deserializing (the proxy opening a payload) both check it,
/// and a header name is a [`FieldName`], valid once made: a rule that would put the secret
/// somewhere other than asked (an invalid header name once fell back to `Authorization`)
/// is refused, never adjusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "InjectionWire", into = "InjectionWire")]
pub enum Injection {
    /// `Authorization: Bearer SECRET`
    Bearer,
    /// `Authorization: Basic base64(SECRET:)`
    Basic,
    /// `NAME: SECRET`
    Header(FieldName),
    /// `?NAME=SECRET`
    Query(String),
    /// `Authorization: Bearer ACCESS`, the access token obtained with a sealed refresh token
    /// ([`crate::OAuth2`] in the secret).
    OAuth2Refresh,
    /// The same, obtained with the client-credentials grant.
    OAuth2ClientCredentials,
    /// The request is signed (AWS SigV4) for this region and service with sealed keys
    /// ([`crate::SigV4Keys`] in the secret).
    SigV4(AwsScope),
}

/// The region and service a SigV4 credential signs for: lower-case letters, digits and
/// `-` (`us-east-1`, `s3`, `execute-api`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsScope {
    region: String,
    service: String,
}

impl AwsScope {
    /// Checks `REGION:SERVICE`.
    pub fn parse(text: &str) -> Result<Self, InjectionProblem> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 64
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        match text.split_once(':') {
            Some((region, service)) if ok(region) && ok(service) => Ok(AwsScope {
                region: region.to_string(),
                service: service.to_string(),
            }),
            _ => Err(InjectionProblem::AwsScope),
        }
    }

    /// The region, e.g. `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service signing name, e.g. `s3`.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl fmt::Display for AwsScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.region, self.service)
    }
}

/// The sealed JSON shape of an [`Injection`]: `{"kind": "header", "name": "x-api-key"}`;
/// `name` is what follows the kind in the rule's text (`sigv4:us-east-1:s3` is
/// `{"kind": "sigv4", "name": "us-east-1:s3"}`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase", deny_unknown_fields)]
enum InjectionWire {
    Bearer,
    Basic,
    Header(String),
    Query(String),
    #[serde(rename = "oauth2-refresh")]
    OAuth2Refresh,
    #[serde(rename = "oauth2-client-credentials")]
    OAuth2ClientCredentials,
    SigV4(String),
}

impl TryFrom<InjectionWire> for Injection {
    type Error = InjectionError;
    fn try_from(w: InjectionWire) -> Result<Self, InjectionError> {
        match w {
            InjectionWire::Bearer => Ok(Injection::Bearer),
            InjectionWire::Basic => Ok(Injection::Basic),
            InjectionWire::Header(n) => FieldName::parse(&n)
                .map(Injection::Header)
                .map_err(|why| InjectionError::new(format!("header:{n}"), why)),
            InjectionWire::Query(n) if is_token(&n) && !n.contains(['&', '=', '#']) => {
                Ok(Injection::Query(n))
            }
            InjectionWire::Query(n) => Err(InjectionError::new(
                format!("query:{n}"),
                InjectionProblem::QueryName,
            )),
            InjectionWire::OAuth2Refresh => Ok(Injection::OAuth2Refresh),
            InjectionWire::OAuth2ClientCredentials => Ok(Injection::OAuth2ClientCredentials),
            InjectionWire::SigV4(s) => AwsScope::parse(&s)
                .map(Injection::SigV4)
                .map_err(|why| InjectionError::new(format!("sigv4:{s}"), why)),
        }
    }
}

impl From<Injection> for InjectionWire {
    fn from(i: Injection) -> Self {
        match i {
            Injection::Bearer => InjectionWire::Bearer,
            Injection::Basic => InjectionWire::Basic,
            Injection::Header(n) => InjectionWire::Header(n.0),
            Injection::Query(n) => InjectionWire::Query(n),
            Injection::OAuth2Refresh => InjectionWire::OAuth2Refresh,
            Injection::OAuth2ClientCredentials => InjectionWire::OAuth2ClientCredentials,
            Injection::SigV4(scope) => InjectionWire::SigV4(scope.to_string()),
        }
    }
}

/// A header the secret may be injected into: a valid HTTP field name (an RFC 9110
/// token), in lower case, and not one of the headers that frame, route or describe the
/// request itself (see [`FieldName::parse`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldName(String);

/// Headers a secret must never be injected into, and why. Putting a key in `Host`,
/// `Content-Length` or `Transfer-Encoding` would change where or how the request is read
/// (and could smuggle a second request); hop-by-hop headers are not meant for the upstream;
/// body caveats check `Content-Type` and `Content-Encoding` as sent.
const RESERVED_HEADERS: &[(&str, &str)] = &[
    ("host", "names the host the request is for"),
    ("content-length", FRAMES),
    ("transfer-encoding", FRAMES),
    ("content-type", READS_BODY),
    ("content-encoding", READS_BODY),
    ("expect", "controls how the request body is sent"),
    ("connection", HOP_BY_HOP),
    ("keep-alive", HOP_BY_HOP),
    ("proxy-connection", HOP_BY_HOP),
    ("proxy-authorization", HOP_BY_HOP),
    ("proxy-authenticate", HOP_BY_HOP),
    ("te", HOP_BY_HOP),
    ("trailer", HOP_BY_HOP),
    ("upgrade", HOP_BY_HOP),
    ("macaroon-discharge", "carries discharge tokens to the proxy"),
];
const FRAMES: &str = "frames the request body";
const READS_BODY: &str = "says how the body is read (body caveats check it)";
const HOP_BY_HOP: &str = "is hop-by-hop (RFC 9110 7.6.1), not meant for the upstream";

impl FieldName {
    /// Checks a header name: an RFC 9110 token (letters, digits, ``!#$%&'*+-.^_`|~``), not a
    /// reserved one. Kept in lower case, as HTTP/2 sends it.
    pub fn parse(name: &str) -> Result<Self, InjectionProblem> {
        if !is_token(name) {
            return Err(InjectionProblem::HeaderName);
        }
        let lower = name.to_ascii_lowercase();
        if let Some((reserved, why)) = RESERVED_HEADERS.iter().find(|(n, _)| *n == lower) {
            return Err(InjectionProblem::ReservedHeader { name: reserved, why });
        }
        Ok(FieldName(lower))
    }

    /// The name, in lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An RFC 9110 `token`: one or more tchar.
fn is_token(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why an injection rule was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{rule:?} is not a usable injection rule: {why}")]
pub struct InjectionError {
    /// The rule as written.
    pub rule: String,
    /// What is wrong with it.
    pub why: InjectionProblem,
}

impl InjectionError {
    fn new(rule: String, why: InjectionProblem) -> Self {
        InjectionError { rule, why }
    }
}

/// What is wrong with an injection rule. Its message does not quote the rule (the proxy
/// shows it for sealed payloads).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InjectionProblem {
    /// Not one of the kinds.
    #[error(
        "expected bearer, basic, header:NAME, query:NAME, oauth2-refresh, oauth2-client-credentials \
         or sigv4:REGION:SERVICE"
    )]
    Unknown,
    /// The SigV4 region or service is not usable.
    #[error("give the AWS region and service in lower case, e.g. sigv4:us-east-1:s3")]
    AwsScope,
    /// The header name is not an HTTP field name.
    #[error("a header name is one or more letters, digits or !#$%&'*+-.^_`|~ (an RFC 9110 token), e.g. header:x-api-key")]
    HeaderName,
    /// A header the secret must not go into.
    #[error("the {name} header {why}, so a key cannot go there; name the header the API reads its key from, e.g. header:x-api-key")]
    ReservedHeader {
        /// The header.
        name: &'static str,
        /// What it is for.
        why: &'static str,
    },
    /// The query parameter name is not usable.
    #[error(
        "a query parameter name is one or more letters, digits or !$%'*+-.^_`|~ (no & = #), e.g. query:key"
    )]
    QueryName,
}

impl std::str::FromStr for Injection {
    type Err = InjectionError;
    fn from_str(s: &str) -> Result<Self, InjectionError> {
        let wire = match s.split_once(':') {
            None if s == "bearer" => InjectionWire::Bearer,
            None if s == "basic" => InjectionWire::Basic,
            None if s == "oauth2-refresh" => InjectionWire::OAuth2Refresh,
            None if s == "oauth2-client-credentials" => InjectionWire::OAuth2ClientCredentials,
            Some(("sigv4", scope)) => InjectionWire::SigV4(scope.to_string()),
            Some(("header", n)) => InjectionWire::Header(n.to_string()),
            Some(("query", n)) => InjectionWire::Query(n.to_string()),
            _ => return Err(InjectionError::new(s.to_string(), InjectionProblem::Unknown)),
        };
        Injection::try_from(wire).map_err(|e| InjectionError::new(s.to_string(), e.why))
    }
}

impl fmt::Display for Injection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Injection::Bearer => f.write_str("bearer"),
            Injection::Basic => f.write_str("basic"),
            Injection::Header(n) => write!(f, "header:{n}"),
            Injection::Query(n) => write!(f, "query:{n}"),
            Injection::OAuth2Refresh => f.write_str("oauth2-refresh"),
            Injection::OAuth2ClientCredentials => f.write_str("oauth2-client-credentials"),
            Injection::SigV4(scope) => write!(f, "sigv4:{scope}"),
        }
    }
}

/// What the sealed box holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PayloadWire")]
pub struct Payload {
    /// Token family id: 16 random bytes, hex. Revocation lists name this.
    pub kid: String,
    /// The macaroon root key.
    pub root: RootKey,
    /// The real API key.
    pub secret: Secret,
    /// Where the secret goes upstream.
    pub inject: Injection,
    /// The only hosts the secret may be sent to; the first is the reverse-proxy default.
    pub hosts: Vec<Host>,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Hard expiry sealed at wrap time, Unix seconds; caveats cannot extend it.
    pub exp: Option<u64>,
    /// The issuer's Ed25519 public key (base64): who wrapped this. Required; absent only in
    /// payloads sealed before issuers existed, which are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The issuer's signature (base64) over the canonical payload without `sig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    /// `iss`, checked: set once the signature has verified (never serialized).
    #[serde(skip)]
    issuer: Option<IssuerPublic>,
}

/// The JSON as sealed, before the checks serde cannot make ([`Payload::validate`], the
/// injection rule). Opening reads this first so that a refused rule is named plainly.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadWire {
    kid: String,
    root: RootKey,
    secret: Secret,
    inject: InjectionWire,
    hosts: Vec<Host>,
    iat: u64,
    exp: Option<u64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sig: Option<String>,
}

impl TryFrom<PayloadWire> for Payload {
    type Error = String;
    fn try_from(w: PayloadWire) -> Result<Self, String> {
        let inject =
            Injection::try_from(w.inject).map_err(|e| format!("its injection rule is refused: {}", e.why))?;
        let payload = Payload {
            kid: w.kid,
            root: w.root,
            secret: w.secret,
            inject,
            hosts: w.hosts,
            iat: w.iat,
            exp: w.exp,
            iss: w.iss,
            sig: w.sig,
            issuer: None,
        };
        payload.validate()?;
        crate::credential::Credential::read(&payload.inject, &payload.secret).map_err(|e| e.to_string())?;
        Ok(payload)
    }
}

impl Payload {
    /// Heap bytes held, for cache budgets ([`crate::Verified::weight`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        use crate::caveat::{string_heap, vec_heap};
        let inject = match &self.inject {
            Injection::Header(n) => string_heap(&n.0),
            Injection::Query(n) => string_heap(n),
            Injection::SigV4(s) => string_heap(&s.region) + string_heap(&s.service),
            Injection::Bearer
            | Injection::Basic
            | Injection::OAuth2Refresh
            | Injection::OAuth2ClientCredentials => 0,
        };
        string_heap(&self.kid)
            + self.iss.as_deref().map_or(0, string_heap)
            + self.sig.as_deref().map_or(0, string_heap)
            + string_heap(self.secret.expose())
            + inject
            + vec_heap(&self.hosts)
            + self.hosts.iter().map(Host::heap_bytes).sum::<usize>()
            + crate::caveat::ALLOC_OVERHEAD
    }
}

/// Why a sealed identifier could not be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnsealError {
    /// The identifier is not one of ours (another implementation's opaque id).
    #[error("the token identifier is not a macaroon-proxy sealed identifier (no \"mk1\" prefix); it was minted elsewhere")]
    NotSealed,
    /// Sealed to a proxy key we do not hold.
    #[error("the token is sealed to proxy key {0}, which this proxy does not hold: it was wrapped for another proxy. To wrap for this one, run `macaroon-proxy key show` here and pass its output to `macaroon wrap --proxy-key` (see docs/teams.md)")]
    UnknownKey(KeyId),
    /// The box does not open with the key it names: forged or corrupted.
    #[error("the sealed identifier does not open with proxy key {0}: it is corrupted or forged")]
    Corrupt(KeyId),
    /// The box opened but the payload is not valid.
    #[error("the sealed payload is invalid: {0}")]
    BadPayload(String),
    /// Sealed before payloads were signed by an issuer.
    #[error("the token was wrapped before issuer signatures existed (macaroon 0.1); wrap the key again with `macaroon wrap`")]
    Unsigned,
    /// The issuer signature does not verify.
    #[error("{0}")]
    Issuer(#[from] IssuerError),
}

/// The parts of a sealed identifier that can be read without the private key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedId<'a> {
    /// Which proxy key opens it.
    pub key_id: KeyId,
    /// The sealed box.
    pub sealed: &'a [u8],
}

impl<'a> SealedId<'a> {
    /// Splits an identifier; `None` if it is not a sealed identifier of ours.
    pub fn parse(identifier: &'a [u8]) -> Option<Self> {
        let rest = identifier.strip_prefix(SEALED_PREFIX.as_slice())?;
        if rest.len() < 8 + crypto::SEAL_OVERHEAD {
            return None;
        }
        let (id, sealed) = rest.split_at(8);
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(id);
        Some(SealedId {
            key_id: KeyId(key_id),
            sealed,
        })
    }

    /// Opens the box with whichever of `keys` this identifier names.
    pub fn open(&self, keys: &[ProxyKeyPair]) -> Result<Payload, UnsealError> {
        let key = keys
            .iter()
            .find(|k| k.key_id() == self.key_id)
            .ok_or(UnsealError::UnknownKey(self.key_id))?;
        let plain = key.open(self.sealed).ok_or(UnsealError::Corrupt(self.key_id))?;
        let wire: PayloadWire = serde_json::from_slice(&plain)
            // serde_json's message may quote input (the secret); keep only its position.
            .map_err(|e| {
                UnsealError::BadPayload(format!(
                    "not the expected JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
        let mut payload = Payload::try_from(wire).map_err(UnsealError::BadPayload)?;
        payload.check_signature()?;
        Ok(payload)
    }
}

impl Payload {
    /// A new payload with a fresh root key and kid, issued at `now`, signed by `issuer`.
    pub fn new(
        secret: Secret,
        inject: Injection,
        hosts: Vec<Host>,
        now: SystemTime,
        exp: Option<SystemTime>,
        issuer: &IssuerKey,
    ) -> Self {
        let mut p = Payload {
            kid: hex::encode(crypto::random::<16>()),
            root: RootKey::generate(),
            secret,
            inject,
            hosts,
            iat: unix(now),
            exp: exp.map(unix),
            iss: Some(issuer.public().to_string()),
            sig: None,
            issuer: Some(issuer.public()),
        };
        p.sig = Some(STANDARD.encode(issuer.sign(&p.canonical())));
        p
    }

    /// The bytes the issuer signs: the canonical JSON of every field but `sig`.
    pub fn canonical(&self) -> Zeroizing<Vec<u8>> {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("sig");
        }
        let out = Zeroizing::new(canonical_json(&v));
        // The value held the secret and root key too.
        if let Some(m) = v.as_object_mut() {
            for (_, field) in m.iter_mut() {
                if let serde_json::Value::String(text) = field {
                    zeroize::Zeroize::zeroize(text);
                }
            }
        }
        out
    }

    /// Checks `iss` and `sig`; on success the issuer is available from [`Payload::issuer`].
    fn check_signature(&mut self) -> Result<(), UnsealError> {
        let (Some(iss), Some(sig)) = (&self.iss, &self.sig) else {
            return Err(UnsealError::Unsigned);
        };
        let issuer = IssuerPublic::from_base64(iss, "the sealed issuer key")?;
        let sig: [u8; 64] = STANDARD
            .decode(sig)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
            .ok_or(UnsealError::Issuer(IssuerError::BadSignature))?;
        issuer.verify(&self.canonical(), &sig)?;
        self.issuer = Some(issuer);
        Ok(())
    }

    /// The credential, read as the injection rule says (checked when the payload opened).
    pub fn credential(
        &self,
    ) -> Result<crate::credential::Credential<'_>, crate::credential::CredentialError> {
        crate::credential::Credential::read(&self.inject, &self.secret)
    }

    /// Who signed this payload: set for every payload that opened (or was made here).
    pub fn issuer(&self) -> Option<&IssuerPublic> {
        self.issuer.as_ref()
    }

    /// Checks what serde cannot: a secret and at least one host.
    pub fn validate(&self) -> Result<(), String> {
        if self.hosts.is_empty() {
            return Err("no sealed hosts: the secret could be sent nowhere".into());
        }
        if self.secret.expose().is_empty() {
            return Err("the secret is empty".into());
        }
        if self.kid.len() != 32 || !self.kid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("kid must be 32 hex digits".into());
        }
        Ok(())
    }

    /// Seals the payload to a proxy public key, giving identifier bytes.
    pub fn seal(&self, to: &PublicKey) -> Vec<u8> {
        // Serializing a struct of strings and numbers cannot fail.
        let json = Zeroizing::new(serde_json::to_vec(self).unwrap_or_default());
        let sealed = to.seal(&json);
        let mut id = Vec::with_capacity(3 + 8 + sealed.len());
        id.extend_from_slice(SEALED_PREFIX);
        id.extend_from_slice(&to.key_id().0);
        id.extend_from_slice(&sealed);
        id
    }

    /// The sealed expiry as a time.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.exp.map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
    }
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Token;

    fn payload() -> Payload {
        Payload::new(
            Secret::new("sk_live_abc".into()),
            Injection::Bearer,
            vec![Host::parse_canonical("api.stripe.com").expect("host")],
            SystemTime::now(),
            None,
            &IssuerKey::generate(),
        )
    }

    #[test]
    fn seal_then_open_round_trips() {
        let kp = ProxyKeyPair::generate();
        let p = payload();
        let id = p.seal(kp.public());
        assert!(id.starts_with(b"mk1"));
        let sid = SealedId::parse(&id).expect("ours");
        assert_eq!(sid.key_id, kp.key_id());
        assert_eq!(sid.open(&[kp]).expect("opens"), p);
    }

    #[test]
    fn another_key_does_not_open() {
        let kp = ProxyKeyPair::generate();
        let other = ProxyKeyPair::generate();
        let id = payload().seal(kp.public());
        let sid = SealedId::parse(&id).expect("ours");
        assert_eq!(sid.open(&[other]), Err(UnsealError::UnknownKey(kp.key_id())));
    }

    #[test]
    fn secret_is_not_visible_in_identifier_or_debug() {
        let kp = ProxyKeyPair::generate();
        let p = payload();
        let id = p.seal(kp.public());
        assert!(!id.windows(11).any(|w| w == b"sk_live_abc"));
        let shown = format!("{p:?}");
        assert!(!shown.contains("sk_live_abc"), "{shown}");
        assert!(!shown.contains(&STANDARD.encode(p.root.as_bytes())), "{shown}");
    }

    #[test]
    fn payload_json_shape_matches_design() {
        let p = payload();
        let v: serde_json::Value = serde_json::to_value(&p).expect("json");
        let obj = v.as_object().expect("object");
        let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["exp", "hosts", "iat", "inject", "iss", "kid", "root", "secret", "sig"]
        );
        assert_eq!(v["inject"], serde_json::json!({"kind": "bearer"}));
        assert_eq!(
            STANDARD
                .decode(v["root"].as_str().expect("root"))
                .expect("b64")
                .len(),
            32
        );
        let h: Payload = serde_json::from_value(serde_json::json!({
            "kid": "00112233445566778899aabbccddeeff", "root": STANDARD.encode([1u8; 32]),
            "secret": "s", "inject": {"kind": "header", "name": "x-api-key"},
            "hosts": ["a.com"], "iat": 1, "exp": null
        }))
        .expect("parse");
        assert_eq!(
            h.inject,
            Injection::Header(FieldName::parse("x-api-key").expect("name"))
        );
    }

    #[test]
    fn the_opened_payload_names_its_issuer() {
        let kp = ProxyKeyPair::generate();
        let issuer = IssuerKey::generate();
        let p = Payload::new(
            Secret::new("k".into()),
            Injection::Bearer,
            vec![Host::parse_canonical("a.com").expect("h")],
            SystemTime::now(),
            None,
            &issuer,
        );
        let opened = SealedId::parse(&p.seal(kp.public()))
            .expect("ours")
            .open(&[kp])
            .expect("opens");
        assert_eq!(opened.issuer(), Some(&issuer.public()));
    }

    #[test]
    fn a_payload_changed_after_signing_is_refused() {
        // Someone who can open the box (the proxy key's holder) changes a field and seals
        // it again: the issuer's signature no longer matches.
        let kp = ProxyKeyPair::generate();
        let mut p = payload();
        p.hosts = vec![Host::parse_canonical("attacker.example").expect("h")];
        let id = p.seal(kp.public());
        let e = SealedId::parse(&id)
            .expect("ours")
            .open(&[kp])
            .expect_err("tampered");
        assert_eq!(e, UnsealError::Issuer(IssuerError::BadSignature));
        assert!(e.to_string().contains("altered"), "{e}");
    }

    #[test]
    fn a_payload_without_an_issuer_is_refused_with_how_to_fix_it() {
        let kp = ProxyKeyPair::generate();
        let mut p = payload();
        p.iss = None;
        p.sig = None;
        let e = SealedId::parse(&p.seal(kp.public()))
            .expect("ours")
            .open(&[kp])
            .expect_err("unsigned");
        assert_eq!(e, UnsealError::Unsigned);
        assert!(e.to_string().contains("wrap the key again"), "{e}");
    }

    #[test]
    fn injection_text_round_trips() {
        for s in ["bearer", "basic", "header:x-api-key", "query:key"] {
            assert_eq!(s.parse::<Injection>().expect(s).to_string(), s);
        }
        assert!("header:".parse::<Injection>().is_err());
        assert!("query:a=b".parse::<Injection>().is_err());
        assert!("cookie:x".parse::<Injection>().is_err());
        assert_eq!(
            "header:X-Api-Key"
                .parse::<Injection>()
                .expect("mixed case")
                .to_string(),
            "header:x-api-key"
        );
    }

    #[test]
    fn header_name_that_is_no_http_token_is_refused() {
        for rule in [
            "header:x api",
            "header:x\r\nx-evil",
            "header:clé",
            "header:a:b",
            "header:(x)",
        ] {
            let e = rule.parse::<Injection>().expect_err(rule);
            assert_eq!(e.why, InjectionProblem::HeaderName, "{rule}");
            assert!(e.to_string().contains("RFC 9110"), "{e}");
        }
    }

    #[test]
    fn headers_that_frame_or_route_the_request_are_refused() {
        for name in [
            "host",
            "Content-Length",
            "transfer-encoding",
            "connection",
            "te",
            "proxy-authorization",
        ] {
            let e = format!("header:{name}").parse::<Injection>().expect_err(name);
            assert!(matches!(e.why, InjectionProblem::ReservedHeader { .. }), "{name}");
            assert!(e.to_string().contains(&name.to_ascii_lowercase()), "{e}");
            assert!(e.to_string().contains("header:x-api-key"), "{e}");
        }
        // The Authorization header without a scheme is a real API convention.
        assert!("header:authorization".parse::<Injection>().is_ok());
    }

    /// Seals raw JSON (as another wrapper, or a forger holding the public key, could).
    fn seal_json(kp: &ProxyKeyPair, json: &serde_json::Value) -> Vec<u8> {
        let mut id = SEALED_PREFIX.to_vec();
        id.extend_from_slice(&kp.key_id().0);
        id.extend_from_slice(&kp.public().seal(json.to_string().as_bytes()));
        id
    }

    fn payload_json(inject: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "kid": "00112233445566778899aabbccddeeff", "root": STANDARD.encode([1u8; 32]),
            "secret": "sk_live_abc", "inject": inject, "hosts": ["a.com"], "iat": 1, "exp": null
        })
    }

    #[test]
    fn sealed_invalid_header_name_does_not_open() {
        let kp = ProxyKeyPair::generate();
        for name in ["bad name", "x\r\nevil", "", "Host", "transfer-encoding"] {
            let id = seal_json(
                &kp,
                &payload_json(serde_json::json!({"kind": "header", "name": name})),
            );
            let e = SealedId::parse(&id)
                .expect("ours")
                .open(std::slice::from_ref(&kp))
                .expect_err(name);
            let UnsealError::BadPayload(why) = &e else {
                panic!("{name:?}: {e:?}")
            };
            assert!(why.contains("injection rule is refused"), "{why}");
            assert!(!e.to_string().contains("sk_live_abc"), "{e}");
            assert!(serde_json::from_value::<Payload>(payload_json(
                serde_json::json!({"kind": "header", "name": name})
            ))
            .is_err());
        }
        let signed = Payload::new(
            Secret::new("sk_live_abc".into()),
            "header:X-Api-Key".parse().expect("rule"),
            vec![Host::parse_canonical("api.stripe.com").expect("host")],
            SystemTime::now(),
            None,
            &IssuerKey::generate(),
        );
        let p = SealedId::parse(&signed.seal(kp.public()))
            .expect("ours")
            .open(&[kp])
            .expect("opens");
        assert_eq!(p.inject.to_string(), "header:x-api-key");
    }

    #[test]
    fn sealed_invalid_query_name_does_not_open() {
        let kp = ProxyKeyPair::generate();
        let id = seal_json(
            &kp,
            &payload_json(serde_json::json!({"kind": "query", "name": "a=b"})),
        );
        let e = SealedId::parse(&id)
            .expect("ours")
            .open(&[kp])
            .expect_err("refused");
        assert!(e.to_string().contains("query parameter name"), "{e}");
    }

    #[test]
    fn credential_kinds_round_trip_as_text_and_sealed_json() {
        for s in [
            "oauth2-refresh",
            "oauth2-client-credentials",
            "sigv4:us-east-1:s3",
            "sigv4:eu-west-2:execute-api",
        ] {
            let rule = s.parse::<Injection>().expect(s);
            assert_eq!(rule.to_string(), s);
            let wire = serde_json::to_value(&rule).expect("json");
            assert_eq!(serde_json::from_value::<Injection>(wire).expect("back"), rule);
        }
        assert_eq!(
            serde_json::to_value("sigv4:us-east-1:s3".parse::<Injection>().expect("rule")).expect("json"),
            serde_json::json!({"kind": "sigv4", "name": "us-east-1:s3"})
        );
        assert_eq!(
            serde_json::to_value(Injection::OAuth2Refresh).expect("json"),
            serde_json::json!({"kind": "oauth2-refresh"})
        );
        for bad in [
            "sigv4",
            "sigv4:us-east-1",
            "sigv4:US-EAST-1:s3",
            "sigv4:us east:s3",
            "oauth2",
        ] {
            assert!(bad.parse::<Injection>().is_err(), "{bad}");
        }
    }

    fn mint_payload(inject: Injection, secret: Secret) -> Payload {
        Payload::new(
            secret,
            inject,
            vec![Host::parse_canonical("s3.amazonaws.com").expect("host")],
            SystemTime::now(),
            None,
            &IssuerKey::generate(),
        )
    }

    #[test]
    fn a_sigv4_payload_opens_with_its_keys_and_hides_them() {
        let kp = ProxyKeyPair::generate();
        let keys = crate::SigV4Keys::from_json(
            r#"{"access_key_id":"AKIAEXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG","session_token":"FwoGZXIvYXdzEXAMPLE"}"#,
        )
        .expect("keys");
        let p = mint_payload("sigv4:us-east-1:s3".parse().expect("rule"), keys.to_secret());
        let opened = SealedId::parse(&p.seal(kp.public()))
            .expect("ours")
            .open(&[kp])
            .expect("opens");
        match opened.credential().expect("credential") {
            crate::Credential::SigV4 {
                region,
                service,
                keys: k,
            } => {
                assert_eq!((region, service), ("us-east-1", "s3"));
                assert_eq!(k, keys);
            }
            other => panic!("{other:?}"),
        }
        let shown = format!("{opened:?} {:?}", opened.credential());
        assert!(
            !shown.contains("wJalrXUtnFEMI") && !shown.contains("FwoGZXIvYXdz"),
            "{shown}"
        );
    }

    #[test]
    fn a_secret_without_the_shape_of_its_rule_does_not_open() {
        // A static key sealed as oauth2-refresh (by another wrapper): refused at open, never
        // sent anywhere, and the message does not quote it.
        let kp = ProxyKeyPair::generate();
        let mut json = payload_json(serde_json::json!({"kind": "oauth2-refresh"}));
        json["secret"] = serde_json::json!("sk_live_abc");
        let e = SealedId::parse(&seal_json(&kp, &json))
            .expect("ours")
            .open(&[kp])
            .expect_err("refused");
        assert!(matches!(e, UnsealError::BadPayload(_)), "{e:?}");
        assert!(!e.to_string().contains("sk_live_abc"), "{e}");
        let e = Token::mint(
            ProxyKeyPair::generate().public(),
            crate::MintRequest {
                secret: Secret::new("sk_live_abc".into()),
                inject: "sigv4:us-east-1:s3".parse().expect("rule"),
                hosts: vec![Host::parse_canonical("s3.amazonaws.com").expect("host")],
                expires: None,
                location: None,
                issuer: IssuerKey::generate(),
            },
            SystemTime::now(),
        )
        .expect_err("not sigv4 keys");
        assert!(e.to_string().contains("sigv4"), "{e}");
    }

    #[test]
    fn foreign_identifiers_are_not_ours() {
        assert!(SealedId::parse(b"keyid").is_none());
        assert!(SealedId::parse(b"mk1short").is_none());
    }
}
