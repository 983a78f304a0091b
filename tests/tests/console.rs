//! The web console in a real browser: Debian's chromium driven by playwright
//! (tests/standins/console.py) against the real proxy. Log in, a denial live, approve a
//! held request, revoke a branch, markup from agents shown as text, a read-only operator
//! without buttons, CSRF, the cookie's flags. `CONSOLE_SCREENSHOTS=DIR` keeps the
//! screenshots (docs/console/ holds the ones docs/console.md shows).

use std::path::Path;

use crate::world::*;

use crate::world::operator_token as mint;

#[test]
fn the_console_in_a_real_browser() {
    if let Some(why) = e2e::missing_python(&["playwright"]) {
        return e2e::skip_or_fail(why);
    }
    if !Path::new("/usr/bin/chromium").exists() {
        return e2e::skip_or_fail("/usr/bin/chromium is missing: apt-get install chromium");
    }
    let w = world();
    let cfg_dir = tempfile::tempdir().expect("tmp");
    let shots = std::env::var("CONSOLE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| cfg_dir.path().to_path_buf());
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let other = e2e::Session::new();
    let other_issuer = other.run("macaroon", &["issuer", "show"]).ok().out().to_string();
    let cfg = serde_json::json!({
        "console": format!("http://{}", w.proxy.admin),
        "proxy_host": w.proxy.addr.ip().to_string(),
        "proxy_port": w.proxy.addr.port(),
        "ca": w.ca(),
        "host": HOST,
        "admin_token": mint(&w, &["--name", "root", "--role", "admin", "--expires", "1h"]),
        "read_token": mint(&w, &["--name", "auditor", "--role", "read", "--expires", "1h"]),
        "denied_token": w.narrow(&["--path", "/v1/", "--label", "ci-bot"]),
        "approval_token": w.narrow(&["--approval", "--label", "refund-bot"]),
        "branch_token": w.narrow(&["--label", "branch-bot"]),
        "other_issuer": other_issuer,
        "shots": shots,
    });
    let cfg_path = cfg_dir.path().join("console.json");
    std::fs::write(&cfg_path, cfg.to_string()).expect("write config");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("standins/console.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&cfg_path)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the console script failed:\n{stdout}\n{}\nproxy stderr:\n{}",
        String::from_utf8_lossy(&out.stderr),
        w.proxy.stderr()
    );
    assert_eq!(stdout.matches("ok:").count(), 15, "{stdout}");

    // The approved request reached the upstream once, after the approval; the denied one never.
    let refunds: Vec<_> =
        w.up.seen()
            .into_iter()
            .filter(|r| r.target == "/v1/refunds")
            .collect();
    assert_eq!(refunds.len(), 1);
    // Logins, the decisions, the revocation and the issuer changes are audited with the operator's name.
    let audit = w.proxy.audit();
    for action in [
        "console.login",
        "approvals.approve",
        "approvals.deny",
        "revocations.add",
        "revocations.undo",
        "issuers.add",
        "issuers.remove",
        "console.logout",
    ] {
        assert!(
            audit
                .iter()
                .any(|l| l["action"] == action && l["operator"] == "root"),
            "no {action} line by root"
        );
    }
    // Neither the operator token nor the session id is ever logged.
    let admin_token = cfg["admin_token"].as_str().unwrap_or_default();
    let log = std::fs::read_to_string(&w.proxy.audit_path).unwrap_or_default();
    assert!(!log.contains(&admin_token[..40]) && !w.proxy.stderr().contains(&admin_token[..40]));
}

#[test]
fn the_console_is_only_on_the_admin_listener_and_needs_a_login() {
    let w = world();
    // The agents' listener has no console.
    let agents = curl(&[&format!("{}/login", w.proxy.url())]);
    assert_ne!(agents.status, 200);
    assert!(!String::from_utf8_lossy(&agents.body).contains("name=\"token\""));
    // The admin listener's views send a stranger to the login form.
    let admin = format!("http://{}", w.proxy.admin);
    for view in ["/", "/live", "/approvals", "/tokens", "/issuers", "/health"] {
        let r = curl(&[&format!("{admin}{view}")]);
        assert_eq!(r.status, 303, "{view}");
        assert!(
            r.headers.to_ascii_lowercase().contains("location: /login"),
            "{view}: {}",
            r.headers
        );
        assert!(r.headers.contains("frame-ancestors 'none'"), "{view}");
    }
    // A login posted from another site is refused; a bad token gets no cookie.
    let read = mint(&w, &["--name", "alice"]);
    let cross = curl(&[
        "-H",
        "Origin: https://evil.example",
        "--data-urlencode",
        &format!("token={read}"),
        &format!("{admin}/login"),
    ]);
    assert_eq!(cross.status, 403);
    assert!(!cross.headers.to_ascii_lowercase().contains("set-cookie"));
    let bad = curl(&["--data-urlencode", "token=garbage", &format!("{admin}/login")]);
    assert_eq!(bad.status, 401);
    assert!(!bad.headers.to_ascii_lowercase().contains("set-cookie"));
    // A good one: a session cookie that is not the token, and the views open with it.
    let good = curl(&[
        "--data-urlencode",
        &format!("token={read}"),
        &format!("{admin}/login"),
    ]);
    assert_eq!(good.status, 303);
    let cookie = good
        .headers
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .expect("a cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(&read[..20]));
    let pair = cookie.split(';').next().unwrap_or_default().to_string();
    let live = curl(&["-H", &format!("Cookie: {pair}"), &format!("{admin}/live")]);
    assert_eq!(live.status, 200);
    assert!(String::from_utf8_lossy(&live.body).contains("audit stream"));
    // The cookie opens the API for reading, not for changes without the CSRF token.
    let who = curl(&["-H", &format!("Cookie: {pair}"), &format!("{admin}/api/whoami")]);
    assert_eq!(who.status, 200);
    let post = curl(&[
        "-H",
        &format!("Cookie: {pair}"),
        "-H",
        "Content-Type: application/json",
        "--data",
        "{\"key\":\"x\"}",
        &format!("{admin}/api/issuers"),
    ]);
    assert_eq!(post.status, 403);
    assert!(String::from_utf8_lossy(&post.body).contains("\"csrf\""));
}

#[test]
fn under_tls_the_console_cookie_is_secure() {
    let s = e2e::Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let audit = s.home().join("audit.jsonl");
    let mut cmd = s.cmd("macaroon-proxy");
    cmd.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--admin-name",
        "localhost",
    ])
    .arg("--audit-log")
    .arg(&audit)
    .stdout(std::process::Stdio::null());
    let proxy = s.launch_proxy(cmd, audit);
    let token = s
        .run("macaroon-proxy", &["operator", "mint", "--name", "carol"])
        .ok()
        .out()
        .to_string();
    let port = proxy.admin.port();
    let ca = s.home().join("ca.pem").display().to_string();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let login = curl(&[
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "--data-urlencode",
        &format!("token={token}"),
        &format!("https://localhost:{port}/login"),
    ]);
    assert_eq!(login.status, 303, "{}", login.headers);
    let cookie = login
        .headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a cookie")
        .to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(cookie.contains(part), "{cookie}");
    }
}
