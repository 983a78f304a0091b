//! The hidden prompt of `macaroon wrap`, driven through a pseudo-terminal.
//!
//! The pty is set up like a user's terminal, with echo on: a key typed while the program is
//! not hiding input would be echoed back into the transcript. Before typing a key, the tests
//! wait until the program has switched the terminal's echo off (as `pexpect`'s `waitnoecho`
//! does), so a prompt that stopped hiding input fails there instead of racing.
#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::Session;
use expectrl::process::unix::WaitStatus;
use expectrl::process::Termios;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Needle, Regex};

/// How long to wait for any one thing the program should show or do.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The stored token's name.
const NAME: &str = "stripe";
/// The key typed at the prompt.
const SECRET: &str = "sk_live_PROMPT_SECRET_42";

/// A session with a proxy keypair, so `wrap` can seal keys.
fn keyed_session() -> Session {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s
}

/// `macaroon wrap NAME --host api.stripe.com` running on a pseudo-terminal, and everything it
/// has shown so far.
struct Terminal {
    /// The child; dropping it kills (if still running) and reaps it.
    pty: OsSession,
    /// All bytes read from the terminal so far.
    transcript: Vec<u8>,
}

impl Terminal {
    fn wrap(s: &Session, name: &str) -> Self {
        // The harness's command, for its program and environment.
        let base = s.cmd("macaroon");
        // ptyprocess starts the child with echo off; a user's terminal echoes. Turning echo on
        // from here could race with the program's own switch to hidden input, so the child
        // turns it on itself before it becomes `macaroon`.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", r#"stty echo && exec "$0" "$@""#])
            .arg(base.get_program())
            .args(["wrap", name, "--host", "api.stripe.com"]);
        for (key, value) in base.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let mut pty = OsSession::spawn(cmd).expect("spawn macaroon on a pty");
        pty.set_expect_timeout(Some(TIMEOUT));
        Terminal {
            pty,
            transcript: Vec::new(),
        }
    }

    /// The transcript as text.
    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.transcript).into_owned()
    }

    /// Waits for `needle`, keeping what was read; panics with the transcript if it does not come.
    fn wait_for<N: Needle + std::fmt::Debug>(&mut self, needle: N) {
        match self.pty.expect(&needle) {
            Ok(found) => self.transcript.extend_from_slice(found.as_bytes()),
            Err(err) => {
                // Best effort: show what was read but not matched, too.
                if let Ok(rest) = self.pty.check(Regex("(?s-u).+")) {
                    self.transcript.extend_from_slice(rest.as_bytes());
                }
                panic!(
                    "waiting for {needle:?}: {err}\n--- terminal so far\n{}",
                    self.shown()
                );
            }
        }
    }

    /// Waits until the program has turned the terminal's echo off, then types `line` and Enter.
    fn type_hidden(&mut self, line: &str) {
        let start = Instant::now();
        while self.pty.is_echo().expect("read the terminal's echo flag") {
            assert!(
                start.elapsed() < TIMEOUT,
                "the terminal still echoes input {TIMEOUT:?} after the prompt; typing now would \
                 show the key\n--- terminal so far\n{}",
                self.shown()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.pty.send_line(line).expect("type at the prompt");
    }

    /// Waits for the program to close the terminal and exit, checks that it left the terminal
    /// echoing again, and returns the exit code and the whole transcript.
    fn finish(mut self) -> (i32, String) {
        self.wait_for(Eof);
        // The pty outlives the program, so its settings show how the program left them.
        assert!(
            self.pty.is_echo().expect("read the terminal's echo flag"),
            "the program left the terminal with echo off\n{}",
            self.shown()
        );
        let status = self.pty.get_process().wait().expect("wait for macaroon");
        match status {
            WaitStatus::Exited(_, code) => (code, self.shown()),
            other => panic!("macaroon did not exit normally: {other:?}\n{}", self.shown()),
        }
    }
}

/// Asserts that no part of `secret` that identifies it shows in `shown`.
fn assert_not_shown(shown: &str, secret: &str) {
    let tail = &secret[secret.len() - 12..];
    assert!(
        !shown.contains(secret) && !shown.contains(tail),
        "the key {secret:?} showed on the terminal:\n{shown}"
    );
}

#[test]
fn hidden_prompt_reads_the_key_twice_and_never_echoes_it() {
    let s = keyed_session();
    let mut t = Terminal::wrap(&s, NAME);
    t.wait_for(format!("API key for {NAME}"));
    t.type_hidden(SECRET);
    t.wait_for("Repeat it");
    t.type_hidden(SECRET);
    let (code, shown) = t.finish();

    assert_eq!(code, 0, "{shown}");
    assert_not_shown(&shown, SECRET);
    assert!(shown.contains("Wrapped a key for api.stripe.com"), "{shown}");
    let stored = std::fs::read_to_string(s.home().join("tokens").join(NAME))
        .expect("the token is stored in <home>/tokens/NAME");
    assert!(
        !stored.contains(SECRET),
        "the stored token holds the key in clear"
    );
    let token = stored.trim();
    assert!(token.len() > 100, "stored token: {stored:?}");
    assert!(
        shown.lines().any(|line| line.trim_end() == token),
        "the stored token is printed alone on a line:\n{shown}"
    );

    let inspect = s.run("macaroon", &["inspect", NAME, "--json"]);
    inspect.ok();
    let json: serde_json::Value = serde_json::from_str(&inspect.stdout).expect("inspect --json");
    assert_eq!(json["identifier"]["format"], "mk1", "{json:#}");
}

#[test]
fn mismatched_entries_ask_again() {
    let s = keyed_session();
    let mut t = Terminal::wrap(&s, NAME);
    t.wait_for(format!("API key for {NAME}"));
    t.type_hidden("sk_live_FIRST_TRY_0001");
    t.wait_for("Repeat it");
    t.type_hidden("sk_live_TYPO_TRY_0002");
    t.wait_for("The two entries differ");
    t.wait_for(format!("API key for {NAME}"));
    t.type_hidden(SECRET);
    t.wait_for("Repeat it");
    t.type_hidden(SECRET);
    let (code, shown) = t.finish();

    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Wrapped a key for api.stripe.com"), "{shown}");
    for secret in ["sk_live_FIRST_TRY_0001", "sk_live_TYPO_TRY_0002", SECRET] {
        assert_not_shown(&shown, secret);
    }
    assert!(
        s.home().join("tokens").join(NAME).is_file(),
        "no token stored after the second, matching attempt"
    );
}

#[test]
fn empty_key_at_the_prompt_is_explained_and_asked_again() {
    let s = keyed_session();
    let mut t = Terminal::wrap(&s, NAME);
    t.wait_for(format!("API key for {NAME}"));
    t.type_hidden("");
    t.wait_for("error: the API key is empty: type or paste it again (Ctrl-C to cancel)");
    assert!(
        !t.shown().contains("Repeat it"),
        "an empty key was asked to be repeated before being refused:\n{}",
        t.shown()
    );
    t.wait_for(format!("API key for {NAME}"));
    t.type_hidden(SECRET);
    t.wait_for("Repeat it");
    t.type_hidden(SECRET);
    let (code, shown) = t.finish();

    assert_eq!(code, 0, "{shown}");
    assert_not_shown(&shown, SECRET);
    assert!(shown.contains("Wrapped a key for api.stripe.com"), "{shown}");
    assert!(
        s.home().join("tokens").join(NAME).is_file(),
        "no token stored after the key typed on the second attempt"
    );
}
