//! Everything toward the upstream: where connections may go and how (the address policy
//! and TLS roots, [`policy`]), this worker's pooled client ([`client`]), and what comes
//! back (decoded by [`decode`] when it must be scrubbed, scrubbed by [`scrub`]).

pub mod client;
pub mod decode;
pub mod policy;
pub mod scrub;
pub mod tools;
