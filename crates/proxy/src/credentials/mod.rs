//! What goes upstream in the key's place: where tokens are found and secrets are injected
//! ([`inject`]), OAuth2 access tokens ([`oauth`], shared between replicas by
//! [`shared_tokens`]) and AWS SigV4 signing ([`sigv4`]).

pub mod inject;
pub mod oauth;
pub mod shared_tokens;
pub mod sigv4;
