//! Approvals: a token narrowed with `--approval` gets each request held until a person
//! decides; approving mints a discharge the proxy keeps (once: that one request; a window:
//! the requests like it until it ends); denied or undecided, nothing reaches the upstream.

use std::time::{Duration, Instant};

use crate::world::*;

use crate::world::{json_of as json, operator_token as mint};

/// A call to the admin API with an operator token.
fn api(w: &World, token: &str, method: &str, path: &str, body: Option<&str>) -> Reply {
    admin_api(w, Some(token), method, path, body)
}

/// An agent's token that needs approval (`scope`: once or a window).
fn agent(w: &World, scope: &str) -> String {
    w.narrow(&[
        "--expires",
        "1h",
        "--label",
        "refund-agent",
        "--approval",
        "--approval-scope",
        scope,
    ])
}

/// Sends `POST /v1/refunds` with `body` in the background: the held request.
fn send(w: &World, token: &str, body: &str) -> std::thread::JoinHandle<Reply> {
    send_to(&w.proxy, token, body)
}

/// [`send`] to one replica.
fn send_to(p: &e2e::ProxyProcess, token: &str, body: &str) -> std::thread::JoinHandle<Reply> {
    let url = format!("{}/v1/refunds", p.url());
    let (auth, body) = (bearer(token), body.to_string());
    std::thread::spawn(move || curl(&["-X", "POST", &url, "-H", &auth, "--data-binary", &body]))
}

/// Approves `id` (the API's body `body`), which must answer 200.
fn approve(w: &World, op: &str, id: &str, body: &str) -> Reply {
    let r = api(w, op, "POST", &format!("/api/approvals/{id}/approve"), Some(body));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r
}

/// Waits until the proxy holds a pending approval not in `known`; returns it.
fn next_pending(w: &World, op: &str, known: &[String]) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let list = json(&api(w, op, "GET", "/api/approvals", None));
        if let Some(a) = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["state"] == "pending" && !known.iter().any(|k| a["id"] == k.as_str()))
        {
            return a.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no pending approval: {list}"
        );
        std::thread::yield_now();
    }
}

fn code(r: &Reply) -> String {
    json(r)["error"]["code"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_held_request_goes_through_once_approved_and_the_next_one_is_held_again() {
    let w = world();
    let op = mint(&w, &["--name", "alice", "--role", "approve"]);
    let token = agent(&w, "once");
    let inspect = w.s.run("macaroon", &["inspect", &token]).ok().out().to_string();
    assert!(
        inspect.contains("needs a person's approval for each request"),
        "{inspect}"
    );

    let held = send(&w, &token, "amount=500&currency=usd");
    let a = next_pending(&w, &op, &[]);
    assert_eq!(
        (a["method"].as_str(), a["path"].as_str()),
        (Some("POST"), Some("/v1/refunds"))
    );
    assert_eq!(
        (a["issuer"].as_str(), a["labels"][0].as_str()),
        (Some("local"), Some("refund-agent"))
    );
    assert_eq!(a["body"], "amount=500&currency=usd");
    assert_eq!(a["scope"], "once");
    assert!(w.up.seen().is_empty(), "nothing is sent while it is held");
    let id = a["id"].as_str().expect("id").to_string();
    let approved = approve(&w, &op, &id, "{}");
    assert_eq!(json(&approved)["decided_by"], "alice");
    let r = held.join().expect("client");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(w.up.seen().len(), 1);
    assert_eq!(
        w.up.seen()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );

    // The request's audit line, and the decision's own line.
    let lines = w.proxy.audit();
    let req = lines
        .iter()
        .find(|l| l["mode"] == "reverse" && l["status"] == 200)
        .expect("request line");
    assert_eq!(req["approval"]["id"], id.as_str(), "{req}");
    assert_eq!(
        (
            req["approval"]["decision"].as_str(),
            req["approval"]["by"].as_str()
        ),
        (Some("approved"), Some("alice"))
    );
    assert!(req["approval"]["waited_ms"].as_f64().unwrap_or_default() > 0.0);
    let decision = lines
        .iter()
        .find(|l| l["event"] == "approval")
        .expect("decision line");
    assert_eq!(
        (decision["operator"].as_str(), decision["approval"]["id"].as_str()),
        (Some("alice"), Some(id.as_str()))
    );

    // Once means once: the same request again is held again, as a new approval.
    let again = send(&w, &token, "amount=500&currency=usd");
    let b = next_pending(&w, &op, std::slice::from_ref(&id));
    assert_ne!(b["id"], id.as_str());
    let bid = b["id"].as_str().expect("id");
    api(
        &w,
        &op,
        "POST",
        &format!("/api/approvals/{bid}/deny"),
        Some(r#"{"reason":"one refund is enough"}"#),
    );
    let r = again.join().expect("client");
    assert_eq!((r.status, code(&r).as_str()), (403, "approval_denied"));
    let message = json(&r)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("one refund is enough") && message.contains("alice"),
        "{message}"
    );
    assert_eq!(
        w.up.seen().len(),
        1,
        "a denied request never reaches the upstream"
    );
    w.assert_clean(1);
}

#[test]
fn undecided_is_403_with_retry_after_and_the_retry_after_approval_passes_at_once() {
    let w = world_with("bearer", &["--approval-wait", "1s"]);
    let op = mint(&w, &["--name", "alice", "--role", "approve"]);
    let token = agent(&w, "once");
    let r = send(&w, &token, r#"{"amount":700}"#).join().expect("client");
    assert_eq!((r.status, code(&r).as_str()), (403, "approval_pending"));
    assert!(
        r.headers.to_ascii_lowercase().contains("retry-after: 5"),
        "{}",
        r.headers
    );
    let a = next_pending(&w, &op, &[]);
    let id = a["id"].as_str().expect("id").to_string();
    assert!(json(&r)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains(&id));
    assert!(w.up.seen().is_empty());
    // An SDK's retry joins the open approval rather than filing another.
    let r = send(&w, &token, r#"{"amount":700}"#).join().expect("client");
    assert_eq!(code(&r), "approval_pending");
    let list = json(&api(&w, &op, "GET", "/api/approvals", None));
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    api(
        &w,
        &op,
        "POST",
        &format!("/api/approvals/{id}/approve"),
        Some("{}"),
    );
    let start = Instant::now();
    let r = send(&w, &token, r#"{"amount":700}"#).join().expect("client");
    assert_eq!(r.status, 200);
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "not held again: {:?}",
        start.elapsed()
    );
    // Another body is another request: held anew.
    let r = send(&w, &token, r#"{"amount":70000}"#).join().expect("client");
    assert_eq!(code(&r), "approval_pending");
    assert_eq!(w.up.seen().len(), 1);
}

#[test]
fn a_window_lets_requests_like_the_approved_one_through_until_it_ends() {
    let w = world();
    let op = mint(&w, &["--name", "alice", "--role", "approve"]);
    let read = mint(&w, &["--name", "auditor"]);
    let token = agent(&w, "10m");
    let held = send(&w, &token, "amount=1");
    let a = next_pending(&w, &op, &[]);
    assert_eq!(a["scope"], "10m");
    let id = a["id"].as_str().expect("id").to_string();
    // A read-only operator cannot decide, and nobody without a token can.
    let refused = api(
        &w,
        &read,
        "POST",
        &format!("/api/approvals/{id}/approve"),
        Some("{}"),
    );
    assert_eq!(refused.status, 403);
    let none = curl(&[
        "-X",
        "POST",
        &format!("http://{}/api/approvals/{id}/approve", w.proxy.admin),
    ]);
    assert_eq!(none.status, 401);
    let body = r#"{"for":"10m","path":"/v1/refunds","note":"batch"}"#;
    let ok = api(
        &w,
        &op,
        "POST",
        &format!("/api/approvals/{id}/approve"),
        Some(body),
    );
    assert!(json(&ok)["granted"]
        .as_str()
        .unwrap_or_default()
        .starts_with("POST under /v1/refunds until"));
    assert_eq!(held.join().expect("client").status, 200);
    for amount in ["2", "3"] {
        assert_eq!(
            send(&w, &token, &format!("amount={amount}"))
                .join()
                .expect("client")
                .status,
            200
        );
    }
    // Outside what was approved (another path) is held again.
    let url = format!("{}/v1/charges", w.proxy.url());
    let other = std::thread::spawn({
        let auth = bearer(&token);
        move || curl(&["-X", "POST", &url, "-H", &auth, "-d", "amount=1"])
    });
    let b = next_pending(&w, &op, std::slice::from_ref(&id));
    assert_eq!(b["path"], "/v1/charges");
    let bid = b["id"].as_str().expect("id");
    api(&w, &op, "POST", &format!("/api/approvals/{bid}/deny"), Some("{}"));
    assert_eq!(other.join().expect("client").status, 403);
    // The discharge is a standard macaroon, shown to an approver.
    let d = api(&w, &op, "GET", &format!("/api/approvals/{id}/discharge"), None);
    let discharge = json(&d)["discharge"].as_str().expect("discharge").to_string();
    let parsed = caveat::Token::decode(&discharge).expect("a token");
    let caveats: Vec<String> = parsed
        .first_party()
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert!(
        caveats[0].starts_with("time < ")
            && caveats[1] == "method in POST"
            && caveats[2] == "path prefix /v1/refunds",
        "{caveats:?}"
    );
    let run = w.s.run(
        "macaroon-proxy",
        &[
            "approvals",
            "show",
            &id,
            "--discharge",
            "--admin-url",
            &format!("http://{}", w.proxy.admin),
            "--operator-token",
            &op,
        ],
    );
    assert_eq!(run.ok().out(), discharge);
    assert_eq!(w.up.seen().len(), 3);
}

/// The Stripe SDK, with its own default timeouts (80 s), completes a call the proxy held
/// until a person approved it: the SDK sees an ordinary answer.
#[test]
fn the_stripe_sdk_completes_a_held_then_approved_call() {
    if let Some(why) = e2e::missing_python(&["stripe"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.stripe.com", "bearer", &[]);
    let op = mint(&w, &["--name", "alice", "--role", "approve"]);
    let token = w.narrow(&["--expires", "1h", "--approval"]);
    let script = r#"
import os, stripe
stripe.api_key = os.environ["TOKEN"]
stripe.api_base = os.environ["BASE"]
print(len(stripe.Charge.list(limit=3).data))
"#;
    let child = std::process::Command::new("python3")
        .args(["-c", script])
        .env("TOKEN", &token)
        .env("BASE", w.proxy.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let a = next_pending(&w, &op, &[]);
    assert_eq!(
        (a["method"].as_str(), a["path"].as_str(), a["query"].as_str()),
        (Some("GET"), Some("/v1/charges"), Some("limit=3"))
    );
    let id = a["id"].as_str().expect("id");
    api(
        &w,
        &op,
        "POST",
        &format!("/api/approvals/{id}/approve"),
        Some("{}"),
    );
    let out = child.wait_with_output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    assert_eq!(w.up.seen()[0].target, "/v1/charges?limit=3");
}

/// The approval is a standard macaroon: pymacaroons verifies the discharge with the caveat
/// key sealed in the token's approval caveat (opened here with the proxy's key), and
/// refuses it with any other key.
#[test]
fn pymacaroons_verifies_the_approval_discharge_with_the_caveat_key() {
    use base64::Engine;
    if let Some(why) = e2e::missing_python(&["pymacaroons"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world();
    let op = mint(&w, &["--name", "alice", "--role", "approve"]);
    let token = agent(&w, "once");
    let held = send(&w, &token, "amount=5");
    let id = next_pending(&w, &op, &[])["id"].as_str().expect("id").to_string();
    api(
        &w,
        &op,
        "POST",
        &format!("/api/approvals/{id}/approve"),
        Some("{}"),
    );
    assert_eq!(held.join().expect("client").status, 200);
    // Used, and still shown to an approver.
    let discharge = json(&api(
        &w,
        &op,
        "GET",
        &format!("/api/approvals/{id}/discharge"),
        None,
    ))["discharge"]
        .as_str()
        .expect("the discharge")
        .to_string();
    let key = std::fs::read_to_string(w.s.home().join("proxy.key")).expect("proxy.key");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .expect("base64");
    let proxy = caveat::ProxyKeyPair::from_private_bytes(bytes.try_into().expect("32 bytes"));
    let t = caveat::Token::decode(&token).expect("token");
    let (_, caveat_id) = t
        .third_party_raw()
        .into_iter()
        .next()
        .expect("the approval caveat");
    let opened = caveat::ApprovalCaveat::open(&caveat_id, &[proxy]).expect("opens");
    let script = r#"
import sys
from pymacaroons import Macaroon, Verifier
d = Macaroon.deserialize(sys.argv[1])
v = Verifier()
v.satisfy_general(lambda caveat: True)
print(v.verify(d, bytes.fromhex(sys.argv[2])))
try:
    v.verify(d, bytes(32))
    print("accepted a wrong key")
except Exception:
    print("refused a wrong key")
"#;
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            &discharge,
            &opened.key.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        ])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "True\nrefused a wrong key\n"
    );
}

/// A proxy that stops answers every request it holds (503), rather than leaving agents
/// waiting on a connection that closes without a word; a client that hangs up leaves the
/// approval open.
#[test]
fn held_requests_get_503_when_the_proxy_stops_and_a_hang_up_leaves_the_approval_open() {
    let w = world();
    let op = mint(&w, &["--name", "alice", "--role", "approve"]);
    let token = agent(&w, "once");
    // A client that gives up after half a second.
    let url = format!("{}/v1/refunds", w.proxy.url());
    let r = curl(&[
        "-m",
        "0.5",
        "-X",
        "POST",
        &url,
        "-H",
        &bearer(&token),
        "-d",
        "amount=9",
    ]);
    assert_eq!(r.status, 0, "curl gave up");
    let gone = next_pending(&w, &op, &[]);
    let held = send(&w, &token, "amount=10");
    next_pending(&w, &op, &[gone["id"].as_str().expect("id").to_string()]);
    let list = json(&api(&w, &op, "GET", "/api/approvals", None));
    assert!(
        list.as_array()
            .into_iter()
            .flatten()
            .all(|a| a["state"] == "pending"),
        "{list}"
    );
    w.proxy.signal("TERM");
    let r = held.join().expect("client");
    assert_eq!((r.status, code(&r).as_str()), (503, "proxy_stopping"));
    assert!(w.up.seen().is_empty());
}

/// A new approval is announced to `--approval-webhook`, signed with the shared secret, and
/// retried when the receiver fails; the same request again joins it without a second
/// notice.
#[test]
fn a_new_approval_is_posted_to_the_webhook_signed_and_retried() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tmp");
    let secret = dir.path().join("webhook.secret");
    std::fs::write(&secret, "whsec_e2e_shared\n").expect("write");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("standins/webhook_receiver.py");
    let mut receiver = std::process::Command::new("python3")
        .arg(&script)
        .arg(&secret)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = std::io::BufReader::new(receiver.stdout.take().expect("stdout")).lines();
    let port = lines.next().expect("a line").expect("read");
    let port = port.strip_prefix("port ").expect("port line").to_string();
    let url = format!("http://127.0.0.1:{port}/hooks/approvals");
    let w = world_with(
        "bearer",
        &[
            "--approval-webhook",
            &url,
            "--approval-webhook-secret-file",
            &secret.display().to_string(),
            "--approval-wait",
            "1s",
        ],
    );
    let token = agent(&w, "once");
    let r = send(&w, &token, "amount=42").join().expect("client");
    assert_eq!(code(&r), "approval_pending");
    let notice: serde_json::Value =
        serde_json::from_str(&lines.next().expect("a notice").expect("read")).expect("json");
    let _ = receiver.kill();
    let _ = receiver.wait();
    assert!(notice.get("bad").is_none(), "{notice}");
    assert_eq!(
        notice["posts"], 2,
        "the first try failed (503) and was retried: {notice}"
    );
    let id = notice["approval"]["id"].as_str().expect("id");
    assert_eq!(notice["approval"]["body"], "amount=42");
    assert!(
        notice["text"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("approvals approve {id}")),
        "{notice}"
    );
    assert_eq!(
        notice["approve_url"],
        format!("http://{}/api/approvals/{id}/approve", w.proxy.admin)
    );
    assert!(notice["console_url"].as_str().unwrap_or_default().contains(id));
    assert!(!notice.to_string().contains(&token[..40]), "never the token");
}

/// With `--state`, approvals are shared: a request held on replica B is released by an
/// approval made through replica A, a window approved once lets requests through on both,
/// and with the store down a request that needs approval gets 503 while others flow.
#[test]
fn replicas_share_approvals_through_the_store() {
    let Some(mut redis) = e2e::redis::RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = crate::usage::replicas(&redis, &[]);
    let op = mint(&w, &["--name", "alice", "--role", "approve"]);
    let token = agent(&w, "10m");
    let on = |p: &e2e::ProxyProcess, body: &str| send_to(p, &token, body);
    // Held on B; A lists it and approves it.
    let held = on(&second, "amount=1");
    let a = next_pending(&w, &op, &[]);
    let id = a["id"].as_str().expect("id").to_string();
    approve(&w, &op, &id, "{}");
    let start = Instant::now();
    let r = held.join().expect("client");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    eprintln!("released on B {:?} after A approved", start.elapsed());
    // The window holds on both replicas.
    for p in [&w.proxy, &second] {
        assert_eq!(on(p, "amount=2").join().expect("client").status, 200);
    }
    // B's API shows the same decision.
    let url = format!("http://{}/api/approvals/{id}", second.admin);
    let seen = curl(&["-H", &bearer(&op), &url]);
    assert_eq!(
        json(&seen)["decided_by"],
        "alice",
        "{}",
        String::from_utf8_lossy(&seen.body)
    );
    // The store restarts empty: the replicas write back the decision and the window.
    redis.restart();
    let start = Instant::now();
    loop {
        let back = curl(&["-H", &bearer(&op), &url]);
        if back.status == 200 && json(&back)["decided_by"] == "alice" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the decision never came back: {}\n---\n{}",
            w.proxy.stderr(),
            second.stderr()
        );
        std::thread::yield_now();
    }
    assert_eq!(
        on(&second, "amount=5").join().expect("client").status,
        200,
        "the window survived the restart"
    );
    // The store down: a request that needs approval is refused (503), one that does not flows.
    redis.kill();
    let r = on(&w.proxy, "amount=3").join().expect("client");
    assert_eq!((r.status, code(&r).as_str()), (503, "state_unavailable"));
    let plain = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&w.token)]);
    assert_eq!(plain.status, 200);
    assert_eq!(w.up.seen().len(), 5);
}

/// The bound on open approvals per family holds across replicas: 32 open on A, the 33rd
/// asked through B is refused (429), and another family is not affected.
#[test]
fn the_bound_on_open_approvals_per_family_holds_across_replicas() {
    let Some(redis) = e2e::redis::RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = crate::usage::replicas(&redis, &["--approval-wait", "1s"]);
    let token = agent(&w, "once");
    let post = |p: &e2e::ProxyProcess, token: &str, body: String| send_to(p, token, &body);
    let first: Vec<_> = (0..32)
        .map(|n| post(&w.proxy, &token, format!("amount={n}")))
        .collect();
    for t in first {
        assert_eq!(code(&t.join().expect("client")), "approval_pending");
    }
    let r = post(&second, &token, "amount=99".into()).join().expect("client");
    assert_eq!((r.status, code(&r).as_str()), (429, "too_many_approvals"));
    // A token of another family (another root) still files its own.
    let other_root =
        w.s.run_stdin("macaroon", &["wrap", "other", "--host", HOST], SECRET)
            .ok()
            .out()
            .to_string();
    let other =
        w.s.run(
            "macaroon",
            &["attenuate", &other_root, "--expires", "1h", "--approval"],
        )
        .ok()
        .out()
        .to_string();
    let r = post(&second, &other, "amount=1".into()).join().expect("client");
    assert_eq!(code(&r), "approval_pending");
    assert!(w.up.seen().is_empty());
}
