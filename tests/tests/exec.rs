//! `macaroon exec`: unmodified commands get a fresh short-lived token and the proxy
//! settings, and reach the upstream through the proxy with the real key injected.

use e2e::Session;

use crate::world::*;

/// `macaroon exec ARGS -- sh -c SCRIPT` in the world's home; returns the output.
fn exec(w: &World, args: &[&str], script: &str) -> e2e::Run {
    let mut cmd = w.s.cmd("macaroon");
    cmd.arg("exec")
        .args(args)
        .args(["--proxy", &w.proxy.url(), "--", "sh", "-c", script]);
    e2e::Run::from(cmd.output().expect("run exec"))
}

#[test]
fn exec_hands_the_command_a_fresh_short_lived_token() {
    let w = world();
    let run = exec(
        &w,
        &["--token", "api", "--env", "STRIPE_API_KEY", "--method", "GET"],
        r#"printf '%s\n%s\n%s\n%s\n' "$STRIPE_API_KEY" "$HTTPS_PROXY" "$SSL_CERT_FILE" "$MACAROON_TOKEN"; exit 7"#,
    );
    run.code(7);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_ne!(lines[0], w.token, "a narrowed token, not the root");
    assert_eq!(lines[0], lines[3], "MACAROON_TOKEN is set too");
    assert_eq!(lines[1], w.proxy.url());
    assert!(lines[2].ends_with("ca-bundle.pem"), "{}", lines[2]);
    let bundle = std::fs::read_to_string(lines[2]).expect("bundle");
    let ca = std::fs::read_to_string(w.s.home().join("ca.pem")).expect("ca");
    assert!(bundle.ends_with(&ca), "the bundle ends with the proxy CA");
    let v: serde_json::Value =
        serde_json::from_str(&w.s.run("macaroon", &["inspect", lines[0], "--json"]).ok().stdout)
            .expect("json");
    let explain = v["caveats"][0]["explain"].as_str().expect("explain");
    assert!(
        explain.starts_with("expires in 14m") || explain.starts_with("expires in 15m"),
        "{explain}"
    );
    assert_eq!(v["caveats"][1]["predicate"], "method in GET");
}

#[test]
fn exec_reports_a_missing_command_like_a_shell() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "key")
        .ok();
    std::fs::write(s.home().join("ca.pem"), "").expect("ca");
    // Something listening where the proxy would be (exec checks it answers).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy = format!("http://{}", listener.local_addr().expect("addr"));
    let run = s.run(
        "macaroon",
        &[
            "exec",
            "--token",
            "k",
            "--proxy",
            &proxy,
            "--",
            "/nonexistent/tool",
        ],
    );
    run.code(127);
    assert!(
        run.stderr.contains("could not run /nonexistent/tool"),
        "{}",
        run.stderr
    );
    let run = s.run(
        "macaroon",
        &[
            "exec", "--token", "k", "--proxy", &proxy, "--env", "1BAD", "--", "true",
        ],
    );
    run.code(2);
    assert!(
        run.stderr.contains("not an environment variable name"),
        "{}",
        run.stderr
    );
}

#[test]
fn exec_says_how_to_start_a_proxy_that_is_not_running() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "key")
        .ok();
    std::fs::write(s.home().join("ca.pem"), "").expect("ca");
    // A port nobody listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let proxy = format!("http://{closed}");
    let run = s.run(
        "macaroon",
        &["exec", "--token", "k", "--proxy", &proxy, "--", "true"],
    );
    run.code(2);
    assert!(
        run.stderr.contains("nothing answers at") && run.stderr.contains("macaroon-proxy run"),
        "{}",
        run.stderr
    );
}

#[test]
fn exec_without_a_proxy_ca_says_how_to_get_one() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "key")
        .ok();
    let run = s.run("macaroon", &["exec", "--token", "k", "--", "true"]);
    run.code(2);
    assert!(
        run.stderr.contains("run `macaroon-proxy run` once"),
        "{}",
        run.stderr
    );
}

#[test]
fn unmodified_curl_reaches_the_upstream_with_the_real_key() {
    let w = world();
    let run = exec(
        &w,
        &["--token", "api", "--env", "API_KEY"],
        &format!(
            r#"curl -sS -o /dev/null -w '%{{http_code}}' https://{HOST}/v1/charges -H "Authorization: Bearer $API_KEY""#
        ),
    );
    run.ok();
    assert_eq!(run.stdout, "200");
    assert_eq!(
        w.up.seen()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn unmodified_stripe_sdk_works_through_exec() {
    if let Some(why) = e2e::missing_python(&["stripe"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.stripe.com", "bearer", &[]);
    let script = r#"python3 -c '
import stripe, os
stripe.api_key = os.environ["STRIPE_API_KEY"]
page = stripe.Charge.list(limit=3)
print(len(page.data))
'"#;
    let run = exec(
        &w,
        &[
            "--token",
            "api",
            "--env",
            "STRIPE_API_KEY",
            "--path",
            "/v1/charges",
        ],
        script,
    );
    run.ok();
    assert_eq!(run.out(), "0");
    let seen = w.up.seen();
    assert_eq!(seen[0].target, "/v1/charges?limit=3");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn unmodified_openai_sdk_works_through_exec() {
    if let Some(why) = e2e::missing_python(&["openai"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.openai.com", "bearer", &[]);
    let script = r#"python3 -c '
from openai import OpenAI
print(len(OpenAI().models.list().data))
'"#;
    let run = exec(
        &w,
        &["--token", "api", "--env", "OPENAI_API_KEY", "--method", "GET"],
        script,
    );
    run.ok();
    assert_eq!(run.out(), "0");
    let seen = w.up.seen();
    assert_eq!(seen[0].target, "/v1/models");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}
