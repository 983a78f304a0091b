//! The end-to-end harness: each test gets a fresh `MACAROON_HOME` and runs the real
//! `macaroon` and `macaroon-proxy` binaries, like a user in a new terminal.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Builds the two binaries once per test process (cargo does not build another
/// package's binaries for this package's tests) and returns the directory holding them.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "--bins",
            "-p",
            "macaroon-cli",
            "-p",
            "macaroon-proxy",
        ]);
        // Test binaries live in target/<profile>/deps; build the same profile.
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        if profile_dir.file_name() == Some(OsStr::new("release")) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
        profile_dir
    })
}

/// A user session: a temporary home and helpers to run the binaries in it.
pub struct Session {
    home: tempfile::TempDir,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A session with a new, empty `MACAROON_HOME` and the file token store.
    pub fn new() -> Self {
        Session {
            home: tempfile::tempdir().expect("temporary home"),
        }
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// A command for one of the binaries (or, if `bin` is a path or not ours, that
    /// program), with this session's environment.
    pub fn cmd(&self, bin: &str) -> Command {
        let path = if bin.starts_with("macaroon") {
            bin_dir().join(bin)
        } else {
            PathBuf::from(bin)
        };
        let mut cmd = Command::new(path);
        cmd.env("MACAROON_HOME", self.home())
            .env("MACAROON_STORE", "file")
            .env("NO_COLOR", "1")
            .env_remove("MACAROON_TOKEN")
            .env_remove("MACAROON_PROXY_KEY")
            .stdin(Stdio::null());
        cmd
    }

    /// `sh -c script` with this session's environment and both binaries first on `PATH`,
    /// as a user's shell would run a snippet from the docs.
    pub fn shell(&self, script: &str) -> Command {
        let mut path = vec![bin_dir().to_path_buf()];
        if let Some(existing) = std::env::var_os("PATH") {
            path.extend(std::env::split_paths(&existing));
        }
        let mut cmd = self.cmd("sh");
        cmd.env("PATH", std::env::join_paths(path).expect("PATH"))
            .args(["-c", script]);
        cmd
    }

    /// Runs `bin args...` and returns its output.
    pub fn run(&self, bin: &str, args: &[&str]) -> Run {
        Run::from(self.cmd(bin).args(args).output().expect("spawn"))
    }

    /// Runs `bin args...` with `input` on stdin.
    pub fn run_stdin(&self, bin: &str, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The command may exit without reading stdin (an early error): a closed pipe is fine.
        let mut stdin = child.stdin.take().expect("stdin");
        if let Err(e) = stdin.write_all(input.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "writing stdin: {e}");
        }
        drop(stdin);
        Run::from(child.wait_with_output().expect("wait"))
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing both streams if it differs.
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit code: want {want}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts success (exit 0).
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    /// Standard output without the trailing newline.
    pub fn out(&self) -> &str {
        self.stdout.trim_end()
    }
}

pub mod redis;
pub mod spelling;
pub mod standin;
pub mod upstream;

/// Whether this run is CI: `CI` is set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Writes straight to the process's stderr, past libtest's capture, so a skip shows in
/// `cargo test` output even though the test then passes.
fn announce(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A test cannot run because something installable is missing (a Python package, node or
/// its modules, fuse3, iptables). On a workstation it skips, printing `reason`; under
/// `CI=true` it fails with `reason`, so a broken install step in `.ci/run` cannot quietly
/// drop the real-client tests. Call it as `return e2e::skip_or_fail(why);`.
#[track_caller]
pub fn skip_or_fail(reason: impl std::fmt::Display) {
    if in_ci() {
        panic!(
            "{reason}\nCI is set, so this test may not skip: install what it needs \
             (`bash .ci/run` does; see README.md, \"Test it\")"
        );
    }
    announce(&format!(
        "SKIPPED {}: {reason}",
        std::thread::current().name().unwrap_or("test")
    ));
}

/// A test cannot run because the machine itself lacks something no package brings: the
/// kernel's FUSE device (`/dev/fuse`), or the capabilities to build network namespaces
/// (`CAP_NET_ADMIN`, `CAP_SYS_ADMIN`: not root, or a container started without them).
/// It skips even under CI, loudly. Use it for nothing that `.ci/run` can install.
pub fn skip_platform(reason: impl std::fmt::Display) {
    let who = std::thread::current().name().unwrap_or("test").to_string();
    let ci = if in_ci() {
        " (allowed under CI: the machine lacks it, no package provides it)"
    } else {
        ""
    };
    announce(&format!("SKIPPED {who}: {reason}{ci}"));
}

/// Why `python3` cannot import every one of `modules`, if it cannot.
pub fn missing_python(modules: &[&str]) -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output();
    match probe {
        Err(_) => Some("python3 is not installed".to_string()),
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "python3 cannot import {} ({}); pip install {}",
            modules.join(", "),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .trim(),
            modules
                .iter()
                .map(|m| if *m == "nacl" { "pynacl" } else { m })
                .collect::<Vec<_>>()
                .join(" ")
        )),
    }
}

/// Why `tool` cannot be run, if it cannot: `install` says how to get it.
pub fn missing_tool(tool: &str, install: &str) -> Option<String> {
    match Command::new(tool).arg("--version").output() {
        Ok(_) => None,
        Err(e) => Some(format!("`{tool}` cannot be run ({e}); {install}")),
    }
}

/// A running `macaroon-proxy run`, killed (SIGTERM, then reaped) when dropped.
pub struct ProxyProcess {
    child: std::process::Child,
    /// The proxy listener.
    pub addr: std::net::SocketAddr,
    /// The admin listener.
    pub admin: std::net::SocketAddr,
    /// The audit log file.
    pub audit_path: PathBuf,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Session {
    /// Starts the proxy on ephemeral ports with an audit file in the home, trusting the
    /// test upstream's CA and sending `hosts` to it. Extra flags are appended.
    pub fn start_proxy(&self, up: &upstream::Upstream, hosts: &[&str], extra: &[&str]) -> ProxyProcess {
        self.start_proxy_via(&[], "127.0.0.1:0", up, hosts, extra)
    }

    /// Like [`Session::start_proxy`], listening on `listen` and started through `wrapper`
    /// (e.g. `ip netns exec NS`).
    pub fn start_proxy_via(
        &self,
        wrapper: &[&str],
        listen: &str,
        up: &upstream::Upstream,
        hosts: &[&str],
        extra: &[&str],
    ) -> ProxyProcess {
        self.start_proxy_for(wrapper, listen, (&up.ca_path, up.addr), hosts, extra)
    }

    /// Starts the proxy sending `hosts` to a stand-in upstream at `addr` whose certificate
    /// `ca` signed (a [`standin::StandIn`], say).
    pub fn start_proxy_at(
        &self,
        ca: &Path,
        addr: std::net::SocketAddr,
        hosts: &[&str],
        extra: &[&str],
    ) -> ProxyProcess {
        self.start_proxy_for(&[], "127.0.0.1:0", (ca, addr), hosts, extra)
    }

    fn start_proxy_for(
        &self,
        wrapper: &[&str],
        listen: &str,
        (ca, addr): (&Path, std::net::SocketAddr),
        hosts: &[&str],
        extra: &[&str],
    ) -> ProxyProcess {
        let audit_path = self.home().join("audit.jsonl");
        let mut cmd = match wrapper.split_first() {
            None => self.cmd("macaroon-proxy"),
            Some((first, rest)) => {
                let mut c = self.cmd(first);
                c.args(rest).arg(bin_dir().join("macaroon-proxy"));
                c
            }
        };
        cmd.args(["run", "--listen", listen, "--admin", "127.0.0.1:0", "--audit-log"])
            .arg(&audit_path)
            .arg("--upstream-ca")
            .arg(ca);
        for h in hosts {
            cmd.arg("--resolve").arg(format!("{h}={addr}"));
        }
        cmd.args(extra).stdout(Stdio::null());
        self.launch_proxy(cmd, audit_path)
    }

    /// Spawns `cmd`, a `macaroon-proxy run` the caller put together (its own flags,
    /// environment and stdout; `--admin` needed), and waits until it listens. `audit_path`
    /// is where [`ProxyProcess::audit`] reads.
    pub fn launch_proxy(&self, mut cmd: Command, audit_path: PathBuf) -> ProxyProcess {
        use std::io::BufRead;
        cmd.stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn macaroon-proxy");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening on http://") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line.clone());
                    }
                }
                sink.lock().expect("log").push_str(&format!("{line}\n"));
            }
        });
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("proxy did not start; stderr:\n{}", log.lock().expect("log")));
        let addr_after = |marker: &str| -> std::net::SocketAddr {
            let rest = &line[line.find(marker).expect("marker") + marker.len()..];
            let end = rest.find([',', ')', ' ']).unwrap_or(rest.len());
            rest[..end].parse().expect("address")
        };
        ProxyProcess {
            addr: addr_after("listening on http://"),
            admin: if line.contains("(admin https://") {
                addr_after("(admin https://")
            } else {
                addr_after("(admin http://")
            },
            child,
            audit_path,
            stderr: log,
        }
    }
}

impl ProxyProcess {
    /// The proxy's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The audit lines written so far, parsed: once the proxy's audit writer has written
    /// every line queued (its `/metrics` counters agree), at most 10 s.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline && !self.audit_caught_up() {
            std::thread::yield_now();
        }
        std::fs::read_to_string(&self.audit_path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}")))
            .collect()
    }

    /// Whether the audit writer has written every line queued so far (true where the
    /// metrics cannot be read: there is nothing to wait for then).
    fn audit_caught_up(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(self.admin) else {
            return true;
        };
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
        };
        match (
            value("macaroon_audit_lines_queued_total "),
            value("macaroon_audit_lines_written_total "),
        ) {
            (Some(q), Some(w)) => q == w,
            _ => true,
        }
    }

    /// Everything the proxy printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("log").clone()
    }

    /// Sends `signal` (a name `kill` takes: HUP, TERM, ...) to the proxy.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits (at most 30 s) until the proxy's stderr holds `count` lines containing
    /// `needle`, and returns the stderr.
    pub fn wait_for_stderr(&self, needle: &str, count: usize) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = self.stderr();
            if text.matches(needle).count() >= count {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the proxy did not log {needle:?} within 30 s; stderr:\n{text}"
            );
            // Polls the captured stderr (the reader thread fills it), a line at a time.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
