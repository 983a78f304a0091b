//! The audit log: one JSON line per request, written when the response ends.
//!
//! A record holds the token's fingerprint and key id, never the token or the secret.
//! Lines go through a `LineWriter`, so each is flushed whole; nothing is buffered across
//! requests, so a shutdown loses no line.

use std::io::{LineWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

/// Where audit lines go.
pub struct Audit {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Audit {
    /// Audit to stdout (`-`, for the platform's log pipeline; human messages go to
    /// stderr) or append to a file (created 0600).
    pub fn open(target: &str) -> anyhow::Result<Self> {
        let out: Box<dyn Write + Send> = if target == "-" {
            Box::new(std::io::stdout())
        } else {
            let path = Path::new(target);
            let mut opts = std::fs::OpenOptions::new();
            opts.append(true).create(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let f = opts
                .open(path)
                .map_err(|e| anyhow::anyhow!("--audit-log {}: {e}", path.display()))?;
            Box::new(LineWriter::new(f))
        };
        Ok(Audit { out: Mutex::new(out) })
    }

    /// Writes one record as one line.
    pub fn write(&self, record: &Record) {
        // One allocation of about a line's size, rather than a vector grown from empty.
        let mut line = Vec::with_capacity(512);
        if serde_json::to_writer(&mut line, record).is_err() {
            return;
        }
        line.push(b'\n');
        if let Ok(mut out) = self.out.lock() {
            // An unwritable audit log must not take the proxy down; the metrics still count.
            let _ = out.write_all(&line);
            let _ = out.flush();
        }
    }
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
}
