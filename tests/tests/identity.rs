//! Who did what: every audit line names the issuer (the teammate who wrapped the key) and
//! the labels (the agents that narrowed it); a teammate on another machine wraps for this
//! proxy with `key show`; revocation takes one agent's branch and leaves its siblings.

use std::time::{Duration, Instant};

use e2e::redis::RedisServer;
use e2e::Session;

use crate::world::{bearer, curl, world, World, HOST, SECRET};

fn charges(w: &World, token: &str) -> u16 {
    curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(token)]).status
}

/// Polls until `token` gets `want` (revocation lists are re-read within a second).
fn until(w: &World, token: &str, want: u16) {
    let start = Instant::now();
    loop {
        let got = charges(w, token);
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still {got}, want {want}"
        );
        std::thread::yield_now();
    }
}

fn attenuate(w: &World, token: &str, flags: &[&str]) -> String {
    let mut args = vec!["attenuate", token];
    args.extend_from_slice(flags);
    w.s.run("macaroon", &args).ok().out().to_string()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn labels_and_the_issuer_name_travel_into_the_audit_line_inspect_and_verify() {
    let w = world();
    let ops = w.narrow(&["--label", "ops", "--expires", "1h"]);
    let skill = attenuate(&w, &ops, &["--label", "billing-skill", "--method", "GET"]);
    assert_eq!(charges(&w, &skill), 200);
    let last = w.proxy.audit().pop().expect("an audit line");
    assert_eq!(
        last["labels"],
        serde_json::json!(["ops", "billing-skill"]),
        "{last}"
    );
    assert_eq!(last["issuer"], "local", "{last}");
    // The family maps back to the stored root: list and inspect show the same kid.
    let kid = last["kid"].as_str().expect("kid").to_string();
    let list = json(w.s.run("macaroon", &["list", "--json"]).ok().out());
    assert_eq!(list[0]["kid"], kid.as_str(), "{list}");
    assert_eq!(list[0]["issuer"], "local", "{list}");
    assert_eq!(list[0]["revoked"], false, "{list}");
    let inspect = json(w.s.run("macaroon", &["inspect", &skill, "--json"]).ok().out());
    assert_eq!(inspect["kid"], kid.as_str(), "{inspect}");
    assert_eq!(inspect["family"], "api", "{inspect}");
    assert_eq!(inspect["labels"], serde_json::json!(["ops", "billing-skill"]));
    let table = w.s.run("macaroon", &["inspect", &skill]).ok().out().to_string();
    assert!(table.contains("ops > billing-skill"), "{table}");
    let url = format!("https://{HOST}/v1/charges");
    let verify = w.s.run(
        "macaroon",
        &["verify", &skill, "--method", "GET", "--url", &url, "--json"],
    );
    assert_eq!(
        json(verify.ok().out())["labels"],
        serde_json::json!(["ops", "billing-skill"])
    );
    // A denial names them too; a label is strictly spelled.
    let r = curl(&[
        "-X",
        "POST",
        &format!("{}/v1/charges", w.proxy.url()),
        "-H",
        &bearer(&skill),
    ]);
    assert_eq!(r.status, 403);
    let last = w.proxy.audit().pop().expect("an audit line");
    assert_eq!(
        (last["decision"].as_str(), last["labels"][1].as_str()),
        (Some("deny"), Some("billing-skill"))
    );
    let run =
        w.s.run("macaroon", &["attenuate", "api", "--label", "Billing Skill"]);
    run.code(2);
    assert!(
        run.stderr.contains("--label") && run.stderr.contains("lower-case"),
        "{}",
        run.stderr
    );
}

/// `exec` labels the command's token with its base name unless told otherwise.
#[test]
fn exec_labels_the_token_with_the_commands_name() {
    let w = world();
    let script = format!(
        "curl -sS -o /dev/null -w '%{{http_code}}' {}/v1/charges -H \"Authorization: Bearer $MACAROON_TOKEN\"",
        w.proxy.url()
    );
    let proxy = w.proxy.url();
    let run = w.s.run(
        "macaroon",
        &[
            "exec",
            "--no-isolate",
            "--proxy",
            &proxy,
            "--token",
            "api",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(run.ok().out(), "200");
    assert_eq!(
        w.proxy.audit().pop().expect("line")["labels"],
        serde_json::json!(["sh"])
    );
    let run = w.s.run(
        "macaroon",
        &[
            "exec",
            "--no-isolate",
            "--proxy",
            &proxy,
            "--token",
            "api",
            "--label",
            "nightly-report",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(run.ok().out(), "200");
    assert_eq!(
        w.proxy.audit().pop().expect("line")["labels"],
        serde_json::json!(["nightly-report"])
    );
}

/// The two-machine flow of docs/teams.md: B shows its issuer key, A trusts it by name, A
/// gives B its proxy key, B wraps, and B's token works on A's proxy with B's name in the
/// audit. A token B sealed to another proxy key is refused with the way to fix it.
#[test]
fn a_teammates_token_works_on_this_proxy_with_key_show_and_issuers_add_name() {
    let a = world();
    let b = Session::new();
    // Before: B wraps against its own proxy key; A cannot open it, and says how to fix it.
    b.run("macaroon-proxy", &["keygen"]).ok();
    let wrong = b
        .run_stdin(
            "macaroon",
            &["wrap", "stripe", "--host", HOST, "--no-store"],
            SECRET,
        )
        .ok()
        .out()
        .to_string();
    let r = curl(&[&format!("{}/v1/charges", a.proxy.url()), "-H", &bearer(&wrong)]);
    assert_eq!(r.status, 401);
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert!(
        body.contains("macaroon-proxy key show") && body.contains("--proxy-key"),
        "{body}"
    );

    let b_issuer = b
        .run("macaroon", &["issuer", "show"])
        .ok()
        .out()
        .trim()
        .to_string();
    a.s.run("macaroon-proxy", &["issuers", "add", &b_issuer, "--name", "bob"])
        .ok();
    let shown = a.s.run("macaroon-proxy", &["key", "show"]);
    shown.ok();
    let proxy_key = shown.out().trim().to_string();
    assert_eq!(
        proxy_key,
        std::fs::read_to_string(a.s.home().join("proxy.pub"))
            .expect("pub")
            .trim()
    );
    assert!(
        shown.stderr.contains("--proxy-key") && shown.stderr.contains("issuers add"),
        "{}",
        shown.stderr
    );
    let token = b
        .run_stdin(
            "macaroon",
            &["wrap", "stripe", "--host", HOST, "--proxy-key", &proxy_key],
            SECRET,
        )
        .ok()
        .out()
        .to_string();
    let agent = b
        .run(
            "macaroon",
            &["attenuate", "stripe", "--expires", "10m", "--label", "bob-agent"],
        )
        .ok()
        .out()
        .to_string();
    assert_ne!(token, agent);
    until(&a, &agent, 200);
    let last = a.proxy.audit().pop().expect("line");
    assert_eq!(
        (last["issuer"].as_str(), last["labels"][0].as_str()),
        (Some("bob"), Some("bob-agent")),
        "{last}"
    );
    let list =
        a.s.run("macaroon-proxy", &["issuers", "list"])
            .ok()
            .out()
            .to_string();
    assert!(
        list.contains(&format!("{b_issuer}  # bob")) && list.contains("# local"),
        "{list}"
    );
    // --note stays an alias; removing the issuer refuses everything it wrapped.
    a.s.run("macaroon-proxy", &["issuers", "rm", &b_issuer]).ok();
    until(&a, &agent, 401);
    a.s.run(
        "macaroon-proxy",
        &["issuers", "add", &b_issuer, "--note", "bob again"],
    )
    .ok();
    until(&a, &agent, 200);
    assert_eq!(a.proxy.audit().pop().expect("line")["issuer"], "bob again");
    renaming_an_issuer_shows_in_the_list_and_the_audit(&a, &b_issuer, &agent);
}

/// Adding a trusted key again renames it when given a name, and says so; without one, it
/// changes nothing and says what the name is. The running proxy's audit lines follow.
fn renaming_an_issuer_shows_in_the_list_and_the_audit(a: &World, b_issuer: &str, agent: &str) {
    let run = a.s.run(
        "macaroon-proxy",
        &["issuers", "add", b_issuer, "--name", "robert"],
    );
    run.ok();
    assert!(
        run.stderr
            .contains("was trusted as \"bob again\"; it is \"robert\" now"),
        "{}",
        run.stderr
    );
    let run = a.s.run("macaroon-proxy", &["issuers", "add", b_issuer]);
    run.ok();
    assert!(
        run.stderr.contains("already trusted, as \"robert\""),
        "{}",
        run.stderr
    );
    let list =
        a.s.run("macaroon-proxy", &["issuers", "list"])
            .ok()
            .out()
            .to_string();
    assert_eq!(list.matches(b_issuer).count(), 1, "{list}");
    assert!(list.contains(&format!("{b_issuer}  # robert")), "{list}");
    // The running proxy re-reads its trust list within a second: its audit lines follow.
    let start = Instant::now();
    loop {
        assert_eq!(charges(a, agent), 200);
        let issuer = a.proxy.audit().pop().expect("line")["issuer"].clone();
        if issuer == "robert" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still {issuer}");
    }
}

/// `revoke TOKEN` takes the token and its children and nothing else; `--undo` lifts it;
/// `--family` takes every token from the root. `list` marks a revoked root; `attenuate`
/// warns when narrowing a revoked branch.
#[test]
fn a_branch_revocation_refuses_a_token_and_its_child_while_a_sibling_and_the_root_pass() {
    let w = world();
    let agent = w.narrow(&["--label", "agent", "--expires", "1h"]);
    let child = attenuate(&w, &agent, &["--label", "sub"]);
    let sibling = w.narrow(&["--label", "other", "--expires", "1h"]);
    for t in [&w.token, &agent, &child, &sibling] {
        assert_eq!(charges(&w, t), 200);
    }
    let run = w.s.run("macaroon-proxy", &["revoke", &agent]);
    run.ok();
    assert!(
        run.stderr.contains("every token narrowed from it"),
        "{}",
        run.stderr
    );
    let written = std::fs::read_to_string(w.s.home().join("revoked")).expect("revoked");
    let id = written.split_whitespace().next().expect("an id");
    assert_eq!(id.len(), 64, "a branch id: {written}");
    assert!(!written.contains(&agent[..40]), "never the token: {written}");
    until(&w, &agent, 403);
    let before = w.up.seen().len();
    let r = curl(&[&format!("{}/v1/charges", w.proxy.url()), "-H", &bearer(&child)]);
    assert_eq!(r.status, 403);
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["error"]["code"], "revoked");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked branch"),
        "{body}"
    );
    w.assert_clean(before);
    assert_eq!(charges(&w, &sibling), 200);
    assert_eq!(charges(&w, &w.token), 200);
    // The dry run agrees, and narrowing the revoked branch is warned about.
    let url = format!("https://{HOST}/v1/charges");
    w.s.run("macaroon", &["verify", &child, "--method", "GET", "--url", &url])
        .code(1);
    w.s.run(
        "macaroon",
        &["verify", &sibling, "--method", "GET", "--url", &url],
    )
    .code(0);
    let run = w.s.run("macaroon", &["attenuate", &child, "--expires", "5m"]);
    run.ok();
    assert!(
        run.stderr.contains("revoked branch") && run.stderr.contains("--undo"),
        "{}",
        run.stderr
    );
    let list = json(w.s.run("macaroon", &["list", "--json"]).ok().out());
    assert_eq!(list[0]["revoked"], false, "only a branch below the root: {list}");

    // Undo: the branch passes again.
    w.s.run("macaroon-proxy", &["revoke", "--undo", &agent]).ok();
    until(&w, &child, 200);
    assert_eq!(charges(&w, &agent), 200);

    // The family: every token from the root, the root and the sibling included.
    w.s.run("macaroon-proxy", &["revoke", "--family", &sibling]).ok();
    until(&w, &w.token, 403);
    for t in [&agent, &child, &sibling] {
        assert_eq!(charges(&w, t), 403);
    }
    let list = json(w.s.run("macaroon", &["list", "--json"]).ok().out());
    assert_eq!(list[0]["revoked"], true, "{list}");
    let table = w.s.run("macaroon", &["list"]).ok().out().to_string();
    assert!(table.contains("REVOKED"), "{table}");
    w.s.run("macaroon-proxy", &["revoke", "--undo", "--family", "api"])
        .ok();
    until(&w, &w.token, 200);
    // Undoing what is not revoked says so.
    let run = w.s.run("macaroon-proxy", &["revoke", "--undo", &agent]);
    run.code(2);
    assert!(run.stderr.contains("is not revoked"), "{}", run.stderr);
}

/// The shared store holds branches too: every replica refuses the branch, lets its sibling
/// through, and follows an undo.
#[test]
fn a_branch_revoked_in_the_shared_store_is_refused_by_every_replica_and_undone() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let (w, second) = crate::usage::replicas(&redis, &[]);
    let agent = w.narrow(&["--label", "agent", "--expires", "1h"]);
    let sibling = w.narrow(&["--label", "other", "--expires", "1h"]);
    w.s.run("macaroon-proxy", &["revoke", "--state", &redis.url(), &agent])
        .ok();
    let status =
        |p: &e2e::ProxyProcess, t: &str| curl(&[&format!("{}/v1/charges", p.url()), "-H", &bearer(t)]).status;
    let start = Instant::now();
    while status(&w.proxy, &agent) != 403 || status(&second, &agent) != 403 {
        assert!(start.elapsed() < Duration::from_secs(5), "never refused");
    }
    assert_eq!(
        (status(&w.proxy, &sibling), status(&second, &sibling)),
        (200, 200)
    );
    assert_eq!(redis.cli(&["SCARD", "macaroon:revoked"]), "1");
    w.s.run(
        "macaroon-proxy",
        &["revoke", "--undo", "--state", &redis.url(), &agent],
    )
    .ok();
    let start = Instant::now();
    while status(&w.proxy, &agent) != 200 || status(&second, &agent) != 200 {
        assert!(start.elapsed() < Duration::from_secs(5), "never lifted");
    }
}

/// Newcomer frictions: a closed stdout ends a command quietly; a token cut short and a
/// mistyped name get our words, not a library's or base64's.
#[test]
fn a_closed_stdout_and_a_cut_token_get_quiet_and_plain_answers() {
    let w = world();
    // A reader that is already gone (as `| head -c1` becomes): no panic, no message.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out =
        w.s.cmd("macaroon")
            .args(["list", "--json"])
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("spawn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && out.status.code() != Some(101),
        "{err} {:?}",
        out.status
    );
    // Cut at a length base64 allows, so the decoder sees a macaroon that ends early.
    let cut = &w.token[..w.token.len() / 2 / 4 * 4];
    let run = w.s.run("macaroon", &["inspect", cut]);
    run.code(2);
    assert!(
        run.stderr.contains("cut short") && !run.stderr.contains("Unexpected end"),
        "{}",
        run.stderr
    );
    let run = w.s.run("macaroon", &["exec", "--token", "nosuch", "--", "true"]);
    run.code(2);
    assert!(
        run.stderr.contains("no stored token named \"nosuch\""),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("base64") && !run.stderr.contains("unused bits"),
        "{}",
        run.stderr
    );
}
