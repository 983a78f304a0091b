//! The verifier proxy. Today: key management (`keygen`). The request pipeline lands in
//! the proxy issue; this crate is where it lives, as a library the binary wraps.

pub mod cli;
pub mod keygen;
