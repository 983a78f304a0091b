//! The body views and pointer lookup behind `query`, `form`, `json` and `body size`
//! caveats must never panic, whatever the body, query string, Content-Type or caveat.
//!
//! Input: `HEADER\0BODY`. The header's first byte picks the Content-Type; its lines are
//! caveats (a line starting with `?` is the query string instead). Without a parsable
//! caveat a default set of every kind is used, so any body exercises both readers.
//!
//! Oracles beyond not panicking:
//! - one decision shares one read of the content across caveats: `check_predicates` must
//!   give exactly the first failure of the caveats checked one by one, each on its own;
//! - our JSON reader is stricter than serde_json, never looser: a body serde_json refuses
//!   makes every `json` caveat deny, and where `json P = V` allows, serde_json finds the
//!   string V or a number at P.
#![no_main]

use std::time::SystemTime;

use caveat::{
    check_predicates, BodyView, Caveat, Decision, Host, Method, Request, RequestBody, RequestPath,
};
use libfuzzer_sys::fuzz_target;

const DEFAULTS: &[&str] = &[
    "json /model in gpt-4o-mini gpt-4.1-mini",
    "json /messages/0/role = user",
    "json /max_tokens <= 1000",
    "json /a~1b/0 >= -1.5",
    "form amount <= 5000",
    "form metadata[order] = 42",
    "query limit in 10 20",
    "body size <= 4096",
];

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("application/vnd.api+json; charset=UTF-8"),
    Some("application/x-www-form-urlencoded; charset=\"utf-8\""),
    None,
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let content_type = CONTENT_TYPES[header.bytes().next().unwrap_or(0) as usize % CONTENT_TYPES.len()];
    let mut query = None;
    let mut caveats: Vec<Caveat> = Vec::new();
    for line in header.split('\n').take(8) {
        if let Some(q) = line.strip_prefix('?') {
            query = Some(q.to_string());
        } else if let Ok(c) = Caveat::parse(line) {
            caveats.push(c);
        }
    }
    if caveats.is_empty() {
        caveats = DEFAULTS.iter().filter_map(|t| Caveat::parse(t).ok()).collect();
    }
    let mut req = Request::new(
        SystemTime::UNIX_EPOCH,
        Method::new("POST").expect("method"),
        Host::parse_canonical("api.example.com").expect("host"),
        RequestPath::parse("/v1/x").expect("path"),
    );
    req.query = query;
    req.body = BodyView::Read(RequestBody::new(
        content_type.map(str::to_string),
        None,
        body.to_vec().into(),
    ));

    // One read shared by all caveats decides exactly like each caveat on its own.
    let predicates: Vec<Vec<u8>> = caveats.iter().map(|c| c.to_string().into_bytes()).collect();
    let shared = check_predicates(&predicates, &req);
    let first_failure = caveats
        .iter()
        .find_map(|c| c.check(&req).err().map(|why| (c.to_string(), why)));
    match (&shared, &first_failure) {
        (Decision::Allow, None) => {}
        (Decision::Deny(d), Some((caveat, why))) => {
            assert_eq!(d.caveat.as_deref(), Some(caveat.as_str()));
            assert_eq!(&d.reason, why);
        }
        _ => panic!("shared read {shared:?} differs from one by one {first_failure:?}"),
    }
    let _ = caveat::needs_body(&predicates);

    // Stricter than serde_json, never looser.
    let json_type = content_type.is_some_and(|t| t.contains("json"));
    if !json_type {
        return;
    }
    let theirs: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    for c in &caveats {
        let Caveat::Json { pointer, condition } = c else {
            continue;
        };
        let allowed = c.check(&req).is_ok();
        let Some(doc) = &theirs else {
            assert!(!allowed, "{c} allowed a body serde_json refuses");
            continue;
        };
        if !allowed {
            continue;
        }
        let found = doc.pointer(pointer.as_str());
        match condition {
            caveat::Condition::Is(v) => match found {
                Some(serde_json::Value::String(s)) => assert_eq!(s, v, "{c}"),
                Some(serde_json::Value::Number(_)) => {}
                other => panic!("{c} allowed, serde_json finds {other:?}"),
            },
            caveat::Condition::In(vs) => match found {
                Some(serde_json::Value::String(s)) => assert!(vs.contains(s), "{c}: {s:?}"),
                Some(serde_json::Value::Number(_)) => {}
                other => panic!("{c} allowed, serde_json finds {other:?}"),
            },
            caveat::Condition::AtMost(_) | caveat::Condition::AtLeast(_) => {
                assert!(
                    matches!(found, Some(serde_json::Value::Number(_))),
                    "{c} allowed, serde_json finds {found:?}"
                );
            }
        }
    }
});
