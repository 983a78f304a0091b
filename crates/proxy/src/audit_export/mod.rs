//! Audit export: what the audit writer thread does with each line besides writing it.
//!
//! The request path only renders the project's own JSON line and queues it (`audit`); the
//! writer thread hands each line to an [`Export`], which writes it as it is
//! (`--audit-format json`) or as an OCSF event ([`ocsf`], `--audit-format ocsf`), and, with
//! `--otlp URL`, also queues it as an OpenTelemetry log record for a thread of its own
//! ([`otlp`]). Both work from the rendered line (a `serde_json::Value`), not from the
//! `Record` type, so fields added to the line (issuer, labels, approval, admin events)
//! flow through without a change here.

mod event;
pub mod ocsf;
pub mod otlp;
pub mod tls;

use std::sync::Arc;

/// `--audit-format`: how audit lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The project's own JSON line (docs/audit.md).
    #[default]
    Json,
    /// Each event as an OCSF 1.3 event: HTTP Activity (4002) for requests, API Activity
    /// (6003) for approvals and admin actions.
    Ocsf,
}

/// What the audit writer thread does with each line.
#[derive(Default)]
pub struct Export {
    format: Format,
    otlp: Option<otlp::Sender>,
}

/// The exporters' side the rest of the proxy sees: counters for `/metrics`, and a last
/// flush at shutdown.
#[derive(Default, Clone)]
pub struct Handle {
    otlp: Option<Arc<otlp::Shared>>,
}

impl Export {
    /// The export `--audit-format` and `--otlp` ask for. Starts the OTLP thread, if any;
    /// an `https://` collector is trusted by `roots` (the upstreams' roots).
    pub fn start(
        format: Format,
        otlp_url: Option<&str>,
        roots: &rustls::RootCertStore,
    ) -> anyhow::Result<(Export, Handle)> {
        let otlp = otlp_url.map(|u| otlp::start(u, roots)).transpose()?;
        let handle = Handle {
            otlp: otlp.as_ref().map(otlp::Sender::shared),
        };
        Ok((Export { format, otlp }, handle))
    }

    /// Appends what the log gets for one JSON `line` (ending in a newline) to `out`, and
    /// queues it for the collector. Never waits.
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if self.format == Format::Json && self.otlp.is_none() {
            out.extend_from_slice(line);
            return;
        }
        // The line is the proxy's own JSON object; were it ever not, it is written as it is.
        let Ok(serde_json::Value::Object(event)) = serde_json::from_slice(line) else {
            out.extend_from_slice(line);
            return;
        };
        if let Some(otlp) = &self.otlp {
            otlp.send(&event);
        }
        match self.format {
            Format::Json => out.extend_from_slice(line),
            Format::Ocsf => {
                // Writing a Value to a vector cannot fail.
                let _ = serde_json::to_writer(&mut *out, &ocsf::map(&event));
                out.push(b'\n');
            }
        }
    }
}

impl Handle {
    /// The exporters' counters in the Prometheus text format (nothing without `--otlp`).
    pub fn render_metrics(&self) -> String {
        self.otlp.as_ref().map(|o| o.render_metrics()).unwrap_or_default()
    }

    /// At shutdown: waits, at most `limit`, for the records queued so far to be exported.
    /// Says on stderr what is lost if the collector did not take them in time.
    pub fn flush(&self, limit: std::time::Duration) {
        if let Some(o) = &self.otlp {
            o.flush(limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without an exporter the line is copied untouched; with OCSF, it is one JSON object
    /// on one line, class 4002.
    #[test]
    fn json_is_copied_and_ocsf_is_one_line_per_event() {
        let line = b"{\"time\":\"2026-11-30T15:00:00Z\",\"request_id\":\"r1\",\"method\":\"GET\",\"host\":\"a.example\",\"path\":\"/x\",\"decision\":\"allow\",\"status\":200}\n";
        let mut out = Vec::new();
        Export::default().line(line, &mut out);
        assert_eq!(out, line);
        let mut ocsf = Export {
            format: Format::Ocsf,
            otlp: None,
        };
        let mut out = Vec::new();
        ocsf.line(line, &mut out);
        ocsf.line(line, &mut out);
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().count(), 2);
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            assert_eq!(v["class_uid"], 4002);
        }
    }
}
