//! A real `redis-server` (Debian's package) for the tests of shared state: started on a
//! free loopback port with no persistence, in a temporary directory, and killed when
//! dropped. Readiness is read from its own log line, never waited for with a sleep.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    /// Extra `redis-server` arguments (`--requirepass PASSWORD`).
    extra: Vec<String>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one on a free port, or says why it cannot (no `redis-server`).
    pub fn start() -> Result<RedisServer, String> {
        RedisServer::start_with(&[])
    }

    /// Like [`RedisServer::start`], with extra `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> Result<RedisServer, String> {
        crate::missing_tool("redis-server", "install it with: apt-get install redis-server")
            .map_or(Ok(()), Err)?;
        // A port the kernel just handed out and released; if another process takes it in
        // between, redis-server exits at once and the next try picks another.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let mut r = RedisServer {
                child: None,
                extra: extra.iter().map(|a| a.to_string()).collect(),
                port,
                dir: tempfile::tempdir().map_err(|e| e.to_string())?,
            };
            if r.launch().is_ok() {
                return Ok(r);
            }
        }
        Err("redis-server did not start on any of 5 free ports".into())
    }

    /// Starts one, or skips the test (a failure under CI) when it cannot.
    pub fn start_or_skip() -> Option<RedisServer> {
        match RedisServer::start() {
            Ok(r) => Some(r),
            Err(why) => {
                crate::skip_or_fail(why);
                None
            }
        }
    }

    /// The URL a proxy takes: `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (with empty data: persistence is off).
    pub fn restart(&mut self) {
        self.kill();
        self.launch()
            .unwrap_or_else(|e| panic!("redis-server did not restart: {e}"));
    }

    /// Runs `redis-cli` against it and returns its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn launch(&mut self) -> Result<(), String> {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Ready to accept connections") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("redis-server did not become ready on port {}", self.port))
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
