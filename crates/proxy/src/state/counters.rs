//! Usage and rate counts: checked and charged together, atomically, in the process
//! ([`Embedded`]) or in the shared store (one Lua script on the server's clock).
//!
//! Rates are rolling windows kept as a log of request times (a Redis sorted set; a deque
//! here): at most N requests in *any* window of the given length, never the 2N a fixed
//! window or a GCRA burst allows across a boundary. The log is bounded by N (at most
//! [`caveat::MAX_RATE`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime};

use caveat::{Limit, LimitKind};

use super::store::{Attempt, RedisState, Unavailable};

/// A usage count is kept this long past its limit's expiry ([`Limit::expires`]; clock
/// skew between a replica and the store).
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// The outcome of charging a token's limits for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    /// Every limit held; each was charged once. How many each allows still, in order
    /// (for a rate: in the current window).
    Allowed(Vec<u64>),
    /// This limit (an index into the token's limits) is spent; nothing was charged.
    Limited {
        /// Which limit.
        index: usize,
        /// When a request could succeed again (rates only; spent uses never come back).
        retry_after: Option<Duration>,
    },
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
    pub(super) fn charge(&self, limits: &[Limit], now: Instant) -> Charge {
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
        let mut left = Vec::with_capacity(limits.len());
        for l in limits {
            left.push(c.add(l, now, keep_for(l).map(|d| now + d)));
        }
        c.charges_since_sweep += 1;
        if c.charges_since_sweep >= SWEEP_EVERY {
            c.sweep(now);
        }
        Charge::Allowed(left)
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

    /// Charges `l` once; how many it allows still.
    fn add(&mut self, l: &Limit, now: Instant, until: Option<Instant>) -> u64 {
        let entry = self.map.entry(l.key).or_insert_with(|| match l.kind {
            LimitKind::Uses(_) => Counter::Uses { used: 0, until },
            LimitKind::Rate { .. } => Counter::Rate { log: VecDeque::new() },
        });
        let max = match l.kind {
            LimitKind::Uses(max) | LimitKind::Rate { max, .. } => max,
        };
        match entry {
            Counter::Uses { used, until: u } => {
                *used += 1;
                // The longest life asked for wins (`None` is for good).
                *u = match (*u, until) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
                max.saturating_sub(*used)
            }
            Counter::Rate { log } => {
                log.push_back(now);
                max.saturating_sub(log.len() as u64)
            }
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

/// Checks every limit, then charges all of them, on the server's clock. KEYS are the
/// counters; ARGV holds, per key, its kind (`u` uses, `r` rate), its bound and a time in
/// milliseconds (the window, or how long to keep a usage count; 0 keeps it for good), then
/// a member id unique to this request. A usage count's life only ever grows. Returns {0, 0,
/// left...} when charged (how many each limit allows still), {i, ms} when limit i
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
local out = {0, 0}
for i = 1, n do
  local kind, max, ms = ARGV[3*i-2], tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  if kind == 'u' then
    local used = redis.call('INCR', KEYS[i])
    table.insert(out, math.max(max - used, 0))
    local ttl = redis.call('PTTL', KEYS[i])
    if ms == 0 then
      if ttl >= 0 then redis.call('PERSIST', KEYS[i]) end
    elseif (used == 1 and ttl < 0) or (ttl >= 0 and ttl < ms) then
      redis.call('PEXPIRE', KEYS[i], ms)
    end
  else
    redis.call('ZADD', KEYS[i], now, now .. ':' .. id)
    redis.call('PEXPIRE', KEYS[i], ms)
    table.insert(out, math.max(max - redis.call('ZCARD', KEYS[i]), 0))
  end
end
return out
";

/// The charge script, hashed once (sent by its hash, in full only when the store lacks it).
static CHARGE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(CHARGE_LUA));

impl RedisState {
    pub(super) async fn charge(&self, limits: &[Limit], request_id: &str) -> Result<Charge, Unavailable> {
        if let Some(e) = self.recently_down() {
            return Err(e);
        }
        let mut inv = CHARGE_SCRIPT.prepare_invoke();
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
        let answer: Vec<i64> = match self.timed(inv.invoke_async(&mut con)).await {
            // The connection broke since its last use (a store restart): once more on a
            // fresh one.
            Err(Attempt::Stale(_)) => {
                let mut con = self.fresh()?;
                self.bounded(inv.invoke_async(&mut con)).await?
            }
            first => self.observe(first.map_err(Attempt::detail))?,
        };
        let (index, ms) = (
            answer.first().copied().unwrap_or(-1),
            answer.get(1).copied().unwrap_or(0),
        );
        Ok(match usize::try_from(index) {
            Ok(0) => Charge::Allowed(
                answer
                    .iter()
                    .skip(2)
                    .map(|n| u64::try_from(*n).unwrap_or(0))
                    .collect(),
            ),
            Ok(i) if i <= limits.len() => Charge::Limited {
                index: i - 1,
                retry_after: u64::try_from(ms).ok().map(Duration::from_millis),
            },
            _ => {
                return Err(self.unavailable(format!("the charge script answered {index}")));
            }
        })
    }
}

/// A number no other request of this process shares, so two rate entries never collide.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Relaxed)
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
        for n in 0..3u64 {
            assert_eq!(
                e.charge(&both, now),
                Charge::Allowed(vec![2 - n, 99 - n]),
                "what is left"
            );
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
        assert!(matches!(e.charge(&rate, t0), Charge::Allowed(_)));
        assert!(matches!(
            e.charge(&rate, t0 + Duration::from_secs(30)),
            Charge::Allowed(_)
        ));
        // At 59 s both are in the window; the first frees up at 60 s.
        assert_eq!(
            e.charge(&rate, t0 + Duration::from_secs(59)),
            Charge::Limited {
                index: 0,
                retry_after: Some(Duration::from_secs(1))
            }
        );
        // At 60 s the first has left the window: one more, and no more than 2 in any 60 s.
        assert!(matches!(
            e.charge(&rate, t0 + Duration::from_secs(60)),
            Charge::Allowed(_)
        ));
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
        assert!(matches!(
            e.charge(std::slice::from_ref(&long), now),
            Charge::Allowed(_)
        ));
        assert!(matches!(
            e.charge(std::slice::from_ref(&short), now),
            Charge::Allowed(_)
        ));
        // Swept well after the short life: the count stays, so the third use is the last.
        e.counters
            .lock()
            .expect("lock")
            .sweep(now + EXPIRY_MARGIN + Duration::from_secs(60));
        assert!(matches!(
            e.charge(std::slice::from_ref(&long), now),
            Charge::Allowed(_)
        ));
        assert!(matches!(
            e.charge(std::slice::from_ref(&long), now),
            Charge::Limited { index: 0, .. }
        ));
        // A far-off or absent expiry is kept without overflowing the clock.
        let mut far = limit(6, LimitKind::Uses(3));
        far.expires = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4));
        assert!(matches!(e.charge(&[far], now), Charge::Allowed(_)));
    }
}
