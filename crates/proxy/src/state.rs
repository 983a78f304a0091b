//! State a proxy may share with its replicas: usage and rate counts, and revocations.
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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use caveat::{Limit, LimitKind};

/// A usage count is kept this long past its limit's expiry ([`Limit::expires`]; clock
/// skew between a replica and the store).
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

use crate::limits::{FAIL_FAST, REVOCATION_POLL, STORE_TIMEOUT};
use macaroon_home::{STATE_REVOKED_SET as REVOKED_SET, STATE_REVOKED_VERSION as REVOKED_VERSION};

/// The outcome of charging a token's limits for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    /// Every limit held; each was charged once.
    Allowed,
    /// This limit (an index into the token's limits) is spent; nothing was charged.
    Limited {
        /// Which limit.
        index: usize,
        /// When a request could succeed again (rates only; spent uses never come back).
        retry_after: Option<Duration>,
    },
}

/// The store could not be asked (unreachable, timed out, answered nonsense).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the state store {store} cannot be reached: {detail}")]
pub struct Unavailable {
    /// The store, without credentials.
    pub store: String,
    /// What failed.
    pub detail: String,
}

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

/// Counts kept in the process.
#[derive(Default)]
pub struct Embedded {
    counters: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    map: HashMap<[u8; 32], Counter>,
    charges_since_sweep: usize,
}

enum Counter {
    Uses { used: u64, until: Option<Instant> },
    Rate { log: VecDeque<Instant> },
}

/// How many charges between sweeps of forgotten counters.
const SWEEP_EVERY: usize = 4096;

impl Embedded {
    fn charge(&self, limits: &[Limit], now: Instant) -> Charge {
        let Ok(mut c) = self.counters.lock() else {
            // A poisoned lock means a panic mid-update: refuse rather than guess a count.
            return Charge::Limited {
                index: 0,
                retry_after: None,
            };
        };
        for (index, l) in limits.iter().enumerate() {
            if let Some(retry_after) = c.spent(l, now) {
                return Charge::Limited { index, retry_after };
            }
        }
        for l in limits {
            c.add(l, now, keep_for(l).map(|d| now + d));
        }
        c.charges_since_sweep += 1;
        if c.charges_since_sweep >= SWEEP_EVERY {
            c.sweep(now);
        }
        Charge::Allowed
    }
}

impl Counters {
    /// `Some(retry_after)` when the limit allows no more now.
    fn spent(&mut self, l: &Limit, now: Instant) -> Option<Option<Duration>> {
        match (l.kind, self.map.get_mut(&l.key)) {
            (LimitKind::Uses(max), Some(Counter::Uses { used, .. })) if *used >= max => Some(None),
            (LimitKind::Rate { max, window }, Some(Counter::Rate { log })) => {
                while log.front().is_some_and(|t| now.duration_since(*t) >= window) {
                    log.pop_front();
                }
                let full = log.len() as u64 >= max;
                full.then(|| log.front().map(|t| window.saturating_sub(now.duration_since(*t))))
            }
            _ => None,
        }
    }

    fn add(&mut self, l: &Limit, now: Instant, until: Option<Instant>) {
        let entry = self.map.entry(l.key).or_insert_with(|| match l.kind {
            LimitKind::Uses(_) => Counter::Uses { used: 0, until },
            LimitKind::Rate { .. } => Counter::Rate { log: VecDeque::new() },
        });
        match entry {
            Counter::Uses { used, until: u } => {
                *used += 1;
                // The longest life asked for wins (`None` is for good).
                *u = match (*u, until) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            Counter::Rate { log } => log.push_back(now),
        }
    }

    /// Forgets counts of expired tokens and windows with nothing in them.
    fn sweep(&mut self, now: Instant) {
        self.charges_since_sweep = 0;
        self.map.retain(|_, c| match c {
            Counter::Uses { until, .. } => until.is_none_or(|u| u > now),
            Counter::Rate { log } => log
                .back()
                .is_some_and(|t| now.duration_since(*t) < MAX_WINDOW_KEPT),
        });
    }
}

/// How long a usage count must be kept from now: until its limit's expiry and a margin
/// (`None`: for good). At most [`MAX_KEEP`], so no clock arithmetic can overflow.
fn keep_for(l: &Limit) -> Option<Duration> {
    let e = l.expires?;
    let left = e.duration_since(SystemTime::now()).unwrap_or_default();
    Some(left.min(MAX_KEEP) + EXPIRY_MARGIN)
}

/// The longest a bounded usage count is kept (a hundred years is for good in practice).
const MAX_KEEP: Duration = Duration::from_secs(100 * 366 * 86_400);

/// A rate log whose newest entry is older than the longest window cannot matter.
const MAX_WINDOW_KEPT: Duration = caveat::MAX_WINDOW;

/// The shared store: Redis or Valkey.
pub struct RedisState {
    client: redis::Client,
    config: redis::aio::ConnectionManagerConfig,
    /// One connection per runtime worker (index 0: any other thread), made on that
    /// worker's first counted request: a request and its round trip to the store stay on
    /// one thread, with no hand-off to another runtime's connection task.
    /// A connection that a store restart broke is replaced (see [`RedisState::fresh`]).
    managers: Vec<Mutex<Option<redis::aio::ConnectionManager>>>,
    script: redis::Script,
    /// The URL without its password, for messages.
    shown: String,
    up: AtomicBool,
    last_error: RwLock<String>,
    failed_at: Mutex<Option<Instant>>,
    /// When the store last came back without its marker (restarted empty, or flushed),
    /// and how many revocations this replica wrote back then.
    reasserted: Mutex<Option<(SystemTime, usize)>>,
}

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

/// Checks every limit, then charges all of them, on the server's clock. KEYS are the
/// counters; ARGV holds, per key, its kind (`u` uses, `r` rate), its bound and a time in
/// milliseconds (the window, or how long to keep a usage count; 0 keeps it for good), then
/// a member id unique to this request. A usage count's life only ever grows. Returns {0, 0} when charged, {i, ms} when limit i
/// (1-based) is spent, ms until a rate frees up (-1 for uses).
const CHARGE_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
for i = 1, n do
  local kind, max, ms = ARGV[3*i-2], tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  if kind == 'u' then
    if tonumber(redis.call('GET', KEYS[i]) or '0') >= max then return {i, -1} end
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - ms)
    if redis.call('ZCARD', KEYS[i]) >= max then
      local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
      return {i, tonumber(oldest[2]) + ms - now}
    end
  end
end
local id = ARGV[3*n+1]
for i = 1, n do
  local kind, ms = ARGV[3*i-2], tonumber(ARGV[3*i])
  if kind == 'u' then
    local used = redis.call('INCR', KEYS[i])
    local ttl = redis.call('PTTL', KEYS[i])
    if ms == 0 then
      if ttl >= 0 then redis.call('PERSIST', KEYS[i]) end
    elseif (used == 1 and ttl < 0) or (ttl >= 0 and ttl < ms) then
      redis.call('PEXPIRE', KEYS[i], ms)
    end
  else
    redis.call('ZADD', KEYS[i], now, now .. ':' .. id)
    redis.call('PEXPIRE', KEYS[i], ms)
  end
end
return {0, 0}
";

impl RedisState {
    fn open(url: &str, password: Option<&caveat::Secret>, workers: usize) -> anyhow::Result<RedisState> {
        let shown = without_password(url);
        let client = client(url, password)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(1000)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        // The connection of this (the main) thread, made now so a bad configuration is an
        // error at start-up; workers make theirs on first use.
        let main = redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| anyhow::anyhow!("--state {shown}: {e}"))?;
        let managers: Vec<_> = (0..=workers).map(|_| Mutex::new(None)).collect();
        if let Ok(mut m) = managers[0].lock() {
            *m = Some(main);
        }
        Ok(RedisState {
            client,
            config,
            managers,
            script: redis::Script::new(CHARGE_LUA),
            shown,
            up: AtomicBool::new(true),
            last_error: RwLock::new(String::new()),
            failed_at: Mutex::new(None),
            reasserted: Mutex::new(None),
        })
    }

    async fn charge(&self, limits: &[Limit], request_id: &str) -> Result<Charge, Unavailable> {
        if let Some(e) = self.recently_down() {
            return Err(e);
        }
        let mut inv = self.script.prepare_invoke();
        for l in limits {
            inv.key(format!("macaroon:limit:{}", l.key_hex()));
            let keep_ms = keep_for(l).map_or(0, |d| d.as_millis().max(1) as u64);
            match l.kind {
                LimitKind::Uses(max) => inv.arg("u").arg(max).arg(keep_ms),
                LimitKind::Rate { max, window } => inv.arg("r").arg(max).arg(window.as_millis() as u64),
            };
        }
        inv.arg(format!("{request_id}-{}", unique()));
        let mut con = self.connection()?;
        let (index, ms): (i64, i64) = match self.timed(inv.invoke_async(&mut con)).await {
            // The connection broke since its last use (a store restart): once more on a
            // fresh one.
            Err(Attempt::Stale(_)) => {
                let mut con = self.fresh()?;
                self.bounded(inv.invoke_async(&mut con)).await?
            }
            first => self.observe(first.map_err(Attempt::detail))?,
        };
        Ok(match usize::try_from(index) {
            Ok(0) => Charge::Allowed,
            Ok(i) if i <= limits.len() => Charge::Limited {
                index: i - 1,
                retry_after: u64::try_from(ms).ok().map(Duration::from_millis),
            },
            _ => {
                return Err(self.unavailable(format!("the charge script answered {index}")));
            }
        })
    }

    /// This thread's connection to the store (made on its first use).
    fn connection(&self) -> Result<redis::aio::ConnectionManager, Unavailable> {
        self.slot(false)
    }

    /// A new connection for this thread, replacing one the store's restart left broken.
    fn fresh(&self) -> Result<redis::aio::ConnectionManager, Unavailable> {
        self.slot(true)
    }

    fn slot(&self, replace: bool) -> Result<redis::aio::ConnectionManager, Unavailable> {
        let i = crate::worker::current_worker();
        let cell = self
            .managers
            .get(i)
            .or(self.managers.first())
            .ok_or_else(|| self.unavailable("no connection slot".into()))?;
        let mut cell = cell.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = cell.as_ref().filter(|_| !replace) {
            return Ok(m.clone());
        }
        let m = redis::aio::ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            .map_err(|e| self.unavailable(e.to_string()))?;
        *cell = Some(m.clone());
        Ok(m)
    }

    /// The last failure, when the store failed less than [`FAIL_FAST`] ago and has not
    /// answered since: a counted request is refused without waiting on a reconnection.
    fn recently_down(&self) -> Option<Unavailable> {
        if self.up.load(Relaxed) {
            return None;
        }
        let at = (*self.failed_at.lock().ok()?)?;
        (at.elapsed() < FAIL_FAST).then(|| Unavailable {
            store: self.shown.clone(),
            detail: self.last_error.read().map(|e| e.clone()).unwrap_or_default(),
        })
    }

    /// Records whether the store answered, for `/healthz` and `/metrics`.
    fn observe<T>(&self, answer: Result<T, String>) -> Result<T, Unavailable> {
        match answer {
            Ok(v) => {
                self.up.store(true, Relaxed);
                Ok(v)
            }
            Err(e) => Err(self.unavailable(e)),
        }
    }

    fn unavailable(&self, detail: String) -> Unavailable {
        self.up.store(false, Relaxed);
        if let Ok(mut at) = self.failed_at.lock() {
            *at = Some(Instant::now());
        }
        if let Ok(mut l) = self.last_error.write() {
            l.clone_from(&detail);
        }
        Unavailable {
            store: self.shown.clone(),
            detail,
        }
    }

    fn health(&self) -> (bool, String) {
        let reasserted = match *self.reasserted.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((at, n)) => format!(
                "; it came back empty at {} (restarted without persistence?): this replica wrote back the {n} revocation(s) it held",
                caveat::fmt_time(at)
            ),
            None => String::new(),
        };
        if self.up.load(Relaxed) {
            (true, format!("state: {} reachable{reasserted}", self.shown))
        } else {
            let why = self.last_error.read().map(|e| e.clone()).unwrap_or_default();
            (false, format!("state: {} UNREACHABLE ({why}): requests whose tokens have usage or rate caveats are refused with 503", self.shown))
        }
    }

    /// The store's marker ("" when it has none), the revocation list's version, and the
    /// list when it changed since `seen` or the marker is gone.
    async fn poll_revoked(
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
    async fn reassert(&self, kids: &HashSet<String>, fresh: &str) -> Result<String, Unavailable> {
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

    /// The bytes under `key`, if any.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, Unavailable> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    /// Sets `key` to `value`, forgotten after `ttl` (kept for good without one).
    pub async fn set_bytes(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), Unavailable> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(t) = ttl {
            cmd.arg("PX").arg(t.as_millis().max(1) as u64);
        }
        self.query::<()>(&cmd).await
    }

    /// Sets `key` to `value` for good, only if it holds nothing; true if it was set.
    pub async fn set_bytes_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, Unavailable> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("NX");
        Ok(self.query::<Option<String>>(&cmd).await?.is_some())
    }

    /// Takes the lock `key` for `ttl` if no one holds it (SET NX PX); true if taken.
    pub async fn try_lock(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, Unavailable> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64);
        Ok(self.query::<Option<String>>(&cmd).await?.is_some())
    }

    /// Releases the lock `key` if `holder` still holds it.
    pub async fn unlock(&self, key: &str, holder: &str) -> Result<(), Unavailable> {
        let script =
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
        self.query::<i64>(redis::cmd("EVAL").arg(script).arg(1).arg(key).arg(holder))
            .await
            .map(|_| ())
    }

    /// One command, bounded by [`STORE_TIMEOUT`], its outcome recorded for `/healthz`.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Unavailable> {
        let mut con = self.connection()?;
        match self.timed(cmd.query_async::<T>(&mut con)).await {
            Err(Attempt::Stale(_)) => {
                let mut con = self.fresh()?;
                self.bounded(cmd.query_async::<T>(&mut con)).await
            }
            first => self.observe(first.map_err(Attempt::detail)),
        }
    }

    /// Waits at most [`STORE_TIMEOUT`] for the store's answer and records the outcome.
    async fn bounded<T>(
        &self,
        answer: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Unavailable> {
        let answer = self.timed(answer).await.map_err(Attempt::detail);
        self.observe(answer)
    }

    /// Waits at most [`STORE_TIMEOUT`] for the store's answer, telling a connection that
    /// broke before the command could be written (nothing ran) from any other failure.
    async fn timed<T>(
        &self,
        answer: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Attempt> {
        match tokio::time::timeout(STORE_TIMEOUT, answer).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if unsent(&e) => Err(Attempt::Stale(e.to_string())),
            Ok(Err(e)) => Err(Attempt::Failed(e.to_string())),
            Err(_) => Err(Attempt::Failed(format!(
                "no answer within {}ms",
                STORE_TIMEOUT.as_millis()
            ))),
        }
    }
}

/// The client of the store at `url`, authenticating with `password` when given (else
/// with the URL's own, if it has one).
fn client(url: &str, password: Option<&caveat::Secret>) -> anyhow::Result<redis::Client> {
    use redis::IntoConnectionInfo;
    let shown = without_password(url);
    let bad = |e: redis::RedisError| {
        anyhow::anyhow!(
            "--state {shown:?} is not a Redis URL ({}); use redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0",
            e.category()
        )
    };
    let mut info = url.into_connection_info().map_err(bad)?;
    if let Some(p) = password {
        let settings = info.redis_settings().clone().set_password(p.expose());
        info = info.set_redis_settings(settings);
    }
    redis::Client::open(info).map_err(bad)
}

/// The store's password from `--state-password-file FILE` (its first line), else from
/// `$MACAROON_STATE_PASSWORD`; `None` when neither is given (the URL may hold one).
pub fn password(file: Option<&std::path::Path>) -> anyhow::Result<Option<caveat::Secret>> {
    let text = match file {
        Some(f) => zeroize::Zeroizing::new(std::fs::read_to_string(f).map_err(|e| {
            anyhow::anyhow!(
                "could not read --state-password-file {}: {e}; give a file holding the store's password",
                f.display()
            )
        })?),
        None => match std::env::var(PASSWORD_ENV) {
            Ok(p) if !p.is_empty() => zeroize::Zeroizing::new(p),
            _ => return Ok(None),
        },
    };
    let first = text.lines().next().unwrap_or_default();
    if first.is_empty() {
        anyhow::bail!(
            "the store password given ({}) is empty; put the password on its first line",
            file.map_or_else(|| format!("${PASSWORD_ENV}"), |f| f.display().to_string())
        );
    }
    Ok(Some(caveat::Secret::new(first.to_string())))
}

/// The environment variable that may hold the store's password.
pub const PASSWORD_ENV: &str = "MACAROON_STATE_PASSWORD";

/// Why one attempt at the store failed.
enum Attempt {
    /// The connection had dropped: worth one retry on a fresh connection.
    Stale(String),
    /// Anything else (a timeout, an error answer): not retried.
    Failed(String),
}

impl Attempt {
    fn detail(self) -> String {
        match self {
            Attempt::Stale(d) | Attempt::Failed(d) => d,
        }
    }
}

/// True for the errors of a connection that dropped (a store that restarted: broken
/// pipe, reset, closed). Mostly found when the command is written, so nothing ran; should
/// the reply have been lost instead, the retry can at worst charge twice, never less.
fn unsent(e: &redis::RedisError) -> bool {
    e.is_connection_dropped()
}

/// Adds `kid` to the store's revocation list (what `macaroon-proxy revoke --state` does);
/// replicas see it within [`REVOCATION_POLL`]. True when it was not there before.
pub async fn revoke(url: &str, password: Option<&caveat::Secret>, kid: &str) -> anyhow::Result<bool> {
    let shown = without_password(url);
    let client = client(url, password)?;
    let work = async {
        let mut con = client.get_multiplexed_async_connection().await?;
        let added: i64 = redis::cmd("SADD")
            .arg(REVOKED_SET)
            .arg(kid)
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
    let mut tick = tokio::time::interval(REVOCATION_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        match r.poll_revoked(seen).await {
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
                    Err(e) => tracing::warn!("could not write the revocations back to the store: {e}"),
                }
            }
            Err(e) => tracing::warn!("keeping the last shared revocation list: {e}"),
        }
    }
}

/// A number no other request of this process shares, so two rate entries never collide.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Relaxed)
}

/// `redis://user:secret@host/0` shown as `redis://user:***@host/0`.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((auth, host)) => match auth.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://***@{host}"),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(key: u8, kind: LimitKind) -> Limit {
        Limit {
            key: [key; 32],
            kind,
            caveat: "test".into(),
            expires: None,
        }
    }

    #[test]
    fn uses_allow_exactly_n_and_a_refusal_charges_nothing() {
        let e = Embedded::default();
        let now = Instant::now();
        let uses = limit(1, LimitKind::Uses(3));
        let rate = limit(
            2,
            LimitKind::Rate {
                max: 100,
                window: Duration::from_secs(60),
            },
        );
        let both = [uses.clone(), rate.clone()];
        for _ in 0..3 {
            assert_eq!(e.charge(&both, now), Charge::Allowed);
        }
        assert_eq!(
            e.charge(&both, now),
            Charge::Limited {
                index: 0,
                retry_after: None
            }
        );
        // The refused request did not spend the rate: 3 entries, not 4.
        let c = e.counters.lock().expect("lock");
        match c.map.get(&rate.key) {
            Some(Counter::Rate { log }) => assert_eq!(log.len(), 3),
            _ => panic!("rate counter"),
        }
    }

    #[test]
    fn a_rate_is_a_rolling_window_with_an_honest_retry_after() {
        let e = Embedded::default();
        let t0 = Instant::now();
        let rate = [limit(
            3,
            LimitKind::Rate {
                max: 2,
                window: Duration::from_secs(60),
            },
        )];
        assert_eq!(e.charge(&rate, t0), Charge::Allowed);
        assert_eq!(e.charge(&rate, t0 + Duration::from_secs(30)), Charge::Allowed);
        // At 59 s both are in the window; the first frees up at 60 s.
        assert_eq!(
            e.charge(&rate, t0 + Duration::from_secs(59)),
            Charge::Limited {
                index: 0,
                retry_after: Some(Duration::from_secs(1))
            }
        );
        // At 60 s the first has left the window: one more, and no more than 2 in any 60 s.
        assert_eq!(e.charge(&rate, t0 + Duration::from_secs(60)), Charge::Allowed);
        assert!(matches!(
            e.charge(&rate, t0 + Duration::from_secs(61)),
            Charge::Limited { .. }
        ));
    }

    #[test]
    fn expired_usage_counts_are_swept() {
        let e = Embedded::default();
        let now = Instant::now();
        let mut soon = limit(4, LimitKind::Uses(5));
        soon.expires = Some(SystemTime::now() + Duration::from_secs(1));
        e.charge(&[soon], now);
        let mut c = e.counters.lock().expect("lock");
        c.sweep(now + EXPIRY_MARGIN + Duration::from_secs(5));
        assert!(c.map.is_empty());
    }

    #[test]
    fn a_usage_count_is_never_kept_for_less_than_before() {
        let e = Embedded::default();
        let now = Instant::now();
        let mut long = limit(5, LimitKind::Uses(3));
        long.expires = Some(SystemTime::now() + Duration::from_secs(3600));
        let mut short = long.clone();
        short.expires = Some(SystemTime::now() + Duration::from_secs(3));
        assert_eq!(e.charge(std::slice::from_ref(&long), now), Charge::Allowed);
        assert_eq!(e.charge(std::slice::from_ref(&short), now), Charge::Allowed);
        // Swept well after the short life: the count stays, so the third use is the last.
        e.counters
            .lock()
            .expect("lock")
            .sweep(now + EXPIRY_MARGIN + Duration::from_secs(60));
        assert_eq!(e.charge(std::slice::from_ref(&long), now), Charge::Allowed);
        assert!(matches!(
            e.charge(std::slice::from_ref(&long), now),
            Charge::Limited { index: 0, .. }
        ));
        // A far-off or absent expiry is kept without overflowing the clock.
        let mut far = limit(6, LimitKind::Uses(3));
        far.expires = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4));
        assert_eq!(e.charge(&[far], now), Charge::Allowed);
    }

    #[test]
    fn a_store_url_is_shown_without_its_password() {
        assert_eq!(
            without_password("redis://app:s3cret@10.0.0.5:6379/0"),
            "redis://app:***@10.0.0.5:6379/0"
        );
        assert_eq!(
            without_password("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
    }

    #[test]
    fn a_bad_store_url_says_what_to_write() {
        let Err(e) = State::open(Some("http://x"), None, 1) else {
            panic!("accepted")
        };
        assert!(e.to_string().contains("redis://HOST:PORT/DB"), "{e}");
    }
}
