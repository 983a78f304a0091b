//! `--otlp URL`: every audit event also goes to an OpenTelemetry collector as an OTLP log
//! record (HTTP/protobuf, `POST URL/v1/logs`), through the project's own `opentelemetry`
//! SDK and OTLP exporter.
//!
//! The audit writer thread turns a line into a record and try-sends it into a bounded
//! queue; a thread of its own gathers records into batches and exports them. A collector
//! that is down, slow or silent only ever fills that queue: records that do not fit, and
//! batches the collector did not take, are dropped, counted in `/metrics`
//! (`macaroon_otlp_records_dropped_total`) and said once on stderr. No request waits for it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::{InstrumentationScope, Key};
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, SdkLogRecord, SdkLogger, SdkLoggerProvider};
use serde_json::{Map, Value};

use super::event::{field, summary, Outcome};

/// Records waiting for the exporter (the SDK's default for logs).
const QUEUE: usize = 2048;
/// Records in one export request at most (the SDK's default).
const BATCH: usize = 512;
/// How long the first record of a batch waits for others before it is sent.
const DELAY: Duration = Duration::from_secs(1);
/// The longest a last flush at shutdown waits for the collector.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// What the export thread is sent.
enum Msg {
    Record(Box<SdkLogRecord>),
    /// Answer once everything sent before has been exported (or given up on).
    Flush(std::sync::mpsc::Sender<()>),
}

/// What the audit writer thread, `/metrics` and shutdown share.
pub struct Shared {
    queue: SyncSender<Msg>,
    queued: AtomicU64,
    exported: AtomicU64,
    dropped: AtomicU64,
    warned: AtomicBool,
    /// The collector's logs endpoint, for messages.
    endpoint: String,
}

/// The audit writer thread's end: turns lines into records and queues them.
pub struct Sender {
    shared: Arc<Shared>,
    logger: SdkLogger,
}

/// The logs endpoint for `--otlp URL`: `URL/v1/logs` (or URL itself, if it already ends so),
/// and whether it is reached over TLS.
fn endpoint(url: &str) -> anyhow::Result<(String, bool)> {
    if url.contains('@') {
        anyhow::bail!(
            "--otlp: credentials do not go in the URL (they would show in `ps` and in messages); \
             set OTEL_EXPORTER_OTLP_HEADERS instead, e.g. OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20KEY"
        );
    }
    let bad = |why: &str| {
        anyhow::anyhow!(
            "--otlp {url:?}: {why}; expected the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318"
        )
    };
    let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(bad("the URL must start with http:// or https://")),
    };
    uri.authority().ok_or_else(|| bad("no host"))?;
    let base = url.trim_end_matches('/');
    let endpoint = if base.ends_with("/v1/logs") {
        base.to_string()
    } else {
        format!("{base}/v1/logs")
    };
    Ok((endpoint, tls))
}

/// How long one export may take: `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT` or
/// `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), else 10 s, as for any OTLP exporter.
fn export_timeout() -> anyhow::Result<Duration> {
    for var in ["OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"] {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            let ms: u64 = v
                .trim()
                .parse()
                .with_context(|| format!("{var}={v:?}: expected milliseconds, e.g. 10000"))?;
            return Ok(Duration::from_millis(ms));
        }
    }
    Ok(Duration::from_secs(10))
}

/// Checks `url` and starts the export thread. An `https://` collector is trusted by `roots`.
pub fn start(url: &str, roots: &rustls::RootCertStore) -> anyhow::Result<Sender> {
    let (endpoint, tls) = endpoint(url)?;
    let timeout = export_timeout()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("macaroon-proxy")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    // Extra headers come from OTEL_EXPORTER_OTLP_HEADERS (or _LOGS_HEADERS), as for any
    // OTLP exporter.
    let builder = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(endpoint.clone())
        .with_timeout(timeout);
    let mut exporter = if tls {
        builder.with_http_client(HyperClient::new(
            super::tls::Connector::new(roots.clone()),
            timeout,
            None,
        ))
    } else {
        builder.with_http_client(HyperClient::with_default_connector(timeout, None))
    }
    .build()
    .with_context(|| format!("--otlp {url:?}: cannot set up the OTLP exporter"))?;
    exporter.set_resource(&resource);
    let provider = SdkLoggerProvider::builder().with_resource(resource).build();
    let scope = InstrumentationScope::builder("macaroon-proxy")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let logger = provider.logger_with_scope(scope.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("--otlp: cannot start the runtime of the OTLP exporter")?;
    let (queue, rx) = sync_channel(QUEUE);
    let shared = Arc::new(Shared {
        queue,
        queued: AtomicU64::new(0),
        exported: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        warned: AtomicBool::new(false),
        endpoint,
    });
    let s = shared.clone();
    std::thread::Builder::new()
        .name("macaroon-otlp".into())
        .spawn(move || export_batches(&rt, &exporter, &scope, &rx, &s))
        .context("--otlp: cannot start the OTLP export thread")?;
    Ok(Sender { shared, logger })
}

/// The export thread: gathers what is queued into batches (up to [`BATCH`] records, the
/// first waiting at most [`DELAY`]) and exports each, in order, on this thread's runtime.
fn export_batches(
    rt: &tokio::runtime::Runtime,
    exporter: &opentelemetry_otlp::LogExporter,
    scope: &InstrumentationScope,
    rx: &Receiver<Msg>,
    shared: &Shared,
) {
    let mut batch: Vec<SdkLogRecord> = Vec::with_capacity(BATCH);
    let mut acks = Vec::new();
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + DELAY;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(r) => batch.push(*r),
                Msg::Flush(ack) => acks.push(ack),
            }
            if batch.len() < BATCH && acks.is_empty() {
                next = rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .ok();
            }
        }
        if !batch.is_empty() {
            let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
                batch.iter().map(|r| (r, scope)).collect();
            let n = batch.len() as u64;
            match rt.block_on(exporter.export(LogBatch::new(&refs))) {
                Ok(()) => {
                    shared.exported.fetch_add(n, Relaxed);
                }
                Err(e) => {
                    shared.dropped.fetch_add(n, Relaxed);
                    shared.warn(&format!("the collector did not take a batch ({e})"));
                }
            }
            batch.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

impl Sender {
    /// What `/metrics` and shutdown need.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Queues `event` as a log record; never waits (drops and counts it if the queue is full).
    pub fn send(&self, event: &Map<String, Value>) {
        let mut rec = self.logger.create_log_record();
        fill(&mut rec, event);
        match self.shared.queue.try_send(Msg::Record(Box::new(rec))) {
            Ok(()) => {
                self.shared.queued.fetch_add(1, Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Relaxed);
                self.shared.warn("the collector is not keeping up");
            }
        }
    }
}

impl Shared {
    /// Says on stderr, once, that records are being dropped.
    fn warn(&self, why: &str) {
        if !self.warned.swap(true, Relaxed) {
            eprintln!(
                "macaroon-proxy: --otlp {}: {why}: audit records are being dropped (counted in \
                 macaroon_otlp_records_dropped_total; requests are not affected); check that the collector is up \
                 and answers",
                self.endpoint
            );
        }
    }

    /// The OTLP counters in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        format!(
            "# HELP macaroon_otlp_records_queued_total Audit records queued for the OTLP collector.\n\
             # TYPE macaroon_otlp_records_queued_total counter\nmacaroon_otlp_records_queued_total {}\n\
             # HELP macaroon_otlp_records_exported_total Audit records the OTLP collector took.\n\
             # TYPE macaroon_otlp_records_exported_total counter\nmacaroon_otlp_records_exported_total {}\n\
             # HELP macaroon_otlp_records_dropped_total Audit records not exported: the queue was full, or the collector did not take them.\n\
             # TYPE macaroon_otlp_records_dropped_total counter\nmacaroon_otlp_records_dropped_total {}\n",
            self.queued.load(Relaxed),
            self.exported.load(Relaxed),
            self.dropped.load(Relaxed),
        )
    }

    /// Waits, at most `limit` (and [`SHUTDOWN_WAIT`]), until what was queued so far is
    /// exported or given up on; says on stderr if the collector did not take it in time.
    pub fn flush(&self, limit: Duration) {
        let deadline = Instant::now() + limit.min(SHUTDOWN_WAIT);
        let (ack, done) = std::sync::mpsc::channel();
        let mut msg = Msg::Flush(ack);
        let sent = loop {
            match self.queue.try_send(msg) {
                Ok(()) => break true,
                Err(TrySendError::Disconnected(_)) => break false,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    msg = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TrySendError::Full(_)) => break false,
            }
        };
        if !sent
            || done
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_err()
        {
            eprintln!(
                "macaroon-proxy: --otlp {}: the collector did not take the last audit records in time; they are lost",
                self.endpoint
            );
        }
    }
}

/// The record for one audit line: severity by decision, a one-line body, the line's
/// fields as attributes (objects flattened to `approval.id` and so on).
fn fill(rec: &mut SdkLogRecord, event: &Map<String, Value>) {
    let now = SystemTime::now();
    let time = field(event, "time")
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .unwrap_or(now);
    rec.set_timestamp(time);
    rec.set_observed_timestamp(now);
    let (number, text) = severity(event);
    rec.set_severity_number(number);
    rec.set_severity_text(text);
    rec.set_event_name(match field(event, "event") {
        None => "macaroon.request",
        Some("connect") => "macaroon.connect",
        Some("approval") => "macaroon.approval",
        Some("admin") => "macaroon.admin",
        Some(_) => "macaroon.event",
    });
    rec.set_body(AnyValue::from(summary(event)));
    let mut attrs = Vec::with_capacity(event.len());
    flatten("", event, &mut attrs);
    rec.add_attributes(attrs);
}

/// allow INFO, deny WARN, error ERROR (and INFO for what has no decision).
fn severity(event: &Map<String, Value>) -> (Severity, &'static str) {
    match Outcome::of(event) {
        Outcome::Allowed | Outcome::Unknown => (Severity::Info, "INFO"),
        Outcome::Denied => (Severity::Warn, "WARN"),
        Outcome::Error => (Severity::Error, "ERROR"),
    }
}

/// The fields of `obj` as attributes named `PREFIXkey`; nulls are left out.
fn flatten(prefix: &str, obj: &Map<String, Value>, out: &mut Vec<(Key, AnyValue)>) {
    for (k, v) in obj {
        let name = format!("{prefix}{k}");
        match v {
            Value::Null => {}
            Value::Object(inner) => flatten(&format!("{name}."), inner, out),
            v => {
                if let Some(a) = any_value(v) {
                    out.push((Key::new(name), a));
                }
            }
        }
    }
}

/// A JSON value as an OTLP value: integers as ints (beyond i64, as text), other numbers as
/// doubles, arrays as lists, objects as maps.
fn any_value(v: &Value) -> Option<AnyValue> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => AnyValue::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => AnyValue::Int(i),
            (None, _) if n.is_u64() => AnyValue::from(n.to_string()),
            (None, Some(f)) => AnyValue::Double(f),
            (None, None) => AnyValue::from(n.to_string()),
        },
        Value::String(s) => AnyValue::from(s.clone()),
        Value::Array(items) => AnyValue::ListAny(Box::new(items.iter().filter_map(any_value).collect())),
        Value::Object(m) => AnyValue::Map(Box::new(
            m.iter()
                .filter_map(|(k, v)| Some((Key::new(k.clone()), any_value(v)?)))
                .collect(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_endpoint_is_the_base_url_and_v1_logs() {
        let ok = |u: &str| endpoint(u).expect(u);
        assert_eq!(
            ok("http://127.0.0.1:4318"),
            ("http://127.0.0.1:4318/v1/logs".into(), false)
        );
        assert_eq!(ok("http://c:4318/"), ("http://c:4318/v1/logs".into(), false));
        assert_eq!(
            ok("https://c:4318/v1/logs"),
            ("https://c:4318/v1/logs".into(), true)
        );
        for bad in ["c:4318", "ftp://c", "not a url", "http://user:pw@c:4318"] {
            let e = endpoint(bad).expect_err(bad).to_string();
            assert!(e.contains("--otlp"), "{e}");
            // Credentials in the URL are refused without being repeated.
            assert!(!e.contains("pw"), "{e}");
        }
    }

    fn attr<'a>(rec: &'a SdkLogRecord, key: &str) -> Option<&'a AnyValue> {
        rec.attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    #[test]
    fn a_record_has_severity_body_and_the_lines_fields() {
        let provider = SdkLoggerProvider::builder().build();
        let logger = provider.logger("t");
        let event = json!({
            "time": "2026-11-30T15:00:00Z", "request_id": "r1", "method": "POST",
            "host": "api.stripe.com", "path": "/v1/refunds", "kid": "k1", "token": "ab12",
            "decision": "deny", "reason": "no", "status": 403, "total_ms": 1.5, "caveat": null,
            "labels": ["ops", "bot"], "approval": {"id": "abcd2345", "waited_ms": 12},
            "bytes_out": u64::MAX
        });
        let Value::Object(event) = event else {
            unreachable!()
        };
        let mut rec = logger.create_log_record();
        fill(&mut rec, &event);
        assert_eq!(rec.severity_number(), Some(Severity::Warn));
        assert_eq!(rec.severity_text(), Some("WARN"));
        assert_eq!(rec.event_name(), Some("macaroon.request"));
        assert_eq!(
            rec.body(),
            Some(&AnyValue::from(
                "deny POST api.stripe.com/v1/refunds -> 403: no".to_string()
            ))
        );
        assert_eq!(attr(&rec, "method"), Some(&AnyValue::from("POST".to_string())));
        assert_eq!(attr(&rec, "status"), Some(&AnyValue::Int(403)));
        assert_eq!(attr(&rec, "total_ms"), Some(&AnyValue::Double(1.5)));
        assert_eq!(
            attr(&rec, "approval.id"),
            Some(&AnyValue::from("abcd2345".to_string()))
        );
        assert_eq!(attr(&rec, "approval.waited_ms"), Some(&AnyValue::Int(12)));
        assert_eq!(
            attr(&rec, "bytes_out"),
            Some(&AnyValue::from(u64::MAX.to_string()))
        );
        assert!(matches!(attr(&rec, "labels"), Some(AnyValue::ListAny(l)) if l.len() == 2));
        assert!(attr(&rec, "caveat").is_none());
        assert_eq!(
            rec.timestamp(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_050_800))
        );
        for (decision, want) in [("allow", Severity::Info), ("error", Severity::Error)] {
            let mut e = event.clone();
            e.insert("decision".into(), json!(decision));
            assert_eq!(severity(&e).0, want);
        }
    }

    /// A collector that refuses connections: records are dropped and counted, never waited
    /// for, and a last flush gives up in bounded time.
    #[test]
    fn a_dead_collector_drops_and_counts_without_waiting() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        // The listener is closed again: the port refuses.
        let sender = start(
            &format!("http://127.0.0.1:{port}"),
            &rustls::RootCertStore::empty(),
        )
        .expect("start");
        let Value::Object(event) = json!({"decision": "allow", "method": "GET"}) else {
            unreachable!()
        };
        let t = Instant::now();
        for _ in 0..QUEUE * 2 {
            sender.send(&event);
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "sending waited: {:?}",
            t.elapsed()
        );
        let shared = sender.shared();
        assert!(
            shared.dropped.load(Relaxed) >= QUEUE as u64 - BATCH as u64,
            "queue overflow counted"
        );
        shared.flush(Duration::from_secs(30));
        let m = shared.render_metrics();
        assert!(m.contains("macaroon_otlp_records_exported_total 0"), "{m}");
        assert!(m.contains(&format!(
            "macaroon_otlp_records_queued_total {}",
            shared.queued.load(Relaxed)
        )));
    }
}
