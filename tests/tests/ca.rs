//! `macaroon-proxy ca`: the documented HTTPS_PROXY set-up, typed as a user types it —
//! `eval "$(macaroon-proxy ca)"`, then an unmodified script. The SDKs are the real ones from
//! PyPI: Stripe's trusts only the CA bundle it ships (so it needs the sitecustomize hook the
//! lines put on PYTHONPATH), OpenAI's goes through httpx and certifi.

use e2e::Session;

use crate::world::*;

/// `eval "$(macaroon-proxy ca --proxy-url PROXY)"` then `script`, in `sh`, with `env` set
/// beforehand (as a user's shell would have it).
pub(crate) fn after_eval_ca(w: &World, env: &[(&str, &str)], script: &str) -> e2e::Run {
    let mut cmd = w.s.shell(&format!(
        r#"eval "$(macaroon-proxy ca --proxy-url {})" && {script}"#,
        w.proxy.url()
    ));
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    e2e::Run::from(cmd.output().expect("run sh"))
}

/// The upstream saw exactly one request, for `host`, at `target`, with the real key.
fn assert_one_request_with_the_real_key(w: &World, host: &str, target: &str) {
    let seen = w.up.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].authority, host);
    assert_eq!(seen[0].target, target);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    let audit = w.proxy.audit();
    // The tunnel's own line (`"event":"connect"`), then the request's.
    let (tunnels, requests): (Vec<_>, Vec<_>) = audit.iter().partition(|l| l["event"] == "connect");
    assert_eq!(requests.len(), 1, "{audit:?}");
    assert_eq!(
        requests[0]["mode"], "tunnel",
        "went through HTTPS_PROXY (CONNECT)"
    );
    assert!(
        !tunnels.is_empty() && tunnels.iter().all(|l| l["method"] == "CONNECT"),
        "{audit:?}"
    );
    w.assert_clean(1);
}

#[test]
fn stripe_sdk_works_after_eval_ca() {
    if let Some(why) = e2e::missing_python(&["stripe"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.stripe.com", "bearer", &[]);
    let token = w.narrow(&["--expires", "10m", "--method", "GET"]);
    // stripe.api_base is left alone: the SDK asks for https://api.stripe.com through
    // HTTPS_PROXY, and the proxy's --resolve sends api.stripe.com to the test upstream.
    let run = after_eval_ca(
        &w,
        &[("STRIPE_API_KEY", &token)],
        r#"python3 -c '
import os, stripe
stripe.api_key = os.environ["STRIPE_API_KEY"]
page = stripe.Charge.list(limit=3)
print(len(page.data), stripe.api_base)
'"#,
    );
    run.ok();
    assert_eq!(run.out(), "0 https://api.stripe.com");
    assert_one_request_with_the_real_key(&w, "api.stripe.com", "/v1/charges?limit=3");
}

#[test]
fn openai_sdk_works_after_eval_ca() {
    if let Some(why) = e2e::missing_python(&["openai"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.openai.com", "bearer", &[]);
    let token = w.narrow(&["--expires", "10m", "--method", "GET"]);
    let run = after_eval_ca(
        &w,
        &[("OPENAI_API_KEY", &token)],
        r#"python3 -c '
from openai import OpenAI
client = OpenAI()
print(len(client.models.list().data), client.base_url)
'"#,
    );
    run.ok();
    assert_eq!(run.out(), "0 https://api.openai.com/v1/");
    assert_one_request_with_the_real_key(&w, "api.openai.com", "/v1/models");
}

#[test]
fn loopback_is_reached_directly_after_eval_ca() {
    if let Some(why) = e2e::missing_python(&["requests"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world();
    let healthz = format!("http://{}/healthz", w.proxy.admin);
    // Through the proxy the admin port would answer 401 (no token); directly, 200.
    let run = after_eval_ca(
        &w,
        &[("HEALTHZ", &healthz)],
        r#"python3 -c '
import os, requests
print(requests.get(os.environ["HEALTHZ"]).status_code)
' && curl -sS -o /dev/null -w '%{http_code}\n' "$HEALTHZ""#,
    );
    run.ok();
    assert_eq!(run.out(), "200\n200");
    assert!(w.proxy.audit().is_empty(), "the proxy saw a loopback request");
    w.assert_clean(0);
}

#[test]
fn ca_lines_eval_in_sh_whatever_the_home_path_holds() {
    let s = Session::new();
    let home = s.home().join("Application Support/it's macaroon");
    let script = r#"eval "$(macaroon-proxy ca --home "$H")" && printf '%s\n' "$SSL_CERT_FILE" "$NODE_EXTRA_CA_CERTS" "$PYTHONPATH" "$NO_PROXY" "$no_proxy" "$HTTPS_PROXY" "$http_proxy""#;
    let run = e2e::Run::from(
        s.shell(script)
            .env("H", &home)
            .env("PYTHONPATH", "/already/there")
            .output()
            .expect("sh"),
    );
    run.ok();
    let h = home.display();
    assert_eq!(
        run.stdout,
        format!(
            "{h}/ca-bundle.pem\n{h}/ca.pem\n{h}/python:/already/there\n\
             localhost,127.0.0.1,::1\nlocalhost,127.0.0.1,::1\n\
             http://127.0.0.1:8080\nhttp://127.0.0.1:8080\n"
        )
    );
    assert!(run.stderr.contains("CA certificate:"), "{}", run.stderr);
    // A CA made in a home no proxy runs with (a mistyped MACAROON_HOME) says so; a proxy's
    // home (it has a key) gets no such note.
    assert!(run.stderr.contains("has no proxy key"), "{}", run.stderr);
    let proxy_home = Session::new();
    proxy_home.run("macaroon-proxy", &["keygen"]).ok();
    let run = proxy_home.run("macaroon-proxy", &["ca"]);
    run.ok();
    assert!(run.stderr.contains("CA certificate:"), "{}", run.stderr);
    assert!(!run.stderr.contains("has no proxy key"), "{}", run.stderr);
    // The hook is the one `macaroon exec` writes, byte for byte.
    assert_eq!(
        std::fs::read_to_string(home.join("python/sitecustomize.py")).expect("hook"),
        macaroon_home::SITECUSTOMIZE
    );
    let bundle = std::fs::read_to_string(home.join("ca-bundle.pem")).expect("bundle");
    let ca = std::fs::read_to_string(home.join("ca.pem")).expect("ca");
    assert!(bundle.ends_with(&ca), "the bundle ends with the proxy CA");
}

/// A denial reaches the SDK user as our message, in the SDK's own exception type: the
/// error body has the shape the SDKs parse (`{"error":{"type","code","message",...}}`).
#[test]
fn sdks_show_the_denial_reason_in_their_exceptions() {
    if let Some(why) = e2e::missing_python(&["stripe", "openai"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.stripe.com", "bearer", &[]);
    let token = w.narrow(&["--method", "POST"]);
    let run = after_eval_ca(
        &w,
        &[("STRIPE_API_KEY", &token)],
        r#"python3 -c '
import os, stripe
stripe.api_key = os.environ["STRIPE_API_KEY"]
try:
    stripe.Charge.list(limit=3)
except stripe.error.PermissionError as e:
    print(type(e).__name__, "|", e.user_message)
'"#,
    );
    run.ok();
    let out = run.out();
    assert!(out.starts_with("PermissionError | "), "{out}");
    assert!(out.contains("method GET is not allowed; only POST"), "{out}");

    let w = world_for("api.openai.com", "bearer", &[]);
    let token = w.narrow(&["--path", "/v1/chat"]);
    let run = after_eval_ca(
        &w,
        &[("OPENAI_API_KEY", &token)],
        r#"python3 -c '
import openai
try:
    openai.OpenAI().models.list()
except openai.PermissionDeniedError as e:
    print(type(e).__name__, "|", e.message, "|", e.code)
'"#,
    );
    run.ok();
    let out = run.out();
    assert!(out.starts_with("PermissionDeniedError | "), "{out}");
    assert!(
        out.contains("path /v1/models is not allowed") && out.ends_with("| caveat_failed"),
        "{out}"
    );
    w.assert_clean(0);
}

/// With `umask 000` the CA certificate, the trust bundle and the Python hook are 0644 and
/// its directory 0755 (the CA key 0600): no other user can swap the CA clients trust or
/// the code Python runs at start-up.
#[cfg(unix)]
#[test]
fn ca_files_keep_their_modes_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let s = Session::new();
    let out = s
        .shell("umask 000; exec macaroon-proxy ca >/dev/null")
        .output()
        .expect("sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode = |p: &str| {
        std::fs::metadata(s.home().join(p))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    for (file, want) in [
        ("ca.pem", 0o644),
        ("ca.key", 0o600),
        ("ca-bundle.pem", 0o644),
        ("python", 0o755),
        ("python/sitecustomize.py", 0o644),
    ] {
        assert_eq!(mode(file), want, "{file}: {:o}", mode(file));
    }
    // Run again over the wider files an old version left: tightened.
    for file in ["ca-bundle.pem", "python", "python/sitecustomize.py"] {
        std::fs::set_permissions(s.home().join(file), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    s.run("macaroon-proxy", &["ca"]).ok();
    assert_eq!(mode("ca-bundle.pem"), 0o644);
    assert_eq!(mode("python"), 0o755);
    assert_eq!(mode("python/sitecustomize.py"), 0o644);
}
