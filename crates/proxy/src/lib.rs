//! The verifier proxy: checks a macaroon on every request, strips it, injects the sealed
//! API key and forwards only to the host the key was sealed for.
//!
//! Floors, each importing only the ones below it (`scripts/modgraph.py` checks there is no
//! cycle), from the top:
//!
//! * `cli`, `run`: the commands and the server's start-up; `config` (the `run` flags and
//!   the [`config::Config`] they make), `config_file` (`run --config FILE`), `reload`
//!   (SIGHUP) and `limits` (every fixed timeout and size);
//! * `listen` (accept, CONNECT, TLS interception) and `admin` (`/healthz`, `/metrics`, the
//!   operator-token admin API); `admin_client` and `approvals_cli` (the commands that call that API);
//! * `pipeline`: the request path, one file per phase, in order;
//! * `request` (one request's context), `deny` (every refusal, in one table), `proxy` (the
//!   shared [`proxy::Proxy`]: keys, caches, per-worker pools);
//! * `credentials` (where tokens are found and secrets go; OAuth2, SigV4), `copies`,
//!   `upstream` (pool, address policy, decoding, scrubbing), `state` (the store shared
//!   with replicas), `live` (the settings a reload swaps), `approvals` (requests held for a
//!   person, and the discharges approving mints), `audit` (and `audit_export`: OCSF, OTLP), `feed` (what the admin API
//!   streams), `metrics`, `issuers`, `revoke`, `ca`, `idle`, `operators` (`operator.key`), `webhook` (approval notices);
//! * `http` (body and header helpers), `ids`, `worker`.

pub mod admin;
pub mod admin_client;
pub mod approvals;
pub mod approvals_cli;
pub mod audit;
pub mod audit_export;
pub mod ca;
pub mod cli;
pub mod coalesce;
pub mod config;
pub mod config_file;
pub mod console;
pub mod copies;
pub mod credentials;
pub mod deny;
pub mod feed;
pub mod http;
pub mod idle;
pub mod ids;
pub mod intercept_tls;
pub mod issuers;
pub mod keygen;
pub mod limits;
pub mod listen;
pub mod live;
pub mod metrics;
pub mod operators;
pub mod pipeline;
pub mod proxy;
pub mod reload;
pub mod request;
pub mod revoke;
pub mod run;
pub mod state;
pub mod upstream;
pub mod webhook;
pub mod worker;
