//! `graphql operation in query` and `graphql field in ...` on any request must never panic
//! (nor loop: fragments can spread each other), and never allow what `graphql-parser` (an
//! independent GraphQL parser, graphql-rust's) reads as a mutation or a refused root field.
//!
//! Input: the first byte picks the shape: a POST body `{"query": REST}` (REST as a JSON
//! string), REST as the raw POST body, or a GET with `?query=REST` percent-encoded. Oracle:
//! where a caveat allows and graphql-parser parses the document, every operation it sees is
//! a query, and every root field (aliases resolved, fragment spreads and inline fragments at
//! the root followed) is one of the listed ones.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use caveat::{BodyView, Caveat, Host, Method, Request, RequestBody, RequestPath};
use graphql_parser::query::{Definition, Document, OperationDefinition, Selection, SelectionSet};
use libfuzzer_sys::fuzz_target;

const FIELDS: &[&str] = &["viewer", "repository"];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let (method, query, body, document) = match mode % 3 {
        0 => ("POST", None, serde_json::json!({ "query": text }).to_string().into_bytes(), Some(text)),
        1 => ("POST", None, rest.to_vec(), raw_query(rest)),
        _ => {
            let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
            ("GET", Some(format!("query={encoded}")), Vec::new(), Some(text))
        }
    };
    let mut req = Request::new(
        SystemTime::UNIX_EPOCH,
        Method::new(method).expect("method"),
        Host::parse_canonical("api.github.com").expect("host"),
        RequestPath::parse("/graphql").expect("path"),
    );
    req.query = query;
    req.body = BodyView::Read(RequestBody::new(Some("application/json".into()), None, body.into()));
    let ops = Caveat::parse("graphql operation in query").expect("caveat");
    let fields = Caveat::parse(&format!("graphql field in {}", FIELDS.join(" "))).expect("caveat");
    let ops_ok = ops.check(&req).is_ok();
    let fields_ok = fields.check(&req).is_ok();
    if !(ops_ok || fields_ok) {
        return;
    }
    let document = document.expect("allowed, so the body had a query string");
    let Ok(doc) = graphql_parser::parse_query::<String>(&document) else {
        return;
    };
    for (kind, roots) in operations(&doc) {
        if ops_ok {
            assert_eq!(kind, "query", "{document:?}");
        }
        if fields_ok {
            for f in roots {
                assert!(FIELDS.contains(&f.as_str()), "root field {f:?} allowed in {document:?}");
            }
        }
    }
});

/// The `query` string of a raw JSON body, as serde_json reads it.
fn raw_query(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("query")?.as_str().map(str::to_string)
}

/// Each operation's type and root field names, as graphql-parser reads the document.
fn operations(doc: &Document<'_, String>) -> Vec<(&'static str, Vec<String>)> {
    let fragments: HashMap<&str, &SelectionSet<'_, String>> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Fragment(f) => Some((f.name.as_str(), &f.selection_set)),
            Definition::Operation(_) => None,
        })
        .collect();
    doc.definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Operation(op) => Some(op),
            Definition::Fragment(_) => None,
        })
        .map(|op| {
            let (kind, set) = match op {
                OperationDefinition::SelectionSet(s) => ("query", s),
                OperationDefinition::Query(q) => ("query", &q.selection_set),
                OperationDefinition::Mutation(m) => ("mutation", &m.selection_set),
                OperationDefinition::Subscription(s) => ("subscription", &s.selection_set),
            };
            let mut roots = Vec::new();
            let mut seen = HashSet::new();
            let mut todo = vec![set];
            while let Some(set) = todo.pop() {
                for sel in &set.items {
                    match sel {
                        Selection::Field(f) => roots.push(f.name.clone()),
                        Selection::InlineFragment(i) => todo.push(&i.selection_set),
                        Selection::FragmentSpread(s) => {
                            if let Some(f) = fragments.get(s.fragment_name.as_str()) {
                                if seen.insert(s.fragment_name.as_str()) {
                                    todo.push(f);
                                }
                            }
                        }
                    }
                }
            }
            (kind, roots)
        })
        .collect()
}
