//! End-to-end tests: the real binaries in a fresh home, as a user would run them.

mod adversarial;
mod approvals;
mod audit_export;
mod body;
mod ca;
mod cli;
mod completions;
mod console;
mod creds;
mod deploy;
mod exec;
mod hardening;
mod identity;
mod interop;
mod issuers;
mod keygen;
mod mcp_graphql;
mod mount;
mod operators;
mod prompt;
mod proxy;
mod scrub;
mod transparent;
mod usage;
mod world;
