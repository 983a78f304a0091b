//! What an agent calls: MCP tools and GraphQL operations. The MCP Python SDK's own client
//! against the SDK's own server (Streamable HTTP, behind TLS) through HTTPS_PROXY with only
//! a narrowed token: it sees only the tools it may call, calls one, and is refused another
//! with a message it shows. `gql` against a GraphQL stand-in: queries pass, mutations are
//! refused. And the requests a hostile agent would try (batches, duplicate keys, aliases,
//! fragments, several operations, persisted hashes), each refused with nothing sent upstream.

use std::path::PathBuf;

use e2e::standin::StandIn;
use e2e::{ProxyProcess, Run, Session};

use crate::world::*;

fn standin(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("standins")
        .join(name)
}

/// `eval "$(macaroon-proxy ca --proxy-url PROXY)"` then `script`, with `env` set.
fn after_eval_ca(s: &Session, proxy: &ProxyProcess, env: &[(&str, &str)], script: &str) -> Run {
    let mut cmd = s.shell(&format!(
        r#"eval "$(macaroon-proxy ca --proxy-url {})" && {script}"#,
        proxy.url()
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
    Run::from(cmd.output().expect("run sh"))
}

/// A proxy in front of a Python stand-in playing `host`, and a key wrapped for it (`api`).
fn behind_proxy(script: &str, host: &str, args: &[&str]) -> (Session, StandIn, ProxyProcess) {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "api", "--host", host], SECRET)
        .ok();
    let stand_in = StandIn::start(&standin(script), &[host], args);
    let proxy = s.start_proxy_at(&stand_in.tls.ca, stand_in.addr, &[host], &[]);
    (s, stand_in, proxy)
}

const MCP_HOST: &str = "mcp.example.test";

fn mcp_client_lists_and_calls_only_the_allowed_tools(json: bool) {
    if let Some(why) = e2e::missing_python(&["mcp", "uvicorn"]) {
        return e2e::skip_or_fail(why);
    }
    let args: &[&str] = if json { &["--json"] } else { &[] };
    let (s, stand_in, proxy) = behind_proxy("mcp_server.py", MCP_HOST, args);
    let token = s
        .run(
            "macaroon",
            &[
                "attenuate",
                "api",
                "--mcp-tool",
                "list_issues",
                "--mcp-tool",
                "get_issue",
            ],
        )
        .ok()
        .out()
        .to_string();
    let client = standin("mcp_client.py");
    let run = after_eval_ca(
        &s,
        &proxy,
        &[("MCP_TOKEN", &token)],
        &format!(
            "python3 {} https://{MCP_HOST}/mcp get_issue delete_repository",
            client.display()
        ),
    );
    run.ok();
    let out = run.out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"tools: get_issue list_issues"), "{out}");
    assert_eq!(lines.get(1), Some(&"called: o/r#1: it is broken"), "{out}");
    let refused = lines.get(2).copied().unwrap_or("");
    assert!(refused.starts_with("refused: macaroon: "), "{out}");
    assert!(
        refused.contains("mcp tool in list_issues get_issue")
            && refused.contains("calls the tool delete_repository"),
        "a readable reason naming the caveat: {out}"
    );
    let log = stand_in.log();
    assert!(log.contains("CALL get_issue"), "{log}");
    assert!(
        !log.contains("CALL delete_repository"),
        "the refused call reached the server: {log}"
    );
    let audit = std::fs::read_to_string(&proxy.audit_path).unwrap_or_default();
    assert!(!audit.contains(SECRET) && !audit.contains(&token[..60]));
}

#[test]
fn mcp_sdk_client_sees_and_calls_only_the_allowed_tools_over_event_streams() {
    mcp_client_lists_and_calls_only_the_allowed_tools(false);
}

#[test]
fn mcp_sdk_client_sees_and_calls_only_the_allowed_tools_over_json_responses() {
    mcp_client_lists_and_calls_only_the_allowed_tools(true);
}

const GQL_HOST: &str = "api.github.com";

#[test]
fn gql_queries_go_through_and_mutations_are_refused() {
    if let Some(why) = e2e::missing_python(&["gql", "httpx"]) {
        return e2e::skip_or_fail(why);
    }
    let (s, stand_in, proxy) = behind_proxy("graphql.py", GQL_HOST, &[]);
    let token = s
        .run(
            "macaroon",
            &[
                "attenuate",
                "api",
                "--path",
                "/graphql",
                "--graphql-operation",
                "query",
                "--graphql-field",
                "viewer",
                "--graphql-field",
                "repository",
            ],
        )
        .ok()
        .out()
        .to_string();
    let run = after_eval_ca(
        &s,
        &proxy,
        &[("GITHUB_TOKEN", &token)],
        r#"python3 -c '
import os
from gql import Client, gql
from gql.transport.httpx import HTTPXTransport
t = HTTPXTransport(url="https://api.github.com/graphql", headers={"Authorization": "Bearer " + os.environ["GITHUB_TOKEN"]})
c = Client(transport=t)
print("viewer:", c.execute(gql("query Me { me: viewer { login } }"))["viewer"]["login"])
for doc in ["mutation { addStar(input: {starrableId: \"x\"}) { clientMutationId } }", "query { organization(login: \"o\") { id } }"]:
    try:
        c.execute(gql(doc))
        print("not refused")
    except Exception as e:
        print("refused:", type(e).__name__, "403" in str(e))
'"#,
    );
    run.ok();
    assert_eq!(
        run.out(),
        "viewer: octocat\nrefused: TransportServerError True\nrefused: TransportServerError True"
    );
    let log = stand_in.log();
    assert_eq!(
        log.matches("QUERY ").count(),
        1,
        "only the query reached the API: {log}"
    );
    assert!(log.contains("QUERY query Me { me: viewer { login } }"), "{log}");
    let audit = proxy.audit();
    let refused: Vec<_> = audit.iter().filter(|l| l["status"] == 403).collect();
    assert_eq!(refused.len(), 2, "{audit:?}");
    assert_eq!(refused[0]["caveat"], "graphql operation in query");
    assert_eq!(refused[1]["caveat"], "graphql field in viewer repository");
}

/// A world whose token carries `flags`, and a POST of `body` to `path` through it.
fn post(w: &World, token: &str, path: &str, ct: &str, body: &str) -> Reply {
    w.via_connect(
        &format!("https://{HOST}{path}"),
        &[
            "-H",
            &bearer(token),
            "-H",
            &format!("Content-Type: {ct}"),
            "--data-binary",
            body,
        ],
    )
}

fn caveat_of(reply: &Reply) -> String {
    let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    v["error"]["caveat"]
        .as_str()
        .or_else(|| v["error"]["data"]["caveat"].as_str())
        .unwrap_or("")
        .to_string()
}

#[test]
fn hostile_mcp_bodies_are_refused_and_reach_nothing() {
    let w = world();
    let token = w.narrow(&[
        "--mcp-tool",
        "get_issue",
        "--mcp-method",
        "tools/call",
        "--mcp-method",
        "tools/list",
    ]);
    let call = |name: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{name}"}}}}"#)
    };
    let ok = post(&w, &token, "/mcp", "application/json", &call("get_issue"));
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(w.up.seen().len(), 1);
    for (what, body, caveat) in [
        ("a refused tool", call("delete_repository"), "mcp tool in get_issue"),
        (
            "a refused tool in the second message of a batch",
            format!("[{},{}]", call("get_issue"), call("delete_repository")),
            "mcp tool in get_issue",
        ),
        (
            "a duplicate name key",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_issue","name":"delete_repository"}}"#.to_string(),
            "mcp tool in get_issue",
        ),
        (
            "a name key in two cases",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_issue","Name":"delete_repository"}}"#.to_string(),
            "mcp tool in get_issue",
        ),
        ("an empty batch", "[]".to_string(), "mcp tool in get_issue"),
        (
            "a notification not in the list",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string(),
            "mcp method in tools/call tools/list",
        ),
        (
            "a message without method",
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#.to_string(),
            "mcp tool in get_issue",
        ),
    ] {
        let r = post(&w, &token, "/mcp", "application/json", &body);
        assert_eq!(r.status, 403, "{what}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(caveat_of(&r), caveat, "{what}: {}", String::from_utf8_lossy(&r.body));
    }
    // A refused JSON-RPC request is answered as a JSON-RPC error for its id.
    let r = post(&w, &token, "/mcp", "application/json", &call("delete_repository"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["id"], 1);
    assert_eq!(v["error"]["data"]["code"], "caveat_failed");
    w.assert_clean(1);
}

#[test]
fn a_tools_list_result_loses_the_tools_the_token_cannot_call_and_is_still_scrubbed() {
    let w = world();
    let token = w.narrow(&["--mcp-tool", "get_issue"]);
    // The recording upstream answers `/echo/json-body` (JSON, with its Content-Length) and
    // `/echo/sse-body` (one server-sent event) with the request body: here a tools/list
    // result, as an MCP server would send it, for the request's own id, echoing the key.
    let list = format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/list","result":{{"tools":[{{"name":"get_issue","description":"key {SECRET}"}},{{"name":"delete_repository"}}]}}}}"#
    );
    for path in ["/echo/json-body", "/echo/sse-body"] {
        let r = post(&w, &token, path, "application/json", &list);
        assert_eq!(r.status, 200, "{path}: {}", String::from_utf8_lossy(&r.body));
        let text = String::from_utf8_lossy(&r.body).to_string();
        let json = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap_or(&text);
        let v: serde_json::Value = serde_json::from_str(json).expect("json");
        let stars = "*".repeat(SECRET.len());
        assert_eq!(
            v["result"]["tools"],
            serde_json::json!([{"name": "get_issue", "description": format!("key {stars}")}]),
            "{path}"
        );
        assert!(
            !text.contains(SECRET) && !text.contains("delete_repository"),
            "{path}: {text}"
        );
        assert!(
            !r.headers.to_ascii_lowercase().contains("content-length"),
            "{path}: {}",
            r.headers
        );
    }
    // Without a tools/list in the request, nothing is rewritten.
    let call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_issue"},"result":{"tools":[{"name":"delete_repository"}]}}"#;
    let r = post(&w, &token, "/echo/json-body", "application/json", call);
    assert_eq!(r.body, call.as_bytes());
}

#[test]
fn hostile_graphql_requests_are_refused_and_reach_nothing() {
    let w = world();
    let token = w.narrow(&[
        "--graphql-operation",
        "query",
        "--graphql-field",
        "viewer",
        "--graphql-field",
        "repository",
    ]);
    let q = |doc: &str| serde_json::json!({ "query": doc }).to_string();
    let ok = post(
        &w,
        &token,
        "/graphql",
        "application/json",
        &q("query { me: viewer { login } }"),
    );
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let get = w.via_connect(
        &format!("https://{HOST}/graphql?query=%7B%20viewer%20%7B%20login%20%7D%20%7D"),
        &["-H", &bearer(&token)],
    );
    assert_eq!(get.status, 200, "{}", String::from_utf8_lossy(&get.body));
    assert_eq!(w.up.seen().len(), 2);
    let ops = "graphql operation in query";
    let fields = "graphql field in viewer repository";
    for (what, body, caveat) in [
        ("a mutation", q("mutation { deleteRepository(input: {}) { x } }"), ops),
        ("an alias over a refused field", q("{ viewer: organization(login: \"o\") { id } }"), fields),
        (
            "a fragment on the root",
            q("{ ...F } fragment F on Query { organization(login: \"o\") { id } }"),
            fields,
        ),
        (
            "cyclic fragments",
            q("{ ...A } fragment A on Query { viewer ...B } fragment B on Query { organization ...A }"),
            fields,
        ),
        (
            "operationName picking a query beside a mutation",
            serde_json::json!({
                "query": "query Read { viewer { login } } mutation Write { deleteRepository(input: {}) { x } }",
                "operationName": "Read",
            })
            .to_string(),
            ops,
        ),
        (
            "a persisted-query hash without its text",
            r#"{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}"#.to_string(),
            ops,
        ),
        ("a batch", format!("[{}]", q("{ viewer { login } }")), ops),
        (
            "a duplicate query key",
            r#"{"query":"{ viewer { login } }","query":"mutation { x }"}"#.to_string(),
            ops,
        ),
        ("a document that does not parse", q("{ viewer { login }"), ops),
    ] {
        let r = post(&w, &token, "/graphql", "application/json", &body);
        assert_eq!(r.status, 403, "{what}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(caveat_of(&r), caveat, "{what}: {}", String::from_utf8_lossy(&r.body));
    }
    // The query in the URL of a POST, and a GET mutation.
    let r = post(
        &w,
        &token,
        "/graphql?query=mutation%7Bx%7D",
        "application/json",
        &q("{ viewer { login } }"),
    );
    assert_eq!(r.status, 403);
    let r = w.via_connect(
        &format!("https://{HOST}/graphql?query=mutation%7BdeleteRepository%7D"),
        &["-H", &bearer(&token)],
    );
    assert_eq!(r.status, 403);
    assert_eq!(caveat_of(&r), ops);
    w.assert_clean(2);
}

#[test]
fn verify_and_inspect_explain_mcp_and_graphql_caveats() {
    let w = world();
    let token = w.narrow(&["--graphql-operation", "query", "--mcp-tool", "get_issue"]);
    let s = &w.s;
    let inspect = s.run("macaroon", &["inspect", &token]);
    inspect.ok();
    assert!(
        inspect.out().contains("only GraphQL operations of type query"),
        "{}",
        inspect.out()
    );
    assert!(
        inspect.out().contains("only the MCP tools get_issue"),
        "{}",
        inspect.out()
    );
    let graphql = w.narrow(&["--graphql-operation", "query"]);
    let verify = |data: &str| {
        s.run(
            "macaroon",
            &[
                "verify",
                &graphql,
                "-X",
                "POST",
                "--url",
                &format!("https://{HOST}/graphql"),
                "--content-type",
                "application/json",
                "--data",
                data,
            ],
        )
    };
    verify(r#"{"query":"{ viewer { login } }"}"#).ok();
    let refused = verify(r#"{"query":"mutation { addStar(input: {}) { x } }"}"#);
    refused.code(1);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        said.contains("graphql operation in query") && said.contains("mutation"),
        "{said}"
    );
    let bad = s.run("macaroon", &["attenuate", "api", "--graphql-operation", "Query"]);
    bad.code(2);
    assert!(bad.stderr.contains("not an operation type"), "{}", bad.stderr);
}
