//! State a proxy may share with its replicas: usage and rate counts, and revocations.
//! [`State`] is the one interface, embedded or in the shared store ([`store`]); [`counters`]
//! and [`revocations`] sit on it.
//!
//! By default it lives in the process (one replica needs nothing else). With
//! `run --state redis://HOST:PORT/DB` it lives in Redis (or Valkey), so every replica counts
//! against the same numbers: a `uses <= 20` token gets 20 requests in all, not 20 per
//! replica. Each request that needs counting makes one round trip: a Lua script that checks
//! every limit of the token and, only if all hold, charges all of them, atomically, on the
//! server's clock (replicas' clocks never disagree about a window).
//!
//! Rates are rolling windows kept as a log of request times (a Redis sorted set; a deque
//! here): at most N requests in *any* window of the given length, never the 2N a fixed
//! window or a GCRA burst allows across a boundary. The log is bounded by N (at most
//! [`caveat::MAX_RATE`]).
//!
//! The store is never consulted for a token without usage or rate caveats. When it cannot
//! be reached, the requests that need it are refused (fail closed) and the rest flow on.

pub mod approvals;
pub mod counters;
pub mod revocations;
pub mod store;
pub mod stream;

use std::time::Instant;

use caveat::Limit;

use self::counters::{Charge, Embedded};
use self::store::{RedisState, Unavailable};

/// Where counts and shared revocations live.
pub enum State {
    /// In this process only.
    Embedded(Embedded),
    /// In Redis, shared by every replica pointed at it.
    Redis(Box<RedisState>),
}

impl State {
    /// Connects (lazily: a store down at start-up is retried by each request that needs
    /// it, and reported by `/healthz`) to `url` (with `password`, if given, instead of the
    /// URL's), or the embedded store for `None`.
    pub fn open(
        url: Option<&str>,
        password: Option<&caveat::Secret>,
        workers: usize,
    ) -> anyhow::Result<State> {
        match url {
            None => Ok(State::Embedded(Embedded::default())),
            Some(u) => Ok(State::Redis(Box::new(RedisState::open(u, password, workers)?))),
        }
    }

    /// Checks every limit and, only if all hold, charges each once, atomically.
    /// Each usage count is kept until its limit's expiry ([`Limit::expires`]), never less
    /// than another request kept it for.
    pub async fn charge(&self, limits: &[Limit], request_id: &str) -> Result<Charge, Unavailable> {
        match self {
            State::Embedded(e) => Ok(e.charge(limits, Instant::now())),
            State::Redis(r) => r.charge(limits, request_id).await,
        }
    }

    /// One line for `/healthz`: the store and whether it answered lately.
    pub fn health(&self) -> (bool, String) {
        match self {
            State::Embedded(_) => (true, "state: embedded (this process)".into()),
            State::Redis(r) => r.health(),
        }
    }

    /// The shared store, when `--state` names one.
    pub fn shared(&self) -> Option<&RedisState> {
        match self {
            State::Redis(r) => Some(r),
            State::Embedded(_) => None,
        }
    }

    /// 1 when the store answered its last request, else 0 (for `/metrics`).
    pub fn up(&self) -> bool {
        self.health().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_store_url_says_what_to_write() {
        let Err(e) = State::open(Some("http://x"), None, 1) else {
            panic!("accepted")
        };
        assert!(e.to_string().contains("redis://HOST:PORT/DB"), "{e}");
    }
}
