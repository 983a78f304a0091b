//! The macaroon CLI flow: keygen, wrap, attenuate, inspect, verify, list, rm.

use e2e::{Run, Session};

const SECRET: &str = "sk_live_E2E_SECRET_51Hx";

/// A session with a proxy key and a wrapped key stored as `stripe`.
fn wrapped() -> (Session, String) {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let run = s.run_stdin(
        "macaroon",
        &["wrap", "stripe", "--host", "api.stripe.com"],
        &format!("{SECRET}\n"),
    );
    run.ok();
    let token = run.out().to_string();
    (s, token)
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

/// Every file under `dir`, as bytes.
fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).expect("read")));
        }
    }
    out
}

fn assert_no_secret(run: &Run) {
    assert!(!run.stdout.contains(SECRET), "secret on stdout: {}", run.stdout);
    assert!(!run.stderr.contains(SECRET), "secret on stderr: {}", run.stderr);
}

#[test]
fn wrap_prints_the_token_alone_and_stores_it() {
    let (s, token) = wrapped();
    assert_eq!(token.lines().count(), 1);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
    let stored = std::fs::read_to_string(s.home().join("tokens/stripe")).expect("stored");
    assert_eq!(stored.trim(), token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.home().join("tokens/stripe"))
            .expect("m")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn the_flow_a_new_user_types() {
    let (s, _) = wrapped();
    let narrow = s.run(
        "macaroon",
        &[
            "attenuate",
            "stripe",
            "--expires",
            "10m",
            "--path",
            "/v1/charges",
            "--method",
            "GET",
        ],
    );
    narrow.ok();
    let token = narrow.out();
    let inspect = s.run("macaroon", &["inspect", token, "--json"]);
    inspect.ok();
    let v = json(&inspect);
    assert_eq!(v["identifier"]["format"], "mk1");
    assert_eq!(v["identifier"]["proxy_key_id"].as_str().map(str::len), Some(16));
    let preds: Vec<&str> = v["caveats"]
        .as_array()
        .expect("caveats")
        .iter()
        .map(|c| c["predicate"].as_str().expect("p"))
        .collect();
    assert!(preds[0].starts_with("time < "), "{preds:?}");
    assert_eq!(preds[1..], ["method in GET", "path prefix /v1/charges"]);
    let explain = v["caveats"][0]["explain"].as_str().expect("explain");
    assert!(
        explain.starts_with("expires in 9m 5") || explain.starts_with("expires in 10m"),
        "{explain}"
    );
    assert_eq!(v["caveats"][1]["kind"], "method");
    assert_eq!(v["caveats"][2]["explain"], "only paths under /v1/charges");
    assert_eq!(v["third_party"], serde_json::json!([]));
    assert_eq!(v["signature_fingerprint"].as_str().map(str::len), Some(16));
    assert!(
        !inspect.stdout.contains(&token[token.len() - 20..]),
        "inspect must not print the token"
    );

    let allow = s.run(
        "macaroon",
        &[
            "verify",
            token,
            "--method",
            "GET",
            "--url",
            "https://api.stripe.com/v1/charges/ch_1",
        ],
    );
    allow.ok();
    assert!(allow.stdout.starts_with("allow"), "{}", allow.stdout);
}

#[test]
fn verify_names_each_reason_for_denying() {
    let (s, _) = wrapped();
    let token = s
        .run(
            "macaroon",
            &[
                "attenuate",
                "stripe",
                "--path",
                "/v1/charges",
                "--method",
                "GET",
                "--method",
                "HEAD",
            ],
        )
        .out()
        .to_string();
    let cases: &[(&str, &str, &str)] = &[
        (
            "POST",
            "https://api.stripe.com/v1/charges",
            "caveat \"method in GET HEAD\" failed: method POST is not allowed; only GET, HEAD",
        ),
        (
            "GET",
            "https://api.stripe.com/v1/customers",
            "caveat \"path prefix /v1/charges\" failed",
        ),
        (
            "GET",
            "https://api.stripe.com/v1/chargesX",
            "only paths under /v1/charges",
        ),
        (
            "GET",
            "https://evil.example/v1/charges",
            "host evil.example is not one the key was wrapped for",
        ),
        (
            "GET",
            "https://api.stripe.com/v1/charges/../../admin",
            "dot segment",
        ),
        (
            "GET",
            "https://api.stripe.com/v1/charges/%2e%2e/admin",
            "encodes a dot",
        ),
    ];
    for (method, url, why) in cases {
        let run = s.run("macaroon", &["verify", &token, "--method", method, "--url", url]);
        run.code(1);
        assert!(
            run.stderr.contains(why),
            "{method} {url}: want {why:?} in {}",
            run.stderr
        );
        assert!(run.stdout.starts_with("deny"), "{}", run.stdout);
    }
}

#[test]
fn verify_json_gives_kind_caveat_and_status() {
    let (s, _) = wrapped();
    let token = s
        .run("macaroon", &["attenuate", "stripe", "--method", "GET"])
        .out()
        .to_string();
    let run = s.run(
        "macaroon",
        &[
            "verify",
            &token,
            "-X",
            "DELETE",
            "--url",
            "https://api.stripe.com/v1/x",
            "--json",
        ],
    );
    run.code(1);
    let v = json(&run);
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["kind"], "caveat-failed");
    assert_eq!(v["caveat"], "method in GET");
    assert_eq!(v["status"], 403);
    let run = s.run(
        "macaroon",
        &[
            "verify",
            &token,
            "-X",
            "GET",
            "--url",
            "https://api.stripe.com/v1/x",
            "--json",
        ],
    );
    run.ok();
    assert_eq!(json(&run)["decision"], "allow");
}

/// Caveats on what a request contains, end to end: attenuate with --form, --json, --query
/// and --max-body, inspect explains them, verify decides form and JSON bodies.
#[test]
fn body_caveats_attenuate_inspect_and_verify_with_data() {
    let (s, _) = wrapped();
    let stripe = s
        .run(
            "macaroon",
            &[
                "attenuate",
                "stripe",
                "--method",
                "POST",
                "--form",
                "amount <= 5000",
                "--form",
                "currency = usd",
                "--query",
                "expand in customer",
                "--max-body",
                "256",
            ],
        )
        .out()
        .to_string();
    let inspect = s.run("macaroon", &["inspect", &stripe, "--json"]);
    inspect.ok();
    let v = json(&inspect);
    let caveats: Vec<(String, String, String)> = v["caveats"]
        .as_array()
        .expect("caveats")
        .iter()
        .map(|c| {
            let f = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (f("predicate"), f("kind"), f("explain"))
        })
        .collect();
    let want = [
        ("form amount <= 5000", "form", "amount at most 5000"),
        ("form currency = usd", "form", "currency is usd"),
        (
            "query expand in customer",
            "query",
            "query parameter expand is one of customer",
        ),
        ("body size <= 256", "body-size", "body at most 256 bytes"),
    ];
    for (p, k, e) in want {
        assert!(
            caveats.contains(&(p.into(), k.into(), e.into())),
            "{p:?} missing from {caveats:?}"
        );
    }
    let url = "https://api.stripe.com/v1/payment_intents?expand=customer";
    let verify = |token: &str, extra: &[&str]| {
        let mut args = vec!["verify", token, "-X", "POST", "--url", url, "--json"];
        args.extend_from_slice(extra);
        s.run("macaroon", &args)
    };
    let ok = verify(&stripe, &["--data", "amount=5000&currency=usd"]);
    ok.ok();
    assert_eq!(json(&ok)["decision"], "allow");
    let over = verify(&stripe, &["--data", "amount=5000.01&currency=usd"]);
    over.code(1);
    let d = json(&over);
    assert_eq!(d["caveat"], "form amount <= 5000");
    assert_eq!(d["kind"], "caveat-failed");
    assert_eq!(d["status"], 403);
    assert!(
        d["reason"]
            .as_str()
            .is_some_and(|r| r.contains("amount is 5000.01; the token allows at most 5000")),
        "{d}"
    );
    // Ambiguous bodies deny: the field twice, or also in the query string.
    verify(&stripe, &["--data", "amount=1&amount=9999&currency=usd"]).code(1);
    let both = s.run(
        "macaroon",
        &[
            "verify",
            &stripe,
            "-X",
            "POST",
            "--url",
            "https://api.stripe.com/v1/payment_intents?expand=customer&amount=1",
            "--data",
            "amount=1&currency=usd",
        ],
    );
    both.code(1);
    assert!(
        both.stderr.contains("query string as well as the body"),
        "{}",
        both.stderr
    );
    // A form caveat on a JSON body denies; so does a body over --max-body (413).
    verify(
        &stripe,
        &[
            "--content-type",
            "application/json",
            "--data",
            r#"{"amount":1,"currency":"usd"}"#,
        ],
    )
    .code(1);
    let big = format!("amount=1&currency=usd&description={}", "x".repeat(300));
    let too_large = verify(&stripe, &["--data", &big]);
    too_large.code(1);
    assert_eq!(json(&too_large)["status"], 413);
    assert_eq!(json(&too_large)["kind"], "body-too-large");
    // Without --data the body is empty: the form fields are missing.
    verify(&stripe, &[]).code(1);

    // JSON: the model and a numeric bound, from a file.
    let openai = s
        .run(
            "macaroon",
            &[
                "attenuate",
                "stripe",
                "--json",
                "/model in gpt-4o-mini gpt-4.1-mini",
                "--json",
                "/max_tokens <= 1000",
            ],
        )
        .out()
        .to_string();
    let table = s.run("macaroon", &["inspect", &openai]);
    table.ok();
    assert!(
        table.stdout.contains("model is one of gpt-4o-mini, gpt-4.1-mini"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("max_tokens at most 1000"),
        "{}",
        table.stdout
    );
    let file = s.home().join("request.json");
    let post_json = |body: &str| {
        std::fs::write(&file, body).expect("write");
        s.run(
            "macaroon",
            &[
                "verify",
                &openai,
                "-X",
                "POST",
                "--url",
                "https://api.stripe.com/v1/chat/completions",
                "--content-type",
                "application/json",
                "--data-file",
                file.to_str().expect("utf-8 path"),
            ],
        )
    };
    post_json(r#"{"model":"gpt-4o-mini","max_tokens":1e3,"messages":[]}"#).ok();
    let refused = post_json(r#"{"model":"gpt-4o","max_tokens":10}"#);
    refused.code(1);
    assert!(
        refused
            .stderr
            .contains("model is gpt-4o; the token allows only one of gpt-4o-mini, gpt-4.1-mini"),
        "{}",
        refused.stderr
    );
    let dup = post_json(r#"{"model":"gpt-4o-mini","max_tokens":10,"model":"gpt-4o"}"#);
    dup.code(1);
    assert!(dup.stderr.contains("duplicate key"), "{}", dup.stderr);
    post_json(r#"{"model":"gpt-4o-mini","max_tokens":"10"}"#).code(1);

    // A typo in a body caveat is bad input (2), naming the flag and the problem.
    for (flag, expr, want) in [
        ("--form", "amount <= 5,000", "--form \"amount <= 5,000\""),
        ("--json", "model in a b", "starts with '/'"),
        ("--query", "limit <= 10", "expected = or in"),
        ("--max-body", "64k", "invalid value"),
    ] {
        let run = s.run("macaroon", &["attenuate", "stripe", flag, expr]);
        run.code(2);
        assert!(run.stderr.contains(want), "{flag} {expr}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn expired_and_not_yet_valid_tokens_are_denied() {
    let (s, _) = wrapped();
    let expired = s
        .run(
            "macaroon",
            &["attenuate", "stripe", "--caveat", "time < 2020-01-01T00:00:00Z"],
        )
        .out()
        .to_string();
    let run = s.run(
        "macaroon",
        &[
            "verify",
            &expired,
            "-X",
            "GET",
            "--url",
            "https://api.stripe.com/",
        ],
    );
    run.code(1);
    assert!(
        run.stderr.contains("the token expired at 2020-01-01T00:00:00Z"),
        "{}",
        run.stderr
    );
    let inspect = s.run("macaroon", &["inspect", &expired, "--json"]);
    assert!(json(&inspect)["effective"]["explain"]
        .as_str()
        .expect("e")
        .starts_with("expired "));

    let later = s
        .run("macaroon", &["attenuate", "stripe", "--not-before", "1h"])
        .out()
        .to_string();
    let run = s.run(
        "macaroon",
        &["verify", &later, "-X", "GET", "--url", "https://api.stripe.com/"],
    );
    run.code(1);
    assert!(run.stderr.contains("not valid before"), "{}", run.stderr);
}

#[test]
fn a_later_expiry_never_extends_an_earlier_one() {
    let (s, _) = wrapped();
    let short = s
        .run("macaroon", &["attenuate", "stripe", "--expires", "5m"])
        .out()
        .to_string();
    let long = s.run("macaroon", &["attenuate", &short, "--expires", "2h"]);
    long.ok();
    let v = json(&s.run("macaroon", &["inspect", long.out(), "--json"]));
    assert_eq!(v["caveats"].as_array().map(Vec::len), Some(2));
    assert!(
        v["caveats"][1]["explain"]
            .as_str()
            .expect("e")
            .ends_with("an earlier expiry applies"),
        "{v}"
    );
    assert_eq!(
        v["effective"]["expires"],
        v["caveats"][0]["predicate"].as_str().expect("p")[7..]
    );
}

#[test]
fn tampered_token_and_other_proxy_key_are_denied_as_unauthenticated() {
    let (s, token) = wrapped();
    // Drop the last caveat-free signature byte by re-encoding a changed character.
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 5;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    let run = s.run(
        "macaroon",
        &[
            "verify",
            &forged,
            "-X",
            "GET",
            "--url",
            "https://api.stripe.com/",
            "--json",
        ],
    );
    run.code(1);
    assert_eq!(json(&run)["status"], 401);

    let other = Session::new();
    other.run("macaroon-proxy", &["keygen"]).ok();
    let run = other.run(
        "macaroon",
        &[
            "verify",
            &token,
            "-X",
            "GET",
            "--url",
            "https://api.stripe.com/",
            "--json",
        ],
    );
    run.code(1);
    assert_eq!(json(&run)["kind"], "unknown-proxy-key");
}

#[test]
fn tokens_come_from_argument_name_stdin_or_environment() {
    let (s, token) = wrapped();
    let by_name = s.run("macaroon", &["inspect", "stripe", "--json"]);
    let fp = json(&by_name)["signature_fingerprint"].clone();
    let by_arg = json(&s.run("macaroon", &["inspect", &token, "--json"]))["signature_fingerprint"].clone();
    let by_stdin =
        json(&s.run_stdin("macaroon", &["inspect", "-", "--json"], &token))["signature_fingerprint"].clone();
    let by_env = s
        .cmd("macaroon")
        .args(["inspect", "--json"])
        .env("MACAROON_TOKEN", &token)
        .output()
        .expect("run");
    let by_env: serde_json::Value = serde_json::from_slice(&by_env.stdout).expect("json");
    assert_eq!(fp, by_arg);
    assert_eq!(fp, by_stdin);
    assert_eq!(fp, by_env["signature_fingerprint"]);
    let narrowed = s.run_stdin("macaroon", &["attenuate", "-", "--method", "GET"], &token);
    narrowed.ok();
    assert_ne!(narrowed.out(), token);
}

#[test]
fn list_and_rm() {
    let (s, _) = wrapped();
    let list = s.run("macaroon", &["list", "--json"]);
    list.ok();
    let v = json(&list);
    assert_eq!(v[0]["name"], "stripe");
    assert_eq!(v[0]["hosts"], serde_json::json!(["api.stripe.com"]));
    assert_eq!(v[0]["expires"], serde_json::Value::Null);
    assert!(v[0]["created"].as_str().expect("created").ends_with('Z'));
    let table = s.run("macaroon", &["list"]);
    assert!(
        table.stdout.contains("stripe") && table.stdout.contains("api.stripe.com"),
        "{}",
        table.stdout
    );
    s.run("macaroon", &["rm", "stripe"]).ok();
    assert!(!s.home().join("tokens/stripe").exists());
    assert_eq!(
        json(&s.run("macaroon", &["list", "--json"])),
        serde_json::json!([])
    );
    let again = s.run("macaroon", &["rm", "stripe"]);
    again.code(2);
    assert!(
        again
            .stderr
            .contains("no stored token named \"stripe\"; see the names with: macaroon list"),
        "{}",
        again.stderr
    );
}

#[test]
fn wrap_refuses_to_replace_a_stored_token_without_force() {
    let (s, token) = wrapped();
    let again = s.run_stdin(
        "macaroon",
        &["wrap", "stripe", "--host", "api.stripe.com"],
        "other\n",
    );
    again.code(2);
    assert!(again.stderr.contains("already stored"), "{}", again.stderr);
    let stored = std::fs::read_to_string(s.home().join("tokens/stripe")).expect("stored");
    assert_eq!(stored.trim(), token, "the first token is kept");
    s.run_stdin(
        "macaroon",
        &["wrap", "stripe", "--host", "api.stripe.com", "--force"],
        "other\n",
    )
    .ok();
}

#[test]
fn the_secret_never_appears_in_output_or_stored_files() {
    let (s, token) = wrapped();
    for args in [
        vec!["inspect", "stripe"],
        vec!["inspect", "stripe", "--json"],
        vec!["list"],
        vec!["list", "--json"],
        vec![
            "verify",
            "stripe",
            "-X",
            "GET",
            "--url",
            "https://api.stripe.com/",
        ],
        vec![
            "verify",
            "stripe",
            "-X",
            "GET",
            "--url",
            "https://evil.com/",
            "--json",
        ],
        vec!["attenuate", "stripe", "--method", "GET"],
    ] {
        assert_no_secret(&s.run("macaroon", &args));
    }
    for (path, bytes) in all_files(s.home()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET), "secret in {}", path.display());
        if !path.ends_with("tokens/stripe") {
            assert!(!text.contains(&token), "whole token in {}", path.display());
        }
    }
}

#[test]
fn bad_input_exits_2_and_says_what_to_do() {
    let (s, token) = wrapped();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["inspect", "AAAAnotatoken!!"], "is not a valid token"),
        (vec!["inspect", "stirpe"], "no stored token named \"stirpe\""),
        (
            vec!["attenuate", "stripe", "--expires", "10 parsecs"],
            "--expires \"10 parsecs\" is not a duration; use e.g. 30s, 10m",
        ),
        (
            vec!["attenuate", "stripe", "--caveat", "methd = GET"],
            "unknown field \"methd\"; expected time, method, host, path, query, form, json, body, uses, rate, label, request, mcp or graphql",
        ),
        (
            vec!["attenuate", "stripe", "--caveat", "method = get"],
            "upper case: GET",
        ),
        (vec!["attenuate", "stripe", "--path", "/v1/../x"], "dot segment"),
        (vec!["attenuate", "stripe"], "nothing to add"),
        (
            vec!["verify", "stripe", "-X", "GET", "--url", "not a url"],
            "is not a URL",
        ),
        (vec!["wrap", "../evil", "--host", "a.com"], "no path separators"),
        (
            vec!["wrap", "x", "--host", "a.com", "--inject", "cookie"],
            "expected bearer, basic, header:NAME, query:NAME, oauth2-refresh, oauth2-client-credentials or sigv4:REGION:SERVICE",
        ),
        (vec!["wrap", "x", "--host", "a.com:443"], "includes a port"),
    ];
    for (args, want) in cases {
        let run = s.run_stdin("macaroon", &args, "key\n");
        run.code(2);
        assert!(
            run.stderr.contains(want),
            "{args:?}: want {want:?} in {}",
            run.stderr
        );
        assert!(run.stderr.starts_with("macaroon: "), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed {}", run.stdout);
        assert!(!run.stderr.contains(&token[20..60]), "error quotes the token");
    }
}

#[test]
fn wrap_without_a_proxy_key_says_to_run_keygen() {
    let s = Session::new();
    let run = s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "key\n");
    run.code(2);
    assert!(run.stderr.contains("macaroon-proxy keygen"), "{}", run.stderr);
    let run = s.run_stdin(
        "macaroon",
        &["wrap", "k", "--host", "a.com", "--proxy-key", "bm9wZQ=="],
        "key\n",
    );
    run.code(2);
    assert!(run.stderr.contains("not a proxy key"), "{}", run.stderr);
}

#[test]
fn wrap_with_an_explicit_public_key_needs_no_home_key() {
    let proxy = Session::new();
    let public = proxy.run("macaroon-proxy", &["keygen"]).out().to_string();
    let user = Session::new();
    let run = user.run_stdin(
        "macaroon",
        &[
            "wrap",
            "k",
            "--host",
            "a.com",
            "--proxy-key",
            &public,
            "--no-store",
        ],
        "key\n",
    );
    run.ok();
    assert!(
        !user.home().join("tokens.json").exists(),
        "--no-store stores nothing"
    );
    // Wrapped by another home's issuer: the proxy's home does not trust it until told to.
    let verify = || {
        proxy.run(
            "macaroon",
            &["verify", run.out(), "-X", "GET", "--url", "https://a.com/"],
        )
    };
    let v = verify();
    v.code(1);
    assert!(v.stderr.contains("does not trust"), "{}", v.stderr);
    let issuer = user.run("macaroon", &["issuer", "show"]).ok().out().to_string();
    proxy.run("macaroon-proxy", &["issuers", "add", &issuer]).ok();
    verify().ok();
}

#[test]
fn empty_secret_on_stdin_is_refused() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let run = s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "\n");
    run.code(2);
    assert!(
        run.stderr
            .contains("the API key is empty: stdin held nothing; pipe the key in"),
        "{}",
        run.stderr
    );
    assert!(!s.home().join("tokens.json").exists());
}

#[test]
fn inspect_table_explains_in_plain_words() {
    let (s, _) = wrapped();
    let token = s
        .run(
            "macaroon",
            &[
                "attenuate",
                "stripe",
                "--expires",
                "10m",
                "--method",
                "GET",
                "--method",
                "HEAD",
            ],
        )
        .out()
        .to_string();
    let run = s.run("macaroon", &["inspect", &token]);
    run.ok();
    for want in [
        "sealed (mk1), for proxy key",
        "expires in",
        "only GET, HEAD",
        "fingerprint",
        "not checked here: `macaroon verify` checks it",
        "method in GET HEAD",
    ] {
        assert!(run.stdout.contains(want), "want {want:?} in\n{}", run.stdout);
    }
}

#[test]
fn every_command_help_has_an_example() {
    let s = Session::new();
    for cmd in [
        "wrap",
        "attenuate",
        "inspect",
        "verify",
        "list",
        "rm",
        "completions",
    ] {
        let run = s.run("macaroon", &[cmd, "--help"]);
        run.ok();
        assert!(
            run.stdout.contains("Example"),
            "{cmd} --help has no example:\n{}",
            run.stdout
        );
    }
    let run = s.run("macaroon", &["attenuate", "--help"]);
    assert!(
        run.stdout.contains("separate attenuate calls intersect"),
        "{}",
        run.stdout
    );
}

#[cfg(unix)]
#[test]
fn a_stored_token_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (s, _) = wrapped();
    let file = s.home().join("tokens/stripe");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = s.run("macaroon", &["inspect", "stripe"]);
    run.code(2);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
    // The directory we create for tokens is private (an existing home is left as it is).
    let mode = std::fs::metadata(s.home().join("tokens"))
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    let index = std::fs::metadata(s.home().join("tokens.json"))
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(index, 0o600);
}

/// A token with unused bits in its last base64 character: the wrapped one, or a narrowed
/// copy when its length happens to be a multiple of 3 bytes.
fn token_with_unused_bits(s: &Session, token: &str) -> String {
    if e2e::spelling::with_trailing_bits(token).is_some() {
        return token.to_string();
    }
    for method in ["GET", "POST", "DELETE"] {
        let t = s
            .run("macaroon", &["attenuate", "stripe", "--method", method])
            .ok()
            .out()
            .to_string();
        if e2e::spelling::with_trailing_bits(&t).is_some() {
            return t;
        }
    }
    panic!("no token length with unused bits")
}

#[test]
fn another_spelling_of_a_token_is_malformed_not_the_same_token() {
    let (s, token) = wrapped();
    let bits = token_with_unused_bits(&s, &token);
    let spellings = [
        (
            e2e::spelling::with_bytes_after_signature(&token, b"\0"),
            "1 extra byte(s) follow the signature",
        ),
        (
            e2e::spelling::with_bytes_after_signature(&token, b"\x02\x06tail"),
            "6 extra byte(s) follow the signature",
        ),
        (
            e2e::spelling::with_trailing_bits(&bits).expect("unused bits"),
            "non-zero unused bits",
        ),
    ];
    for (text, want) in &spellings {
        let url = "https://api.stripe.com/v1/charges";
        for args in [
            vec!["inspect", text],
            vec!["inspect", text, "--json"],
            vec!["verify", text, "-X", "GET", "--url", url],
        ] {
            let run = s.run("macaroon", &args);
            run.code(2);
            assert!(
                run.stderr.contains("is not a valid token") && run.stderr.contains("the token is malformed"),
                "{args:?}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains(want),
                "{args:?}: want {want:?} in {}",
                run.stderr
            );
            assert!(run.stdout.is_empty(), "{args:?} printed {}", run.stdout);
            assert!(!run.stderr.contains(&token[20..60]), "error quotes the token");
        }
        // The same text on stdin is refused the same way.
        let run = s.run_stdin("macaroon", &["inspect", "-"], text);
        run.code(2);
        assert!(run.stderr.contains(want), "{}", run.stderr);
    }
    // The token as printed still reads.
    s.run("macaroon", &["inspect", &bits]).ok();
}

#[test]
fn wrap_refuses_a_header_the_key_cannot_go_into() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    for (inject, want) in [
        ("header:x api", "RFC 9110"),
        ("header:x\r\ny", "RFC 9110"),
        ("header:", "RFC 9110"),
        ("header:Host", "the host header names the host the request is for"),
        (
            "header:content-length",
            "the content-length header frames the request body",
        ),
        ("header:transfer-encoding", "frames the request body"),
        ("header:connection", "hop-by-hop"),
        ("query:a=b", "query parameter name"),
    ] {
        let run = s.run_stdin(
            "macaroon",
            &["wrap", "k", "--host", "a.com", "--inject", inject],
            "sk_test_1\n",
        );
        run.code(2);
        assert!(
            run.stderr.starts_with("macaroon: --inject"),
            "{inject:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(want),
            "{inject:?}: want {want:?} in {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{inject:?} printed {}", run.stdout);
        assert!(!run.stderr.contains("sk_test_1"));
    }
    assert!(!s.home().join("tokens/k").exists(), "nothing was stored");
    let ok = s.run_stdin(
        "macaroon",
        &["wrap", "k", "--host", "a.com", "--inject", "header:X-Api-Key"],
        "sk_test_1\n",
    );
    ok.ok();
}

#[test]
fn wrap_refuses_a_key_with_a_control_character() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let run = s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "sk_live_\tabc\n");
    run.code(2);
    assert!(run.stderr.contains("control character"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("sk_live_"),
        "the key is never echoed: {}",
        run.stderr
    );
}

#[test]
fn attenuate_warns_about_likely_mistakes_and_strict_refuses_them() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "sk_live_WARN")
        .ok();
    // No expiry on what may go to an agent: a warning, and the token anyway.
    let run = s.run("macaroon", &["attenuate", "k", "--method", "GET"]);
    run.ok();
    assert!(run.stderr.contains("warning: no expiry"), "{}", run.stderr);
    assert!(!run.out().is_empty());
    let get_only = run.out().to_string();
    // GET then POST: together nothing.
    let run = s.run(
        "macaroon",
        &["attenuate", &get_only, "--method", "POST", "--expires", "5m"],
    );
    run.ok();
    assert!(run.stderr.contains("allow no method at all"), "{}", run.stderr);
    // An unusual method, probably a typo.
    let run = s.run(
        "macaroon",
        &["attenuate", "k", "--method", "GTE", "--expires", "5m"],
    );
    assert!(
        run.stderr.contains("GTE is not a standard HTTP method"),
        "{}",
        run.stderr
    );
    // An already expired parent.
    let expired = s
        .run(
            "macaroon",
            &["attenuate", "k", "--caveat", "time < 2020-01-01T00:00:00Z"],
        )
        .ok()
        .out()
        .to_string();
    let run = s.run("macaroon", &["attenuate", &expired, "--method", "GET"]);
    assert!(
        run.stderr.contains("already expired at 2020-01-01T00:00:00Z"),
        "{}",
        run.stderr
    );
    // --strict: the same warnings are errors, and no token is printed.
    let run = s.run("macaroon", &["attenuate", "k", "--method", "GET", "--strict"]);
    run.code(2);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("--strict"), "{}", run.stderr);
    // Nothing to warn about: nothing on stderr.
    let run = s.run(
        "macaroon",
        &[
            "attenuate",
            "k",
            "--method",
            "GET",
            "--expires",
            "10m",
            "--strict",
        ],
    );
    run.ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn a_url_for_a_host_and_rm_say_what_to_do() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let run = s.run_stdin(
        "macaroon",
        &["wrap", "k", "--host", "https://api.stripe.com/v1"],
        "sk_live_URL",
    );
    run.code(2);
    assert!(
        run.stderr
            .contains("is a URL; give the host name alone: api.stripe.com"),
        "{}",
        run.stderr
    );
    s.run_stdin(
        "macaroon",
        &["wrap", "k", "--host", "api.stripe.com"],
        "sk_live_URL",
    )
    .ok();
    let kid = json(s.run("macaroon", &["list", "--json"]).ok())[0]["kid"]
        .as_str()
        .expect("kid")
        .to_string();
    let run = s.run("macaroon", &["rm", "k"]);
    run.ok();
    // What stops every copy handed out: the family, named by the kid the root had.
    assert!(
        run.stderr
            .contains(&format!("macaroon-proxy revoke --family {kid}")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_damaged_token_or_key_is_explained_without_decoder_internals() {
    let (s, token) = wrapped();
    // Cut to a length no base64 text has, and with a quote copied along.
    let cut = &token[..(token.len() - 5) / 4 * 4 + 1];
    let quoted = format!("{token}\"");
    for (text, want) in [
        (
            cut,
            "the argument is not a valid token: the token is not valid base64url: its length is not \
             that of any base64 text: it may be truncated or have extra characters; copy it again \
             exactly as `macaroon wrap` or `attenuate` printed it",
        ),
        (
            quoted.as_str(),
            "the token is not valid base64url: it holds a character base64 does not use (a space, \
             quote or line break copied with it?); copy it again",
        ),
    ] {
        for cmd in ["inspect", "attenuate"] {
            let args: &[&str] = match cmd {
                "inspect" => &[cmd, text],
                _ => &[cmd, text, "--expires", "5m"],
            };
            let run = s.run("macaroon", args);
            run.code(2);
            assert!(
                run.stderr.contains(want),
                "{cmd}: want {want:?} in {}",
                run.stderr
            );
            for internal in ["Invalid", "offset", "symbol"] {
                assert!(!run.stderr.contains(internal), "{cmd}: {}", run.stderr);
            }
            assert!(!run.stderr.contains(&token[20..60]), "the error quotes the token");
        }
    }
    let run = s.run_stdin(
        "macaroon",
        &["wrap", "k", "--host", "a.com", "--proxy-key", "abc$"],
        "sk_live_KEY\n",
    );
    run.code(2);
    assert!(
        run.stderr.contains(
            "--proxy-key (or MACAROON_PROXY_KEY) is not a proxy key: expected 32 bytes as base64 on one \
             line, but it holds a character base64 does not use"
        ) && run.stderr.contains("copy the key again"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Invalid"), "{}", run.stderr);
}

#[test]
fn mount_help_keeps_its_config_example_on_separate_lines() {
    let s = Session::new();
    let run = s.run("macaroon", &["mount", "--help"]);
    run.ok();
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    for want in [
        "expires = \"5m\"            # default for every file",
        "[files.stripe]",
        "expires = \"10m\"",
        "paths = [\"/v1/charges\"]",
        "methods = [\"GET\"]",
    ] {
        assert!(
            lines.contains(&want),
            "{want:?} is not a line of its own:\n{}",
            run.stdout
        );
    }
    // The one-line summary in the command list stays one line.
    let run = s.run("macaroon", &["--help"]);
    let mount = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("mount "))
        .unwrap_or_else(|| panic!("no mount line in:\n{}", run.stdout));
    assert!(mount.contains("(Linux, FUSE)"), "{mount}");
}

#[test]
fn proxy_revoke_takes_a_stored_name() {
    let (s, _) = wrapped();
    let url = "https://api.stripe.com/v1/charges";
    s.run("macaroon", &["verify", "stripe", "-X", "GET", "--url", url])
        .ok();
    let run = s.run("macaroon-proxy", &["revoke", "stripe"]);
    run.ok();
    assert!(
        run.stderr.contains("Revoked token family") && run.stderr.contains("(hosts api.stripe.com)"),
        "{}",
        run.stderr
    );
    let run = s.run("macaroon", &["verify", "stripe", "-X", "GET", "--url", url]);
    run.code(1);
    assert!(run.stderr.contains("revoked"), "{}", run.stderr);
    // A name that is not stored says where it looked and how to see the names.
    let run = s.run("macaroon-proxy", &["revoke", "strpie"]);
    run.code(2);
    let home = s.home().display().to_string();
    assert!(
        run.stderr
            .contains(&format!("no token named \"strpie\" is stored in {home}"))
            && run.stderr.contains(&format!("macaroon list --home {home}"))
            && !run.stderr.contains("not a token"),
        "{}",
        run.stderr
    );
    // A home no proxy runs with (a mistyped MACAROON_HOME) is refused, not written to: a
    // revocation there would reach no proxy.
    let elsewhere = s.home().join("typo");
    let mut cmd = s.cmd("macaroon-proxy");
    cmd.args(["revoke", "--family", "0123456789abcdef0123456789abcdef"])
        .env("MACAROON_HOME", &elsewhere);
    let run = e2e::Run::from(cmd.output().expect("run revoke"));
    run.code(2);
    assert!(
        run.stderr.contains("has no proxy key") && run.stderr.contains("--home DIR or MACAROON_HOME"),
        "{}",
        run.stderr
    );
    // A home that exists but holds no proxy key (a client's own home, say): refused too,
    // and no revocation file is written there.
    let bare = Session::new();
    let run = bare.run(
        "macaroon-proxy",
        &["revoke", "--family", "0123456789abcdef0123456789abcdef"],
    );
    run.code(2);
    assert!(run.stderr.contains("has no proxy key"), "{}", run.stderr);
    assert!(!bare.home().join("revoked").exists(), "nothing written");
    // A token sealed to another proxy's key is revoked where that proxy runs: said so.
    let token = s
        .run("macaroon", &["attenuate", "stripe", "--expires", "1h"])
        .ok()
        .out()
        .to_string();
    let other = Session::new();
    other.run("macaroon-proxy", &["keygen"]).ok();
    let run = other.run("macaroon-proxy", &["revoke", &token]);
    run.code(2);
    assert!(
        run.stderr.contains("which") && run.stderr.contains("does not hold: revoke it where the proxy"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&token), "the token is never echoed");
}

#[test]
fn attenuate_warns_about_a_host_outside_the_wrapped_ones() {
    let (s, token) = wrapped();
    let outside = "warning: host evil.example is outside the hosts the key was wrapped for \
                   (api.stripe.com): the proxy never sends the key there, so requests to it are refused";
    let nothing = "warning: the host caveat leaves none of the wrapped hosts: this token allows nothing";
    let narrow = |t: &str, host: &str, extra: &[&str]| {
        let mut args = vec!["attenuate", t, "--host", host, "--expires", "10m"];
        args.extend_from_slice(extra);
        s.run("macaroon", &args)
    };
    // This home holds the proxy key: the sealed hosts are read from the token itself.
    let run = narrow(&token, "evil.example", &[]);
    run.ok();
    assert!(run.stderr.contains(outside), "{}", run.stderr);
    assert!(run.stderr.contains(nothing), "{}", run.stderr);
    assert!(
        run.out().len() > 100,
        "the token is still printed: {}",
        run.stdout
    );
    let run = narrow(&token, "evil.example", &["--strict"]);
    run.code(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("--strict: 2 warning(s) above"),
        "{}",
        run.stderr
    );
    // A sealed host, however it is spelled: nothing to say.
    let run = narrow(&token, "API.Stripe.com", &["--strict"]);
    run.ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    // Without the proxy key, a token stored here is checked against what the store recorded.
    std::fs::rename(s.home().join("proxy.key"), s.home().join("moved-away.key.bak"))
        .expect("move the proxy key away");
    let run = narrow("stripe", "evil.example", &[]);
    run.ok();
    assert!(run.stderr.contains(outside), "{}", run.stderr);
    // A token this home can neither open nor name: its hosts are unknown, nothing is said.
    let run = narrow(&token, "evil.example", &["--strict"]);
    run.ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn list_names_prints_the_names_alone_and_completion_offers_them() {
    let (s, _) = wrapped();
    s.run_stdin(
        "macaroon",
        &["wrap", "openai", "--host", "api.openai.com"],
        "sk-proj-KEY\n",
    )
    .ok();
    let run = s.run("macaroon", &["list", "--names"]);
    run.ok();
    assert_eq!(run.stdout, "openai\nstripe\n");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let empty = Session::new().run("macaroon", &["list", "--names"]);
    empty.ok();
    assert_eq!((empty.stdout.as_str(), empty.stderr.as_str()), ("", ""));

    // The committed bash script, sourced as a user would, completes with the stored names.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../completions/macaroon.bash");
    let complete = |words: &str| {
        let cword = words.split(' ').count() - 1;
        let cur = words.rsplit(' ').next().unwrap_or_default();
        let snippet = s.home().join("complete.sh");
        std::fs::write(
            &snippet,
            format!(
                "source '{}'\nCOMP_WORDS=({words})\n[ -z '{cur}' ] && COMP_WORDS+=('')\nCOMP_CWORD={cword}\n\
                 _clap_complete_macaroon macaroon '{cur}' x\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
                script.display()
            ),
        )
        .expect("write the snippet");
        let run = Run::from(
            s.shell(&format!("bash '{}'", snippet.display()))
                .output()
                .expect("run bash"),
        );
        run.ok();
        run.stdout
    };
    assert_eq!(complete("macaroon inspect s"), "stripe\n");
    assert_eq!(complete("macaroon exec --token o"), "openai\n");
    let all = complete("macaroon rm ");
    let values: Vec<&str> = all.lines().filter(|l| !l.starts_with('-')).collect();
    assert_eq!(values, ["openai", "stripe"], "{all}");
}

/// What a terminal would act on or show reordered: C0/C1 controls (ESC, BEL...) and bidi
/// or invisible format characters.
fn raw_terminal_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// A token is hostile input: a caveat or third-party location holding an OSC title
/// sequence and a bidi override is shown escaped by inspect, verify and list, never raw.
#[test]
fn hostile_token_content_never_reaches_the_terminal_raw() {
    let (s, token) = wrapped();
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2K ok \u{202e}TEG = dohtem\u{2066}";
    let evil = caveat::Token::decode(&token)
        .expect("token")
        .attenuate_raw(format!("method = GET {hostile}").as_bytes())
        .add_third_party(
            &format!("https://auth.test/{hostile}"),
            &[7u8; 32],
            hostile.as_bytes(),
        )
        .encode();
    let url = "https://api.stripe.com/v1/charges";
    let runs = [
        s.run("macaroon", &["inspect", &evil]),
        s.run("macaroon", &["verify", &evil, "-X", "GET", "--url", url]),
        s.run(
            "macaroon",
            &["verify", &evil, "-X", "GET", "--url", &format!("{url}\u{1b}[2J")],
        ),
        s.run(
            "macaroon",
            &["attenuate", &evil, "--caveat", &format!("label = {hostile}")],
        ),
    ];
    for run in &runs {
        for out in [&run.stdout, &run.stderr] {
            assert!(raw_terminal_controls(out).is_empty(), "raw controls in:\n{out}");
        }
    }
    assert!(
        runs[0].stdout.contains("\\u{1b}]0;pwned\\u{7}"),
        "{}",
        runs[0].stdout
    );
    assert!(runs[0].stdout.contains("\\u{202e}TEG"), "{}", runs[0].stdout);
    runs[1].code(1);
    // JSON stays JSON: escaped by the encoder, the same text once decoded.
    let run = s.run("macaroon", &["inspect", &evil, "--json"]);
    run.ok();
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'));
    let v = json(&run);
    assert!(
        v["caveats"][0]["predicate"]
            .as_str()
            .unwrap_or_default()
            .contains(hostile),
        "{v}"
    );

    // A stored entry edited to hold controls is listed escaped too.
    let index = s.home().join("tokens.json");
    let mut entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&index).expect("index")).expect("json");
    entries["stripe"]["name"] = format!("stripe{hostile}").into();
    entries["stripe"]["hosts"] = serde_json::json!([hostile]);
    std::fs::write(&index, entries.to_string()).expect("write");
    for args in [&["list"][..], &["list", "--names"]] {
        let run = s.run("macaroon", args);
        run.ok();
        for out in [&run.stdout, &run.stderr] {
            assert!(raw_terminal_controls(out).is_empty(), "raw controls in:\n{out}");
        }
        assert!(run.stdout.contains("stripe\\u{1b}]0;pwned"), "{}", run.stdout);
    }
}

/// A secret whose token could never pass the proxy's 64 KiB head limit is refused at wrap.
#[test]
fn wrap_refuses_a_secret_too_long_to_ever_be_used() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let huge = "k".repeat(48 * 1024);
    let run = s.run_stdin("macaroon", &["wrap", "big", "--host", "api.stripe.com"], &huge);
    run.code(2);
    assert!(
        run.stderr.contains("64 KiB") && run.stderr.contains("too long"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty() && !run.stderr.contains(&huge[..64]));
    assert!(!s.home().join("tokens").join("big").exists(), "nothing stored");
    // In the query, the limit is the request target's.
    let run = s.run_stdin(
        "macaroon",
        &["wrap", "q", "--host", "api.stripe.com", "--inject", "query:key"],
        &"k".repeat(12 * 1024),
    );
    run.code(2);
    assert!(run.stderr.contains("16 KiB"), "{}", run.stderr);
    // A long key that fits is still wrapped.
    s.run_stdin(
        "macaroon",
        &["wrap", "long", "--host", "api.stripe.com"],
        &"k".repeat(8 * 1024),
    )
    .ok();
}

#[cfg(unix)]
fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// With `umask 000`, the trust files are still 0644 and the secrets 0600: nobody else can
/// rewrite `issuers`, `revoked` or the public keys.
#[cfg(unix)]
#[test]
fn trust_files_keep_their_modes_whatever_the_umask() {
    let s = Session::new();
    let sh = |script: &str| {
        let out = s.shell(&format!("umask 000; {script}")).output().expect("sh");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh("macaroon-proxy keygen");
    sh("printf sk_live_x | macaroon wrap api --host api.stripe.com");
    let key = s.run("macaroon", &["issuer", "show"]).ok().out().to_string();
    sh(&format!("macaroon-proxy issuers add {key} --note self"));
    sh("macaroon-proxy revoke api");
    let h = s.home();
    for (file, want) in [
        ("proxy.pub", 0o644),
        ("proxy.key", 0o600),
        ("issuer.pub", 0o644),
        ("issuers", 0o644),
        ("revoked", 0o644),
        ("tokens", 0o700),
        ("tokens/api", 0o600),
    ] {
        assert_eq!(mode_of(&h.join(file)), want, "{file}");
    }
    // A rewrite (rm) keeps it so.
    sh(&format!("macaroon-proxy issuers rm {key}"));
    assert_eq!(mode_of(&h.join("issuers")), 0o644);
}

/// A home (or its `tokens/`) that others may write, directly or through a symlink, is
/// warned about once, with the command that fixes it.
#[cfg(unix)]
#[test]
fn a_home_others_can_write_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let (s, _) = wrapped();
    let quiet = s.run("macaroon", &["list"]);
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);
    let home = s.home().display().to_string();
    std::fs::set_permissions(s.home(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    for bin in ["macaroon", "macaroon-proxy"] {
        let args: &[&str] = if bin == "macaroon" {
            &["list"]
        } else {
            &["issuers", "list"]
        };
        let run = s.run(bin, args);
        assert_eq!(
            run.stderr.matches("writable by other users").count(),
            1,
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("chmod go-w {home}")),
            "{}",
            run.stderr
        );
    }
    std::fs::set_permissions(s.home(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let tokens = s.home().join("tokens");
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o770)).expect("chmod");
    let run = s.run("macaroon", &["list"]);
    assert!(
        run.stderr.contains(&format!("chmod go-w {}", tokens.display())),
        "{}",
        run.stderr
    );
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    // Through a symlink: the place it leads to counts.
    let open = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let link = s.home().join("link");
    std::os::unix::fs::symlink(open.path(), &link).expect("symlink");
    let out = s
        .cmd("macaroon")
        .args(["list"])
        .env("MACAROON_HOME", &link)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    let target = std::fs::canonicalize(open.path()).expect("canonical");
    assert!(
        err.contains("a link to") && err.contains(&format!("chmod go-w {}", target.display())),
        "{err}"
    );
}
