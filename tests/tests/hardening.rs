//! The proxy's own hardening, end to end: what it trusts upstream whatever its environment
//! says, and an audit log that stalls without stalling requests.

use std::process::{Command, Stdio};

use e2e::upstream::{Options, Upstream};
use e2e::Session;

use crate::world::{bearer, curl, HOST, SECRET};

/// A home with a proxy key, its CA, and a token for HOST; an upstream playing HOST.
fn setup() -> (Session, Upstream, String) {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run("macaroon-proxy", &["ca"]).ok();
    let token = s
        .run_stdin("macaroon", &["wrap", "api", "--host", HOST], SECRET)
        .ok()
        .out()
        .to_string();
    let up = Upstream::start_with("127.0.0.1:0", &[HOST], Options::default());
    (s, up, token)
}

/// `macaroon-proxy run` on ephemeral ports sending HOST to `up`, with no `--upstream-ca`.
fn run_cmd(s: &Session, up: &Upstream, audit: &str) -> Command {
    let mut cmd = s.cmd("macaroon-proxy");
    cmd.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--audit-log",
        audit,
    ])
    .arg("--resolve")
    .arg(format!("{HOST}={}", up.addr));
    cmd
}

/// A proxy started from the shell the client set-up prepared (`SSL_CERT_FILE` naming a
/// bundle with the proxy's own CA, here with the upstream's CA added, and `SSL_CERT_DIR`
/// holding the upstream's CA) does not take those for its own upstream roots: only
/// `--upstream-ca` adds roots, and the proxy's own CA is refused even there.
#[test]
fn upstream_roots_ignore_ssl_cert_file_and_the_proxy_ca() {
    let (s, up, token) = setup();
    let home = s.home();
    let mut bundle = std::fs::read_to_string(home.join("ca-bundle.pem")).expect("ca-bundle.pem");
    bundle.push_str(&std::fs::read_to_string(&up.ca_path).expect("upstream CA"));
    let env_bundle = home.join("env-bundle.pem");
    std::fs::write(&env_bundle, bundle).expect("write");
    let env_dir = tempfile::tempdir().expect("dir");
    std::fs::copy(&up.ca_path, env_dir.path().join("upstream.pem")).expect("copy");
    let audit = home.join("audit.jsonl");
    let mut cmd = run_cmd(&s, &up, &audit.display().to_string());
    cmd.arg("--upstream-ca")
        .arg(home.join("ca.pem"))
        .env("SSL_CERT_FILE", &env_bundle)
        .env("SSL_CERT_DIR", env_dir.path())
        .stdout(Stdio::null());
    let proxy = s.launch_proxy(cmd, audit);
    assert!(
        proxy.stderr().contains("holds this proxy's own CA"),
        "{}",
        proxy.stderr()
    );
    let r = curl(&[&format!("{}/v1/charges", proxy.url()), "-H", &bearer(&token)]);
    let body = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, 502, "{body}");
    assert!(body.contains("--upstream-ca"), "{body}");
    assert!(
        up.seen().is_empty(),
        "the secret went to an upstream trusted from the environment"
    );
}

/// With stdout a pipe nobody reads, audit lines queue, then drop; requests keep being
/// answered all along, and `/metrics` counts what was dropped.
#[test]
fn a_stalled_audit_pipe_drops_lines_instead_of_stalling_requests() {
    let (s, up, _) = setup();
    let mut cmd = run_cmd(&s, &up, "-");
    cmd.arg("--upstream-ca").arg(&up.ca_path).stdout(Stdio::piped());
    // The child's stdout pipe stays open, unread, as long as the proxy runs.
    let proxy = s.launch_proxy(cmd, s.home().join("no-audit-file"));
    // More denied requests (401, each audited, none upstream) than the pipe and the audit
    // queue hold together, on one kept-alive connection.
    // curl's --max-time bounds each transfer, not all of them: the test keeps the deadline.
    let n = 6000;
    let out_path = s.home().join("curl.out");
    let mut curl_all = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\nstatus=%{http_code}\n"])
        .arg(format!("{}/v1/charges?n=[1-{n}]", proxy.url()))
        .stdout(std::fs::File::create(&out_path).expect("curl output file"))
        .spawn()
        .expect("curl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while curl_all.try_wait().expect("curl").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = curl_all.kill();
            let _ = curl_all.wait();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&out_path).expect("curl output");
    assert_eq!(text.matches("status=401").count(), n, "requests stalled");
    let m = String::from_utf8(curl(&[&format!("http://{}/metrics", proxy.admin)]).body).expect("utf8");
    let dropped: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("macaroon_audit_lines_dropped_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no drop counter in\n{m}"));
    assert!(dropped > 0, "{m}");
    let stderr = proxy.stderr();
    assert_eq!(
        stderr.matches("audit lines are being dropped").count(),
        1,
        "{stderr}"
    );
}
