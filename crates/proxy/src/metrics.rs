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

/// The proxy's counters: plain atomics, so the workers never wait on each other here.
pub struct Metrics {
    /// Requests by decision and status: `DECISIONS.len() * STATUSES` counters.
    requests: Vec<AtomicU64>,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
    /// Unseal cache hits.
    pub unseal_hits: AtomicU64,
    /// Unseal cache misses (a sealed box was opened).
    pub unseal_misses: AtomicU64,
    /// Verified-token cache hits (the HMAC chain was skipped).
    pub verified_hits: AtomicU64,
    /// Verified-token cache misses (the token was decoded and its chain verified).
    pub verified_misses: AtomicU64,
    /// Upstream connection or protocol errors.
    pub upstream_errors: AtomicU64,
    /// Upstream timeouts.
    pub upstream_timeouts: AtomicU64,
    /// CONNECTs by outcome: intercepted, passthrough, refused.
    tunnels: [AtomicU64; 3],
    /// Occurrences of a secret scrubbed from responses.
    pub redactions: AtomicU64,
    /// Intercepted TLS handshakes that failed (the client distrusts our CA, or another SNI).
    pub handshake_failures: AtomicU64,
    /// OAuth2 token exchanges made (each one a request to a token endpoint).
    pub oauth_exchanges: AtomicU64,
    /// OAuth2 token exchanges that failed.
    pub oauth_exchange_errors: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..DECISIONS.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            buckets: Default::default(),
            latency_sum_us: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            unseal_hits: AtomicU64::new(0),
            unseal_misses: AtomicU64::new(0),
            verified_hits: AtomicU64::new(0),
            verified_misses: AtomicU64::new(0),
            upstream_errors: AtomicU64::new(0),
            upstream_timeouts: AtomicU64::new(0),
            tunnels: Default::default(),
            handshake_failures: AtomicU64::new(0),
            redactions: AtomicU64::new(0),
            oauth_exchanges: AtomicU64::new(0),
            oauth_exchange_errors: AtomicU64::new(0),
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
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.latency_sum_us.fetch_add((seconds * 1e6) as u64, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
    }

    /// Counts a CONNECT (never as a request: its inner requests are counted one by one).
    pub fn tunnel(&self, outcome: crate::pipeline::logging::Tunnel) {
        use crate::pipeline::logging::Tunnel;
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
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "macaroon_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
                self.buckets[i].load(Relaxed)
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            s,
            "macaroon_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "macaroon_request_duration_seconds_sum {}",
            self.latency_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "macaroon_request_duration_seconds_count {count}");
    }

    fn render_counters(&self, s: &mut String) {
        for (name, help, v) in [
            (
                "macaroon_unseal_cache_hits_total",
                "Sealed identifiers found in the cache.",
                &self.unseal_hits,
            ),
            (
                "macaroon_unseal_cache_misses_total",
                "Sealed identifiers opened with the proxy key.",
                &self.unseal_misses,
            ),
            (
                "macaroon_verify_cache_hits_total",
                "Tokens whose exact text was verified before: the HMAC chain was skipped, every caveat still checked.",
                &self.verified_hits,
            ),
            (
                "macaroon_verify_cache_misses_total",
                "Tokens decoded and verified in full.",
                &self.verified_misses,
            ),
            (
                "macaroon_upstream_errors_total",
                "Upstream connection, TLS or protocol errors.",
                &self.upstream_errors,
            ),
            (
                "macaroon_oauth_exchanges_total",
                "OAuth2 token exchanges made (access tokens are cached, one exchange at a time per credential).",
                &self.oauth_exchanges,
            ),
            (
                "macaroon_oauth_exchange_errors_total",
                "OAuth2 token exchanges that failed (answered 502 credential_exchange_failed).",
                &self.oauth_exchange_errors,
            ),
            (
                "macaroon_upstream_timeouts_total",
                "Upstream requests that timed out.",
                &self.upstream_timeouts,
            ),
            (
                "macaroon_redactions_total",
                "Occurrences of an injected secret (in any listed encoding) replaced in responses.",
                &self.redactions,
            ),
            (
                "macaroon_tls_handshake_failures_total",
                "Intercepted TLS handshakes that failed (the client does not trust the proxy CA, or named another host).",
                &self.handshake_failures,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
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
