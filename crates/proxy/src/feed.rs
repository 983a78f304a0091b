//! What the admin API shows of the traffic as it happens: the audit lines just written
//! (a backlog of the last [`BACKLOG`] and a broadcast to live listeners) and the token
//! families seen ([`Families`]).
//!
//! The audit writer thread feeds the backlog and the broadcast ([`Live::written`]), off the
//! request path: a request pays nothing for them. Listeners read a bounded broadcast; one
//! that falls behind loses the oldest lines (counted, [`Live::dropped`]) and never slows the
//! writer. The families table is updated by the worker that writes the record (a short lock).
//! Both stay off, costing one atomic read per line, until an admin listener serves.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

/// Audit lines kept in memory for `GET /api/events?backlog=N`.
pub const BACKLOG: usize = 10_000;
/// Lines a live listener may fall behind before it loses the oldest.
const LISTENER_QUEUE: usize = 1024;
/// Token families remembered (the least recently seen are forgotten first).
pub const FAMILIES: usize = 10_000;
/// Hosts remembered per family.
const FAMILY_HOSTS: usize = 16;

/// The live view of this replica's audit lines.
pub struct Live {
    /// Off until an admin listener serves: a proxy without one keeps nothing.
    enabled: AtomicBool,
    /// Backlog and broadcast, locked together so a new listener gets both without a gap
    /// or a duplicate.
    inner: Mutex<Inner>,
    /// Lines live listeners lost because they read too slowly.
    dropped: AtomicU64,
    /// The token families seen.
    pub families: Families,
}

struct Inner {
    backlog: VecDeque<Bytes>,
    tx: broadcast::Sender<Bytes>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            enabled: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                backlog: VecDeque::new(),
                tx: broadcast::channel(LISTENER_QUEUE).0,
            }),
            dropped: AtomicU64::new(0),
            families: Families::default(),
        }
    }
}

impl Live {
    /// Starts keeping the backlog and the families (the admin listener calls it).
    pub fn enable(&self) {
        self.enabled.store(true, Relaxed);
    }

    /// True once an admin listener serves.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    /// Called by the audit writer thread with each line it wrote (one JSON object, without
    /// the newline).
    pub fn written(&self, line: &[u8]) {
        if !self.enabled() {
            return;
        }
        let line = Bytes::copy_from_slice(line);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.backlog.len() == BACKLOG {
            inner.backlog.pop_front();
        }
        inner.backlog.push_back(line.clone());
        if inner.tx.receiver_count() > 0 {
            let _ = inner.tx.send(line);
        }
    }

    /// The last `n` lines (oldest first) and a receiver of every line written after them.
    pub fn subscribe(&self, n: usize) -> (Vec<Bytes>, broadcast::Receiver<Bytes>) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let skip = inner.backlog.len().saturating_sub(n);
        (
            inner.backlog.iter().skip(skip).cloned().collect(),
            inner.tx.subscribe(),
        )
    }

    /// Counts lines a listener lost.
    pub fn lost(&self, n: u64) {
        self.dropped.fetch_add(n, Relaxed);
    }

    /// Lines live listeners lost so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// The counters in Prometheus' text format, for `/metrics`.
    pub fn render_metrics(&self) -> String {
        format!(
            "# HELP macaroon_admin_events_dropped_total Audit events a slow /api/events listener did not get.\n\
             # TYPE macaroon_admin_events_dropped_total counter\nmacaroon_admin_events_dropped_total {}\n",
            self.dropped()
        )
    }
}

/// One token family as this replica saw it.
#[derive(Clone, Debug, Serialize)]
pub struct Family {
    /// The family id (`kid`).
    pub kid: String,
    /// The issuer's name, once a token of it was opened.
    pub issuer: Option<String>,
    /// The labels of its last verified token, in chain order.
    pub labels: Vec<String>,
    /// Hosts its requests were for (at most 16, first seen first).
    pub hosts: Vec<String>,
    /// RFC 3339 time of its first request here.
    pub first_seen: String,
    /// RFC 3339 time of its last request here.
    pub last_seen: String,
    /// Requests allowed.
    pub allowed: u64,
    /// Requests denied (or failed).
    pub denied: u64,
    /// The last decision: `allow`, `deny` or `error`.
    pub last_decision: &'static str,
    /// The last status.
    pub last_status: u16,
    /// Why, when the last request was denied.
    pub last_reason: Option<String>,
    /// The usage and rate caveats of its last counted request, with how many each allowed
    /// still after it (for a rate: in its window then).
    pub limits: Vec<LimitLeft>,
    #[serde(skip)]
    tick: u64,
}

/// A usage or rate caveat and how many it allows still.
#[derive(Clone, Debug, Serialize)]
pub struct LimitLeft {
    /// The caveat (`uses <= 100`, `rate <= 60/1m`).
    pub caveat: String,
    /// How many more requests it allowed after the last counted one.
    pub left: u64,
}

/// The families seen, at most [`FAMILIES`]; when full, the least recently seen tenth is
/// forgotten at once (so the scan is rare).
#[derive(Default)]
pub struct Families {
    map: Mutex<(u64, HashMap<String, Family>)>,
    /// What each family's limits allow still, by kid (kept for the families in `map`).
    left: Mutex<HashMap<String, Vec<LimitLeft>>>,
}

impl Families {
    /// Records one request of family `kid` (its issuer and labels when known).
    #[allow(clippy::too_many_arguments)]
    pub fn seen(
        &self,
        kid: &str,
        who: (Option<&str>, Option<&[String]>),
        host: &str,
        time: &str,
        decision: &'static str,
        status: u16,
        reason: Option<&str>,
    ) {
        let mut guard = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let (clock, map) = &mut *guard;
        *clock += 1;
        let tick = *clock;
        if !map.contains_key(kid) && map.len() >= FAMILIES {
            let mut ticks: Vec<u64> = map.values().map(|f| f.tick).collect();
            let cut = FAMILIES / 10;
            ticks.select_nth_unstable(cut);
            let bound = ticks[cut];
            map.retain(|_, f| f.tick > bound);
            let mut left = self.left.lock().unwrap_or_else(|p| p.into_inner());
            left.retain(|kid, _| map.contains_key(kid));
        }
        let f = map.entry(kid.to_string()).or_insert_with(|| Family {
            kid: kid.to_string(),
            issuer: None,
            labels: Vec::new(),
            hosts: Vec::new(),
            first_seen: time.to_string(),
            last_seen: String::new(),
            allowed: 0,
            denied: 0,
            last_decision: decision,
            last_status: status,
            last_reason: None,
            limits: Vec::new(),
            tick,
        });
        if !host.is_empty() && f.hosts.len() < FAMILY_HOSTS && !f.hosts.iter().any(|h| h == host) {
            f.hosts.push(host.to_string());
        }
        if let Some(i) = who.0 {
            if f.issuer.as_deref() != Some(i) {
                f.issuer = Some(i.to_string());
            }
        }
        if let Some(l) = who.1 {
            if f.labels != l {
                f.labels = l.to_vec();
            }
        }
        f.last_seen.clear();
        f.last_seen.push_str(time);
        if decision == "allow" {
            f.allowed += 1;
        } else {
            f.denied += 1;
        }
        f.last_decision = decision;
        f.last_status = status;
        f.last_reason = reason.map(str::to_string);
        f.tick = tick;
    }

    /// Records what the limits of family `kid` allow still (a counted request of it).
    pub fn limits(&self, kid: &str, left: Vec<(String, u64)>) {
        let shown = left
            .into_iter()
            .map(|(caveat, left)| LimitLeft { caveat, left })
            .collect();
        let mut all = self.left.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() < FAMILIES || all.contains_key(kid) {
            all.insert(kid.to_string(), shown);
        }
    }

    fn with_limits(&self, mut f: Family) -> Family {
        if let Some(l) = self.left.lock().unwrap_or_else(|p| p.into_inner()).get(&f.kid) {
            f.limits = l.clone();
        }
        f
    }

    /// Every family, the most recently seen first.
    pub fn list(&self) -> Vec<Family> {
        let mut all: Vec<Family> = {
            let guard = self.map.lock().unwrap_or_else(|p| p.into_inner());
            guard.1.values().cloned().collect()
        };
        all.sort_by_key(|f| std::cmp::Reverse(f.tick));
        all.into_iter().map(|f| self.with_limits(f)).collect()
    }

    /// One family.
    pub fn get(&self, kid: &str) -> Option<Family> {
        let f = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .get(kid)
            .cloned()?;
        Some(self.with_limits(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_listener_gets_the_backlog_then_every_later_line_once() {
        let live = Live::default();
        live.written(b"{\"before\":1}");
        assert!(
            live.subscribe(10).0.is_empty(),
            "nothing kept before an admin listener serves"
        );
        live.enable();
        for i in 0..(BACKLOG + 5) {
            live.written(format!("{{\"n\":{i}}}").as_bytes());
        }
        let (back, mut rx) = live.subscribe(3);
        assert_eq!(back.len(), 3);
        assert_eq!(&back[2][..], format!("{{\"n\":{}}}", BACKLOG + 4).as_bytes());
        assert_eq!(live.subscribe(usize::MAX).0.len(), BACKLOG);
        live.written(b"{\"n\":\"next\"}");
        assert_eq!(&rx.try_recv().expect("live")[..], b"{\"n\":\"next\"}");
    }

    #[test]
    fn a_listener_that_reads_nothing_never_blocks_the_writer() {
        let live = Live::default();
        live.enable();
        let (_, mut rx) = live.subscribe(0);
        for _ in 0..(LISTENER_QUEUE * 4) {
            live.written(b"{}");
        }
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
    }

    #[test]
    fn families_count_and_stay_bounded() {
        let f = Families::default();
        f.seen("k1", (None, None), "a.com", "t1", "allow", 200, None);
        f.seen(
            "k1",
            (Some("acme"), Some(&["ci".to_string()])),
            "b.com",
            "t2",
            "deny",
            403,
            Some("no"),
        );
        assert_eq!(f.get("k1").expect("k1").issuer.as_deref(), Some("acme"));
        let k1 = f.get("k1").expect("k1");
        assert_eq!((k1.allowed, k1.denied, k1.last_decision), (1, 1, "deny"));
        assert_eq!(k1.hosts, ["a.com", "b.com"]);
        assert_eq!((k1.first_seen.as_str(), k1.last_seen.as_str()), ("t1", "t2"));
        for i in 0..(FAMILIES + 50) {
            f.seen(&format!("x{i}"), (None, None), "a.com", "t", "allow", 200, None);
        }
        assert!(f.list().len() <= FAMILIES);
        assert!(
            f.get(&format!("x{}", FAMILIES + 49)).is_some(),
            "the newest stays"
        );
    }
}
