//! `--audit-format ocsf`: an audit line as an OCSF 1.3 event (docs/audit.md has the table).
//!
//! Requests (and `CONNECT` lines) are HTTP Activity (4002, Network Activity); a person's
//! approval decision and an operator's admin action are API Activity (6003, Application
//! Activity). The mapping reads the rendered line, so a field it does not know lands under
//! `unmapped` as it is: nothing the JSON line says is lost, and nothing is added that it
//! does not say (the line holds only fingerprints, never a token or a secret).

use serde_json::{json, Map, Value};

use super::event::{field, summary, Outcome};

/// The OCSF schema version the events follow.
pub const VERSION: &str = "1.3.0";

/// The OCSF event for one audit line.
pub fn map(event: &Map<String, Value>) -> Value {
    let kind = field(event, "event");
    let api = matches!(kind, Some("approval" | "admin")) || (kind.is_some() && !event.contains_key("method"));
    let mut out = if api {
        api_activity(event)
    } else {
        http_activity(event)
    };
    let consumed: &[&str] = if api { API_KEYS } else { HTTP_KEYS };
    common(event, &mut out);
    let unmapped: Map<String, Value> = event
        .iter()
        .filter(|(k, v)| !consumed.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !unmapped.is_empty() {
        out["unmapped"] = Value::Object(unmapped);
    }
    out
}

/// The line's fields that an HTTP Activity event has a place for (the rest go under
/// `unmapped`; `labels` too, whose last name is also `actor.app_name`).
const HTTP_KEYS: &[&str] = &[
    "time",
    "request_id",
    "client",
    "method",
    "host",
    "path",
    "query",
    "status",
    "decision",
    "reason",
    "issuer",
    "total_ms",
];

/// The same for API Activity: the operator (or approver) is the actor.
const API_KEYS: &[&str] = &[
    "time",
    "request_id",
    "client",
    "method",
    "host",
    "path",
    "query",
    "status",
    "decision",
    "reason",
    "operator",
];

/// HTTP Activity (4002): one request through the proxy.
fn http_activity(event: &Map<String, Value>) -> Value {
    let method = field(event, "method").unwrap_or("");
    let (activity_id, activity_name) = match method.to_ascii_uppercase().as_str() {
        "CONNECT" => (1, "Connect"),
        "DELETE" => (2, "Delete"),
        "GET" => (3, "Get"),
        "HEAD" => (4, "Head"),
        "OPTIONS" => (5, "Options"),
        "POST" => (6, "Post"),
        "PUT" => (7, "Put"),
        "TRACE" => (8, "Trace"),
        "" => (0, "Unknown"),
        _ => (99, "Other"),
    };
    let activity_name = if activity_id == 99 { method } else { activity_name };
    let mut out = json!({
        "class_uid": 4002,
        "class_name": "HTTP Activity",
        "category_uid": 4,
        "category_name": "Network Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 400200 + activity_id,
        "type_name": format!("HTTP Activity: {activity_name}"),
    });
    if let Some(host) = field(event, "host") {
        let (name, port) = host_port(host);
        out["dst_endpoint"] = json!({ "hostname": name });
        if let Some(port) = port {
            out["dst_endpoint"]["port"] = json!(port);
        }
    }
    if let Some(ms) = event
        .get("total_ms")
        .and_then(Value::as_f64)
        .filter(|ms| ms.is_finite())
    {
        out["duration"] = json!(ms.round() as i64);
    }
    let mut actor = Map::new();
    if let Some(issuer) = field(event, "issuer") {
        actor.insert("user".into(), json!({ "name": issuer }));
    }
    // The delegation path's last name: the agent or skill that sent the request.
    if let Some(last) = event
        .get("labels")
        .and_then(Value::as_array)
        .and_then(|l| l.last()?.as_str())
    {
        actor.insert("app_name".into(), json!(last));
    }
    if !actor.is_empty() {
        out["actor"] = Value::Object(actor);
    }
    out
}

/// API Activity (6003): a person's approval decision or an operator's admin action.
fn api_activity(event: &Map<String, Value>) -> Value {
    let kind = field(event, "event").unwrap_or("audit");
    let (activity_id, activity_name) = if kind == "approval" {
        // A pending approval's state changes (approved, denied, expired).
        (3, "Update")
    } else {
        match field(event, "method").map(str::to_ascii_uppercase).as_deref() {
            Some("GET" | "HEAD") => (2, "Read"),
            Some("POST") => (1, "Create"),
            Some("PUT" | "PATCH") => (3, "Update"),
            Some("DELETE") => (4, "Delete"),
            _ => (99, "Other"),
        }
    };
    let operation = field(event, "action")
        .map(str::to_string)
        .or_else(|| {
            let decision =
                field(event, "decision").or_else(|| event.get("approval")?.get("decision")?.as_str())?;
            Some(format!("{kind} {decision}"))
        })
        .unwrap_or_else(|| kind.to_string());
    let mut out = json!({
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 600300 + activity_id,
        "type_name": format!("API Activity: {activity_name}"),
        "api": { "operation": operation, "service": { "name": "macaroon-proxy" } },
    });
    // Who acted: the operator, else the approver.
    let who = field(event, "operator")
        .or_else(|| field(event, "by"))
        .or_else(|| event.get("approval")?.get("by")?.as_str());
    out["actor"] = match who {
        Some(name) => json!({ "user": { "name": name } }),
        None => json!({ "app_name": "macaroon-proxy" }),
    };
    out
}

/// What every event has: time, severity, status and disposition by decision, the request
/// (when the line names one), the client, metadata, a one-line message.
fn common(event: &Map<String, Value>, out: &mut Value) {
    out["time"] = json!(time_ms(event));
    out["message"] = json!(summary(event));
    let outcome = Outcome::of(event);
    let (severity_id, severity) = match outcome {
        Outcome::Allowed | Outcome::Unknown => (1, "Informational"),
        Outcome::Denied => (3, "Medium"),
        Outcome::Error => (4, "High"),
    };
    out["severity_id"] = json!(severity_id);
    out["severity"] = json!(severity);
    let (status_id, status, disposition) = match outcome {
        Outcome::Allowed => (1, "Success", Some((1, "Allowed"))),
        Outcome::Denied => (2, "Failure", Some((2, "Blocked"))),
        Outcome::Error => (2, "Failure", Some((99, "Error"))),
        Outcome::Unknown => (0, "Unknown", None),
    };
    out["status_id"] = json!(status_id);
    out["status"] = json!(status);
    if let Some((id, name)) = disposition {
        out["disposition_id"] = json!(id);
        out["disposition"] = json!(name);
        let (action_id, action) = match outcome {
            Outcome::Allowed => (1, "Allowed"),
            Outcome::Denied => (2, "Denied"),
            _ => (99, "Other"),
        };
        out["action_id"] = json!(action_id);
        out["action"] = json!(action);
    }
    if let Some(reason) = field(event, "reason") {
        out["status_detail"] = json!(reason);
    }
    if let Some(code) = event.get("status").and_then(Value::as_u64) {
        out["status_code"] = json!(code.to_string());
        out["http_response"] = json!({ "code": code });
    }
    if let Some(method) = field(event, "method") {
        let mut url = Map::new();
        if let Some(host) = field(event, "host") {
            let (name, port) = host_port(host);
            url.insert("hostname".into(), json!(name));
            if let Some(port) = port {
                url.insert("port".into(), json!(port));
            }
        }
        if let Some(path) = field(event, "path").filter(|p| !p.is_empty()) {
            url.insert("path".into(), json!(path));
        }
        // The query as the line holds it (with any token already taken out), if it does.
        if let Some(q) = field(event, "query").filter(|q| !q.is_empty()) {
            url.insert("query_string".into(), json!(q));
        }
        // Secrets only travel over TLS: every sealed host is reached over HTTPS. What a
        // passthrough connection carries is not the proxy's to say.
        if field(event, "mode") != Some("passthrough") && event.get("event").is_none_or(|e| e != "admin") {
            url.insert("scheme".into(), json!("https"));
        }
        let mut req = json!({ "http_method": method, "url": url });
        if let Some(id) = field(event, "request_id") {
            req["uid"] = json!(id);
        }
        out["http_request"] = req;
    }
    if let Some(client) = field(event, "client") {
        out["src_endpoint"] = match client.parse::<std::net::SocketAddr>() {
            Ok(a) => json!({ "ip": a.ip().to_string(), "port": a.port() }),
            Err(_) => match client.parse::<std::net::IpAddr>() {
                Ok(ip) => json!({ "ip": ip.to_string() }),
                Err(_) => json!({ "name": client }),
            },
        };
    }
    out["metadata"] = json!({
        "version": VERSION,
        "product": {
            "name": "macaroon-proxy",
            "vendor_name": "macaroon",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "log_name": "audit",
    });
    if let Some(id) = field(event, "request_id") {
        out["metadata"]["uid"] = json!(id);
    }
}

/// `api.example.com:443` (a CONNECT target) as its name and port; a host alone as itself.
fn host_port(host: &str) -> (&str, Option<u16>) {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') || (name.starts_with('[') && name.ends_with(']')) => {
            match port.parse() {
                Ok(p) => (name.trim_start_matches('[').trim_end_matches(']'), Some(p)),
                Err(_) => (host, None),
            }
        }
        _ => (host, None),
    }
}

/// The line's time in milliseconds since 1970 (now, if it has none: OCSF requires one).
fn time_ms(event: &Map<String, Value>) -> u64 {
    let t = field(event, "time")
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .unwrap_or_else(std::time::SystemTime::now);
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    /// A request line as the proxy writes it today.
    fn request(decision: &str, status: u16) -> Map<String, Value> {
        obj(json!({
            "time": "2026-11-30T15:00:00Z", "request_id": "00ff00ff00ff00ff",
            "client": "127.0.0.1:51234", "mode": "reverse", "method": "POST",
            "host": "api.stripe.com", "path": "/v1/refunds", "key_id": "0011223344556677",
            "kid": "k1", "token": "ab12cd34", "decision": decision,
            "reason": if decision == "allow" { Value::Null } else { json!("method POST is not allowed") },
            "caveat": null, "status": status, "decide_ms": 0.2, "upstream_ms": 3.4,
            "total_ms": 4.6, "bytes_out": 64, "redactions": 0
        }))
    }

    #[test]
    fn an_allowed_request_is_http_activity_with_every_promised_field() {
        let e = map(&request("allow", 200));
        assert_eq!(e["class_uid"], 4002);
        assert_eq!(e["category_uid"], 4);
        assert_eq!(e["activity_id"], 6);
        assert_eq!(e["activity_name"], "Post");
        assert_eq!(e["type_uid"], 400206);
        assert_eq!(e["time"], 1_796_050_800_000u64);
        assert_eq!(e["severity_id"], 1);
        assert_eq!(e["status_id"], 1);
        assert_eq!(e["status"], "Success");
        assert_eq!(e["disposition_id"], 1);
        assert_eq!(e["action_id"], 1);
        assert_eq!(e["http_request"]["http_method"], "POST");
        assert_eq!(e["http_request"]["uid"], "00ff00ff00ff00ff");
        assert_eq!(e["http_request"]["url"]["hostname"], "api.stripe.com");
        assert_eq!(e["http_request"]["url"]["path"], "/v1/refunds");
        assert_eq!(e["http_request"]["url"]["scheme"], "https");
        assert!(e["http_request"]["url"].get("query_string").is_none());
        assert_eq!(e["http_response"]["code"], 200);
        assert_eq!(e["src_endpoint"]["ip"], "127.0.0.1");
        assert_eq!(e["src_endpoint"]["port"], 51234);
        assert_eq!(e["dst_endpoint"]["hostname"], "api.stripe.com");
        assert_eq!(e["duration"], 5);
        assert_eq!(e["metadata"]["version"], VERSION);
        assert_eq!(e["metadata"]["product"]["name"], "macaroon-proxy");
        assert_eq!(e["metadata"]["product"]["vendor_name"], "macaroon");
        // Our fields without an OCSF home, kept as they are; nulls dropped.
        let u = &e["unmapped"];
        for k in [
            "kid",
            "key_id",
            "token",
            "mode",
            "decide_ms",
            "upstream_ms",
            "bytes_out",
            "redactions",
        ] {
            assert_eq!(u[k], request("allow", 200)[k], "{k}");
        }
        assert!(u.get("caveat").is_none() && u.get("method").is_none() && u.get("time").is_none());
        assert!(e.get("actor").is_none());
    }

    #[test]
    fn a_denial_and_an_error_say_so_in_status_severity_and_disposition() {
        let d = map(&request("deny", 403));
        assert_eq!(
            (d["status_id"].clone(), d["status"].clone()),
            (json!(2), json!("Failure"))
        );
        assert_eq!(d["severity_id"], 3);
        assert_eq!(d["disposition_id"], 2);
        assert_eq!(d["disposition"], "Blocked");
        assert_eq!(d["action_id"], 2);
        assert_eq!(d["status_detail"], "method POST is not allowed");
        assert_eq!(d["status_code"], "403");
        let e = map(&request("error", 502));
        assert_eq!(e["severity_id"], 4);
        assert_eq!(e["status_id"], 2);
        assert_eq!(e["disposition"], "Error");
    }

    /// Fields added to the line by other parts of the proxy need no change here: the issuer
    /// and labels become the actor, the rest lands under `unmapped`.
    #[test]
    fn issuer_labels_approval_and_new_fields_flow_through() {
        let mut r = request("allow", 200);
        r.insert("issuer".into(), json!("alice"));
        r.insert(
            "labels".into(),
            json!(["ops", "billing-skill", "refund-subagent"]),
        );
        r.insert(
            "approval".into(),
            json!({"id": "abcd2345", "decision": "approved", "by": "bob", "waited_ms": 1200, "scope": "once"}),
        );
        r.insert("query".into(), json!("limit=3"));
        r.insert("something_new".into(), json!({"x": [1, 2]}));
        let e = map(&r);
        assert_eq!(e["actor"]["user"]["name"], "alice");
        assert_eq!(e["actor"]["app_name"], "refund-subagent");
        assert_eq!(e["unmapped"]["labels"], r["labels"]);
        assert_eq!(e["unmapped"]["approval"], r["approval"]);
        assert_eq!(e["unmapped"]["something_new"], r["something_new"]);
        assert!(e["unmapped"].get("issuer").is_none());
        assert_eq!(e["http_request"]["url"]["query_string"], "limit=3");
    }

    #[test]
    fn a_connect_line_is_a_connect_activity() {
        let mut r = request("allow", 200);
        r.insert("method".into(), json!("CONNECT"));
        r.insert("event".into(), json!("connect"));
        r.insert("host".into(), json!("api.stripe.com:443"));
        r.remove("path");
        let e = map(&r);
        assert_eq!(e["class_uid"], 4002);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["type_uid"], 400201);
        assert_eq!(e["dst_endpoint"]["hostname"], "api.stripe.com");
        assert_eq!(e["http_request"]["url"]["hostname"], "api.stripe.com");
        assert_eq!(e["dst_endpoint"]["port"], 443);
        assert_eq!(host_port("[::1]:8443"), ("::1", Some(8443)));
        assert_eq!(host_port("::1"), ("::1", None));
        assert_eq!(host_port("a.example"), ("a.example", None));
        assert_eq!(e["unmapped"]["event"], "connect");
        let mut odd = request("deny", 405);
        odd.insert("method".into(), json!("PATCH"));
        let e = map(&odd);
        assert_eq!(
            (e["activity_id"].clone(), e["activity_name"].clone()),
            (json!(99), json!("PATCH"))
        );
    }

    #[test]
    fn approvals_and_admin_actions_are_api_activity() {
        let approval = obj(json!({
            "time": "2026-11-30T15:00:00Z", "event": "approval", "decision": "deny",
            "approval": {"id": "abcd2345", "decision": "denied", "by": "bob", "scope": "once"},
            "issuer": "alice", "labels": ["ops"], "method": "POST", "host": "api.stripe.com",
            "path": "/v1/refunds"
        }));
        let e = map(&approval);
        assert_eq!(e["class_uid"], 6003);
        assert_eq!(e["category_uid"], 6);
        assert_eq!(e["activity_id"], 3);
        assert_eq!(e["type_uid"], 600303);
        assert_eq!(e["actor"]["user"]["name"], "bob");
        assert_eq!(e["api"]["operation"], "approval deny");
        assert_eq!(e["disposition"], "Blocked");
        assert_eq!(e["http_request"]["url"]["path"], "/v1/refunds");
        assert_eq!(e["unmapped"]["issuer"], "alice");
        assert_eq!(e["unmapped"]["event"], "approval");

        let admin = obj(json!({
            "time": "2026-11-30T15:00:00Z", "event": "admin", "operator": "carol",
            "action": "revoke", "method": "POST", "path": "/api/revocations",
            "client": "[::1]:9999", "status": 200, "kid": "k1"
        }));
        let e = map(&admin);
        assert_eq!(e["class_uid"], 6003);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["actor"]["user"]["name"], "carol");
        assert_eq!(e["api"]["operation"], "revoke");
        assert_eq!(e["src_endpoint"]["ip"], "::1");
        assert_eq!(e["unmapped"]["action"], "revoke");
        assert_eq!(e["unmapped"]["kid"], "k1");
        assert!(e["unmapped"].get("operator").is_none());
        assert!(e["http_request"]["url"].get("scheme").is_none());
    }
}
