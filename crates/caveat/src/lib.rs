//! The macaroon core: the caveat language, sealed identifiers, and the one function that
//! decides whether a request may go through with a token.
//!
//! This crate knows nothing of HTTP servers, terminals or storage (it does no I/O; key
//! files and the home directory are the `macaroon-home` crate's), so the CLI's
//! `verify` dry run and the proxy take their decisions from the same code:
//! [`decide`] (or [`decide_unsealed`] with a cached [`Payload`]).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use caveat::*;
//!
//! let proxy = ProxyKeyPair::generate();
//! let now = SystemTime::now();
//! let root = Token::mint(proxy.public(), MintRequest {
//!     secret: Secret::new("sk_live_123".into()),
//!     inject: Injection::Bearer,
//!     hosts: vec![Host::parse_canonical("api.stripe.com").unwrap()],
//!     expires: None,
//!     location: None,
//!     issuer: IssuerKey::generate(),
//! }, now).unwrap();
//! // Anyone holding the token can narrow it, offline.
//! let narrow = root
//!     .attenuate(&Caveat::parse("method = GET").unwrap())
//!     .attenuate(&Caveat::TimeBefore(now + Duration::from_secs(600)));
//! let token = Token::decode(&narrow.encode()).unwrap();
//!
//! let get = Request::new(now, Method::new("GET").unwrap(),
//!     Host::normalize("api.stripe.com").unwrap(), RequestPath::parse("/v1/charges").unwrap());
//! assert!(decide(&token, &[], &[proxy.clone()], &get).is_allowed());
//!
//! let post = Request { method: Method::new("POST").unwrap(), ..get };
//! assert!(!decide(&token, &[], &[proxy], &post).is_allowed());
//! ```

mod approval;
mod caveat;
mod content;
mod credential;
mod crypto;
mod decimal;
pub mod field;
pub mod graphql;
mod host;
mod issuer;
mod json;
mod keys;
mod limit;
pub mod mcp;
mod operator;
mod path;
mod request;
mod sealed;
mod steps;
mod token;
mod v1;
mod v2json;
mod verify;

pub use crate::approval::{
    approval_key_id, request_digest, ApprovalCaveat, ApprovalScope, APPROVAL_LOCATION, APPROVAL_PREFIX,
    MAX_APPROVAL_WINDOW,
};
pub use crate::caveat::{check_label, fmt_duration, fmt_time, Caveat, CaveatError, Unmet, MAX_LABEL};
pub use crate::content::{needs_body, params_in_body, Condition};
pub use crate::credential::{Credential, CredentialError, Grant, OAuth2, SigV4Keys, TokenUrl};
pub use crate::decimal::{Decimal, NumberError};
pub use crate::host::{Host, HostError};
pub use crate::issuer::{IssuerError, IssuerKey, IssuerPublic, SIGNING_CONTEXT};
pub use crate::json::{JsonPointer, PointerError, MAX_DEPTH as MAX_JSON_DEPTH};
pub use crate::keys::{KeyError, KeyId, ProxyKeyPair, PublicKey, StateKey};
pub use crate::limit::{Limit, LimitKind, Window, MAX_LIMITS, MAX_RATE, MAX_USES, MAX_WINDOW};
pub use crate::operator::{
    check_operator_name, Operator, OperatorKey, Role, OPERATOR_ID_PREFIX, OPERATOR_LOCATION,
};
pub use crate::path::{PathError, PathGlob, RequestPath};
pub use crate::request::{BodyView, Method, MethodError, Request, RequestBody, Scheme, MAX_METHOD};
pub use crate::sealed::{
    AwsScope, FieldName, Injection, InjectionError, InjectionProblem, Payload, RootKey, SealedId, Secret,
    UnsealError, SEALED_PREFIX,
};
pub use crate::token::{
    branch_digest, branch_id_of, DecodeError, MintError, MintRequest, ThirdPartyCaveat, Token, WireFormat,
    MAX_TOKEN_LEN,
};
pub use crate::verify::{
    chain_branch_ids, check_predicates, decide, decide_unsealed, unseal, verify_chain, CacheKey, Decision,
    Denial, DenyKind, Verified,
};

/// Random bytes from the operating system (ids the proxy hands out, e.g. approvals).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    crate::crypto::random::<N>()
}
