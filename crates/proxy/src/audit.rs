//! The audit log: one JSON line per request, written when the response ends.
//!
//! A record holds the token's fingerprint and key id, never the token or the secret.
//! Each line is one `write` to a descriptor opened for appending, so nothing is buffered
//! across requests (a shutdown loses no line) and no lock is taken: the kernel keeps
//! appends whole, to a file always and to a pipe up to `PIPE_BUF` bytes. The rare longer
//! line (a long refusal reason) is written under a lock, so lines never interleave.
//! Lines are written by hand rather than through serde: the field names are constants and
//! most values need no escaping (a test pins the output to serde's, byte for byte).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::RwLock;

use serde::Serialize;

/// Lines up to this long are appended in one `write` without a lock (POSIX `PIPE_BUF`).
const ATOMIC_LINE: usize = 4096;

/// Where audit lines go.
pub struct Audit {
    out: File,
    /// Shared by every line, exclusive for lines longer than [`ATOMIC_LINE`]: a long line
    /// written to a pipe is never cut by a short one.
    long_lines: RwLock<()>,
}

impl Audit {
    /// Audit to stdout (`-`, for the platform's log pipeline; human messages go to
    /// stderr) or append to a file (created 0600).
    pub fn open(target: &str) -> anyhow::Result<Self> {
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
        Ok(Audit {
            out,
            long_lines: RwLock::new(()),
        })
    }

    /// Writes one record as one line.
    pub fn write(&self, record: &Record) {
        // One allocation of about a line's size, rather than a vector grown from empty.
        let mut line = Vec::with_capacity(512);
        record.write_json(&mut line);
        line.push(b'\n');
        // An unwritable audit log must not take the proxy down; the metrics still count.
        // The guard is held (poisoned or not) until the line is written.
        if line.len() <= ATOMIC_LINE {
            let _shared = self.long_lines.read();
            let _ = (&self.out).write_all(&line);
        } else {
            let _alone = self.long_lines.write();
            let _ = (&self.out).write_all(&line);
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
    /// `connect` for a line about a tunnel itself (opened, refused or passed through);
    /// absent on request lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'static str>,
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
        if let Some(event) = self.event {
            out.extend_from_slice(b",\"event\":");
            json_plain(out, event);
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

#[cfg(test)]
mod tests {
    use super::*;

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
        for r in [Record::default(), plain, awkward, connect] {
            let mut ours = Vec::new();
            r.write_json(&mut ours);
            let serde = serde_json::to_vec(&r).expect("serializes");
            assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&serde));
        }
    }
}
