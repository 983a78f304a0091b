//! `mcp tool in ...` and `mcp method in ...` on any body must never panic, and never allow
//! what serde_json (an independent reader) sees as a refused call.
//!
//! Input: the request body, as `application/json`. Oracle: where both caveats allow, the
//! body is JSON to serde_json too (ours is stricter), it is one object or a non-empty array
//! of objects, each with a string `method` in the method list, and each `tools/call` names a
//! listed tool in a string `params.name`.
#![no_main]

use std::time::SystemTime;

use caveat::{BodyView, Caveat, Host, Method, Request, RequestBody, RequestPath};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const TOOLS: &[&str] = &["get_issue", "list_issues"];
const METHODS: &[&str] = &["initialize", "notifications/initialized", "tools/list", "tools/call"];

fuzz_target!(|data: &[u8]| {
    let mut req = Request::new(
        SystemTime::UNIX_EPOCH,
        Method::new("POST").expect("method"),
        Host::parse_canonical("mcp.example.com").expect("host"),
        RequestPath::parse("/mcp").expect("path"),
    );
    req.body = BodyView::Read(RequestBody::new(
        Some("application/json".into()),
        None,
        data.to_vec().into(),
    ));
    let tools = Caveat::parse(&format!("mcp tool in {}", TOOLS.join(" "))).expect("caveat");
    let methods = Caveat::parse(&format!("mcp method in {}", METHODS.join(" "))).expect("caveat");
    let tools_ok = tools.check(&req).is_ok();
    let methods_ok = methods.check(&req).is_ok();
    if !(tools_ok && methods_ok) {
        return;
    }
    let v: Value = serde_json::from_slice(data).expect("allowed, so serde_json reads it");
    let messages: Vec<&Value> = match &v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    assert!(!messages.is_empty(), "an empty batch was allowed");
    for m in messages {
        let method = m.get("method").and_then(Value::as_str).expect("a string method");
        assert!(METHODS.contains(&method), "method {method:?} allowed");
        if method == "tools/call" {
            let name = m
                .get("params")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .expect("a string params.name");
            assert!(TOOLS.contains(&name), "tool {name:?} allowed");
        }
    }
});
