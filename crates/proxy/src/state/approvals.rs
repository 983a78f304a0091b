//! Approvals shared through the store (`--state`): a request held on one replica is
//! released by a decision made on another. Each approval is a JSON record under
//! `macaroon:approval:ID` (listed, newest first, in a sorted set); the open approval for
//! one request is `macaroon:approval-open:DEDUPE` (so every replica joins the same one);
//! the discharges approving minted are a list per caveat, from which a `once` discharge is
//! taken atomically (so one approval lets exactly one request through, whichever replica
//! it reaches). A decision is published on [`DECIDED`]; replicas holding that request wake
//! at once (and poll as a fallback).

use std::time::Duration;

use super::store::{RedisState, Unavailable};

/// The channel decisions are published on (the message is the approval's id).
pub const DECIDED: &str = "macaroon:approvals:decided";
const INDEX: &str = "macaroon:approvals";

fn record(id: &str) -> String {
    format!("macaroon:approval:{id}")
}
fn open(dedupe: &str) -> String {
    format!("macaroon:approval-open:{dedupe}")
}
fn granted(caveat: &str) -> String {
    format!("macaroon:approval-granted:{caveat}")
}
fn family(kid: &str) -> String {
    format!("macaroon:approvals-open-family:{kid}")
}

/// What filing an approval did.
#[derive(Debug, PartialEq, Eq)]
pub enum Filed {
    /// Stored as a new approval.
    New,
    /// One is open for the same request: its id.
    Open(String),
    /// The family has as many open approvals as it may.
    TooMany,
}

/// Files a new approval unless one is open for the same request: returns the open one's
/// id, '' when the family has ARGV[7] open approvals already, or nil when `record_json`
/// was stored under `id`. The family's open approvals are a sorted set scored by when they
/// expire, so an undecided one stops counting once it expires.
const FILE_LUA: &str = r"
local open = redis.call('GET', KEYS[1])
if open and redis.call('EXISTS', 'macaroon:approval:' .. open) == 1 then return open end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[6])
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[7]) then return '' end
redis.call('ZADD', KEYS[4], ARGV[8], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -5001)
return false
";

/// Records a decision if the record is still what the decider read: the new record, the
/// open marker gone, the discharge (if any) kept, and the id published.
const DECIDE_LUA: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[4], ARGV[6])
if ARGV[3] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
";

/// Every record of the index, newest first (at most ARGV[1]).
const LIST_LUA: &str = r"
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local r = redis.call('GET', 'macaroon:approval:' .. id)
  if r then table.insert(out, r) end
end
return out
";

impl RedisState {
    /// Stores a new approval, or returns the id of the one open for the same request.
    #[allow(clippy::too_many_arguments)]
    pub async fn approval_file(
        &self,
        dedupe: &str,
        id: &str,
        kid: &str,
        record_json: &str,
        open_for: Duration,
        keep_for: Duration,
        now_ms: u64,
        max_open: usize,
    ) -> Result<Filed, Unavailable> {
        let open_for_ms = open_for.as_millis().max(1) as u64;
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(FILE_LUA)
            .arg(4)
            .arg(open(dedupe))
            .arg(record(id))
            .arg(INDEX)
            .arg(family(kid))
            .arg(id)
            .arg(open_for_ms)
            .arg(record_json)
            .arg(keep_for.as_millis().max(1) as u64)
            .arg(now_ms)
            .arg(now_ms)
            .arg(max_open)
            .arg(now_ms + open_for_ms);
        Ok(match self.query::<Option<String>>(&cmd).await? {
            None => Filed::New,
            Some(s) if s.is_empty() => Filed::TooMany,
            Some(id) => Filed::Open(id),
        })
    }

    /// One approval's record.
    pub async fn approval_get(&self, id: &str) -> Result<Option<String>, Unavailable> {
        self.query(redis::cmd("GET").arg(record(id))).await
    }

    /// The newest `limit` approval records.
    pub async fn approval_list(&self, limit: usize) -> Result<Vec<String>, Unavailable> {
        self.query(redis::cmd("EVAL").arg(LIST_LUA).arg(1).arg(INDEX).arg(limit))
            .await
    }

    /// Replaces `old` with `new` for `id` (false if another decision came first), keeps
    /// `granted_json` for the caveat, and publishes the decision.
    #[allow(clippy::too_many_arguments)]
    pub async fn approval_decide(
        &self,
        id: &str,
        old: &str,
        new: &str,
        dedupe: &str,
        caveat: &str,
        kid: &str,
        granted_json: Option<&str>,
        keep_for: Duration,
    ) -> Result<bool, Unavailable> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(DECIDE_LUA)
            .arg(4)
            .arg(record(id))
            .arg(open(dedupe))
            .arg(granted(caveat))
            .arg(family(kid))
            .arg(old)
            .arg(new)
            .arg(granted_json.unwrap_or(""))
            .arg(keep_for.as_millis().max(1) as u64)
            .arg(DECIDED)
            .arg(id);
        Ok(self.query::<i64>(&cmd).await? == 1)
    }

    /// The discharges kept for a caveat (JSON records).
    pub async fn approval_granted(&self, caveat: &str) -> Result<Vec<String>, Unavailable> {
        self.query(redis::cmd("LRANGE").arg(granted(caveat)).arg(0).arg(-1))
            .await
    }

    /// Takes one kept discharge (a `once` one, used by this request): true if this caller
    /// took it, false if another request (on any replica) did first.
    pub async fn approval_take(&self, caveat: &str, item: &str) -> Result<bool, Unavailable> {
        Ok(self
            .query::<i64>(redis::cmd("LREM").arg(granted(caveat)).arg(1).arg(item))
            .await?
            == 1)
    }

    /// Writes an approval record back (after the store lost its data), unless one is there.
    pub async fn approval_restore(
        &self,
        id: &str,
        json: &str,
        keep: Duration,
        score_ms: u64,
    ) -> Result<(), Unavailable> {
        // A decided record wins over a pending one another replica wrote back first.
        let script = r#"
local cur = redis.call('GET', KEYS[1])
if cur and not (string.find(cur, '"state":"pending"', 1, true) and not string.find(ARGV[1], '"state":"pending"', 1, true)) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1"#;
        self.query::<i64>(
            redis::cmd("EVAL")
                .arg(script)
                .arg(2)
                .arg(record(id))
                .arg(INDEX)
                .arg(json)
                .arg(keep.as_millis().max(1) as u64)
                .arg(score_ms)
                .arg(id),
        )
        .await
        .map(|_| ())
    }

    /// Writes a window's discharge back, unless it is there.
    pub async fn approval_restore_granted(
        &self,
        caveat: &str,
        json: &str,
        keep: Duration,
    ) -> Result<(), Unavailable> {
        let script = "local l = redis.call('LRANGE', KEYS[1], 0, -1) for _, v in ipairs(l) do if v == ARGV[1] then return 0 end end redis.call('RPUSH', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1";
        self.query::<i64>(
            redis::cmd("EVAL")
                .arg(script)
                .arg(1)
                .arg(granted(caveat))
                .arg(json)
                .arg(keep.as_millis().max(1) as u64),
        )
        .await
        .map(|_| ())
    }

    /// A connection subscribed to [`DECIDED`].
    pub async fn decisions(&self) -> Result<redis::aio::PubSub, Unavailable> {
        let unavailable = |e: redis::RedisError| Unavailable {
            store: self.shown.clone(),
            detail: e.to_string(),
        };
        let mut pubsub = self.client.get_async_pubsub().await.map_err(unavailable)?;
        pubsub.subscribe(DECIDED).await.map_err(unavailable)?;
        Ok(pubsub)
    }
}
