//! Audit export, end to end: `--otlp` to a real OTLP/HTTP receiver (decoded with the
//! OpenTelemetry project's own `opentelemetry-proto` from PyPI), `--audit-format ocsf`
//! against what docs/audit.md promises, and a collector that is down or silent, which must
//! not slow a single request.

use std::io::{BufRead, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use e2e::upstream::{Options, Upstream};
use e2e::{ProxyProcess, Session};
use serde_json::Value;

use crate::world::{bearer, curl, world_with, HOST, SECRET};

/// An OTLP/HTTP receiver: prints its port, then one JSON line per export request: the
/// path, the content type, the raw body (base64) and the decoded `ExportLogsServiceRequest`.
/// Given a certificate and key file, it serves HTTPS.
const RECEIVER: &str = r#"
import base64, json, ssl, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        req = logs_service_pb2.ExportLogsServiceRequest()
        req.ParseFromString(raw)
        sys.stdout.write(json.dumps({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                     "raw": base64.b64encode(raw).decode(), "request": MessageToDict(req)}) + "\n")
        sys.stdout.flush()
        body = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) == 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// The receiver process, killed when dropped.
struct Collector {
    child: Child,
    port: u16,
    posts: Receiver<Value>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the receiver (serving HTTPS with `tls`, a certificate and key), or says why it
/// cannot (opentelemetry-proto not installed).
fn receiver(tls: Option<&e2e::standin::TlsFiles>) -> Result<Collector, String> {
    let modules = [
        "opentelemetry.proto.collector.logs.v1.logs_service_pb2",
        "google.protobuf",
    ];
    if let Some(why) = e2e::missing_python(&modules) {
        return Err(format!("{why} (the package is opentelemetry-proto)"));
    }
    let mut cmd = Command::new("python3");
    cmd.args(["-c", RECEIVER]);
    if let Some(t) = tls {
        cmd.arg(&t.cert).arg(&t.key);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let port = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.trim().parse().ok())
        .expect("the receiver prints its port");
    let (tx, posts) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line).expect("receiver line is JSON");
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    Ok(Collector { child, port, posts })
}

/// The value of an OTLP attribute (or resource attribute) as decoded by MessageToDict.
fn attr<'a>(attrs: &'a Value, key: &str) -> Option<&'a Value> {
    let v = &attrs.as_array()?.iter().find(|a| a["key"] == key)?["value"];
    v.get("stringValue")
        .or_else(|| v.get("intValue"))
        .or_else(|| v.get("doubleValue"))
        .or_else(|| v.get("boolValue"))
        .or_else(|| v.get("arrayValue"))
}

fn metric(proxy: &ProxyProcess, name: &str) -> Option<u64> {
    let m = String::from_utf8(curl(&[&format!("http://{}/metrics", proxy.admin)]).body).ok()?;
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Every audit event reaches a real OTLP collector as a log record: WARN for a denial,
/// INFO for an allowed call, our fields as attributes, `service.name` on the resource, and
/// never the secret or the token.
#[test]
fn audit_events_reach_a_real_otlp_collector() {
    let rx = match receiver(None) {
        Ok(r) => r,
        Err(why) => return e2e::skip_or_fail(why),
    };
    let w = world_with("bearer", &["--otlp", &format!("http://127.0.0.1:{}", rx.port)]);
    let get = w.narrow(&["--caveat", "method = GET"]);
    let ok = curl(&[
        &format!("{}/v1/charges?limit=3", w.proxy.url()),
        "-H",
        &bearer(&get),
    ]);
    assert_eq!(ok.status, 200);
    let denied = curl(&[
        &format!("{}/v1/refunds", w.proxy.url()),
        "-X",
        "POST",
        "-H",
        &bearer(&get),
    ]);
    assert_eq!(denied.status, 403);
    let audit = w.proxy.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");

    // Gather records until both requests' ids have arrived (a batch waits up to a second).
    let mut records = Vec::new();
    let mut raw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while records.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let post = rx
            .posts
            .recv_timeout(left)
            .expect("the collector got no records in 30 s");
        assert_eq!(post["path"], "/v1/logs");
        assert_eq!(post["content_type"], "application/x-protobuf");
        raw.push(post["raw"].as_str().expect("raw").to_string());
        for rl in post["request"]["resourceLogs"].as_array().expect("resourceLogs") {
            assert_eq!(
                attr(&rl["resource"]["attributes"], "service.name"),
                Some(&Value::from("macaroon-proxy")),
                "{rl}"
            );
            for sl in rl["scopeLogs"].as_array().expect("scopeLogs") {
                assert_eq!(sl["scope"]["name"], "macaroon-proxy");
                records.extend(sl["logRecords"].as_array().expect("logRecords").iter().cloned());
            }
        }
    }
    assert_eq!(records.len(), 2, "{records:?}");
    for (line, rec) in audit.iter().zip(&records) {
        let a = &rec["attributes"];
        for key in [
            "method",
            "host",
            "path",
            "decision",
            "kid",
            "request_id",
            "token",
            "mode",
        ] {
            assert_eq!(attr(a, key), Some(&line[key]), "{key} in {rec}");
        }
        assert_eq!(
            attr(a, "status"),
            Some(&Value::from(line["status"].to_string())),
            "{rec}"
        );
        let (number, text) = match line["decision"].as_str() {
            Some("allow") => ("SEVERITY_NUMBER_INFO", "INFO"),
            Some("deny") => ("SEVERITY_NUMBER_WARN", "WARN"),
            other => panic!("unexpected decision {other:?}"),
        };
        assert_eq!(rec["severityNumber"], number, "{rec}");
        assert_eq!(rec["severityText"], text, "{rec}");
        let body = rec["body"]["stringValue"].as_str().expect("a text body");
        assert!(body.contains(line["path"].as_str().expect("path")), "{body}");
        assert!(
            rec["timeUnixNano"].as_str().is_some_and(|t| t.len() >= 19),
            "{rec}"
        );
    }
    assert_eq!(
        attr(&records[0]["attributes"], "decision"),
        Some(&Value::from("allow"))
    );
    assert_eq!(
        attr(&records[1]["attributes"], "reason"),
        Some(&audit[1]["reason"])
    );
    // Neither the secret nor any token, in the decoded records or the bytes on the wire.
    use base64::Engine as _;
    let everything = format!("{records:?}");
    for text in [SECRET, &w.token[..40], &get[..40], &get[get.len() - 40..]] {
        assert!(!everything.contains(text), "{text} in the OTLP records");
        for r in &raw {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(r)
                .expect("base64");
            assert!(
                !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                "{text} on the wire"
            );
        }
    }
    assert_eq!(metric(&w.proxy, "macaroon_otlp_records_exported_total"), Some(2));
    assert_eq!(metric(&w.proxy, "macaroon_otlp_records_dropped_total"), Some(0));
}

/// An `https://` collector, trusted through `--upstream-ca`, gets the records over TLS.
#[test]
fn audit_events_reach_an_https_collector() {
    let dir = tempfile::tempdir().expect("dir");
    let tls = e2e::standin::tls_files(dir.path(), &["localhost"]);
    let rx = match receiver(Some(&tls)) {
        Ok(r) => r,
        Err(why) => return e2e::skip_or_fail(why),
    };
    let ca = tls.ca.display().to_string();
    let url = format!("https://localhost:{}", rx.port);
    let w = world_with("bearer", &["--otlp", &url, "--upstream-ca", &ca]);
    let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(r.status, 200);
    let post = rx
        .posts
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no records over TLS in 30 s:\n{}", w.proxy.stderr()));
    let rec = &post["request"]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(
        attr(&rec["attributes"], "decision"),
        Some(&Value::from("allow")),
        "{post}"
    );
    assert_eq!(
        attr(&rec["attributes"], "path"),
        Some(&Value::from("/v1/charges"))
    );
    assert_eq!(metric(&w.proxy, "macaroon_otlp_records_exported_total"), Some(1));
}

/// `--audit-format ocsf`: every line is an OCSF event with every field docs/audit.md's
/// mapping table promises, for an allowed request, a denial and a CONNECT tunnel.
#[test]
fn ocsf_lines_hold_every_field_the_mapping_table_promises() {
    let w = world_with("bearer", &["--audit-format", "ocsf"]);
    let get = w.narrow(&["--caveat", "method = GET"]);
    assert_eq!(
        curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&get)]).status,
        200
    );
    let denied = curl(&[
        &format!("{}/v1/refunds?x=1", w.proxy.url()),
        "-X",
        "POST",
        "-H",
        &bearer(&get),
    ]);
    assert_eq!(denied.status, 403);
    let tunnelled = w.via_connect(&format!("https://{HOST}/v1/balance"), &["-H", &bearer(&get)]);
    assert_eq!(tunnelled.status, 200);
    let lines = w.proxy.audit();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let audit_text = std::fs::read_to_string(&w.proxy.audit_path).expect("audit");
    assert!(!audit_text.contains(SECRET) && !audit_text.contains(&get[..40]));
    for e in &lines {
        // The table's fields, on every event.
        assert_eq!(e["class_uid"], 4002, "{e}");
        assert_eq!(e["class_name"], "HTTP Activity");
        assert_eq!(e["category_uid"], 4);
        assert_eq!(e["category_name"], "Network Activity");
        let activity = e["activity_id"].as_u64().expect("activity_id");
        assert_eq!(e["type_uid"], 400200 + activity);
        assert!(e["activity_name"].is_string() && e["type_name"].is_string());
        assert!(
            e["time"].as_u64().is_some_and(|t| t > 1_700_000_000_000),
            "time in ms: {e}"
        );
        assert!(e["severity_id"].is_u64() && e["severity"].is_string());
        assert!(e["status_id"].is_u64() && e["status"].is_string() && e["status_code"].is_string());
        assert!(e["disposition_id"].is_u64() && e["disposition"].is_string());
        assert!(e["action_id"].is_u64() && e["action"].is_string());
        assert!(e["message"].is_string());
        assert_eq!(
            e["http_response"]["code"].to_string(),
            e["status_code"].as_str().expect("code")
        );
        let req = &e["http_request"];
        assert!(req["http_method"].is_string());
        assert!(req["uid"].as_str().is_some_and(|u| !u.is_empty()));
        assert_eq!(req["url"]["hostname"], HOST);
        assert_eq!(req["url"]["scheme"], "https");
        assert_eq!(e["src_endpoint"]["ip"], "127.0.0.1");
        assert!(e["src_endpoint"]["port"].is_u64());
        assert_eq!(e["dst_endpoint"]["hostname"], HOST);
        assert_eq!(e["metadata"]["version"], "1.3.0");
        assert_eq!(e["metadata"]["product"]["name"], "macaroon-proxy");
        assert_eq!(e["metadata"]["product"]["vendor_name"], "macaroon");
        assert!(e["metadata"]["product"]["version"].is_string());
        assert!(e["duration"].is_i64());
        let u = &e["unmapped"];
        let mut ours = vec!["mode", "decide_ms", "bytes_out", "redactions"];
        if e["activity_id"] != 1 {
            // A request line names its token (the CONNECT line has none to name).
            ours.extend(["key_id", "kid", "token"]);
        }
        for k in ours {
            assert!(!u[k].is_null(), "unmapped.{k} in {e}");
        }
        assert!(u.get("method").is_none() && u.get("time").is_none(), "{e}");
    }
    // Every field docs/audit.md's HTTP Activity table names is in at least one of these
    // events, but those that need a line field this run does not have.
    let needs_more = [
        "http_request.url.query_string", // a line with a query
        "actor.user.name",               // a line with an issuer
        "actor.app_name",                // a line with labels
    ];
    let promised = promised_fields();
    assert!(promised.len() > 30, "{promised:?}");
    for field in promised.iter().filter(|f| !needs_more.contains(&f.as_str())) {
        let found = lines.iter().any(|e| {
            field
                .split('.')
                .try_fold(e, |v, k| v.get(k))
                .is_some_and(|v| !v.is_null())
        });
        assert!(
            found,
            "docs/audit.md promises {field}, no event has it: {lines:#?}"
        );
    }
    let by_method = |m: &str| -> &Value {
        lines
            .iter()
            .find(|e| e["http_request"]["http_method"] == m)
            .unwrap_or_else(|| panic!("no {m} line in {lines:#?}"))
    };
    let get_line = &lines[0];
    assert_eq!(
        (get_line["activity_id"].clone(), get_line["activity_name"].clone()),
        (Value::from(3), Value::from("Get"))
    );
    assert_eq!(get_line["http_request"]["url"]["path"], "/v1/charges");
    assert_eq!(
        (
            get_line["status_id"].clone(),
            get_line["disposition_id"].clone(),
            get_line["severity_id"].clone()
        ),
        (Value::from(1), Value::from(1), Value::from(1))
    );
    assert_eq!(get_line["http_response"]["code"], 200);
    let post = by_method("POST");
    assert_eq!(post["activity_id"], 6);
    assert_eq!(post["type_uid"], 400206);
    assert_eq!(post["status"], "Failure");
    assert_eq!(post["disposition"], "Blocked");
    assert_eq!(post["severity_id"], 3);
    assert_eq!(post["http_response"]["code"], 403);
    assert!(
        post["status_detail"].as_str().is_some_and(|d| d.contains("POST")),
        "{post}"
    );
    assert_eq!(post["http_request"]["url"]["path"], "/v1/refunds");
    let connect = by_method("CONNECT");
    assert_eq!(connect["activity_id"], 1);
    assert_eq!(connect["unmapped"]["event"], "connect");
    assert_eq!(connect["unmapped"]["mode"], "tunnel");
    assert_eq!(connect["dst_endpoint"]["port"], 443);
    assert!(connect["http_request"]["url"].get("path").is_none(), "{connect}");
}

/// The OCSF fields in the first column of docs/audit.md's HTTP Activity table
/// (`src_endpoint.ip`, `.port` is two: `src_endpoint.ip` and `src_endpoint.port`).
fn promised_fields() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/audit.md");
    let doc = std::fs::read_to_string(path).expect("docs/audit.md");
    let table = doc
        .split("### HTTP Activity (4002)")
        .nth(1)
        .and_then(|rest| rest.split("\n### ").next())
        .expect("the HTTP Activity section");
    let mut out = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let mut base = String::new();
        for name in row.split('|').nth(1).expect("a cell").split(',') {
            let name = name.trim().trim_matches('`');
            match name.strip_prefix('.') {
                Some(rel) => out.push(format!("{base}.{rel}")),
                None => {
                    base = name.rsplit_once('.').map_or("", |(b, _)| b).to_string();
                    out.push(name.to_string());
                }
            }
        }
    }
    out
}

/// `macaroon-proxy run` on ephemeral ports sending HOST to `up`, auditing to `audit`, with
/// `extra` flags and environment.
fn launch(s: &Session, up: &Upstream, audit: &str, extra: &[&str], env: &[(&str, &str)]) -> ProxyProcess {
    let audit = s.home().join(audit);
    let mut cmd = s.cmd("macaroon-proxy");
    cmd.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--audit-log",
    ])
    .arg(&audit)
    .arg("--upstream-ca")
    .arg(&up.ca_path)
    .arg("--resolve")
    .arg(format!("{HOST}={}", up.addr))
    .args(extra)
    .envs(env.iter().copied())
    .stdout(Stdio::null());
    s.launch_proxy(cmd, audit)
}

/// One request on a connection of its own; its status and how long it took.
fn timed_get(proxy: &ProxyProcess, token: &str) -> (u16, Duration) {
    let t = Instant::now();
    let mut c = std::net::TcpStream::connect(proxy.addr).expect("connect");
    write!(
        c,
        "GET /v1/charges HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).expect("read");
    let status = String::from_utf8_lossy(&reply)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, t.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A collector that refuses connections and one that accepts and never answers: the same
/// requests, interleaved with a proxy without `--otlp`, take no longer (medians within a
/// few milliseconds), every one is answered, and the records that could not go are
/// counted in `/metrics` and said once on stderr.
#[test]
fn a_dead_or_silent_collector_never_slows_a_request() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let token = s
        .run_stdin("macaroon", &["wrap", "api", "--host", HOST], SECRET)
        .ok()
        .out()
        .to_string();
    let up = Upstream::start_with("127.0.0.1:0", &[HOST], Options::default());

    // A port that refuses: bound, read back, closed.
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    // A collector that accepts every connection and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let (accepted_tx, accepted) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().map_while(Result::ok) {
            held.push(c);
            let _ = accepted_tx.send(());
        }
    });

    let plain = launch(&s, &up, "plain.jsonl", &[], &[]);
    let dead = launch(
        &s,
        &up,
        "dead.jsonl",
        &["--otlp", &format!("http://{refused}")],
        &[],
    );
    // Two seconds, so the test sees the silent collector's batch given up on soon.
    let hung = launch(
        &s,
        &up,
        "hung.jsonl",
        &["--otlp", &format!("http://{silent_addr}")],
        &[("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")],
    );
    // Warm up every path (pools, caches), and get the silent collector's exporter stuck
    // in its first export before measuring.
    for p in [&plain, &dead, &hung] {
        assert_eq!(timed_get(p, &token).0, 200);
    }
    accepted
        .recv_timeout(Duration::from_secs(30))
        .expect("the exporter never connected to the silent collector");

    let n = 60;
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        for (p, times) in [(&plain, &mut a), (&dead, &mut b), (&hung, &mut c)] {
            let (status, took) = timed_get(p, &token);
            assert_eq!(status, 200);
            times.push(took);
        }
    }
    let (ma, mb, mc) = (median(a), median(b), median(c));
    eprintln!("median latency over {n} requests: no --otlp {ma:?}, refused collector {mb:?}, silent collector {mc:?}");
    let slack = Duration::from_millis(5);
    assert!(
        mb <= ma + slack,
        "a refusing collector slowed requests: {mb:?} vs {ma:?}"
    );
    assert!(
        mc <= ma + slack,
        "a silent collector slowed requests: {mc:?} vs {ma:?}"
    );

    // What could not be exported is counted, and said once.
    for p in [&dead, &hung] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while metric(p, "macaroon_otlp_records_dropped_total").unwrap_or(0) == 0 {
            assert!(Instant::now() < deadline, "no drop counted:\n{}", p.stderr());
            std::thread::yield_now();
        }
        assert_eq!(metric(p, "macaroon_otlp_records_exported_total"), Some(0));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !p.stderr().contains("audit records are being dropped") {
            assert!(
                Instant::now() < deadline,
                "nothing said on stderr:\n{}",
                p.stderr()
            );
            std::thread::yield_now();
        }
        assert_eq!(
            p.stderr().matches("audit records are being dropped").count(),
            1,
            "{}",
            p.stderr()
        );
        assert!(!p.stderr().contains(SECRET));
        assert_eq!(p.audit().len(), n + 1, "every request still audited");
    }
    assert!(metric(&plain, "macaroon_otlp_records_dropped_total").is_none());
}
