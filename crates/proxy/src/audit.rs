//! The audit log: one JSON line per request, written when the response ends.
//!
//! A record holds the token's fingerprint and key id, never the token or the secret.
//! Lines go through a bounded queue to a writer thread of their own, which appends them
//! (several at a time when they queue up) to a descriptor opened for appending: a log
//! reader that stalls (a stdout pipe nobody drains) never blocks a request. When the queue
//! is full, lines are dropped, counted in `/metrics` (`macaroon_audit_lines_dropped_total`)
//! and reported once on stderr. Shutdown waits (a few seconds at most) for the queue to be
//! written; a process killed outright loses what was still queued.
//! Lines are written by hand rather than through serde: the field names are constants and
//! most values need no escaping (a test pins the output to serde's, byte for byte).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

/// Lines the queue holds while the writer waits for the log (about 2 MB at most).
const QUEUE: usize = 4096;
/// Queued lines are gathered into writes of about this many bytes.
const BATCH: usize = 64 * 1024;
/// How long the writer rests after a batch of more than one line (the most a line waits).
const WRITER_REST: std::time::Duration = std::time::Duration::from_millis(2);

/// What the writer thread is sent.
enum Msg {
    Line(Vec<u8>),
    /// Answer once everything sent before has been written.
    Flush(std::sync::mpsc::Sender<()>),
}

/// Where audit lines go.
pub struct Audit {
    queue: SyncSender<Msg>,
    /// Lines handed to the writer thread.
    queued: AtomicU64,
    /// Lines the writer thread has written (shared with it).
    written: std::sync::Arc<AtomicU64>,
    /// Lines dropped because the queue was full.
    dropped: AtomicU64,
    /// Whether the first drop has been reported on stderr.
    warned: AtomicBool,
    /// What the log is, for messages.
    target: String,
    /// The admin API's view of the lines written ([`crate::live`]).
    live: std::sync::Arc<crate::feed::Live>,
    /// The exporters' counters and last flush (`--otlp`).
    export: crate::audit_export::Handle,
}

impl Audit {
    /// Audit to stdout (`-`, for the platform's log pipeline; human messages go to
    /// stderr) or append to a file (created 0600).
    pub fn open(target: &str) -> anyhow::Result<Self> {
        Self::open_exporting(target, crate::audit_export::Export::default(), Default::default())
    }

    /// [`Audit::open`], with the writer thread handing each line to `export`
    /// (`--audit-format`, `--otlp`; see `audit_export`).
    pub fn open_exporting(
        target: &str,
        export: crate::audit_export::Export,
        handle: crate::audit_export::Handle,
    ) -> anyhow::Result<Self> {
        let out = if target == "-" {
            use std::os::fd::AsFd;
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| anyhow::anyhow!("--audit-log -: cannot use stdout: {e}"))?;
            File::from(fd)
        } else {
            let path = Path::new(target);
            let mut opts = std::fs::OpenOptions::new();
            opts.append(true).create(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            opts.open(path)
                .map_err(|e| anyhow::anyhow!("--audit-log {}: {e}", path.display()))?
        };
        Self::start_exporting(out, if target == "-" { "stdout" } else { target }, export, handle)
    }

    /// Starts the writer thread for `out`, which messages call `target`.
    #[cfg(test)]
    fn start(out: File, target: &str) -> anyhow::Result<Self> {
        Self::start_exporting(out, target, Default::default(), Default::default())
    }

    fn start_exporting(
        out: File,
        target: &str,
        export: crate::audit_export::Export,
        handle: crate::audit_export::Handle,
    ) -> anyhow::Result<Self> {
        let (queue, rx) = sync_channel(QUEUE);
        let written = std::sync::Arc::new(AtomicU64::new(0));
        let counted = written.clone();
        let live = std::sync::Arc::new(crate::feed::Live::default());
        let shown = live.clone();
        std::thread::Builder::new()
            .name("macaroon-audit".into())
            .spawn(move || write_lines(out, rx, &counted, &shown, export))
            .map_err(|e| anyhow::anyhow!("--audit-log: cannot start the audit writer thread: {e}"))?;
        Ok(Audit {
            queue,
            queued: AtomicU64::new(0),
            written,
            dropped: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            target: target.into(),
            live,
            export: handle,
        })
    }

    /// The lines just written and the token families seen, for the admin API.
    pub fn live(&self) -> &std::sync::Arc<crate::feed::Live> {
        &self.live
    }

    /// Queues one record as one line; never waits for the log.
    pub fn write(&self, record: &Record) {
        // One allocation of about a line's size, rather than a vector grown from empty.
        let mut line = Vec::with_capacity(512);
        record.write_json(&mut line);
        line.push(b'\n');
        if let (Some(kid), None, true) = (record.kid.as_deref(), record.event, self.live.enabled()) {
            let reason = record.reason.as_deref();
            (self.live.families).seen(
                kid,
                (record.issuer.as_deref(), record.labels.as_deref()),
                &record.host,
                &record.time,
                record.decision,
                record.status,
                reason,
            );
        }
        match self.queue.try_send(Msg::Line(line)) {
            Ok(()) => {
                self.queued.fetch_add(1, Relaxed);
            }
            // Full, or the writer is gone (it never exits while the queue is open).
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Relaxed);
                if !self.warned.swap(true, Relaxed) {
                    eprintln!(
                        "macaroon-proxy: the audit log ({}) is not keeping up: audit lines are being dropped \
                         (counted in macaroon_audit_lines_dropped_total); check what reads it",
                        self.target
                    );
                }
            }
        }
    }

    /// Lines dropped so far because the log did not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// The audit counters in the Prometheus text format, for `/metrics`.
    pub fn render_metrics(&self) -> String {
        // Written is read first: a line written after that read is still counted as queued,
        // so `queued == written` means every line queued by then is in the log.
        let written = self.written.load(std::sync::atomic::Ordering::Acquire);
        format!(
            "# HELP macaroon_audit_lines_dropped_total Audit lines dropped because the audit log did not keep up (its reader stalled).\n\
             # TYPE macaroon_audit_lines_dropped_total counter\nmacaroon_audit_lines_dropped_total {}\n\
             # HELP macaroon_audit_lines_queued_total Audit lines handed to the audit writer.\n\
             # TYPE macaroon_audit_lines_queued_total counter\nmacaroon_audit_lines_queued_total {}\n\
             # HELP macaroon_audit_lines_written_total Audit lines written to the audit log.\n\
             # TYPE macaroon_audit_lines_written_total counter\nmacaroon_audit_lines_written_total {written}\n",
            self.dropped(),
            self.queued.load(std::sync::atomic::Ordering::Acquire),
        ) + &self.export.render_metrics()
    }

    /// Waits, at most `limit`, until every line queued so far is written; false if the log
    /// did not take them in time.
    pub fn flush(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let (ack, done) = std::sync::mpsc::channel();
        let mut msg = Msg::Flush(ack);
        loop {
            match self.queue.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    msg = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        let written = done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok();
        self.export
            .flush(deadline.saturating_duration_since(Instant::now()));
        written
    }
}

/// The writer thread: appends every queued line, gathering those already waiting into one
/// write. Lines stay whole and in order. An unwritable log must not take the proxy down: a
/// failed write is dropped (the metrics still count the requests).
fn write_lines(
    mut out: File,
    rx: Receiver<Msg>,
    written: &AtomicU64,
    live: &crate::feed::Live,
    mut export: crate::audit_export::Export,
) {
    let mut buf = Vec::with_capacity(BATCH);
    let mut acks = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut lines = 0;
        while let Some(msg) = next.take() {
            match msg {
                Msg::Line(line) => {
                    live.written(line.strip_suffix(b"\n").unwrap_or(&line));
                    export.line(&line, &mut buf);
                    lines += 1;
                }
                Msg::Flush(ack) => acks.push(ack),
            }
            if buf.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        let _ = out.write_all(&buf);
        buf.clear();
        written.fetch_add(lines, std::sync::atomic::Ordering::Release);
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        // Under load, rest a moment before waiting again: lines queued meanwhile are taken
        // in the next batch, and no worker has to wake this thread for each of them (a
        // futex wake-up per line cost more CPU than writing it). Idle, the first line
        // still wakes it at once.
        if lines > 1 {
            std::thread::sleep(WRITER_REST);
        }
    }
}

/// What the audit line says about a request that needed approval.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ApprovalRecord {
    /// The approval's id.
    pub id: Option<String>,
    /// `approved`, `denied`, `pending` (not decided in time) or `expired`.
    pub decision: &'static str,
    /// Who decided.
    pub by: Option<String>,
    /// How long the request was held.
    pub waited_ms: f64,
    /// `once` or the window the caveat asks for.
    pub scope: String,
}

/// One audit line.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Record {
    /// RFC 3339 time the request arrived.
    pub time: String,
    /// Request id, also in the response's `x-request-id` header and error bodies.
    pub request_id: String,
    /// Client address.
    pub client: String,
    /// `reverse`, `forward`, `tunnel` or `passthrough`.
    pub mode: &'static str,
    /// HTTP method.
    pub method: String,
    /// Host the request was for (the upstream, when forwarded).
    pub host: String,
    /// Path (without the query, which may carry secrets).
    pub path: String,
    /// Proxy key id the token is sealed to.
    pub key_id: Option<String>,
    /// The token family id (`kid` in the sealed payload).
    pub kid: Option<String>,
    /// The token's signature fingerprint.
    pub token: Option<String>,
    /// The name of the issuer that wrapped the key (`issuers add --name`; `local` for the
    /// home's own), once the token was opened.
    pub issuer: Option<std::sync::Arc<str>>,
    /// The token's `label = NAME` caveats in chain order (who holds it), once verified.
    pub labels: Option<std::sync::Arc<[String]>>,
    /// `allow`, `deny` or `error`.
    pub decision: &'static str,
    /// Why, for denials and errors.
    pub reason: Option<String>,
    /// The failing caveat, if one.
    pub caveat: Option<String>,
    /// HTTP status returned to the client.
    pub status: u16,
    /// Milliseconds from arrival to the decision.
    pub decide_ms: f64,
    /// Milliseconds from arrival to the response headers.
    pub upstream_ms: Option<f64>,
    /// Milliseconds from arrival to the end of the response body.
    pub total_ms: f64,
    /// Response body bytes sent to the client.
    pub bytes_out: u64,
    /// Occurrences of the secret replaced in the response (headers and body), never the value.
    pub redactions: u64,
    /// For a request that needed a person's approval: which, how it was decided, by whom,
    /// how long it was held, and its scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Box<ApprovalRecord>>,
    /// `connect` for a line about a tunnel itself (opened, refused or passed through);
    /// absent on request lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'static str>,
    /// The operator, on an `admin` line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// What the operator did (`issuers.add`...), on an `admin` line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
}

impl Record {
    /// Appends the record as one JSON object, exactly as `serde_json` would write it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"time\":");
        json_plain(out, &self.time);
        out.extend_from_slice(b",\"request_id\":");
        json_plain(out, &self.request_id);
        out.extend_from_slice(b",\"client\":");
        json_plain(out, &self.client);
        out.extend_from_slice(b",\"mode\":");
        json_plain(out, self.mode);
        out.extend_from_slice(b",\"method\":");
        json_str(out, &self.method);
        out.extend_from_slice(b",\"host\":");
        json_str(out, &self.host);
        out.extend_from_slice(b",\"path\":");
        json_str(out, &self.path);
        out.extend_from_slice(b",\"key_id\":");
        json_opt_str(out, self.key_id.as_deref());
        out.extend_from_slice(b",\"kid\":");
        json_opt_str(out, self.kid.as_deref());
        out.extend_from_slice(b",\"token\":");
        json_opt_str(out, self.token.as_deref());
        out.extend_from_slice(b",\"issuer\":");
        json_opt_str(out, self.issuer.as_deref());
        out.extend_from_slice(b",\"labels\":");
        match &self.labels {
            None => out.extend_from_slice(b"null"),
            Some(ls) => {
                out.push(b'[');
                for (i, l) in ls.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_str(out, l);
                }
                out.push(b']');
            }
        }
        out.extend_from_slice(b",\"decision\":");
        json_plain(out, self.decision);
        out.extend_from_slice(b",\"reason\":");
        json_opt_str(out, self.reason.as_deref());
        out.extend_from_slice(b",\"caveat\":");
        json_opt_str(out, self.caveat.as_deref());
        out.extend_from_slice(b",\"status\":");
        json_value(out, &self.status);
        out.extend_from_slice(b",\"decide_ms\":");
        json_value(out, &self.decide_ms);
        out.extend_from_slice(b",\"upstream_ms\":");
        json_value(out, &self.upstream_ms);
        out.extend_from_slice(b",\"total_ms\":");
        json_value(out, &self.total_ms);
        out.extend_from_slice(b",\"bytes_out\":");
        json_value(out, &self.bytes_out);
        out.extend_from_slice(b",\"redactions\":");
        json_value(out, &self.redactions);
        if let Some(approval) = &self.approval {
            out.extend_from_slice(b",\"approval\":");
            json_value(out, approval);
        }
        if let Some(event) = self.event {
            out.extend_from_slice(b",\"event\":");
            json_plain(out, event);
        }
        if let Some(operator) = &self.operator {
            out.extend_from_slice(b",\"operator\":");
            json_str(out, operator);
        }
        if let Some(action) = self.action {
            out.extend_from_slice(b",\"action\":");
            json_plain(out, action);
        }
        out.push(b'}');
    }
}

/// A string the proxy made itself (a time, an id, an address, a fixed word): never
/// escaped, so only checked in debug builds.
fn json_plain(out: &mut Vec<u8>, s: &str) {
    debug_assert!(s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'), "{s:?}");
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// A JSON string: copied as is when nothing in it needs escaping (the common case: ids,
/// hosts, paths), otherwise escaped by `serde_json`.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        json_value(out, s);
    }
}

fn json_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Numbers (and what needs escaping) as `serde_json` writes them.
fn json_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Writing to a vector cannot fail, and these types always serialize.
    let _ = serde_json::to_writer(out, v);
}

/// The method as the audit line shows it: as sent when it can be a method, else only its
/// length (a token sent as the method must not be logged).
pub fn method_text(method: &str) -> String {
    if method.len() <= caveat::MAX_METHOD {
        method.to_string()
    } else {
        format!("<{} bytes>", method.len())
    }
}

/// The time a request arrived, as the audit line shows it.
pub fn now() -> String {
    // Formatted once a second per thread: every request of that second shares the text.
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let t = SystemTime::now();
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != secs {
            *last = (secs, caveat::fmt_time(t));
        }
        last.1.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log nobody reads fills up; writing lines never waits for it, and what does not
    /// fit is counted. Once read again, every line still queued arrives whole.
    #[test]
    fn a_stalled_log_drops_lines_instead_of_blocking() {
        let (mut reader, writer) = std::io::pipe().expect("pipe");
        let audit = Audit::start(File::from(std::os::fd::OwnedFd::from(writer)), "test").expect("audit");
        let rec = Record {
            path: "/v1/charges".into(),
            ..Record::default()
        };
        // Far more than the pipe (64 KiB) and the queue hold together.
        let n = QUEUE as u64 * 3;
        for _ in 0..n {
            audit.write(&rec);
        }
        assert!(audit.dropped() > 0, "nothing dropped");
        assert!(audit
            .render_metrics()
            .contains(&format!("macaroon_audit_lines_dropped_total {}", audit.dropped())));
        assert!(!audit.flush(Duration::from_millis(50)), "the pipe is full");
        let read = std::thread::spawn(move || {
            let mut all = String::new();
            std::io::Read::read_to_string(&mut reader, &mut all).expect("read");
            all
        });
        assert!(audit.flush(Duration::from_secs(30)), "drained once read");
        let kept = n - audit.dropped();
        drop(audit);
        let all = read.join().expect("reader");
        assert_eq!(all.lines().count() as u64, kept);
        assert!(all
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    }

    /// The hand-written line is serde's, byte for byte, for ordinary and awkward values.
    #[test]
    fn lines_are_exactly_what_serde_writes() {
        let plain = Record {
            time: "2026-11-30T15:00:00Z".into(),
            request_id: "00ff00ff00ff00ff".into(),
            client: "127.0.0.1:51234".into(),
            mode: "reverse",
            method: "GET".into(),
            host: "api.example.com".into(),
            path: "/v1/charges".into(),
            key_id: Some("0011223344556677".into()),
            kid: Some("kid".into()),
            token: Some("ab12".into()),
            issuer: Some("local".into()),
            labels: Some(Vec::new().into()),
            decision: "allow",
            status: 200,
            decide_ms: 0.123,
            upstream_ms: Some(1.5),
            total_ms: 2.0,
            bytes_out: 64,
            ..Record::default()
        };
        let awkward = Record {
            method: "G\"E\\T".into(),
            path: "/a\u{0}b\nc\u{1f}d\u{7f}é€😀\t".into(),
            reason: Some("the \"caveat\" said\r\nno".into()),
            caveat: Some("path prefix /v1".into()),
            issuer: Some("alice \"o'neil\"\n".into()),
            labels: Some(vec!["ops".to_string(), "a\"b".to_string()].into()),
            decide_ms: f64::NAN,
            total_ms: 1e300,
            upstream_ms: Some(f64::INFINITY),
            bytes_out: u64::MAX,
            redactions: 3,
            status: 502,
            ..plain.clone()
        };
        let connect = Record {
            event: Some("connect"),
            ..plain.clone()
        };
        let admin = Record {
            event: Some("admin"),
            operator: Some("alice".into()),
            action: Some("issuers.add"),
            ..plain.clone()
        };
        for r in [Record::default(), plain, awkward, connect, admin] {
            let mut ours = Vec::new();
            r.write_json(&mut ours);
            let serde = serde_json::to_vec(&r).expect("serializes");
            assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&serde));
        }
    }
}
