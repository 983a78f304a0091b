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

    /// A command for one of the binaries, with this session's environment.
    pub fn cmd(&self, bin: &str) -> Command {
        let mut cmd = Command::new(bin_dir().join(bin));
        cmd.env("MACAROON_HOME", self.home())
            .env("MACAROON_STORE", "file")
            .env("NO_COLOR", "1")
            .env_remove("MACAROON_TOKEN")
            .env_remove("MACAROON_PROXY_KEY")
            .stdin(Stdio::null());
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
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
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
