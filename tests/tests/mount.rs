//! `macaroon mount`: a FUSE directory whose files are freshly narrowed tokens. Skipped,
//! with the reason printed, only where /dev/fuse (the kernel's, allowed even under CI) or
//! fusermount3 (apt-get install fuse3; a failure under CI) is missing. Any other failure
//! to mount fails the test with the mount command's stderr.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use e2e::Session;

/// Skips (see [`e2e::skip_platform`], [`e2e::skip_or_fail`]) and returns false where FUSE
/// cannot be used at all.
pub(crate) fn fuse_available() -> bool {
    if !std::path::Path::new("/dev/fuse").exists() {
        e2e::skip_platform("/dev/fuse is missing (no FUSE in this kernel or container)");
        return false;
    }
    if let Some(why) = e2e::missing_tool("fusermount3", "apt-get install fuse3") {
        e2e::skip_or_fail(why);
        return false;
    }
    true
}

/// Waits for `macaroon mount` to say "Mounted"; anything else (an error, an exit, silence)
/// fails the test with what it printed.
pub(crate) fn wait_until_mounted(child: &mut std::process::Child) {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep draining after the first line: the command prints again when it unmounts, and
    // a closed pipe would make that print fail.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(first) if first.starts_with("Mounted") => {}
        first => {
            // Give a failing command a moment to exit on its own, so its status shows.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let status = child.wait().expect("wait");
            let mut stderr = first.unwrap_or_default();
            while let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
                stderr.push('\n');
                stderr.push_str(&line);
            }
            panic!("macaroon mount did not mount ({status}); its stderr:\n{stderr}");
        }
    }
}

fn unix_second() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[test]
fn each_read_is_a_fresh_narrowed_token_and_ctrl_c_unmounts() {
    if !fuse_available() {
        return;
    }
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin(
        "macaroon",
        &["wrap", "stripe", "--host", "api.stripe.com"],
        "sk_live_MOUNT",
    )
    .ok();
    s.run_stdin(
        "macaroon",
        &["wrap", "github", "--host", "api.github.com"],
        "ghp_MOUNT",
    )
    .ok();
    s.run_stdin(
        "macaroon",
        &["wrap", "unshown", "--host", "api.example.com"],
        "sk_unshown",
    )
    .ok();
    std::fs::write(
        s.home().join("mount.toml"),
        "expires = \"2m\"\n[files.stripe]\nexpires = \"10m\"\nmethods = [\"GET\"]\n",
    )
    .expect("config");
    let dir = tempfile::tempdir().expect("mountpoint");
    let mut child = s
        .cmd("macaroon")
        .args(["mount"])
        .arg(dir.path())
        .args(["--token", "stripe", "--token", "github"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mount");
    wait_until_mounted(&mut child);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["github", "stripe"], "only the named tokens");
    let file = dir.path().join("stripe");
    let a = std::fs::read_to_string(&file).expect("read").trim().to_string();
    let size = std::fs::metadata(&file).expect("stat").len();
    assert_eq!(
        size,
        a.len() as u64 + 1,
        "the file's size is a token's (and newline)"
    );
    // Tokens are deterministic within a second (same caveats, same signature); the next
    // read in a later second must differ.
    let second = unix_second();
    while unix_second() == second {
        std::hint::spin_loop();
    }
    let b = std::fs::read_to_string(&file).expect("read").trim().to_string();
    assert_ne!(a, b, "two reads gave the same token");
    let inspect: serde_json::Value =
        serde_json::from_str(&s.run("macaroon", &["inspect", &b, "--json"]).ok().stdout).expect("json");
    let explain = inspect["caveats"][0]["explain"].as_str().expect("explain");
    assert!(
        explain.starts_with("expires in 9m") || explain.starts_with("expires in 10m"),
        "{explain}"
    );
    assert_eq!(inspect["caveats"][1]["predicate"], "method in GET");
    s.run(
        "macaroon",
        &[
            "verify",
            &b,
            "-X",
            "GET",
            "--url",
            "https://api.stripe.com/v1/charges",
        ],
    )
    .ok();
    s.run(
        "macaroon",
        &[
            "verify",
            &b,
            "-X",
            "POST",
            "--url",
            "https://api.stripe.com/v1/charges",
        ],
    )
    .code(1);
    let gh = std::fs::read_to_string(dir.path().join("github")).expect("read");
    let inspect: serde_json::Value =
        serde_json::from_str(&s.run("macaroon", &["inspect", gh.trim(), "--json"]).ok().stdout)
            .expect("json");
    assert!(
        inspect["caveats"][0]["explain"]
            .as_str()
            .expect("e")
            .starts_with("expires in 1m"),
        "default 2m"
    );
    assert!(std::fs::write(&file, "x").is_err(), "the files are read-only");
    let log = std::fs::read_to_string(s.home().join("mount.log")).expect("log");
    assert_eq!(log.lines().count(), 3, "{log}");
    assert!(
        !log.contains("sk_live_MOUNT") && !log.contains(&a[20..80]),
        "the log holds fingerprints only"
    );
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("readdir").count(),
        0,
        "unmounted"
    );
}

#[test]
fn a_bad_policy_is_refused_before_mounting() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "stripe", "--host", "api.stripe.com"], "sk")
        .ok();
    std::fs::write(
        s.home().join("mount.toml"),
        "[files.stripe]\nmethods = [\"GE T\"]\n",
    )
    .expect("config");
    let dir = tempfile::tempdir().expect("dir");
    let at = dir.path().to_str().expect("utf8");
    let run = s.run("macaroon", &["mount", at, "--token", "stripe"]);
    run.code(2);
    assert!(run.stderr.contains("the policy for \"stripe\""), "{}", run.stderr);
    std::fs::write(s.home().join("mount.toml"), "[files.nope]\nexpires = \"1m\"\n").expect("config");
    let run = s.run("macaroon", &["mount", at, "--token", "stripe"]);
    run.code(2);
    assert!(run.stderr.contains("add --token nope"), "{}", run.stderr);
    let run = s.run("macaroon", &["mount", at, "--token", "nope"]);
    run.code(2);
    assert!(
        run.stderr.contains("\"nope\" is not a stored token"),
        "{}",
        run.stderr
    );
    let run = s.run("macaroon", &["mount", at]);
    run.code(2);
    assert!(
        run.stderr.contains("--token"),
        "a token must be named: {}",
        run.stderr
    );
}
