//! Usage and rate caveats: counted exactly, after every other check, in the process or
//! across replicas sharing a real `redis-server`; revocations shared through it; an
//! outage refuses only the requests that need counting.

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::redis::RedisServer;
use e2e::{ProxyProcess, Session};

use crate::world::{bearer, curl, world, world_with, World, HOST, OTHER, SECRET};

/// `n` requests for `/v1/charges` with `token`, sent by one curl at up to `parallel` at a
/// time; returns each status.
fn burst(proxy: &ProxyProcess, token: &str, n: usize, parallel: usize) -> Vec<u16> {
    let url = format!("{}/v1/charges", proxy.url());
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "60", "-Z", "--parallel-max"])
        .arg(parallel.to_string())
        .args(["-H", &bearer(token), "-w", "%{http_code}\\n"]);
    for _ in 0..n {
        cmd.args(["-o", "/dev/null", &url]);
    }
    let out = cmd.output().expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// A world whose proxy shares `redis`, and a second replica of it (same home, keys and
/// issuers; the same shared store).
pub(crate) fn replicas(redis: &RedisServer, extra: &[&str]) -> (World, ProxyProcess) {
    let url = redis.url();
    let mut flags = vec!["--state", url.as_str()];
    flags.extend_from_slice(extra);
    let w = world_with("bearer", &flags);
    let second = w.s.start_proxy(&w.up, &[HOST, OTHER], &flags);
    (w, second)
}

#[test]
fn uses_hold_exactly_across_two_replicas_under_concurrency() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = replicas(&redis, &[]);
    let token = w.narrow(&["--uses", "20", "--expires", "10m"]);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| burst(&w.proxy, &token, 100, 50));
        let b = s.spawn(|| burst(&second, &token, 100, 50));
        (a.join().expect("a"), b.join().expect("b"))
    });
    let all: Vec<u16> = a.iter().chain(&b).copied().collect();
    eprintln!(
        "uses <= 20 across 2 replicas: {} allowed ({} on one, {} on the other), {} refused with 429",
        count(&all, 200),
        count(&a, 200),
        count(&b, 200),
        count(&all, 429)
    );
    assert_eq!(all.len(), 200, "{all:?}");
    assert_eq!(count(&all, 200), 20, "{all:?}");
    assert_eq!(count(&all, 429), 180, "{all:?}");
    assert_eq!(
        w.up.seen().len(),
        20,
        "exactly the allowed requests reached the upstream"
    );
    // The next one is refused with the caveat named; spent uses never come back, so
    // there is no Retry-After to wait for.
    let r = curl(&[&format!("{}/v1/charges", second.url()), "-H", &bearer(&token)]);
    assert_eq!(r.status, 429);
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["error"]["code"], "usage_exhausted", "{body}");
    assert_eq!(body["error"]["caveat"], "uses <= 20", "{body}");
    assert!(
        !r.headers.to_ascii_lowercase().contains("retry-after"),
        "{}",
        r.headers
    );
    w.assert_clean(20);
}

#[test]
fn a_rate_holds_across_replicas_with_retry_after() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = replicas(&redis, &[]);
    let token = w.narrow(&["--rate", "5/1m", "--expires", "10m"]);
    let mut statuses = Vec::new();
    let mut last = None;
    for i in 0..12 {
        let p = if i % 2 == 0 { &w.proxy } else { &second };
        let r = curl(&[&format!("{}/v1/charges", p.url()), "-H", &bearer(&token)]);
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(count(&statuses, 200), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 7, "{statuses:?}");
    assert_eq!(
        &statuses[..5],
        &[200; 5],
        "the first five are allowed: {statuses:?}"
    );
    let r = last.expect("a reply");
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["caveat"], "rate <= 5/1m", "{body}");
    let retry: u64 = r
        .headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {}", r.headers));
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(w.up.seen().len(), 5);
}

#[test]
fn a_revocation_in_the_store_reaches_every_replica_within_a_second() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = replicas(&redis, &[]);
    let token = w.narrow(&["--expires", "10m"]);
    for p in [&w.proxy, &second] {
        let r = curl(&[&format!("{}/v1/charges", p.url()), "-H", &bearer(&token)]);
        assert_eq!(r.status, 200);
    }
    // Revoke from another machine's home: only the proxy key, so only the store carries it.
    let operator = Session::new();
    for f in ["proxy.key", "proxy.pub"] {
        std::fs::copy(w.s.home().join(f), operator.home().join(f)).expect("copy key");
    }
    operator
        .run("macaroon-proxy", &["revoke", "--state", &redis.url(), &token])
        .ok();
    let revoked_at = Instant::now();
    let mut seen_by = Vec::new();
    for p in [&second, &w.proxy] {
        loop {
            let r = curl(&[&format!("{}/v1/charges", p.url()), "-H", &bearer(&token)]);
            if r.status == 403 {
                let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
                assert_eq!(body["error"]["code"], "revoked", "{body}");
                break;
            }
            assert_eq!(r.status, 200);
            assert!(revoked_at.elapsed() < Duration::from_secs(5), "never refused");
        }
        seen_by.push(revoked_at.elapsed());
    }
    eprintln!("revocation seen by both replicas after {seen_by:?}");
    assert!(
        seen_by.iter().all(|d| *d <= Duration::from_secs(1)),
        "{seen_by:?}"
    );
    // The home's own file was not touched: the store alone did it.
    assert!(!w.s.home().join("revoked").exists());
    // verify reads the same store when told to, and says when it cannot.
    let url = format!("https://{HOST}/v1/charges");
    let dry = |extra: &[&str]| {
        let mut args = vec!["verify", token.as_str(), "--method", "GET", "--url", url.as_str()];
        args.extend_from_slice(extra);
        w.s.run("macaroon", &args)
    };
    dry(&[]).ok();
    let v = dry(&["--state", &redis.url()]);
    v.code(1);
    assert!(v.stderr.contains("revoked"), "{}", v.stderr);
    let v = dry(&["--state", "redis://127.0.0.1:1/0"]);
    v.code(1);
    assert!(
        v.stderr.contains("cannot reach the --state store"),
        "{}",
        v.stderr
    );
}

#[test]
fn a_store_outage_refuses_only_counted_tokens_and_recovers_without_a_restart() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = replicas(&redis, &[]);
    let counted = w.narrow(&["--uses", "1000", "--expires", "10m"]);
    let plain = w.narrow(&["--expires", "10m"]);
    let before = burst(&w.proxy, &counted, 10, 4);
    assert_eq!(count(&before, 200), 10, "{before:?}");
    // Every forwarded request was counted: the store holds 10.
    let keys = redis.cli(&["--scan", "--pattern", "macaroon:limit:*"]);
    let key = keys.lines().next().expect("a counter key");
    assert_eq!(redis.cli(&["GET", key]), "10");

    // Killed in the middle of a load of counted requests: each one either went through
    // (counted before the kill) or got 503; none is forwarded without a count.
    let mid = std::thread::scope(|s| {
        let load = s.spawn(|| burst(&second, &counted, 100, 2));
        let started = Instant::now();
        while w.up.seen().len() < 15 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the load never started"
            );
            std::thread::yield_now();
        }
        redis.kill();
        load.join().expect("load")
    });
    let passed = count(&mid, 200);
    eprintln!(
        "killed mid-load: {passed} forwarded before the kill, {} refused with 503",
        count(&mid, 503)
    );
    assert_eq!(passed + count(&mid, 503), 100, "only 200 or 503: {mid:?}");
    assert!(count(&mid, 503) > 0, "the kill came too late to matter: {mid:?}");
    assert_eq!(
        w.up.seen().len(),
        10 + passed,
        "nothing was forwarded without a reply"
    );
    let during = burst(&second, &counted, 10, 4);
    assert_eq!(count(&during, 503), 10, "{during:?}");
    let r = curl(&[&format!("{}/v1/charges", second.url()), "-H", &bearer(&counted)]);
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["error"]["code"], "state_unavailable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.1"),
        "{body}"
    );
    assert_eq!(w.up.seen().len(), 10 + passed, "nothing was forwarded uncounted");
    let flowing = burst(&second, &plain, 5, 4);
    assert_eq!(
        count(&flowing, 200),
        5,
        "tokens without counts keep flowing: {flowing:?}"
    );
    let health = curl(&[&format!("http://{}/healthz", second.admin)]);
    let text = String::from_utf8_lossy(&health.body).to_string();
    assert_eq!(health.status, 200);
    assert!(
        text.starts_with("degraded") && text.contains("UNREACHABLE"),
        "{text}"
    );
    let metrics =
        String::from_utf8_lossy(&curl(&[&format!("http://{}/metrics", second.admin)]).body).to_string();
    assert!(metrics.contains("macaroon_state_up 0"), "{metrics}");

    redis.restart();
    let back = Instant::now();
    loop {
        let r = curl(&[&format!("{}/v1/charges", second.url()), "-H", &bearer(&counted)]);
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503);
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "the proxy did not reconnect"
        );
    }
    eprintln!(
        "counted requests flow again {:?} after the store came back",
        back.elapsed()
    );
    let health = curl(&[&format!("http://{}/healthz", second.admin)]);
    assert!(String::from_utf8_lossy(&health.body).starts_with("ok"));
    w.assert_clean(16 + passed);
}

#[test]
fn the_embedded_store_counts_only_requests_every_other_check_allowed() {
    let w = world();
    let token = w.narrow(&["--uses", "3", "--method", "GET", "--expires", "10m"]);
    let url = format!("{}/v1/charges", w.proxy.url());
    // Refused for another reason first: a POST, and a tampered copy. Neither spends a use.
    let post = curl(&[&url, "-X", "POST", "-H", &bearer(&token)]);
    assert_eq!(post.status, 403);
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert_eq!(curl(&[&url, "-H", &bearer(&tampered)]).status, 401);
    let statuses = burst(&w.proxy, &token, 5, 1);
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    // A token narrowed from it shares its count: it cannot start again from zero.
    let child =
        w.s.run("macaroon", &["attenuate", &token, "--path", "/v1"])
            .ok()
            .out()
            .to_string();
    assert_eq!(curl(&[&url, "-H", &bearer(&child)]).status, 429);
    // Tokens without counts are never affected.
    assert_eq!(curl(&[&url, "-H", &bearer(&w.token)]).status, 200);
    let audit = w.proxy.audit();
    let limited: Vec<_> = audit.iter().filter(|l| l["status"] == 429).collect();
    assert_eq!(limited.len(), 3);
    assert!(limited.iter().all(|l| l["decision"] == "deny"));
    w.assert_clean(4);
}

#[test]
fn the_cli_writes_explains_and_shows_limits_without_counting() {
    let w = world();
    let token = w.narrow(&["--uses", "20", "--rate", "60/1m", "--expires", "10m"]);
    let inspect =
        w.s.run("macaroon", &["inspect", &token, "--json"])
            .ok()
            .out()
            .to_string();
    let doc: serde_json::Value = serde_json::from_str(&inspect).expect("json");
    let caveats = doc["caveats"].as_array().expect("caveats");
    let find = |kind: &str| caveats.iter().find(|c| c["kind"] == kind).cloned().expect(kind);
    assert_eq!(find("uses")["predicate"], "uses <= 20");
    assert_eq!(find("uses")["explain"], "at most 20 uses in total");
    assert_eq!(find("rate")["predicate"], "rate <= 60/1m");
    assert_eq!(find("rate")["explain"], "at most 60 per minute");
    let table = w.s.run("macaroon", &["inspect", &token]).ok().out().to_string();
    assert!(table.contains("at most 60 per minute"), "{table}");
    // verify is a dry run: it allows, says what it did not count, and counts nothing.
    for _ in 0..3 {
        let v = w.s.run(
            "macaroon",
            &[
                "verify",
                &token,
                "--method",
                "GET",
                "--url",
                &format!("https://{HOST}/v1/charges"),
            ],
        );
        v.ok();
        assert!(v.stderr.contains("not counted here: uses <= 20"), "{}", v.stderr);
    }
    let json = w.s.run(
        "macaroon",
        &[
            "verify",
            &token,
            "--method",
            "GET",
            "--url",
            &format!("https://{HOST}/v1/charges"),
            "--json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(json.ok().out()).expect("json");
    assert_eq!(doc["not_counted"][1]["predicate"], "rate <= 60/1m", "{doc}");
    // Typos are errors that say what to write.
    let bad = w.s.run("macaroon", &["attenuate", "api", "--rate", "60/minute"]);
    bad.code(2);
    assert!(
        bad.stderr.contains("--rate") && bad.stderr.contains("60/1m"),
        "{}",
        bad.stderr
    );
    let bad = w.s.run("macaroon", &["attenuate", "api", "--uses", "0"]);
    bad.code(2);
    assert!(bad.stderr.contains("--uses"), "{}", bad.stderr);
    assert!(!w.s.run("macaroon", &["inspect", &token]).stderr.contains(SECRET));
}

/// The counter key the store holds (there is one).
fn only_counter(redis: &RedisServer) -> String {
    let keys = redis.cli(&["--scan", "--pattern", "macaroon:limit:*"]);
    let mut keys = keys.lines();
    let key = keys.next().expect("a counter key").to_string();
    assert!(keys.next().is_none(), "one counter");
    key
}

#[test]
fn a_short_lived_child_never_shortens_its_familys_count() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let url = redis.url();
    let w = world_with("bearer", &["--state", &url]);
    // The flags in any order: attenuate writes the time before the count.
    let parent = w.narrow(&["--uses", "3", "--expires", "10m"]);
    let child =
        w.s.run("macaroon", &["attenuate", &parent, "--expires", "3s"])
            .ok()
            .out()
            .to_string();
    let charges = format!("{}/v1/charges", w.proxy.url());
    assert_eq!(curl(&[&charges, "-H", &bearer(&child)]).status, 200);
    // The count lives as long as the parent (10 minutes and a margin), not the child.
    let key = only_counter(&redis);
    let ttl = |redis: &RedisServer| redis.cli(&["PTTL", &key]).parse::<i64>().expect("ttl");
    let after_child = ttl(&redis);
    assert!(after_child > 590_000, "the count lives {after_child} ms");
    assert_eq!(curl(&[&charges, "-H", &bearer(&parent)]).status, 200);
    assert_eq!(curl(&[&charges, "-H", &bearer(&child)]).status, 200);
    assert!(ttl(&redis) > 590_000);
    // Three uses in all, by the family: the next is refused, parent or child.
    assert_eq!(curl(&[&charges, "-H", &bearer(&parent)]).status, 429);
    assert_eq!(curl(&[&charges, "-H", &bearer(&child)]).status, 429);
    assert_eq!(redis.cli(&["GET", &key]), "3");
    w.assert_clean(3);
}

/// `token` with one more first-party caveat, added by pymacaroons (our CLI refuses to).
fn with_caveat_by_pymacaroons(token: &str, caveat: &str) -> Option<String> {
    if let Some(why) = e2e::missing_python(&["pymacaroons"]) {
        e2e::skip_or_fail(why);
        return None;
    }
    let script = "import sys\nfrom pymacaroons import Macaroon\n\
        m = Macaroon.deserialize(sys.argv[1])\nm.add_first_party_caveat(sys.argv[2])\n\
        print(m.serialize())";
    let out = Command::new("python3")
        .args(["-c", script, token, caveat])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn a_ninth_counted_caveat_is_refused_by_attenuate_exec_verify_and_the_proxy() {
    let w = world();
    let mut token = w.narrow(&["--uses", "100", "--expires", "10m"]);
    for i in 2..=8 {
        let flag = if i % 2 == 0 { "--rate" } else { "--uses" };
        let value = if i % 2 == 0 {
            format!("{i}/1m")
        } else {
            i.to_string()
        };
        token =
            w.s.run("macaroon", &["attenuate", &token, flag, &value])
                .ok()
                .out()
                .to_string();
    }
    let charges = format!("{}/v1/charges", w.proxy.url());
    assert_eq!(curl(&[&charges, "-H", &bearer(&token)]).status, 200);
    // A ninth: attenuate and exec (which narrow the same way) refuse, saying why.
    let ninth = w.s.run("macaroon", &["attenuate", &token, "--uses", "5"]);
    ninth.code(2);
    assert!(
        ninth.stderr.contains("at most 8") && ninth.stderr.contains("usage and rate caveats"),
        "{}",
        ninth.stderr
    );
    let exec = w.s.run(
        "macaroon",
        &[
            "exec",
            "--token",
            &token,
            "--rate",
            "1/1s",
            "--proxy",
            &w.proxy.url(),
            "--",
            "true",
        ],
    );
    exec.code(2);
    assert!(exec.stderr.contains("at most 8"), "{}", exec.stderr);
    // Any other tool can still add one: the proxy refuses it before counting anything.
    let Some(nine) = with_caveat_by_pymacaroons(&token, "rate <= 9/1m") else {
        return;
    };
    let r = curl(&[&charges, "-H", &bearer(&nine)]);
    assert_eq!(r.status, 403);
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["error"]["code"], "too_many_limits", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 8"),
        "{body}"
    );
    let v = w.s.run(
        "macaroon",
        &[
            "verify",
            &nine,
            "--method",
            "GET",
            "--url",
            &format!("https://{HOST}/v1/charges"),
        ],
    );
    v.code(1);
    assert!(v.stderr.contains("at most 8"), "{}", v.stderr);
    // The refused request spent nothing: `rate <= 2/1m` still allows one more.
    assert_eq!(curl(&[&charges, "-H", &bearer(&token)]).status, 200);
    assert_eq!(curl(&[&charges, "-H", &bearer(&token)]).status, 429);
    w.assert_clean(2);
}

#[test]
fn a_request_refused_on_its_way_upstream_never_spends_a_count() {
    // A SigV4 credential for S3, and a request it cannot sign (chunk-signed streaming):
    // it passes every check of the token, then is refused when the request is built.
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let keys = r#"{"access_key_id":"AKIAMACAROONE2E7EXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYMACAROONKEY"}"#;
    s.run_stdin(
        "macaroon",
        &["wrap", "api", "--host", HOST, "--inject", "sigv4:us-east-1:s3"],
        keys,
    )
    .ok();
    let up = e2e::upstream::Upstream::start_with("127.0.0.1:0", &[HOST], Default::default());
    let proxy = s.start_proxy(&up, &[HOST], &[]);
    let token = s
        .run(
            "macaroon",
            &["attenuate", "api", "--uses", "1", "--expires", "10m"],
        )
        .ok()
        .out()
        .to_string();
    let object = format!("{}/bucket/key", proxy.url());
    for _ in 0..3 {
        let r = curl(&[
            &object,
            "-H",
            &bearer(&token),
            "-H",
            "x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        ]);
        assert_eq!(r.status, 400);
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["error"]["code"], "unsignable_request", "{body}");
    }
    // Its one use is still there.
    assert_eq!(curl(&[&object, "-H", &bearer(&token)]).status, 200);
    assert_eq!(curl(&[&object, "-H", &bearer(&token)]).status, 429);
    assert_eq!(up.seen().len(), 1);
}

#[test]
fn a_revocation_survives_a_store_restart_without_persistence() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = replicas(&redis, &[]);
    let token = w.narrow(&["--expires", "10m"]);
    let charges =
        |p: &ProxyProcess| curl(&[&format!("{}/v1/charges", p.url()), "-H", &bearer(&token)]).status;
    let operator = Session::new();
    for f in ["proxy.key", "proxy.pub"] {
        std::fs::copy(w.s.home().join(f), operator.home().join(f)).expect("copy key");
    }
    operator
        .run("macaroon-proxy", &["revoke", "--state", &redis.url(), &token])
        .ok();
    let started = Instant::now();
    while charges(&w.proxy) != 403 || charges(&second) != 403 {
        assert!(started.elapsed() < Duration::from_secs(5), "never refused");
    }
    // The store restarts with nothing in it. The replicas keep refusing the token all
    // along, and write the revocation back.
    redis.restart();
    let back = Instant::now();
    loop {
        assert_eq!(charges(&w.proxy), 403, "a replica un-revoked the token");
        assert_eq!(charges(&second), 403, "a replica un-revoked the token");
        if redis.cli(&["SCARD", "macaroon:revoked"]) == "1" {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(10), "never written back");
    }
    eprintln!(
        "the revocation was back in the store {:?} after it restarted",
        back.elapsed()
    );
    for p in [&w.proxy, &second] {
        assert_eq!(charges(p), 403);
    }
    // /healthz says what happened.
    let started = Instant::now();
    loop {
        let health = curl(&[&format!("http://{}/healthz", second.admin)]);
        let text = String::from_utf8_lossy(&health.body).to_string();
        if text.contains("came back empty") {
            assert!(text.starts_with("ok"), "{text}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{text}");
    }
    // A replica started now learns it from the store.
    let third = w.s.start_proxy(&w.up, &[HOST, OTHER], &["--state", &redis.url()]);
    let started = Instant::now();
    while charges(&third) != 403 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the new replica never refused"
        );
    }
}

#[test]
fn the_store_password_comes_from_a_file_or_the_environment_and_never_shows() {
    const PASSWORD: &str = "redis-e2e-Pa55word-9f2c";
    let redis = match RedisServer::start_with(&["--requirepass", PASSWORD]) {
        Ok(r) => r,
        Err(why) => return e2e::skip_or_fail(why),
    };
    let s = Session::new();
    let file = s.home().join("state-password");
    std::fs::write(&file, format!("{PASSWORD}\n")).expect("write");
    let file = file.display().to_string();
    let w = world_with(
        "bearer",
        &["--state", &redis.url(), "--state-password-file", &file],
    );
    let counted = w.narrow(&["--uses", "5", "--expires", "10m"]);
    let charges = format!("{}/v1/charges", w.proxy.url());
    assert_eq!(curl(&[&charges, "-H", &bearer(&counted)]).status, 200);
    let keys = redis.cli(&[
        "-a",
        PASSWORD,
        "--no-auth-warning",
        "--scan",
        "--pattern",
        "macaroon:limit:*",
    ]);
    assert_eq!(keys.lines().count(), 1, "{keys}");
    // `revoke` takes it from the environment.
    let mut revoke = w.s.cmd("macaroon-proxy");
    revoke
        .args(["revoke", "--state", &redis.url(), &counted])
        .env("MACAROON_STATE_PASSWORD", PASSWORD);
    let run = e2e::Run::from(revoke.output().expect("revoke"));
    run.ok();
    assert_eq!(
        redis.cli(&["-a", PASSWORD, "--no-auth-warning", "SCARD", "macaroon:revoked"]),
        "1"
    );
    // A wrong password: the proxy refuses counted requests with 503, naming the store,
    // and the password appears nowhere.
    let wrong = s.home().join("wrong-password");
    std::fs::write(&wrong, "not-the-password").expect("write");
    let wrong = wrong.display().to_string();
    let bad = w.s.start_proxy(
        &w.up,
        &[HOST],
        &["--state", &redis.url(), "--state-password-file", &wrong],
    );
    // Another family (the first is revoked now).
    w.s.run_stdin(
        "macaroon",
        &["wrap", "api2", "--host", HOST, "--inject", "bearer"],
        SECRET,
    )
    .ok();
    let other =
        w.s.run(
            "macaroon",
            &["attenuate", "api2", "--uses", "5", "--expires", "10m"],
        )
        .ok()
        .out()
        .to_string();
    let r = curl(&[&format!("{}/v1/charges", bad.url()), "-H", &bearer(&other)]);
    assert_eq!(r.status, 503);
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert!(body.contains("state_unavailable"), "{body}");
    for text in [&body, &bad.stderr(), &w.proxy.stderr(), &run.stderr, &run.stdout] {
        assert!(
            !text.contains(PASSWORD) && !text.contains("not-the-password"),
            "{text}"
        );
    }
    for p in [&w.proxy, &bad] {
        let audit = std::fs::read_to_string(&p.audit_path).unwrap_or_default();
        assert!(!audit.contains(PASSWORD) && !audit.contains("not-the-password"));
    }
}

#[test]
fn after_a_store_restart_no_counted_request_fails_on_a_stale_connection() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    let w = world_with("bearer", &["--state", &redis.url()]);
    let counted = w.narrow(&["--uses", "1000", "--expires", "10m"]);
    // Enough requests, a few at a time, for every worker to have its connection.
    let before = burst(&w.proxy, &counted, 40, 8);
    assert_eq!(count(&before, 200), 40, "{before:?}");
    redis.restart();
    // Once the replica has seen the store again (its health says so)...
    let back = Instant::now();
    loop {
        let health = curl(&[&format!("http://{}/healthz", w.proxy.admin)]);
        if String::from_utf8_lossy(&health.body).starts_with("ok") {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "the store never came back"
        );
    }
    // ...every counted request goes through: none fails on a connection the restart broke.
    let after = burst(&w.proxy, &counted, 40, 8);
    assert_eq!(count(&after, 200), 40, "{after:?}");
}
