//! Revocations shared through the store: written by `revoke --state`, polled by every
//! replica (a version read every [`REVOCATION_POLL`], the list only when it changed), and
//! written back by a replica that finds the store came back empty.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use macaroon_home::{STATE_REVOKED_SET as REVOKED_SET, STATE_REVOKED_VERSION as REVOKED_VERSION};

use super::store::{without_password, RedisState, Unavailable};
use super::State;
use crate::limits::REVOCATION_POLL;

/// A key every replica keeps in the store: when it is gone, the store lost its data, and
/// replicas write back the revocations (and rotated refresh tokens) they hold.
const MARKER: &str = "macaroon:state:marker";

/// Reads the marker, the revocation list's version and, when that differs from ARGV[1]
/// (or the marker is gone), the list, in one atomic step: a list read together with its
/// marker is never the empty list of a store that restarted. Returns {marker or '',
/// version, 1 if the list is included, list}.
const POLL_LUA: &str = r"
local m = redis.call('GET', KEYS[1]) or ''
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
if m ~= '' and ARGV[1] ~= '' and tonumber(ARGV[1]) == v then return {m, v, 0, {}} end
return {m, v, 1, redis.call('SMEMBERS', KEYS[3])}
";

/// Writes back revocations (ARGV[2..]) and sets the marker to ARGV[1] unless another
/// replica set one first; returns the marker in force.
const REASSERT_LUA: &str = r"
if #ARGV > 1 then
  redis.call('SADD', KEYS[3], unpack(ARGV, 2))
  redis.call('INCR', KEYS[2])
end
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
";

impl RedisState {
    /// The store's marker ("" when it has none), the revocation list's version, and the
    /// list when it changed since `seen` or the marker is gone.
    pub(super) async fn poll_revoked(
        &self,
        seen: Option<i64>,
    ) -> Result<(String, i64, Option<HashSet<String>>), Unavailable> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(POLL_LUA)
            .arg(3)
            .arg(MARKER)
            .arg(REVOKED_VERSION)
            .arg(REVOKED_SET)
            .arg(seen.map(|v| v.to_string()).unwrap_or_default());
        let (marker, version, included, kids): (String, i64, i64, HashSet<String>) = self.query(&cmd).await?;
        Ok((marker, version, (included == 1).then_some(kids)))
    }

    /// Writes `kids` back and sets the marker (to `fresh` unless another replica set one
    /// first); returns the marker in force.
    pub(super) async fn reassert(&self, kids: &HashSet<String>, fresh: &str) -> Result<String, Unavailable> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(REASSERT_LUA)
            .arg(3)
            .arg(MARKER)
            .arg(REVOKED_VERSION)
            .arg(REVOKED_SET)
            .arg(fresh);
        for k in kids {
            cmd.arg(k);
        }
        self.query(&cmd).await
    }
}

/// Adds `id` (a kid or a branch id) to the store's revocation list, or with `undo` removes
/// it (what `macaroon-proxy revoke --state` does); replicas see it within
/// [`REVOCATION_POLL`]. True when the list changed.
pub async fn revoke(
    url: &str,
    password: Option<&caveat::Secret>,
    id: &str,
    undo: bool,
) -> anyhow::Result<bool> {
    let shown = without_password(url);
    let client = super::store::client(url, password)?;
    let work = async {
        let mut con = client.get_multiplexed_async_connection().await?;
        let added: i64 = redis::cmd(if undo { "SREM" } else { "SADD" })
            .arg(REVOKED_SET)
            .arg(id)
            .query_async(&mut con)
            .await?;
        let _: i64 = redis::cmd("INCR")
            .arg(REVOKED_VERSION)
            .query_async(&mut con)
            .await?;
        Ok::<_, redis::RedisError>(added == 1)
    };
    match tokio::time::timeout(Duration::from_secs(5), work).await {
        Ok(Ok(added)) => Ok(added),
        Ok(Err(e)) => anyhow::bail!("could not write the revocation to {shown}: {e}"),
        Err(_) => anyhow::bail!("could not write the revocation to {shown}: no answer within 5s"),
    }
}

/// Keeps `into` equal to the store's revocation list until `stop`: a cheap version read
/// every [`REVOCATION_POLL`], the whole list only when it changed. An unreachable store
/// keeps the last list (revocations are never dropped by an outage), and a store that
/// comes back without its marker (restarted empty) gets back every revocation this replica
/// held, and (by calling `rotated`) the refresh tokens it rotated: a revocation never lapses silently.
pub async fn watch_revocations(
    state: Arc<State>,
    into: Arc<crate::revoke::Revocations>,
    rotated: Option<Box<dyn Fn() + Send + Sync>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let State::Redis(r) = &*state else { return };
    let mut seen = None;
    let mut marker: Option<String> = None;
    // Said once per outage, not at every poll: when it starts, and when it ends.
    let mut down = false;
    let mut tick = tokio::time::interval(REVOCATION_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let polled = r.poll_revoked(seen).await;
        if polled.is_ok() && down {
            down = false;
            tracing::info!(
                "the state store {} answers again: shared revocations are current",
                r.shown
            );
        }
        match polled {
            Ok((m, version, kids)) if !m.is_empty() && marker.as_ref().is_none_or(|k| *k == m) => {
                marker = Some(m);
                if let Some(kids) = kids {
                    seen = Some(version);
                    into.set_shared(kids);
                }
            }
            // No marker (a store that lost its data, or one never used), or another one
            // (another replica already found it empty): write back what this one holds.
            Ok(_) => {
                let held = into.shared();
                let fresh = format!("{}-{}", std::process::id(), crate::ids::request_id());
                match r.reassert(&held, &fresh).await {
                    Ok(m) => {
                        if marker.is_some() {
                            tracing::warn!(
                                "the state store {} came back empty: wrote back the {} revocation(s) this replica held",
                                r.shown,
                                held.len()
                            );
                            if let Ok(mut at) = r.reasserted.lock() {
                                *at = Some((SystemTime::now(), held.len()));
                            }
                            if let Some(write_back) = &rotated {
                                write_back();
                            }
                        }
                        marker = Some(m);
                        seen = None;
                    }
                    Err(e) if !down => {
                        down = true;
                        tracing::warn!("could not write the revocations back to the store (said once until it answers): {e}")
                    }
                    Err(_) => {}
                }
            }
            Err(e) if !down => {
                down = true;
                tracing::warn!(
                    "keeping the last shared revocation list while the state store is unreachable (said once until it answers): {e}"
                )
            }
            Err(_) => {}
        }
    }
}
