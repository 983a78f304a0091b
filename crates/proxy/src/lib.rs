//! The verifier proxy: checks a macaroon on every request, strips it, injects the sealed
//! API key and forwards only to the host the key was sealed for.
//!
//! Modules follow the request: `config` (the validated `run` flags), `listen` (accept,
//! CONNECT, TLS interception), `pipeline` (the request path as named phases), `inject` (where tokens are found and
//! secrets go), `client` (the per-worker upstream pools), `upstream` (resolution, address
//! checks, TLS roots), `audit`,
//! `metrics`, and `ca` (the local certificate authority).

pub mod admin;
pub mod audit;
pub mod ca;
pub mod cli;
pub mod config;
pub mod copies;
pub mod credentials;
pub mod deny;
pub mod http;
pub mod idle;
pub mod ids;
pub mod issuers;
pub mod keygen;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod pipeline;
pub mod proxy;
pub mod request;
pub mod revoke;
pub mod run;
pub mod state;
pub mod upstream;
pub mod worker;
