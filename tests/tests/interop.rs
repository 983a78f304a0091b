//! Two-way interop with the macaroon ecosystem: our tokens verified by pymacaroons (chain,
//! discharges, caveats) after PyNaCl opens the sealed identifier. The other direction
//! (pymacaroons' tokens verified here) is in crates/caveat/tests/tokens.rs.

use std::path::Path;
use std::process::Command;

use e2e::Session;

const HOST: &str = "api.example.test";
const SECRET: &str = "sk_test_INTEROP_4242";
const TP_KEY: &str = "approval-service-shared-key";

fn requests() -> serde_json::Value {
    serde_json::json!([
        {"method": "GET", "path": "/v1/charges/ch_1", "host": HOST, "expect": "allow"},
        {"method": "POST", "path": "/v1/charges", "host": HOST, "expect": "deny"},
        {"method": "GET", "path": "/v1/refunds", "host": HOST, "expect": "deny"},
    ])
}

/// Mints vectors with the real CLI: root, narrowed and third-party tokens in each format.
fn mint_vectors(s: &Session) -> serde_json::Value {
    s.run("macaroon-proxy", &["keygen"]).ok();
    let root = s
        .run_stdin("macaroon", &["wrap", "api", "--host", HOST], SECRET)
        .ok()
        .out()
        .to_string();
    let narrow = s
        .run(
            "macaroon",
            &[
                "attenuate",
                "api",
                "--method",
                "GET",
                "--method",
                "HEAD",
                "--path",
                "/v1/charges",
                "--caveat",
                "time < 2099-01-01T00:00:00Z",
            ],
        )
        .ok()
        .out()
        .to_string();
    let tp = s
        .run(
            "macaroon",
            &[
                "attenuate",
                &narrow,
                "--third-party",
                "https://approve.example",
                "--third-party-key",
                TP_KEY,
                "--caveat-id",
                "approve-1",
            ],
        )
        .ok()
        .out()
        .to_string();
    let discharge = s
        .run(
            "macaroon",
            &[
                "discharge",
                "approve-1",
                "--key",
                TP_KEY,
                "--caveat",
                "time < 2099-01-01T00:00:00Z",
            ],
        )
        .ok()
        .out()
        .to_string();
    let mut vectors = vec![serde_json::json!({
        "name": "root-v2", "token": root, "discharges": [],
        "requests": [{"method": "DELETE", "path": "/anything", "host": HOST, "expect": "allow"}],
    })];
    for format in ["v2", "v1", "v2json"] {
        let t = s
            .run(
                "macaroon",
                &[
                    "attenuate",
                    &narrow,
                    "--caveat",
                    &format!("host = {HOST}"),
                    "--format",
                    format,
                ],
            )
            .ok()
            .out()
            .to_string();
        vectors.push(serde_json::json!({"name": format!("narrow-{format}"), "token": t, "discharges": [], "requests": requests()}));
        let t = s
            .run(
                "macaroon",
                &[
                    "attenuate",
                    &tp,
                    "--caveat",
                    &format!("host = {HOST}"),
                    "--format",
                    format,
                ],
            )
            .ok()
            .out()
            .to_string();
        let bound = s
            .run(
                "macaroon",
                &["bind", &t, "--discharge", &discharge, "--format", format],
            )
            .ok()
            .out()
            .to_string();
        vectors.push(serde_json::json!({"name": format!("third-party-{format}"), "token": t, "discharges": [bound], "requests": requests()}));
        vectors.push(serde_json::json!({
            "name": format!("third-party-{format}-without-discharge"), "token": t, "discharges": [],
            "requests": [{"method": "GET", "path": "/v1/charges", "host": HOST, "expect": "deny"}],
        }));
    }
    let private = std::fs::read_to_string(s.home().join("proxy.key")).expect("key");
    let issuer = std::fs::read_to_string(s.home().join("issuer.pub")).expect("issuer key");
    serde_json::json!({
        "generator": "macaroon CLI (tests/tests/interop.rs); regenerate with MACAROON_BLESS=1 cargo test -p e2e interop",
        "proxy_private_key": private.trim(), "issuer_public_key": issuer.trim(), "secret": SECRET, "hosts": [HOST],
        "vectors": vectors,
    })
}

/// Runs verify_ours.py; `None` when Python lacks the libraries (a skip on a workstation,
/// a failure under CI).
fn python_verify(file: &Path) -> Option<String> {
    if let Some(why) = e2e::missing_python(&["pymacaroons", "nacl"]) {
        e2e::skip_or_fail(why);
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/verify_ours.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "pymacaroons disagreed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text)
}

/// Runs verify_ours.js; `None` when node or its modules are missing (a skip on a
/// workstation, a failure under CI).
fn node_verify(file: &Path) -> Option<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    if let Some(why) = e2e::missing_tool("node", "install Node.js (apt-get install nodejs npm)") {
        e2e::skip_or_fail(why);
        return None;
    }
    if !dir.join("node_modules/macaroon").exists() {
        e2e::skip_or_fail("js-macaroon is not installed (run: npm ci --prefix tests/interop)");
        return None;
    }
    let out = Command::new("node")
        .arg(dir.join("verify_ours.js"))
        .arg(file)
        .output()
        .expect("node");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "js-macaroon disagreed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text)
}

#[test]
fn js_macaroon_verifies_the_committed_vectors() {
    if let Some(out) = node_verify(&fixture()) {
        assert!(
            out.contains("ok: third-party-v2: GET /v1/charges/ch_1 -> allow"),
            "{out}"
        );
        assert!(
            out.contains("ok: third-party-v2json: POST /v1/charges -> deny"),
            "{out}"
        );
        assert!(out.contains("unsupported: narrow-v1"), "{out}");
        assert!(out.ends_with("0 failure(s)\n"), "{out}");
    }
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ours/vectors.json")
}

#[test]
fn pymacaroons_and_pynacl_verify_tokens_minted_now() {
    let s = Session::new();
    let vectors = mint_vectors(&s);
    let file = s.home().join("vectors.json");
    let text = serde_json::to_string_pretty(&vectors).expect("json");
    std::fs::write(&file, &text).expect("write");
    if std::env::var_os("MACAROON_BLESS").is_some() {
        std::fs::write(fixture(), format!("{text}\n")).expect("bless");
    }
    if let Some(out) = python_verify(&file) {
        assert!(
            out.contains("ok: third-party-v2json: GET /v1/charges/ch_1 -> allow"),
            "{out}"
        );
        assert!(out.ends_with("0 failure(s)\n"), "{out}");
    }
    if let Some(out) = node_verify(&file) {
        assert!(out.ends_with("0 failure(s)\n"), "{out}");
    }
}

#[test]
fn pymacaroons_and_pynacl_verify_the_committed_vectors() {
    if let Some(out) = python_verify(&fixture()) {
        assert!(out.contains("ok: narrow-v1: POST /v1/charges -> deny"), "{out}");
    }
}

#[test]
fn foreign_tokens_are_read_and_plainly_called_foreign() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pymacaroons/vectors.json"),
    )
    .expect("fixture");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    for v in doc["vectors"].as_array().expect("vectors") {
        let token = v["token"].as_str().expect("token");
        let inspect = s.run("macaroon", &["inspect", token, "--json"]);
        inspect.ok();
        let j: serde_json::Value = serde_json::from_str(&inspect.stdout).expect("json");
        assert_eq!(j["identifier"]["format"], "opaque");
        assert_eq!(j["caveats"][1]["predicate"], "method in GET HEAD");
        let table = s.run("macaroon", &["inspect", token]);
        assert!(
            table.stdout.contains("not a macaroon-proxy sealed identifier"),
            "{}",
            table.stdout
        );
        let verify = s.run(
            "macaroon",
            &[
                "verify",
                token,
                "-X",
                "GET",
                "--url",
                "https://api.example.com/v1/charges",
            ],
        );
        verify.code(1);
        assert!(verify.stderr.contains("minted elsewhere"), "{}", verify.stderr);
    }
}
