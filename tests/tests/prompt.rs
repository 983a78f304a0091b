//! The hidden prompt of `macaroon wrap`, driven through a pseudo-terminal.
