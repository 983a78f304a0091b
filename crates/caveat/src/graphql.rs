//! `graphql operation in query|mutation|subscription...` and `graphql field in F...`: what
//! an agent may ask of a GraphQL API (GitHub, Shopify, Linear).
//!
//! The request is a POST `application/json` body `{"query", "operationName"?, "variables"?,
//! "extensions"?}` or a GET with `?query=` (and `operationName`, `variables`). Every
//! operation in the document is checked, not only the one `operationName` picks: servers
//! differ on which one runs, and a caveat cannot depend on it. The root fields of an
//! operation are the field names (never the aliases) in its selection set, following
//! fragment spreads and inline fragments at the root (each fragment once, so a cycle ends).
//!
//! Anything the caveat cannot read denies: another content type, a batch (an array), a key
//! other than those four (`id`, `doc_id`: a stored document the server would run instead),
//! a persisted-query hash without the query text, the parameters in both the URL and the
//! body (servers differ on which wins), a document that does not parse (with Apollo's
//! `apollo-parser`, spec-compliant, with recursion and token limits), a type definition, a
//! fragment defined twice or not at all, a document without operations.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use apollo_parser::cst;

use crate::caveat::{string_heap, vec_heap, Caveat, CaveatError};
use crate::content::{query_has, query_value, shown, Content};
use crate::json::{Document, Value};
use crate::request::Request;

/// Nesting the parser follows before it refuses the document.
const RECURSION_LIMIT: usize = 128;
/// Tokens the lexer reads before it refuses the document.
const TOKEN_LIMIT: usize = 100_000;

/// The request parameters a GraphQL server reads.
const PARAMS: [&str; 4] = ["query", "operationName", "variables", "extensions"];

/// A GraphQL operation type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OperationKind {
    /// `query` (and the shorthand `{ ... }`).
    Query,
    /// `mutation`
    Mutation,
    /// `subscription`
    Subscription,
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
            OperationKind::Subscription => "subscription",
        })
    }
}

/// What a `graphql` caveat allows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum GraphQlRule {
    /// `graphql operation in ...`: every operation is of these types.
    Operations(Vec<OperationKind>),
    /// `graphql field in F...`: every root field of every operation is one of these.
    Fields(Vec<String>),
}

impl GraphQlRule {
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            GraphQlRule::Operations(ks) => vec_heap(ks),
            GraphQlRule::Fields(fs) => vec_heap(fs) + fs.iter().map(|s| string_heap(s)).sum::<usize>(),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            GraphQlRule::Operations(_) => "graphql-operation",
            GraphQlRule::Fields(_) => "graphql-field",
        }
    }

    pub(crate) fn explain(&self) -> String {
        match self {
            GraphQlRule::Operations(ks) => format!("only GraphQL operations of type {}", join(ks, ", ")),
            GraphQlRule::Fields(fs) => format!("only the GraphQL root fields {}", fs.join(", ")),
        }
    }

    pub(crate) fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphQlRule::Operations(ks) => write!(f, "graphql operation in {}", join(ks, " ")),
            GraphQlRule::Fields(fs) => write!(f, "graphql field in {}", fs.join(" ")),
        }
    }
}

fn join<T: fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// A GraphQL name: `[_A-Za-z][_0-9A-Za-z]*`.
fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c == b'_' || c.is_ascii_alphabetic())
        && b.all(|c| c == b'_' || c.is_ascii_alphanumeric())
}

/// Parses `graphql operation in ...` and `graphql field in ...`.
pub(crate) fn parse(
    text: &str,
    words: &[(usize, &str)],
    at: &dyn Fn(usize, String) -> CaveatError,
) -> Result<Caveat, CaveatError> {
    let (kind, values) = crate::mcp::parse_list(
        text,
        words,
        at,
        &["operation", "field"],
        "graphql operation in query",
        |kind, w| match kind {
            "operation" if !matches!(w, "query" | "mutation" | "subscription") => Err(format!(
                "{w:?} is not an operation type; expected query, mutation or subscription"
            )),
            "field" if !is_name(w) => Err(format!(
                "{w:?} is not a GraphQL field name (letters, digits and _, not starting with a digit)"
            )),
            _ => Ok(()),
        },
    )?;
    Ok(Caveat::GraphQl(if kind == "operation" {
        GraphQlRule::Operations(
            values
                .iter()
                .map(|v| match v.as_str() {
                    "mutation" => OperationKind::Mutation,
                    "subscription" => OperationKind::Subscription,
                    _ => OperationKind::Query,
                })
                .collect(),
        )
    } else {
        GraphQlRule::Fields(values)
    }))
}

/// One operation of a document, as the caveats see it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Operation {
    /// Its name, or `None` when anonymous.
    pub name: Option<String>,
    /// Its type.
    pub kind: OperationKind,
    /// The names of the fields it selects at the root, fragments followed, in order, once each.
    pub root_fields: Vec<String>,
}

impl Operation {
    fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("the {} {n}", self.kind),
            None => format!("an anonymous {}", self.kind),
        }
    }
}

/// Checks every operation of the request's document against the rule.
pub(crate) fn check(rule: &GraphQlRule, req: &Request, content: &Content<'_>) -> Result<(), String> {
    let document = document(req, content)?;
    for op in operations(&document)? {
        match rule {
            GraphQlRule::Operations(ks) => {
                if !ks.contains(&op.kind) {
                    return Err(format!(
                        "the document holds {}; the token allows only GraphQL operations of type {}",
                        op.label(),
                        join(ks, ", ")
                    ));
                }
            }
            GraphQlRule::Fields(fs) => {
                if let Some(f) = op.root_fields.iter().find(|f| !fs.contains(f)) {
                    return Err(format!(
                        "{} selects the root field {}; the token allows only {}",
                        op.label(),
                        shown(f),
                        fs.join(", ")
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The document text of a GraphQL request: `?query=` for a GET (with an empty body), else the
/// `query` of a JSON body (with none of the parameters in the URL).
fn document<'r>(req: &Request, content: &Content<'r>) -> Result<Cow<'r, str>, String> {
    if matches!(req.method.as_str(), "GET" | "HEAD") {
        if content.body().is_ok_and(|b| !b.bytes.is_empty()) {
            return Err("a GET GraphQL request has a body too; send the query in ?query= only".into());
        }
        for name in ["operationName", "variables", "extensions"] {
            query_value(content, name)?;
        }
        return query_value(content, "query")?.ok_or_else(|| {
            "the GraphQL GET request has no ?query= (a persisted query without its text cannot be checked); send the query text".into()
        });
    }
    for name in PARAMS {
        if query_has(content, name)? {
            return Err(format!(
                "the URL has a {name} parameter as well as the JSON body, and servers differ on which one they read; send it in the body only"
            ));
        }
    }
    let doc = content.json()?;
    request_query(doc)
}

/// The `query` of one GraphQL request object, every other key checked.
fn request_query<'r>(doc: &Document<'r>) -> Result<Cow<'r, str>, String> {
    let root = doc.root();
    match doc.value_at(root) {
        Some(Value::Object) => {}
        Some(Value::Array) => {
            return Err(
                "the body is a batch of GraphQL requests (an array); send one request at a time".into(),
            )
        }
        other => {
            return Err(format!(
                "the body is {}, not a GraphQL request object",
                other.map_or("nothing", |v| v.kind())
            ))
        }
    }
    for (key, _) in doc.members(root) {
        if !PARAMS.contains(&key.as_ref()) {
            return Err(format!(
                "the GraphQL request has the key {}; the caveat reads only query, operationName, variables and extensions (a stored document id cannot be checked)",
                shown(&key)
            ));
        }
    }
    let kinds: [(&str, &[&str]); 3] = [
        ("operationName", &["a string", "null"]),
        ("variables", &["an object", "null"]),
        ("extensions", &["an object", "null"]),
    ];
    for (key, allowed) in kinds {
        if let Some(at) = doc.member(root, key)? {
            let kind = doc.value_at(at).map_or("nothing", |v| v.kind());
            if !allowed.contains(&kind) {
                return Err(format!(
                    "the GraphQL request's {key} is {kind}, not {}",
                    allowed.join(" or ")
                ));
            }
        }
    }
    let Some(query) = doc.member(root, "query")? else {
        return Err("the GraphQL request has no \"query\" text (a persisted-query hash alone cannot be checked); send the query text".into());
    };
    match doc.value_at(query) {
        Some(Value::String(s)) => Ok(s),
        other => Err(format!(
            "the GraphQL request's query is {}, not a string",
            other.map_or("nothing", |v| v.kind())
        )),
    }
}

/// Every operation of a GraphQL document, with its root fields.
pub(crate) fn operations(text: &str) -> Result<Vec<Operation>, String> {
    let tree = apollo_parser::Parser::new(text)
        .recursion_limit(RECURSION_LIMIT)
        .token_limit(TOKEN_LIMIT)
        .parse();
    if let Some(e) = tree.errors().next() {
        return Err(format!(
            "the GraphQL document does not parse: {} (at byte {})",
            e.message(),
            e.index()
        ));
    }
    let mut ops = Vec::new();
    let mut fragments: HashMap<String, cst::SelectionSet> = HashMap::new();
    for def in tree.document().definitions() {
        match def {
            cst::Definition::OperationDefinition(op) => ops.push(op),
            cst::Definition::FragmentDefinition(f) => {
                let name = f
                    .fragment_name()
                    .and_then(|n| n.name())
                    .map(|n| n.text().to_string())
                    .ok_or("a fragment has no name")?;
                let set = f
                    .selection_set()
                    .ok_or_else(|| format!("the fragment {name} has no selection set"))?;
                if fragments.insert(name.clone(), set).is_some() {
                    return Err(format!(
                        "the fragment {} is defined twice; servers differ on which one they use",
                        shown(&name)
                    ));
                }
            }
            _ => return Err(
                "the document holds a type system definition; a request holds only operations and fragments"
                    .into(),
            ),
        }
    }
    if ops.is_empty() {
        return Err("the GraphQL document has no operation".into());
    }
    ops.iter()
        .map(|op| {
            let kind = match op.operation_type() {
                None => OperationKind::Query,
                Some(t) if t.mutation_token().is_some() => OperationKind::Mutation,
                Some(t) if t.subscription_token().is_some() => OperationKind::Subscription,
                Some(_) => OperationKind::Query,
            };
            let name = op.name().map(|n| n.text().to_string());
            let set = op.selection_set().ok_or("an operation has no selection set")?;
            Ok(Operation {
                root_fields: root_fields(set, &fragments)?,
                name,
                kind,
            })
        })
        .collect()
}

/// The field names selected at the root: fields, then fragment spreads and inline fragments
/// followed, each named fragment once (a cycle ends; a server would refuse it anyway).
fn root_fields(
    set: cst::SelectionSet,
    fragments: &HashMap<String, cst::SelectionSet>,
) -> Result<Vec<String>, String> {
    let mut fields: Vec<String> = Vec::new();
    let mut seen_fields = HashSet::new();
    let mut seen_fragments = HashSet::new();
    let mut todo = vec![set];
    while let Some(set) = todo.pop() {
        for selection in set.selections() {
            crate::steps::step();
            match selection {
                cst::Selection::Field(f) => {
                    let name = f
                        .name()
                        .map(|n| n.text().to_string())
                        .ok_or("a field has no name")?;
                    if seen_fields.insert(name.clone()) {
                        fields.push(name);
                    }
                }
                cst::Selection::FragmentSpread(s) => {
                    let name = s
                        .fragment_name()
                        .and_then(|n| n.name())
                        .map(|n| n.text().to_string())
                        .ok_or("a fragment spread has no name")?;
                    let Some(frag) = fragments.get(&name) else {
                        return Err(format!("the fragment {} is used but not defined", shown(&name)));
                    };
                    if seen_fragments.insert(name) {
                        todo.push(frag.clone());
                    }
                }
                cst::Selection::InlineFragment(i) => {
                    let inner = i
                        .selection_set()
                        .ok_or("an inline fragment has no selection set")?;
                    todo.push(inner);
                }
            }
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::path::RequestPath;
    use crate::request::{BodyView, Method, RequestBody};
    use std::time::SystemTime;

    fn parse(s: &str) -> Caveat {
        Caveat::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn req(method: &str, query: Option<&str>, ct: Option<&str>, body: &str) -> Request {
        let mut r = Request::new(
            SystemTime::UNIX_EPOCH,
            Method::new(method).expect("method"),
            Host::normalize("api.github.com").expect("host"),
            RequestPath::parse("/graphql").expect("path"),
        );
        r.query = query.map(str::to_string);
        r.body = BodyView::Read(RequestBody::new(
            ct.map(str::to_string),
            None,
            body.as_bytes().to_vec().into(),
        ));
        r
    }

    fn post(body: &str) -> Request {
        req("POST", None, Some("application/json"), body)
    }

    fn body(query: &str) -> String {
        serde_json::json!({ "query": query }).to_string()
    }

    const QUERIES: &str = "graphql operation in query";
    const FIELDS: &str = "graphql field in viewer repository";

    fn check(c: &str, r: &Request) -> Result<(), String> {
        parse(c).check(r)
    }

    fn fields(doc: &str) -> Vec<String> {
        operations(doc)
            .expect("parses")
            .into_iter()
            .flat_map(|o| o.root_fields)
            .collect()
    }

    #[test]
    fn graphql_caveats_print_back_and_explain() {
        for s in [
            QUERIES,
            FIELDS,
            "graphql operation in query mutation subscription",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
        assert_eq!(parse(QUERIES).kind(), "graphql-operation");
        assert_eq!(parse(FIELDS).kind(), "graphql-field");
        assert!(parse(FIELDS).needs_body());
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            parse(QUERIES).explain_at(now),
            "only GraphQL operations of type query"
        );
        assert_eq!(
            parse(FIELDS).explain_at(now),
            "only the GraphQL root fields viewer, repository"
        );
    }

    #[test]
    fn malformed_graphql_caveats_are_parse_errors() {
        for (text, says) in [
            ("graphql operation in Query", "not an operation type"),
            ("graphql operation in fragment", "not an operation type"),
            ("graphql field in 1viewer", "not a GraphQL field name"),
            ("graphql field in view-er", "not a GraphQL field name"),
            ("graphql fields in viewer", "unknown graphql caveat"),
            ("graphql field = viewer", "expected in"),
            ("graphql", "needs operation or field"),
        ] {
            let e = Caveat::parse(text).expect_err(text);
            assert!(e.message.contains(says), "{text}: {e}");
        }
        assert_eq!(
            Caveat::parse("graphql field in viewer 1x").expect_err("x").column,
            25
        );
    }

    #[test]
    fn queries_pass_and_mutations_deny() {
        let q = post(&body("query { viewer { login } }"));
        assert_eq!(check(QUERIES, &q), Ok(()));
        assert_eq!(check(QUERIES, &post(&body("{ viewer { login } }"))), Ok(()));
        let m = post(&body("mutation Add { addStar(input: {}) { clientMutationId } }"));
        let why = check(QUERIES, &m).expect_err("mutation");
        assert!(why.contains("the mutation Add"), "{why}");
        let s = post(&body("subscription { x }"));
        assert!(check(QUERIES, &s)
            .expect_err("sub")
            .contains("an anonymous subscription"));
    }

    #[test]
    fn every_operation_is_checked_whatever_operation_name_picks() {
        let two = serde_json::json!({
            "query": "query Read { viewer { login } } mutation Write { deleteRepository(input: {}) { x } }",
            "operationName": "Read",
        })
        .to_string();
        let why = check(QUERIES, &post(&two)).expect_err("the mutation is refused");
        assert!(why.contains("the mutation Write"), "{why}");
        let why = check(FIELDS, &post(&two)).expect_err("its field is refused");
        assert!(why.contains("root field deleteRepository"), "{why}");
    }

    #[test]
    fn aliases_resolve_to_field_names() {
        assert_eq!(fields("{ viewer: deleteRepository { x } }"), ["deleteRepository"]);
        let why = check(FIELDS, &post(&body("{ viewer: createIssue(input: {}) { x } }"))).expect_err("alias");
        assert!(why.contains("createIssue"), "{why}");
        assert_eq!(check(FIELDS, &post(&body("{ me: viewer { login } }"))), Ok(()));
    }

    #[test]
    fn fragments_on_the_root_are_followed_and_cycles_end() {
        assert_eq!(
            fields("query { ...A ... on Query { repository(name: \"x\") { id } } } fragment A on Query { viewer { id } ...B } fragment B on Query { secret }"),
            ["repository", "viewer", "secret"]
        );
        // A cycle (A spreads B spreads A) ends, and still sees every field.
        let cyclic = "{ ...A } fragment A on Query { viewer ...B } fragment B on Query { organization ...A }";
        assert_eq!(fields(cyclic), ["viewer", "organization"]);
        let why = check(FIELDS, &post(&body(cyclic))).expect_err("cycle");
        assert!(why.contains("organization"), "{why}");
        // A self-spread ends too; the steps stay small.
        let (fs, steps) =
            crate::steps::counted(|| fields("{ ...A } fragment A on Query { ...A ...A viewer }"));
        assert_eq!(fs, ["viewer"]);
        assert!(steps < 20, "{steps}");
        // Nested fields are not root fields.
        assert_eq!(fields("{ viewer { repository { id } } }"), ["viewer"]);
        // A mutation through a fragment on the root is still a mutation's field.
        let m = "mutation { ...M } fragment M on Mutation { deleteRepository(input: {}) { x } }";
        assert!(check(FIELDS, &post(&body(m)))
            .expect_err("m")
            .contains("deleteRepository"));
    }

    #[test]
    fn undefined_or_doubly_defined_fragments_deny() {
        for (doc, says) in [
            ("{ ...Missing }", "not defined"),
            (
                "{ ...A } fragment A on Query { viewer } fragment A on Query { deleteRepository }",
                "defined twice",
            ),
        ] {
            let why = check(FIELDS, &post(&body(doc))).expect_err(doc);
            assert!(why.contains(says), "{doc}: {why}");
        }
    }

    #[test]
    fn what_the_caveat_cannot_read_denies() {
        let persisted = r#"{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}"#;
        for (r, says) in [
            (post(persisted), "persisted-query hash"),
            (post(&body("{ viewer ")), "does not parse"),
            (post(&body("")), "does not parse"),
            (post(&body("type Query { x: Int }")), "type system definition"),
            (post(&body("fragment A on Query { viewer }")), "no operation"),
            (post(r#"[{"query":"{ viewer }"}]"#), "batch"),
            (post(r#"{"query":"{ viewer }","id":"abc"}"#), "the key id"),
            (
                post(r#"{"query":"{ viewer }","QUERY":"mutation { x }"}"#),
                "the key QUERY",
            ),
            (
                post(r#"{"query":"{ viewer }","query":"mutation { x }"}"#),
                "duplicate key",
            ),
            (post(r#"{"query":["{ viewer }"]}"#), "not a string"),
            (
                post(r#"{"query":"{ viewer }","variables":[]}"#),
                "variables is an array",
            ),
            (
                post(r#"{"query":"{ viewer }","operationName":1}"#),
                "operationName is a number",
            ),
            (
                req("POST", None, Some("application/graphql"), "{ viewer }"),
                "application/graphql",
            ),
            (
                req(
                    "POST",
                    Some("query=mutation%7Bx%7D"),
                    Some("application/json"),
                    &body("{ viewer }"),
                ),
                "the URL has a query parameter",
            ),
            (req("GET", None, None, ""), "no ?query="),
            (
                req("GET", Some("query=%7Bviewer%7D&query=mutation%7Bx%7D"), None, ""),
                "2 times",
            ),
            (
                req(
                    "GET",
                    Some("query=%7Bviewer%7D"),
                    Some("application/json"),
                    &body("{ viewer }"),
                ),
                "has a body too",
            ),
            (
                req(
                    "GET",
                    Some("query=%7B%20viewer%20%7D&operationName=a&operationName=b"),
                    None,
                    "",
                ),
                "2 times",
            ),
        ] {
            let why = check(QUERIES, &r).expect_err(says);
            assert!(why.contains(says), "{says}: {why}");
        }
        // Deep nesting stops at the parser's limit.
        let deep = format!("{{ viewer {}{} }}", "{ a ".repeat(200), "}".repeat(200));
        assert!(check(QUERIES, &post(&body(&deep)))
            .expect_err("deep")
            .contains("limit"));
    }

    #[test]
    fn get_reads_the_query_string() {
        let q = "query=query%20%7B%20viewer%20%7B%20login%20%7D%20%7D&operationName=&variables=%7B%7D";
        let r = req("GET", Some(q), None, "");
        assert_eq!(check(QUERIES, &r), Ok(()));
        assert_eq!(check(FIELDS, &r), Ok(()));
        let m = req("GET", Some("query=mutation%7BdeleteRepository%7D"), None, "");
        assert!(check(QUERIES, &m).expect_err("m").contains("mutation"));
        let plus = req("GET", Some("query=%7B+organization+%7D"), None, "");
        assert!(check(FIELDS, &plus).expect_err("f").contains("organization"));
    }

    #[test]
    fn null_parameters_and_extensions_with_the_text_pass() {
        let b = r#"{"query":"query Q { viewer { id } }","operationName":null,"variables":null,"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}}"#;
        assert_eq!(check(QUERIES, &post(b)), Ok(()));
        assert_eq!(check(FIELDS, &post(b)), Ok(()));
    }
}
