//! The store a proxy may share with its replicas (Redis or Valkey, `--state`): one
//! connection per worker, every command bounded by [`STORE_TIMEOUT`] and its outcome kept
//! for `/healthz`; keys, locks and atomic scripts. [`super::counters`] and
//! [`super::revocations`] sit on it, as [`crate::credentials::shared_tokens`] does.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::limits::{FAIL_FAST, STORE_TIMEOUT};

/// The store could not be asked (unreachable, timed out, answered nonsense).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the state store {store} cannot be reached: {detail}")]
pub struct Unavailable {
    /// The store, without credentials.
    pub store: String,
    /// What failed.
    pub detail: String,
}

/// The shared store: Redis or Valkey.
pub struct RedisState {
    pub(super) client: redis::Client,
    config: redis::aio::ConnectionManagerConfig,
    /// One connection per runtime worker (index 0: any other thread), made on that
    /// worker's first counted request: a request and its round trip to the store stay on
    /// one thread, with no hand-off to another runtime's connection task.
    /// A connection that a store restart broke is replaced (see [`RedisState::fresh`]).
    managers: Vec<Mutex<Option<redis::aio::ConnectionManager>>>,
    /// The URL without its password, for messages.
    pub(super) shown: String,
    up: AtomicBool,
    last_error: RwLock<String>,
    failed_at: Mutex<Option<Instant>>,
    /// When the store last came back without its marker (restarted empty, or flushed),
    /// and how many revocations this replica wrote back then.
    pub(super) reasserted: Mutex<Option<(SystemTime, usize)>>,
}

impl RedisState {
    pub(super) fn open(
        url: &str,
        password: Option<&caveat::Secret>,
        workers: usize,
    ) -> anyhow::Result<RedisState> {
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
            shown,
            up: AtomicBool::new(true),
            last_error: RwLock::new(String::new()),
            failed_at: Mutex::new(None),
            reasserted: Mutex::new(None),
        })
    }

    /// This thread's connection to the store (made on its first use).
    pub(super) fn connection(&self) -> Result<redis::aio::ConnectionManager, Unavailable> {
        self.slot(false)
    }

    /// A new connection for this thread, replacing one the store's restart left broken.
    pub(super) fn fresh(&self) -> Result<redis::aio::ConnectionManager, Unavailable> {
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
    pub(super) fn recently_down(&self) -> Option<Unavailable> {
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
    pub(super) fn observe<T>(&self, answer: Result<T, String>) -> Result<T, Unavailable> {
        match answer {
            Ok(v) => {
                self.up.store(true, Relaxed);
                Ok(v)
            }
            Err(e) => Err(self.unavailable(e)),
        }
    }

    pub(super) fn unavailable(&self, detail: String) -> Unavailable {
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

    pub(super) fn health(&self) -> (bool, String) {
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
    pub(super) async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Unavailable> {
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
    pub(super) async fn bounded<T>(
        &self,
        answer: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Unavailable> {
        let answer = self.timed(answer).await.map_err(Attempt::detail);
        self.observe(answer)
    }

    /// Waits at most [`STORE_TIMEOUT`] for the store's answer, telling a connection that
    /// broke before the command could be written (nothing ran) from any other failure.
    pub(super) async fn timed<T>(
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
pub(super) fn client(url: &str, password: Option<&caveat::Secret>) -> anyhow::Result<redis::Client> {
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
pub(super) enum Attempt {
    /// The connection had dropped: worth one retry on a fresh connection.
    Stale(String),
    /// Anything else (a timeout, an error answer): not retried.
    Failed(String),
}

impl Attempt {
    pub(super) fn detail(self) -> String {
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
}
