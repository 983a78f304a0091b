//! Running the proxy as a service: `run --config FILE`, `check-config`, SIGHUP, and the
//! systemd unit in deploy/.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use e2e::upstream::Upstream;
use e2e::{ProxyProcess, Session};

use crate::world::{bearer, curl, HOST, OTHER, SECRET};

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// A TOML list of strings.
fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A config file for a proxy in front of `up` (playing HOST and OTHER), allowing `allow`.
fn config_text(up: &Upstream, audit: &Path, allow: &[&str]) -> String {
    format!(
        "# written by the deploy tests\nlisten = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\naudit-log = {audit:?}\n\
         upstream-ca = [{ca:?}]\nresolve = {resolve}\nallow-host = {allow}\n",
        audit = audit.display().to_string(),
        ca = up.ca_path.display().to_string(),
        resolve = list(&[&format!("{HOST}={}", up.addr), &format!("{OTHER}={}", up.addr)]),
        allow = list(allow),
    )
}

/// A home with a key wrapped for HOST (`api`) and one for OTHER (`other`), and an upstream
/// playing both.
fn setup() -> (Session, Upstream, String, String) {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let token = s
        .run_stdin("macaroon", &["wrap", "api", "--host", HOST], SECRET)
        .ok()
        .out()
        .to_string();
    let other = s
        .run_stdin("macaroon", &["wrap", "other", "--host", OTHER], SECRET)
        .ok()
        .out()
        .to_string();
    let up = Upstream::start(&[HOST, OTHER]);
    (s, up, token, other)
}

/// `macaroon-proxy run --config FILE` plus `extra` flags.
fn start_from_file(s: &Session, file: &Path, audit: PathBuf, extra: &[&str]) -> ProxyProcess {
    let mut cmd = s.cmd("macaroon-proxy");
    cmd.arg("run")
        .arg("--config")
        .arg(file)
        .args(extra)
        .stdout(std::process::Stdio::null());
    s.launch_proxy(cmd, audit)
}

/// The stable `code` of a JSON refusal, or "" for anything else.
fn code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn check_config_accepts_a_good_file_and_names_the_key_and_line_of_a_bad_one() {
    let (s, up, _, _) = setup();
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, config_text(&up, &dir.path().join("a.jsonl"), &[HOST])).expect("write");
    let r = s.run("macaroon-proxy", &["check-config", &good.display().to_string()]);
    r.ok();
    assert!(r.stdout.contains("ok, sets 6"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("allow-host = [\"{HOST}\"] (line 7)")),
        "{}",
        r.stdout
    );

    let cases = [
        // An unknown key (a snake_case spelling), on line 3.
        (
            "listen = \"127.0.0.1:0\"\n\nallow_host = [\"api.example.com\"]\n",
            &["line 3", "`allow_host`", "did you mean `allow-host`"][..],
        ),
        // A wrong type: a quoted boolean.
        (
            "listen = \"127.0.0.1:0\"\nallow-private = \"yes\"\n",
            &["line 2", "`allow-private`", "true or false"][..],
        ),
        // A bad value, caught by the same checks `run` makes.
        (
            "# resolve\n\n\nresolve = [\"api.example.com:10.0.0.5:443\"]\n",
            &["line 4", "`resolve`", "HOST=IP:PORT"][..],
        ),
        // A key twice.
        (
            "listen = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:1\"\n",
            &["line 2", "duplicate key `listen`"][..],
        ),
        // The file naming another.
        ("config = \"other.toml\"\n", &["line 1", "`config`"][..]),
    ];
    for (text, wants) in cases {
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, text).expect("write");
        let r = s.run("macaroon-proxy", &["check-config", &bad.display().to_string()]);
        r.code(2);
        for want in wants {
            assert!(
                r.stderr.contains(want),
                "{text:?}: want {want:?} in\n{}",
                r.stderr
            );
        }
        // `run` refuses the same file with the same words, before binding anything.
        let r = s.run("macaroon-proxy", &["run", "--config", &bad.display().to_string()]);
        r.code(2);
        assert!(r.stderr.contains(wants[0]), "{}", r.stderr);
    }
}

#[test]
fn a_proxy_run_from_a_config_file_decides_like_one_run_from_the_same_flags() {
    let (s, up, token, other) = setup();
    let narrowed = s
        .run("macaroon", &["attenuate", "api", "--method", "GET"])
        .ok()
        .out()
        .to_string();
    let flags = s.start_proxy(&up, &[HOST, OTHER], &["--allow-host", HOST]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("proxy.toml");
    let audit = dir.path().join("audit-file.jsonl");
    std::fs::write(&file, config_text(&up, &audit, &[HOST])).expect("write");
    let from_file = start_from_file(&s, &file, audit, &[]);

    let outcomes = |p: &ProxyProcess| -> Vec<(u16, String)> {
        let url = format!("{}/v1/charges", p.url());
        [
            curl(&[&url, "-H", &bearer(&token)]),
            curl(&[&url, "-H", &bearer(&other)]),
            curl(&[&url]),
            curl(&[&url, "-X", "POST", "-H", &bearer(&narrowed)]),
        ]
        .iter()
        .map(|r| (r.status, code(&r.body)))
        .collect()
    };
    let want = outcomes(&flags);
    assert_eq!(
        want.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![200, 403, 401, 403],
        "{want:?}"
    );
    assert_eq!(outcomes(&from_file), want);
    let decisions = |p: &ProxyProcess| -> Vec<String> {
        p.audit()
            .iter()
            .map(|l| {
                format!(
                    "{} {} {} {} {} {}",
                    l["method"], l["host"], l["path"], l["decision"], l["reason"], l["status"]
                )
            })
            .collect()
    };
    let audit = decisions(&flags);
    assert_eq!(audit.len(), 4, "{audit:?}");
    assert_eq!(decisions(&from_file), audit);
}

/// A kept-alive HTTP/1.1 connection to the proxy, as a client's pool holds one.
struct KeptAlive {
    reader: BufReader<TcpStream>,
    proxy: String,
}

impl KeptAlive {
    fn open(p: &ProxyProcess) -> Self {
        let stream = TcpStream::connect(p.addr).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout");
        KeptAlive {
            reader: BufReader::new(stream),
            proxy: p.addr.to_string(),
        }
    }

    /// GET /v1/charges with `token` (reverse-proxied to its host): status and error code.
    fn get(&mut self, token: &str) -> (u16, String) {
        let req = format!(
            "GET /v1/charges HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
            self.proxy
        );
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .expect("send on the kept-alive connection");
        let mut status = String::new();
        self.reader.read_line(&mut status).expect("status line");
        let code: u16 = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status (the connection was dropped?): {status:?}"));
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("header");
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
            chunked |= line.starts_with("transfer-encoding:") && line.contains("chunked");
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).expect("chunk size");
                let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk).expect("chunk");
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(length, 0);
            self.reader.read_exact(&mut body).expect("body");
        }
        (code, self::code(&body))
    }
}

#[test]
fn sighup_narrows_allow_host_without_a_restart_or_dropping_a_connection() {
    let (s, up, token, other) = setup();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("proxy.toml");
    let audit = dir.path().join("audit.jsonl");
    std::fs::write(&file, config_text(&up, &audit, &[HOST, OTHER])).expect("write");
    let mut proxy = start_from_file(&s, &file, audit.clone(), &[]);
    let mut conn = KeptAlive::open(&proxy);
    assert_eq!(conn.get(&token), (200, String::new()));

    // Narrowed in the file: the next request on the same connection is refused.
    std::fs::write(&file, config_text(&up, &audit, &[OTHER])).expect("write");
    proxy.signal("HUP");
    let log = proxy.wait_for_stderr("SIGHUP: reloaded", 1);
    assert!(
        log.contains(&format!("allow-host: [{HOST}, {OTHER}] -> [{OTHER}]")),
        "the reload says what changed:\n{log}"
    );
    assert_eq!(conn.get(&token), (403, "host_not_allowed".to_string()));
    assert_eq!(conn.get(&other), (200, String::new()));
    let r = curl(&[&format!("{}/v1/charges", proxy.url()), "-H", &bearer(&token)]);
    assert_eq!((r.status, code(&r.body).as_str()), (403, "host_not_allowed"));

    // A bad file: reported with its key and line, and the settings in force stay (had it
    // been applied, HOST would be allowed again).
    std::fs::write(
        &file,
        format!("{}bogus = 1\n", config_text(&up, &audit, &[HOST, OTHER])),
    )
    .expect("write");
    proxy.signal("HUP");
    let log = proxy.wait_for_stderr("reload refused", 1);
    assert!(log.contains("line 8") && log.contains("`bogus`"), "{log}");
    assert_eq!(conn.get(&token), (403, "host_not_allowed".to_string()));
    assert_eq!(conn.get(&other), (200, String::new()));
    assert!(proxy.running(), "a SIGHUP ended the proxy");
}

#[test]
fn sighup_without_a_config_file_keeps_the_proxy_running() {
    let (s, up, token, _) = setup();
    let mut proxy = s.start_proxy(&up, &[HOST, OTHER], &[]);
    proxy.signal("HUP");
    proxy.wait_for_stderr("SIGHUP: re-read the trusted issuers", 1);
    assert!(proxy.running());
    let r = curl(&[&format!("{}/v1/charges", proxy.url()), "-H", &bearer(&token)]);
    assert_eq!(r.status, 200);
}

/// deploy/macaroon-proxy.service passes `systemd-analyze verify` (no warning either) and
/// `systemd-analyze security --offline` scores it well. Verify needs the ExecStart binary
/// to exist, so a copy of the unit is checked with ExecStart pointed at the built binary;
/// every other line is the shipped one.
#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if let Some(why) = e2e::missing_tool("systemd-analyze", "apt-get install systemd") {
        return e2e::skip_or_fail(why);
    }
    let unit = std::fs::read_to_string(repo().join("deploy/macaroon-proxy.service")).expect("unit");
    assert!(unit.contains("ExecStart=/usr/local/bin/macaroon-proxy run --config /etc/macaroon/proxy.toml"));
    for want in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=macaroon\n",
        "Environment=MACAROON_HOME=/var/lib/macaroon",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(want), "the unit lacks {want:?}");
    }
    let binary = e2e::bin_dir().join("macaroon-proxy");
    let dir = tempfile::tempdir().expect("tmp");
    let copy = dir.path().join("macaroon-proxy.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/macaroon-proxy", &binary.display().to_string()),
    )
    .expect("write");
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed:\n{stderr}");
    // Unknown keys and bad values are only warnings to verify: none may be there.
    assert!(
        !stderr.contains("macaroon-proxy.service") && !stderr.contains("ignoring"),
        "systemd-analyze verify warned:\n{stderr}"
    );
    let out = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=25"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze security");
    assert!(
        out.status.success(),
        "exposure above 2.5:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The example config in deploy/ is one `check-config` accepts.
#[test]
fn the_example_config_checks_out() {
    let s = Session::new();
    let r = s.run(
        "macaroon-proxy",
        &[
            "check-config",
            &repo().join("deploy/proxy.toml").display().to_string(),
        ],
    );
    r.ok();
    assert!(r.stdout.contains("listen = \"127.0.0.1:8080\""), "{}", r.stdout);
}

/// nginx, started with `-g` directives of its own, stopped (and reaped) when dropped.
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

/// The compose topology without containers: deploy/nginx.conf (its two replica addresses
/// and its port filled in) in front of two replicas that share one home (key and CA) and
/// one Redis, each run with deploy/compose-proxy.toml and the compose file's flags. A
/// `uses 3` token holds across both, and CONNECT works whichever replica takes it.
#[test]
fn nginx_balances_two_replicas_sharing_a_home_and_a_store() {
    if let Some(why) = e2e::missing_tool("nginx", "apt-get install nginx libnginx-mod-stream") {
        return e2e::skip_or_fail(why);
    }
    let Some(redis) = e2e::redis::RedisServer::start_or_skip() else {
        return;
    };
    let (s, up, token, _) = setup();
    let counted = s
        .run(
            "macaroon",
            &["attenuate", "api", "--uses", "3", "--expires", "10m"],
        )
        .ok()
        .out()
        .to_string();
    let dir = tempfile::tempdir().expect("tmp");
    let replica = |n: usize| {
        let audit = dir.path().join(format!("audit-{n}.jsonl"));
        let mut cmd = s.cmd("macaroon-proxy");
        cmd.arg("run")
            .arg("--config")
            .arg(repo().join("deploy/compose-proxy.toml"))
            .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--state"])
            .arg(redis.url())
            .arg("--audit-log")
            .arg(&audit)
            .arg("--upstream-ca")
            .arg(&up.ca_path)
            .arg("--resolve")
            .arg(format!("{HOST}={}", up.addr))
            .stdout(std::process::Stdio::null());
        s.launch_proxy(cmd, audit)
    };
    let (one, two) = (replica(1), replica(2));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let conf = std::fs::read_to_string(repo().join("deploy/nginx.conf")).expect("nginx.conf");
    for placeholder in ["server proxy1:8080", "server proxy2:8080", "listen 8080;"] {
        assert!(conf.contains(placeholder), "nginx.conf lacks {placeholder:?}");
    }
    let conf = conf
        .replace("server proxy1:8080", &format!("server {}", one.addr))
        .replace("server proxy2:8080", &format!("server {}", two.addr))
        .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"));
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write");
    // Debian's nginx builds the stream module apart (libnginx-mod-stream); the official
    // image has it built in.
    let module = Path::new("/usr/lib/nginx/modules/ngx_stream_module.so");
    let load = if module.exists() {
        format!("load_module {};", module.display())
    } else {
        String::new()
    };
    let log = dir.path().join("nginx-error.log");
    let globals = format!(
        "daemon off; pid {}; error_log {}; {load}",
        dir.path().join("nginx.pid").display(),
        log.display()
    );
    let check = std::process::Command::new("nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(&log)
        .arg("-c")
        .arg(&conf_path)
        .args(["-g", &globals, "-t"])
        .output()
        .expect("nginx -t");
    if !check.status.success() && !module.exists() {
        return e2e::skip_or_fail(format!(
            "nginx has no stream module ({}); apt-get install libnginx-mod-stream",
            String::from_utf8_lossy(&check.stderr).trim()
        ));
    }
    assert!(
        check.status.success(),
        "nginx -t refused deploy/nginx.conf:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _nginx = Nginx(
        std::process::Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(&log)
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", &globals])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nginx did not listen: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let lb = format!("http://127.0.0.1:{port}");

    let statuses: Vec<u16> = (0..4)
        .map(|_| curl(&[&format!("{lb}/v1/charges"), "-H", &bearer(&counted)]).status)
        .collect();
    assert_eq!(
        statuses,
        vec![200, 200, 200, 429],
        "uses <= 3 across the replicas"
    );
    // HTTPS_PROXY through the balancer: every replica intercepts with the shared CA.
    let ca = s.home().join("ca.pem").display().to_string();
    for _ in 0..2 {
        let r = curl(&[
            "--proxy",
            &lb,
            "--cacert",
            &ca,
            &format!("https://{HOST}/v1/charges"),
            "-H",
            &bearer(&token),
        ]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    // One line per request (and one per CONNECT tunnel), on whichever replica took it.
    let requests = |p: &ProxyProcess| p.audit().iter().filter(|l| l["path"] == "/v1/charges").count();
    let (a, b) = (requests(&one), requests(&two));
    assert_eq!(a + b, 6, "every request reached a replica");
    assert!(a > 0 && b > 0, "both replicas served ({a} and {b})");
}

/// Invariant 9: a revocation never lapses, a reload included (a good file or a bad one).
#[test]
fn a_revocation_holds_across_sighup_reloads() {
    let (s, up, token, _) = setup();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("proxy.toml");
    let audit = dir.path().join("audit.jsonl");
    std::fs::write(&file, config_text(&up, &audit, &[HOST, OTHER])).expect("write");
    let proxy = start_from_file(&s, &file, audit.clone(), &[]);
    let url = format!("{}/v1/charges", proxy.url());
    assert_eq!(curl(&[&url, "-H", &bearer(&token)]).status, 200);
    s.run("macaroon-proxy", &["revoke", "api"]).ok();
    // The running proxy picks the list up within a second or so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = curl(&[&url, "-H", &bearer(&token)]);
        if code(&r.body) == "revoked" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never revoked: {}",
            r.status
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::write(&file, config_text(&up, &audit, &[HOST])).expect("write");
    proxy.signal("HUP");
    proxy.wait_for_stderr("SIGHUP: reloaded", 1);
    let r = curl(&[&url, "-H", &bearer(&token)]);
    assert_eq!((r.status, code(&r.body).as_str()), (403, "revoked"));
    std::fs::write(&file, "allow-host = [true]\n").expect("write");
    proxy.signal("HUP");
    proxy.wait_for_stderr("reload refused", 1);
    let r = curl(&[&url, "-H", &bearer(&token)]);
    assert_eq!((r.status, code(&r.body).as_str()), (403, "revoked"));
}
