//! `mcp method in M...` and `mcp tool in T...`: what an agent may ask of an MCP server
//! (JSON-RPC 2.0 over HTTP, the Streamable HTTP transport).
//!
//! A request body is one JSON-RPC message or a batch (an array) of them, and the server
//! acts on every message, so every one is checked: each must be an object with a string
//! `method` in the list (notifications such as `notifications/initialized` are methods
//! too), and each `tools/call` must name, in a string `params.name`, a tool in the list.
//! Anything else denies: a body that is not JSON as [`crate::json`] reads it (duplicate keys
//! anywhere, nesting deeper than 64), an empty batch, a message that is not an object or has
//! no `method` (a response to the server), a key spelled twice in two cases (Go servers read
//! either). The same tool list narrows what the agent sees: the proxy removes the other tools
//! from `tools/list` results ([`McpRule::Tools`], [`crate::Verified::mcp_tools`]).

use crate::caveat::{string_heap, vec_heap, Caveat, CaveatError};
use crate::content::{shown, Content};
use crate::json::{At, Document, Value};

/// What an `mcp` caveat allows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum McpRule {
    /// `mcp method in M...`: every message's method is one of these.
    Methods(Vec<String>),
    /// `mcp tool in T...`: every `tools/call` names one of these tools.
    Tools(Vec<String>),
}

/// The method that calls a tool.
pub const TOOLS_CALL: &str = "tools/call";
/// The method that lists the tools.
pub const TOOLS_LIST: &str = "tools/list";

impl McpRule {
    pub(crate) fn heap_bytes(&self) -> usize {
        let (McpRule::Methods(v) | McpRule::Tools(v)) = self;
        vec_heap(v) + v.iter().map(|s| string_heap(s)).sum::<usize>()
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            McpRule::Methods(_) => "mcp-method",
            McpRule::Tools(_) => "mcp-tool",
        }
    }

    pub(crate) fn explain(&self) -> String {
        match self {
            McpRule::Methods(ms) => format!("only the MCP methods {}", ms.join(", ")),
            McpRule::Tools(ts) => format!(
                "only the MCP tools {} (other tools are refused, and hidden from tools/list)",
                ts.join(", ")
            ),
        }
    }

    pub(crate) fn write(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            McpRule::Methods(ms) => write!(f, "mcp method in {}", ms.join(" ")),
            McpRule::Tools(ts) => write!(f, "mcp tool in {}", ts.join(" ")),
        }
    }
}

/// Parses `FIELD KIND in V...` (`mcp tool in a b`, `graphql field in viewer`): the kind is
/// one of `kinds`, the operator `in`, and each value passes `value`. Returns the kind and the
/// values.
pub(crate) fn parse_list<'t>(
    text: &'t str,
    words: &[(usize, &'t str)],
    at: &dyn Fn(usize, String) -> CaveatError,
    kinds: &[&str],
    example: &str,
    value: impl Fn(&str, &str) -> Result<(), String>,
) -> Result<(&'t str, Vec<String>), CaveatError> {
    let (_, field) = words[0];
    let end = text.len() + 1;
    let Some(&(kind_at, kind)) = words.get(1) else {
        return Err(at(
            end,
            format!("\"{field}\" needs {}, as in \"{example}\"", kinds.join(" or ")),
        ));
    };
    if !kinds.contains(&kind) {
        return Err(at(
            kind_at,
            format!(
                "unknown {field} caveat {kind:?}; expected {}, as in \"{example}\"",
                kinds.join(" or ")
            ),
        ));
    }
    match words.get(2) {
        Some(&(_, "in")) => {}
        Some(&(op_at, op)) => {
            return Err(at(
                op_at,
                format!("unknown operator {op:?} for {field} {kind}; expected in"),
            ))
        }
        None => {
            return Err(at(
                end,
                format!("\"{field} {kind}\" has no operator; expected in, as in \"{example}\""),
            ))
        }
    }
    let values = &words[3..];
    if values.is_empty() {
        return Err(at(end, format!("\"{field} {kind} in\" needs a value")));
    }
    for &(w_at, w) in values {
        if w.chars().any(char::is_control) {
            return Err(at(w_at, "control characters are not allowed".into()));
        }
        value(kind, w).map_err(|m| at(w_at, m))?;
    }
    Ok((kind, values.iter().map(|(_, w)| w.to_string()).collect()))
}

/// Parses `mcp method in M...` and `mcp tool in T...`.
pub(crate) fn parse(
    text: &str,
    words: &[(usize, &str)],
    at: &dyn Fn(usize, String) -> CaveatError,
) -> Result<Caveat, CaveatError> {
    let (kind, values) = parse_list(
        text,
        words,
        at,
        &["method", "tool"],
        "mcp tool in list_issues get_issue",
        |_, _| Ok(()),
    )?;
    Ok(Caveat::Mcp(if kind == "method" {
        McpRule::Methods(values)
    } else {
        McpRule::Tools(values)
    }))
}

/// The messages of a JSON-RPC body: the object itself, or each element of a non-empty batch.
/// Each comes with the words that name it in a denial.
pub(crate) fn messages(doc: &Document<'_>) -> Result<Vec<(String, At)>, String> {
    let root = doc.root();
    match doc.value_at(root) {
        Some(Value::Object) => Ok(vec![("the JSON-RPC message".to_string(), root)]),
        Some(Value::Array) => {
            let all: Vec<(String, At)> = doc
                .elements(root)
                .enumerate()
                .map(|(i, at)| (format!("message {i} of the JSON-RPC batch"), at))
                .collect();
            if all.is_empty() {
                return Err("the body is an empty JSON-RPC batch; send at least one message".into());
            }
            Ok(all)
        }
        other => Err(format!(
            "the body is {}, not a JSON-RPC message (an object) or batch (an array)",
            other.map_or("nothing", |v| v.kind())
        )),
    }
}

/// The string `method` of one message.
pub(crate) fn method(doc: &Document<'_>, label: &str, at: At) -> Result<String, String> {
    match doc.value_at(at) {
        Some(Value::Object) => {}
        other => {
            return Err(format!(
                "{label} is {}, not a JSON-RPC object",
                other.map_or("nothing", |v| v.kind())
            ))
        }
    }
    let m = doc
        .member(at, "method")
        .map_err(|e| format!("{label}: {e}"))?
        .ok_or_else(|| {
            format!("{label} has no \"method\" (a response or malformed message); the token allows only requests and notifications")
        })?;
    match doc.value_at(m) {
        Some(Value::String(s)) => Ok(s.into_owned()),
        other => Err(format!(
            "{label} has a \"method\" that is {}, not a string",
            other.map_or("nothing", |v| v.kind())
        )),
    }
}

/// The tool a `tools/call` message names: its string `params.name`.
fn tool(doc: &Document<'_>, label: &str, at: At) -> Result<String, String> {
    let missing = || {
        format!("{label} is a tools/call without a string \"params.name\"; the caveat cannot tell which tool it calls")
    };
    let params = doc
        .member(at, "params")
        .map_err(|e| format!("{label}: {e}"))?
        .ok_or_else(missing)?;
    let name = doc
        .member(params, "name")
        .map_err(|e| format!("{label}: {e}"))?
        .ok_or_else(missing)?;
    match doc.value_at(name) {
        Some(Value::String(s)) => Ok(s.into_owned()),
        _ => Err(missing()),
    }
}

/// Checks every message of the body against the rule.
pub(crate) fn check(rule: &McpRule, content: &Content<'_>) -> Result<(), String> {
    let doc = content.json()?;
    for (label, at) in messages(doc)? {
        let m = method(doc, &label, at)?;
        match rule {
            McpRule::Methods(ms) => {
                if !ms.contains(&m) {
                    return Err(format!(
                        "{label} calls the MCP method {}; the token allows only {}",
                        shown(&m),
                        ms.join(", ")
                    ));
                }
            }
            McpRule::Tools(ts) => {
                if m == TOOLS_CALL {
                    let t = tool(doc, &label, at)?;
                    if !ts.contains(&t) {
                        return Err(format!(
                            "{label} calls the tool {}; the token allows only the tools {}",
                            shown(&t),
                            ts.join(", ")
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The tools every `mcp tool in` caveat among `caveats` allows (each tool in every list), or
/// `None` when there is no such caveat: what a `tools/list` result may show.
pub fn allowed_tools<'c>(caveats: impl IntoIterator<Item = &'c Caveat>) -> Option<Vec<String>> {
    let mut allowed: Option<Vec<String>> = None;
    for c in caveats {
        if let Caveat::Mcp(McpRule::Tools(ts)) = c {
            allowed = Some(match allowed {
                None => ts.clone(),
                Some(a) => a.into_iter().filter(|t| ts.contains(t)).collect(),
            });
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caveat::Caveat;
    use crate::host::Host;
    use crate::path::RequestPath;
    use crate::request::{BodyView, Method, Request, RequestBody};
    use std::time::SystemTime;

    fn parse(s: &str) -> Caveat {
        Caveat::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn req(ct: &str, body: &str) -> Request {
        let mut r = Request::new(
            SystemTime::UNIX_EPOCH,
            Method::new("POST").expect("method"),
            Host::normalize("api.githubcopilot.com").expect("host"),
            RequestPath::parse("/mcp/").expect("path"),
        );
        r.body = BodyView::Read(RequestBody::new(
            Some(ct.to_string()),
            None,
            body.as_bytes().to_vec().into(),
        ));
        r
    }

    fn check(c: &str, body: &str) -> Result<(), String> {
        parse(c).check(&req("application/json", body))
    }

    const TOOLS: &str = "mcp tool in list_issues get_issue";
    const METHODS: &str = "mcp method in initialize notifications/initialized tools/list tools/call";

    fn call(id: u32, tool: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#
        )
    }

    #[test]
    fn mcp_caveats_print_back_and_explain() {
        for s in [TOOLS, METHODS, "mcp tool in a"] {
            assert_eq!(parse(s).to_string(), s);
        }
        assert_eq!(parse(TOOLS).kind(), "mcp-tool");
        assert_eq!(parse(METHODS).kind(), "mcp-method");
        assert!(parse(TOOLS).needs_body());
        let e = parse(TOOLS).explain_at(SystemTime::UNIX_EPOCH);
        assert!(e.starts_with("only the MCP tools list_issues, get_issue"), "{e}");
    }

    #[test]
    fn malformed_mcp_caveats_are_parse_errors() {
        for (text, says) in [
            ("mcp", "needs method or tool"),
            ("mcp tools in a", "unknown mcp caveat \"tools\""),
            ("mcp tool = a", "expected in"),
            ("mcp tool", "no operator"),
            ("mcp tool in", "needs a value"),
            ("mcp tool in a\u{1}", "control"),
        ] {
            let e = Caveat::parse(text).expect_err(text);
            assert!(e.message.contains(says), "{text}: {e}");
        }
        assert_eq!(Caveat::parse("mcp tool = a").expect_err("op").column, 10);
    }

    #[test]
    fn allowed_tool_calls_pass_and_others_deny() {
        assert_eq!(check(TOOLS, &call(1, "get_issue")), Ok(()));
        let why = check(TOOLS, &call(1, "delete_repository")).expect_err("refused");
        assert!(why.contains("calls the tool delete_repository"), "{why}");
        assert!(why.contains("list_issues, get_issue"), "{why}");
        // Methods other than tools/call are not the tool caveat's business.
        assert_eq!(
            check(TOOLS, r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Ok(())
        );
    }

    #[test]
    fn a_refused_tool_in_the_second_message_of_a_batch_denies() {
        let batch = format!("[{},{}]", call(1, "get_issue"), call(2, "create_issue"));
        let why = check(TOOLS, &batch).expect_err("refused");
        assert!(
            why.starts_with("message 1 of the JSON-RPC batch calls the tool create_issue"),
            "{why}"
        );
        let ok = format!("[{},{}]", call(1, "get_issue"), call(2, "list_issues"));
        assert_eq!(check(TOOLS, &ok), Ok(()));
    }

    #[test]
    fn every_method_is_checked_notifications_included() {
        let init = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert_eq!(check(METHODS, init), Ok(()));
        assert_eq!(check(METHODS, &call(1, "anything")), Ok(()));
        let why = check(
            "mcp method in tools/list",
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/cancelled"}]"#,
        )
        .expect_err("notification");
        assert!(
            why.contains("message 1") && why.contains("notifications/cancelled"),
            "{why}"
        );
    }

    #[test]
    fn what_is_not_a_request_denies() {
        for (body, says) in [
            ("[]", "empty JSON-RPC batch"),
            ("\"tools/call\"", "not a JSON-RPC message"),
            ("[1]", "not a JSON-RPC object"),
            (r#"{"jsonrpc":"2.0","id":1,"result":{}}"#, "has no \"method\""),
            (r#"{"jsonrpc":"2.0","id":1,"method":7}"#, "not a string"),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
                "without a string \"params.name\"",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":3}}"#,
                "params.name",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}"#,
                "params.name",
            ),
            // Duplicate keys anywhere: the strict reader refuses the body.
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_issue","name":"delete_repository"}}"#,
                "duplicate key",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_issue","arguments":{"a":1,"a":2}}}"#,
                "duplicate key",
            ),
            // Two spellings Go's encoding/json reads as one key.
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_issue","NAME":"delete_repository"}}"#,
                "2 times",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"x"}}"#,
                "2 times",
            ),
            ("{\"method\":\"tools/list\"} {}", "more after"),
        ] {
            let why = check(TOOLS, body).expect_err(body);
            assert!(why.contains(says), "{body}: {why}");
        }
        let why = parse(TOOLS)
            .check(&req("text/plain", &call(1, "get_issue")))
            .expect_err("type");
        assert!(why.contains("text/plain"), "{why}");
        let mut unread = req("application/json", "{}");
        unread.body = BodyView::NotRead;
        assert!(parse(TOOLS).check(&unread).is_err());
    }

    #[test]
    fn deep_nesting_denies() {
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"get_issue","arguments":{}1{}}}}}"#,
            "[".repeat(80),
            "]".repeat(80)
        );
        assert!(check(TOOLS, &deep).expect_err("deep").contains("deep"));
    }

    #[test]
    fn allowed_tools_intersect_every_tool_caveat() {
        let cs = [
            parse("mcp tool in a b c"),
            parse("method = POST"),
            parse("mcp tool in c b d"),
        ];
        assert_eq!(allowed_tools(&cs), Some(vec!["b".to_string(), "c".to_string()]));
        assert_eq!(allowed_tools(&[parse("mcp method in tools/list")]), None);
    }
}
