//! OAuth2 access tokens shared by replicas through the `--state` store, so N replicas make
//! one exchange, not N, and a refresh token one replica's exchange rotated is the one the
//! next exchange uses, whichever replica makes it.
//!
//! What is stored is sealed with a key derived from the proxy private key (XSalsa20-
//! Poly1305, [`caveat::StateKey`]): whoever reads Redis learns no token, and whoever can
//! write to it cannot plant one (a forged entry does not open, and the replica exchanges
//! for itself). Each entry also names its credential's digest inside the seal, so an entry
//! copied under another credential's key is refused.
//!
//! One exchange across replicas: a replica that finds no fresh token takes a lock (SET NX,
//! expiring after [`crate::limits::MAX_EXCHANGE_TIME`]) and exchanges; the others poll for
//! the token it stores, briefly, until it appears or the lock goes. A store that cannot be
//! reached is no reason to refuse a request: the replica then exchanges on its own.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use caveat::{ProxyKeyPair, Secret, StateKey};
use zeroize::Zeroizing;

use crate::limits::MAX_EXCHANGE_TIME;
use crate::limits::SHARED_TOKEN_POLL;
use crate::state::store::Unavailable;
use crate::state::State;

/// The shared store and the key its entries are sealed with.
pub struct SharedTokens {
    state: Arc<State>,
    key: StateKey,
}

/// What a replica should do for a credential whose local token is missing or stale.
pub enum Lead {
    /// Use this token, which another replica obtained.
    Fresh {
        /// The access token.
        access: Secret,
        /// How much longer it may be used.
        fresh_for: Duration,
        /// The refresh token as last rotated by any replica (its responses are scrubbed
        /// of it too).
        refresh: Option<Secret>,
    },
    /// Exchange, with this refresh token if another replica's exchange rotated it; then
    /// [`SharedTokens::publish`] (and release the lock, when `holder` took it).
    Exchange {
        /// The lock's holder id, when this replica took the lock.
        holder: Option<String>,
        /// The refresh token as last rotated by any replica.
        refresh: Option<Secret>,
    },
}

impl SharedTokens {
    /// The sharing of `state`, if it is a shared store; sealed with a key derived from the
    /// proxy key with the lowest key id (the same on every replica holding the same keys).
    pub fn new(state: &Arc<State>, keys: &[ProxyKeyPair]) -> Option<SharedTokens> {
        state.shared()?;
        let first = keys.iter().min_by_key(|k| k.key_id().to_string())?;
        Some(SharedTokens {
            state: state.clone(),
            key: first.state_key("macaroon-oauth-tokens-v1"),
        })
    }

    /// A fresh token another replica stored (other than `refused`, one an upstream just
    /// refused), or the right (the lock) to exchange, waiting while another replica holds
    /// it (at most [`MAX_EXCHANGE_TIME`]).
    pub async fn fetch_or_lead(
        &self,
        digest: &[u8; 32],
        refused: Option<&Secret>,
    ) -> Result<Lead, Unavailable> {
        let store = self.store()?;
        let (value, lock, refresh) = keys(digest);
        let deadline = Instant::now() + MAX_EXCHANGE_TIME;
        loop {
            let stored = self
                .read_access(digest, &store.get_bytes(&value).await?)
                .filter(|(access, _)| Some(access) != refused);
            if let Some((access, fresh_for)) = stored {
                let refresh = self.read_refresh(digest, &store.get_bytes(&refresh).await?);
                return Ok(Lead::Fresh {
                    access,
                    fresh_for,
                    refresh,
                });
            }
            let holder = crate::ids::request_id();
            let took = store.try_lock(&lock, &holder, MAX_EXCHANGE_TIME).await?;
            if took || Instant::now() >= deadline {
                let rotated = match store.get_bytes(&refresh).await {
                    Ok(r) => r,
                    Err(e) => {
                        // Not exchanging under the lock after all: let the others go on.
                        if took {
                            let _ = store.unlock(&lock, &holder).await;
                        }
                        return Err(e);
                    }
                };
                return Ok(Lead::Exchange {
                    holder: took.then_some(holder),
                    refresh: self.read_refresh(digest, &rotated),
                });
            }
            tokio::time::sleep(SHARED_TOKEN_POLL).await;
        }
    }

    /// Stores what an exchange obtained: the access token for as long as it is fresh, and
    /// a rotated refresh token for good; then releases the lock if `holder` took it.
    pub async fn publish(
        &self,
        digest: &[u8; 32],
        holder: Option<&str>,
        access: Option<(&Secret, Duration)>,
        rotated: Option<&Secret>,
    ) -> Result<(), Unavailable> {
        let store = self.store()?;
        let (value, lock, _) = keys(digest);
        let mut stored = Ok(());
        if let Some(r) = rotated {
            stored = self.put_refresh(digest, r, false).await.map(|_| ());
        }
        if let (Some((a, fresh_for)), Ok(())) = (access, &stored) {
            let fresh_for = fresh_for.min(crate::limits::MAX_LIFETIME);
            let until = unix_ms(SystemTime::now() + fresh_for);
            let sealed = self.seal(digest, "access", a, until);
            stored = store.set_bytes(&value, &sealed, Some(fresh_for)).await;
        }
        // The lock is released whatever happened above.
        if let Some(h) = holder {
            store.unlock(&lock, h).await?;
        }
        stored
    }

    /// Stores a rotated refresh token for good; with `only_if_absent`, only where the
    /// store holds none (writing back what a store that restarted empty lost). True when
    /// it was written.
    pub async fn put_refresh(
        &self,
        digest: &[u8; 32],
        r: &Secret,
        only_if_absent: bool,
    ) -> Result<bool, Unavailable> {
        let store = self.store()?;
        let (_, _, refresh) = keys(digest);
        let sealed = self.seal(digest, "refresh", r, 0);
        if only_if_absent {
            store.set_bytes_if_absent(&refresh, &sealed).await
        } else {
            store.set_bytes(&refresh, &sealed, None).await.map(|()| true)
        }
    }

    fn store(&self) -> Result<&crate::state::store::RedisState, Unavailable> {
        self.state.shared().ok_or_else(|| Unavailable {
            store: "(none)".into(),
            detail: "no shared store".into(),
        })
    }

    fn seal(&self, digest: &[u8; 32], kind: &str, token: &Secret, until_ms: u64) -> Vec<u8> {
        let doc = Zeroizing::new(
            serde_json::json!({
                "family": hex::encode(digest), "kind": kind, "token": token.expose(), "until_ms": until_ms,
            })
            .to_string(),
        );
        self.key.seal(doc.as_bytes())
    }

    /// The token in a sealed entry of `kind` for `digest`, and its expiry (ms since the
    /// epoch); `None` for anything that does not open or names another credential.
    fn open(&self, digest: &[u8; 32], kind: &str, data: &Option<Vec<u8>>) -> Option<(Secret, u64)> {
        let plain = self.key.open(data.as_deref()?)?;
        let doc: serde_json::Value = serde_json::from_slice(&plain).ok()?;
        if doc["family"].as_str()? != hex::encode(digest) || doc["kind"].as_str()? != kind {
            return None;
        }
        let token = doc["token"].as_str().filter(|t| !t.is_empty())?;
        Some((
            Secret::new(token.to_string()),
            doc["until_ms"].as_u64().unwrap_or(0),
        ))
    }

    fn read_access(&self, digest: &[u8; 32], data: &Option<Vec<u8>>) -> Option<(Secret, Duration)> {
        let (token, until) = self.open(digest, "access", data)?;
        let left = until.checked_sub(unix_ms(SystemTime::now())).filter(|l| *l > 0)?;
        Some((token, Duration::from_millis(left)))
    }

    fn read_refresh(&self, digest: &[u8; 32], data: &Option<Vec<u8>>) -> Option<Secret> {
        self.open(digest, "refresh", data).map(|(t, _)| t)
    }
}

/// The store keys of a credential: its access token, its exchange lock, its refresh token.
fn keys(digest: &[u8; 32]) -> (String, String, String) {
    let h = hex::encode(digest);
    (
        format!("macaroon:oauth:{h}:access"),
        format!("macaroon:oauth:{h}:lock"),
        format!("macaroon:oauth:{h}:refresh"),
    )
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
