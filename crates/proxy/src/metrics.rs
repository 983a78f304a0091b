//! Counters for `/metrics`, in the Prometheus text format. A handful of atomics: cheap on
//! the request path, and no registry to configure.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Latency histogram bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The decisions counted, in the order of their counters.
const DECISIONS: [&str; 4] = ["allow", "deny", "error", "passthrough"];
/// HTTP status codes are 100 to 999.
const STATUSES: usize = 1000;

/// Shards of the counters every request touches, one per runtime worker (by
/// [`crate::worker::current_worker`], wrapping): each worker writes its own cache line
/// instead of bouncing shared ones between cores; `/metrics` sums them.
const SHARDS: usize = 16;

/// The counters a request touches, for one worker. Histogram buckets are not cumulative
/// here (one increment per request, not one per bound above it); rendering adds them up.
#[derive(Default)]
#[repr(align(128))]
struct Hot {
    /// Requests whose latency fell at or under `BUCKETS[i]` and over the bound before;
    /// the last slot counts the ones over every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    unseal_hits: AtomicU64,
    verified_hits: AtomicU64,
    redactions: AtomicU64,
}

/// The proxy's counters: plain atomics, so the workers never wait on each other here.
pub struct Metrics {
    /// Requests by decision and status: `DECISIONS.len() * STATUSES` counters.
    requests: Vec<AtomicU64>,
    hot: [Hot; SHARDS],
    /// Unseal cache misses (a sealed box was opened).
    pub unseal_misses: AtomicU64,
    /// Verified-token cache misses (the token was decoded and its chain verified).
    pub verified_misses: AtomicU64,
    /// Upstream connection or protocol errors.
    pub upstream_errors: AtomicU64,
    /// Upstream timeouts.
    pub upstream_timeouts: AtomicU64,
    /// Upstream connections opened (TLS established), shared with the upstream pools.
    pub upstream_connects: std::sync::Arc<AtomicU64>,
    /// CONNECTs by outcome: intercepted, passthrough, refused.
    tunnels: [AtomicU64; 3],
    /// Intercepted TLS handshakes that failed (the client distrusts our CA, or another SNI).
    pub handshake_failures: AtomicU64,
    /// OAuth2 token exchanges made (each one a request to a token endpoint).
    pub oauth_exchanges: AtomicU64,
    /// OAuth2 token exchanges that failed.
    pub oauth_exchange_errors: AtomicU64,
    /// Idle client connections whose HTTP state was released ([`crate::idle`]).
    pub idle_releases: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..DECISIONS.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            hot: Default::default(),
            unseal_misses: AtomicU64::new(0),
            verified_misses: AtomicU64::new(0),
            upstream_errors: AtomicU64::new(0),
            upstream_timeouts: AtomicU64::new(0),
            upstream_connects: Default::default(),
            tunnels: Default::default(),
            handshake_failures: AtomicU64::new(0),
            oauth_exchanges: AtomicU64::new(0),
            oauth_exchange_errors: AtomicU64::new(0),
            idle_releases: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts a finished request.
    pub fn request(&self, decision: &'static str, status: u16, seconds: f64) {
        // An unknown decision name is counted as an error rather than dropped.
        let d = DECISIONS.iter().position(|x| *x == decision).unwrap_or(2);
        let slot = d * STATUSES + usize::from(status).min(STATUSES - 1);
        if let Some(c) = self.requests.get(slot) {
            c.fetch_add(1, Relaxed);
        }
        let hot = self.hot();
        let bucket = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        hot.buckets[bucket].fetch_add(1, Relaxed);
        hot.latency_sum_us.fetch_add((seconds * 1e6) as u64, Relaxed);
    }

    /// This worker's shard.
    fn hot(&self) -> &Hot {
        &self.hot[crate::worker::current_worker() % SHARDS]
    }

    /// Counts an identifier found already opened.
    pub fn unseal_hit(&self) {
        self.hot().unseal_hits.fetch_add(1, Relaxed);
    }

    /// Counts a token whose exact text was verified before.
    pub fn verified_hit(&self) {
        self.hot().verified_hits.fetch_add(1, Relaxed);
    }

    /// Counts occurrences of a secret scrubbed from a response.
    pub fn redacted(&self, n: u64) {
        self.hot().redactions.fetch_add(n, Relaxed);
    }

    /// A hot counter summed over the shards.
    fn sum(&self, field: impl Fn(&Hot) -> &AtomicU64) -> u64 {
        self.hot.iter().map(|h| field(h).load(Relaxed)).sum()
    }

    /// Counts a CONNECT (never as a request: its inner requests are counted one by one).
    pub fn tunnel(&self, outcome: Tunnel) {
        let i = match outcome {
            Tunnel::Intercepted => 0,
            Tunnel::Passthrough => 1,
            Tunnel::Refused => 2,
        };
        self.tunnels[i].fetch_add(1, Relaxed);
    }

    /// Renders the Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP macaroon_requests_total Requests by decision and HTTP status."
        );
        let _ = writeln!(s, "# TYPE macaroon_requests_total counter");
        for (d, name) in DECISIONS.iter().enumerate() {
            for st in 0..STATUSES {
                let n = self.requests[d * STATUSES + st].load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        s,
                        "macaroon_requests_total{{decision=\"{name}\",status=\"{st}\"}} {n}"
                    );
                }
            }
        }
        self.render_latency(&mut s);
        self.render_counters(&mut s);
        s
    }

    fn render_latency(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "# HELP macaroon_request_duration_seconds Time to the decision and response headers."
        );
        let _ = writeln!(s, "# TYPE macaroon_request_duration_seconds histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.sum(|h| &h.buckets[i]);
            let _ = writeln!(
                s,
                "macaroon_request_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        let count = cumulative + self.sum(|h| &h.buckets[BUCKETS.len()]);
        let _ = writeln!(
            s,
            "macaroon_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "macaroon_request_duration_seconds_sum {}",
            self.sum(|h| &h.latency_sum_us) as f64 / 1e6
        );
        let _ = writeln!(s, "macaroon_request_duration_seconds_count {count}");
    }

    fn render_counters(&self, s: &mut String) {
        for (name, help, v) in [
            (
                "macaroon_unseal_cache_hits_total",
                "Sealed identifiers found in the cache.",
                self.sum(|h| &h.unseal_hits),
            ),
            (
                "macaroon_unseal_cache_misses_total",
                "Sealed identifiers opened with the proxy key.",
                self.unseal_misses.load(Relaxed),
            ),
            (
                "macaroon_verify_cache_hits_total",
                "Tokens whose exact text was verified before: the HMAC chain was skipped, every caveat still checked.",
                self.sum(|h| &h.verified_hits),
            ),
            (
                "macaroon_verify_cache_misses_total",
                "Tokens decoded and verified in full.",
                self.verified_misses.load(Relaxed),
            ),
            (
                "macaroon_upstream_errors_total",
                "Upstream connection, TLS or protocol errors.",
                self.upstream_errors.load(Relaxed),
            ),
            (
                "macaroon_oauth_exchanges_total",
                "OAuth2 token exchanges made (access tokens are cached, one exchange at a time per credential).",
                self.oauth_exchanges.load(Relaxed),
            ),
            (
                "macaroon_oauth_exchange_errors_total",
                "OAuth2 token exchanges that failed (answered 502 credential_exchange_failed).",
                self.oauth_exchange_errors.load(Relaxed),
            ),
            (
                "macaroon_upstream_connections_total",
                "Upstream TLS connections opened (each kept for reuse while idle, up to 90 s).",
                self.upstream_connects.load(Relaxed),
            ),
            (
                "macaroon_upstream_timeouts_total",
                "Upstream requests that timed out.",
                self.upstream_timeouts.load(Relaxed),
            ),
            (
                "macaroon_redactions_total",
                "Occurrences of an injected secret (in any listed encoding) replaced in responses.",
                self.sum(|h| &h.redactions),
            ),
            (
                "macaroon_idle_releases_total",
                "Kept-alive client connections that idled and gave back their HTTP buffers (the socket stays open).",
                self.idle_releases.load(Relaxed),
            ),
            (
                "macaroon_tls_handshake_failures_total",
                "Intercepted TLS handshakes that failed (the client does not trust the proxy CA, or named another host).",
                self.handshake_failures.load(Relaxed),
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v
            );
        }
        let _ = writeln!(
            s,
            "# HELP macaroon_tunnels_total CONNECT requests by outcome (the requests inside are counted in macaroon_requests_total).\n# TYPE macaroon_tunnels_total counter"
        );
        for (name, c) in ["intercepted", "passthrough", "refused"]
            .iter()
            .zip(&self.tunnels)
        {
            let _ = writeln!(
                s,
                "macaroon_tunnels_total{{outcome=\"{name}\"}} {}",
                c.load(Relaxed)
            );
        }
    }
}

/// How a `CONNECT` ended, for its own audit line and counter (the requests inside the
/// tunnel are logged one by one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tunnel {
    /// Intercepted: each inner request goes through the pipeline.
    Intercepted,
    /// A blind tunnel to a `--passthrough` host.
    Passthrough,
    /// Refused before any tunnel was opened.
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shards are summed and buckets rendered cumulative, as Prometheus expects.
    #[test]
    fn the_histogram_sums_shards_and_is_cumulative() {
        let m = Metrics::default();
        m.request("allow", 200, 0.0003);
        std::thread::scope(|s| {
            s.spawn(|| {
                crate::worker::set_worker(3);
                m.request("allow", 200, 0.003);
                m.request("deny", 401, 10.0);
                m.verified_hit();
            });
        });
        m.verified_hit();
        let text = m.render();
        for line in [
            "macaroon_request_duration_seconds_bucket{le=\"0.0005\"} 1",
            "macaroon_request_duration_seconds_bucket{le=\"0.001\"} 1",
            "macaroon_request_duration_seconds_bucket{le=\"0.005\"} 2",
            "macaroon_request_duration_seconds_bucket{le=\"5\"} 2",
            "macaroon_request_duration_seconds_bucket{le=\"+Inf\"} 3",
            "macaroon_request_duration_seconds_count 3",
            "macaroon_verify_cache_hits_total 2",
            "macaroon_requests_total{decision=\"allow\",status=\"200\"} 2",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
