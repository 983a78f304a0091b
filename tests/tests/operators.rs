//! Operator tokens and the admin API: only an operator token opens `/api/...`, each route
//! needs its role, a holder can narrow a token offline, changes are audited with the
//! operator's name, audit events stream live, and off loopback the API is TLS only.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::world::*;

use crate::world::{admin_api as api, json_of as json, operator_token as mint};

#[test]
fn only_an_operator_token_whose_role_covers_it_opens_the_api() {
    let w = world();
    let read = mint(&w, &["--name", "alice"]);
    let admin = mint(&w, &["--name", "root", "--role", "admin", "--expires", "1h"]);
    let mut seen = Vec::new();

    let none = api(&w, None, "GET", "/api/whoami", None);
    assert_eq!(none.status, 401);
    assert_eq!(json(&none)["error"]["code"], "no_token");
    assert!(json(&none)["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("operator mint"));
    assert!(none
        .headers
        .to_ascii_lowercase()
        .contains("www-authenticate: bearer"));
    // The agent's own token is no operator token.
    let agent = api(&w, Some(&w.token), "GET", "/api/whoami", None);
    assert_eq!(agent.status, 401, "{}", String::from_utf8_lossy(&agent.body));
    seen.extend([none, agent]);

    let who = api(&w, Some(&read), "GET", "/api/whoami", None);
    assert_eq!(who.status, 200);
    assert_eq!(json(&who)["operator"], "alice");
    assert_eq!(json(&who)["roles"], serde_json::json!(["read"]));
    assert!(json(&who)["expires"].is_string());
    let issuers = api(&w, Some(&read), "GET", "/api/issuers", None);
    assert_eq!(issuers.status, 200);
    assert_eq!(json(&issuers)[0]["name"], "local");

    // A key to trust: another home's issuer.
    let other = e2e::Session::new();
    let key = other.run("macaroon", &["issuer", "show"]).ok().out().to_string();
    let add = format!(r#"{{"key":"{key}","name":"bob-laptop"}}"#);
    let refused = api(&w, Some(&read), "POST", "/api/issuers", Some(&add));
    assert_eq!(refused.status, 403);
    assert_eq!(json(&refused)["error"]["code"], "forbidden");
    assert!(json(&refused)["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("admin role"));

    // An admin narrows their own token offline, for an auditor: read only.
    let auditor =
        w.s.run(
            "macaroon",
            &["attenuate", &admin, "--caveat", "role in read", "--expires", "1h"],
        )
        .ok()
        .out()
        .to_string();
    let inspect = w.s.run("macaroon", &["inspect", &auditor]).ok().stdout.clone();
    assert!(inspect.contains("operator token for root"), "{inspect}");
    assert!(inspect.contains("roles: read"), "{inspect}");
    assert_eq!(api(&w, Some(&auditor), "GET", "/api/tokens", None).status, 200);
    let narrowed = api(&w, Some(&auditor), "POST", "/api/issuers", Some(&add));
    assert_eq!(
        narrowed.status,
        403,
        "{}",
        String::from_utf8_lossy(&narrowed.body)
    );

    let added = api(&w, Some(&admin), "POST", "/api/issuers", Some(&add));
    assert_eq!(added.status, 201, "{}", String::from_utf8_lossy(&added.body));
    let listed = json(&api(&w, Some(&read), "GET", "/api/issuers", None));
    assert!(listed
        .as_array()
        .expect("list")
        .iter()
        .any(|i| i["key"] == key.as_str() && i["name"] == "bob-laptop"));
    let encoded = key.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
    let removed = api(
        &w,
        Some(&admin),
        "DELETE",
        &format!("/api/issuers/{encoded}"),
        None,
    );
    assert_eq!(removed.status, 200, "{}", String::from_utf8_lossy(&removed.body));

    // Expired (narrowed offline to the past), tampered, and unknown routes.
    let expired =
        w.s.run(
            "macaroon",
            &["attenuate", &admin, "--caveat", "time < 2020-01-01T00:00:00Z"],
        )
        .ok()
        .out()
        .to_string();
    let late = api(&w, Some(&expired), "GET", "/api/whoami", None);
    assert_eq!(late.status, 401);
    assert!(json(&late)["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("expired"));
    let forged =
        w.s.run("macaroon", &["attenuate", &read, "--caveat", "role in admin"])
            .ok()
            .out()
            .to_string();
    // A real narrowing cannot widen: still read only.
    assert_eq!(
        api(&w, Some(&forged), "POST", "/api/issuers", Some(&add)).status,
        403
    );
    // Operator caveats on an agent's token deny at the proxy, naming the caveat.
    let odd = w.narrow(&["--caveat", "operator = alice"]);
    let refused_upstream = curl(&["-H", &bearer(&odd), &format!("{}/v1/charges", w.proxy.url())]);
    assert_eq!(refused_upstream.status, 403);
    let why: serde_json::Value = serde_json::from_slice(&refused_upstream.body).expect("JSON");
    assert_eq!(why["error"]["caveat"], "operator = alice");
    assert!(why["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("an operator caveat on a request token"));
    let approvals = api(&w, Some(&admin), "GET", "/api/approvals", None);
    assert_eq!(approvals.status, 200);
    assert_eq!(json(&approvals), serde_json::json!([]));
    seen.extend([who, issuers, refused, narrowed, added, removed, late, approvals]);

    // Each change is an admin line naming the operator; refusals too.
    let audit = w.proxy.audit();
    let admin_lines: Vec<&serde_json::Value> = audit.iter().filter(|l| l["event"] == "admin").collect();
    let add_line = admin_lines
        .iter()
        .find(|l| l["action"] == "issuers.add")
        .expect("an issuers.add line");
    assert_eq!(add_line["operator"], "root");
    assert!(add_line["reason"].as_str().unwrap_or("").contains(&key));
    assert!(admin_lines
        .iter()
        .any(|l| l["action"] == "issuers.remove" && l["operator"] == "root"));
    assert!(admin_lines
        .iter()
        .any(|l| l["action"] == "refused" && l["operator"] == "alice" && l["status"] == 403));

    // No token text anywhere: responses, audit log, stderr.
    let log = std::fs::read_to_string(&w.proxy.audit_path).unwrap_or_default();
    let stderr = w.proxy.stderr();
    for t in [&read, &admin, &auditor, &expired, &forged, &w.token] {
        let part = &t[t.len() - 40..];
        for r in &seen {
            assert!(
                !String::from_utf8_lossy(&r.body).contains(part),
                "a token in a response"
            );
            assert!(!r.headers.contains(part), "a token in response headers");
        }
        assert!(!log.contains(part), "a token in the audit log");
        assert!(!stderr.contains(part), "a token on stderr");
    }
}

/// Reads from `stream` until `want` appears in what arrived (or 20 s pass): no sleeps.
fn read_until(stream: &mut std::net::TcpStream, got: &mut String, want: &dyn Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = [0u8; 8192];
    while !want(got) {
        assert!(Instant::now() < deadline, "not seen in 20 s; got:\n{got}");
        match stream.read(&mut buf) {
            Ok(0) => panic!("the stream ended; got:\n{got}"),
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn subscribe(w: &World, token: &str, query: &str) -> (std::net::TcpStream, String) {
    let mut s = std::net::TcpStream::connect(w.proxy.admin).expect("connect");
    write!(
        s,
        "GET /api/events{query} HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("send");
    let mut got = String::new();
    read_until(&mut s, &mut got, &|g| g.contains(": subscribed"));
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(
        got.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{got}"
    );
    (s, got)
}

#[test]
fn events_stream_a_denial_as_it_happens_and_tokens_show_the_family() {
    let w = world();
    let read = mint(&w, &["--name", "watcher"]);
    let (mut stream, mut got) = subscribe(&w, &read, "");
    let get_only = w.narrow(&["--method", "GET"]);
    let url = format!("{}/v1/operators-e2e", w.proxy.url());
    let denied = curl(&["-X", "POST", "-H", &bearer(&get_only), &url]);
    assert_eq!(denied.status, 403);
    let is_event = |g: &str| {
        g.lines().any(|l| {
            l.starts_with("data: ") && l.contains("/v1/operators-e2e") && l.contains("\"decision\":\"deny\"")
        })
    };
    read_until(&mut stream, &mut got, &is_event);
    let line = got
        .lines()
        .find(|l| l.starts_with("data: ") && l.contains("/v1/operators-e2e"))
        .expect("event");
    let event: serde_json::Value = serde_json::from_str(&line["data: ".len()..]).expect("JSON event");
    assert_eq!(event["status"], 403);
    let kid = event["kid"].as_str().expect("kid").to_string();

    // A later subscriber asks for the backlog and gets the same event first.
    let (mut again, mut got2) = subscribe(&w, &read, "?backlog=50");
    read_until(&mut again, &mut got2, &is_event);

    let tokens = curl(&[
        "-H",
        &bearer(&read),
        &format!("http://{}/api/tokens", w.proxy.admin),
    ]);
    assert_eq!(tokens.status, 200);
    let families: serde_json::Value = serde_json::from_slice(&tokens.body).expect("JSON");
    let f = families
        .as_array()
        .expect("array")
        .iter()
        .find(|f| f["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("family {kid} not in {families}"));
    assert!(f["denied"].as_u64().unwrap_or(0) >= 1);
    assert_eq!(f["last_decision"], "deny");
    assert_eq!(f["hosts"][0], HOST);
    let bad = curl(&[
        "-H",
        &bearer(&read),
        &format!("http://{}/api/events?backlog=99999", w.proxy.admin),
    ]);
    assert_eq!(bad.status, 400);
    for text in [&got, &got2] {
        assert!(
            !text.contains(&get_only[get_only.len() - 40..]),
            "a token in the event stream"
        );
        assert!(
            !text.contains(&read[read.len() - 40..]),
            "the operator token in the event stream"
        );
    }
}

#[test]
fn a_non_loopback_admin_listener_serves_only_tls() {
    let s = e2e::Session::new();
    let refused = s.run(
        "macaroon-proxy",
        &["run", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0"],
    );
    refused.code(2);
    assert!(refused.stderr.contains("--admin-name"), "{}", refused.stderr);
    assert!(refused.stderr.contains("cleartext"), "{}", refused.stderr);

    // An operator key others can read stops the proxy at start-up, like proxy.key.
    s.run("macaroon-proxy", &["operator", "mint", "--name", "carol"])
        .ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = s.home().join("operator.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let open = s.run(
            "macaroon-proxy",
            &["run", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
        );
        open.code(2);
        assert!(open.stderr.contains("operator.key"), "{}", open.stderr);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    let audit = s.home().join("audit.jsonl");
    let mut cmd = s.cmd("macaroon-proxy");
    cmd.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "0.0.0.0:0",
        "--admin-name",
        "localhost",
    ])
    .arg("--audit-log")
    .arg(&audit)
    .stdout(std::process::Stdio::null());
    let proxy = s.launch_proxy(cmd, audit);
    let token = s
        .run(
            "macaroon-proxy",
            &["operator", "mint", "--name", "carol", "--role", "approve"],
        )
        .ok()
        .out()
        .to_string();
    let url = format!("https://localhost:{}", proxy.admin.port());
    let mut who = s.cmd("macaroon-proxy");
    who.args(["operator", "whoami", "--admin-url", &url])
        .env("MACAROON_OPERATOR_TOKEN", &token);
    let run = e2e::Run::from(who.output().expect("whoami"));
    run.ok();
    assert!(
        run.out()
            .starts_with("operator carol; roles read, approve; expires 20"),
        "{}",
        run.out()
    );
    // The same from the token file, which must be private.
    let file = s.home().join("operator.token");
    std::fs::write(&file, &token).expect("token file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let open = s.run("macaroon-proxy", &["operator", "whoami", "--admin-url", &url]);
        open.code(2);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let json = s.run(
        "macaroon-proxy",
        &["operator", "whoami", "--json", "--admin-url", &url],
    );
    json.ok();
    let v: serde_json::Value = serde_json::from_str(json.out()).expect("json");
    assert_eq!(v["operator"], "carol");
    // Plain HTTP gets no answer from a TLS listener.
    let plain = curl(&[&format!("http://127.0.0.1:{}/api/whoami", proxy.admin.port())]);
    assert_ne!(plain.status, 200);
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
}

/// With `--state`, `/api/events` on any replica streams the whole team's events: a denial
/// made on replica B appears on replica A's stream, and a later subscriber to A gets it in
/// the backlog.
#[test]
fn with_state_every_replicas_events_reach_any_replicas_stream() {
    let Some(redis) = e2e::redis::RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = crate::usage::replicas(&redis, &[]);
    let read = mint(&w, &["--name", "watcher"]);
    let (mut stream, mut got) = subscribe(&w, &read, "");
    assert!(got.contains("the team's stream"), "{got}");
    let get_only = w.narrow(&["--method", "GET"]);
    let denied = curl(&[
        "-X",
        "POST",
        "-H",
        &bearer(&get_only),
        &format!("{}/v1/team-e2e", second.url()),
    ]);
    assert_eq!(denied.status, 403);
    let is_event = |g: &str| {
        g.lines()
            .any(|l| l.starts_with("data: ") && l.contains("/v1/team-e2e"))
    };
    read_until(&mut stream, &mut got, &is_event);
    let (mut again, mut got2) = subscribe(&w, &read, "?backlog=20");
    read_until(&mut again, &mut got2, &is_event);
    assert!(!got.contains(&get_only[..40]), "never the token");
}

/// `/api/tokens` (the console's Tokens view) shows how many each usage and rate caveat of a
/// family allows still, from the embedded store and from the shared one.
#[test]
fn tokens_show_what_the_limits_allow_still() {
    let check = |w: &World| {
        let read = mint(w, &["--name", "watcher"]);
        let t = w.narrow(&["--expires", "1h", "--uses", "3", "--rate", "10/1m"]);
        for _ in 0..2 {
            let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&t)]);
            assert_eq!(r.status, 200);
        }
        let tokens = api(w, Some(&read), "GET", "/api/tokens", None);
        let fam = &json(&tokens)[0];
        assert_eq!(fam["limits"][0]["caveat"], "uses <= 3", "{fam}");
        assert_eq!(fam["limits"][0]["left"], 1, "{fam}");
        assert_eq!(fam["limits"][1]["caveat"], "rate <= 10/1m", "{fam}");
        assert_eq!(fam["limits"][1]["left"], 8, "{fam}");
    };
    check(&world());
    if let Some(redis) = e2e::redis::RedisServer::start_or_skip() {
        let (w, _second) = crate::usage::replicas(&redis, &[]);
        check(&w);
    }
}

/// An operator key made in a home no proxy runs with (a mistyped `MACAROON_HOME`) says
/// so: tokens under it open no running proxy. A proxy's home gets no such note.
#[test]
fn minting_in_a_home_without_a_proxy_key_says_so() {
    let s = e2e::Session::new();
    let run = s.run("macaroon-proxy", &["operator", "mint", "--name", "carol"]);
    run.ok();
    assert!(
        run.stderr.contains("created the operator key") && run.stderr.contains("has no proxy key"),
        "{}",
        run.stderr
    );
    let s = e2e::Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let run = s.run("macaroon-proxy", &["operator", "mint", "--name", "carol"]);
    run.ok();
    assert!(run.stderr.contains("created the operator key"), "{}", run.stderr);
    assert!(!run.stderr.contains("has no proxy key"), "{}", run.stderr);
}
