//! `macaroon mount`: a FUSE directory whose files are freshly narrowed tokens. Skipped,
//! with the reason printed, where /dev/fuse or fusermount3 is missing.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use e2e::Session;

fn skip_reason() -> Option<&'static str> {
    if !std::path::Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing");
    }
    if Command::new("fusermount3").arg("--version").output().is_err() {
        return Some("fusermount3 is not installed (apt-get install fuse3)");
    }
    None
}

fn unix_second() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[test]
fn each_read_is_a_fresh_narrowed_token_and_ctrl_c_unmounts() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED: {why}");
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
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mount");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    if !first.starts_with("Mounted") {
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("SKIPPED: FUSE mounts are not permitted here: {first}");
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["github", "stripe"]);
    let file = dir.path().join("stripe");
    let a = std::fs::read_to_string(&file).expect("read").trim().to_string();
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
    let run = s.run("macaroon", &["mount", dir.path().to_str().expect("utf8")]);
    run.code(2);
    assert!(run.stderr.contains("the policy for \"stripe\""), "{}", run.stderr);
    std::fs::write(s.home().join("mount.toml"), "[files.nope]\nexpires = \"1m\"\n").expect("config");
    let run = s.run("macaroon", &["mount", dir.path().to_str().expect("utf8")]);
    run.code(2);
    assert!(run.stderr.contains("not a stored token"), "{}", run.stderr);
}
