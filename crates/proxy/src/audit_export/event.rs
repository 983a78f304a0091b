//! What both exports read from an audit line: its fields, what its decision comes to,
//! and a one-line summary.

/// A string field of the line.
pub fn field<'a>(event: &'a serde_json::Map<String, serde_json::Value>, key: &str) -> Option<&'a str> {
    event.get(key)?.as_str()
}

/// What the line's decision comes to, for severities and statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `allow` (or an approval given).
    Allowed,
    /// `deny` (or an approval denied or expired).
    Denied,
    /// `error`: the upstream's fault or the proxy's.
    Error,
    /// No decision the mapping knows, and no status to go by.
    Unknown,
}

impl Outcome {
    /// The decision, else the HTTP status (an admin action has only that).
    pub fn of(event: &serde_json::Map<String, serde_json::Value>) -> Self {
        match field(event, "decision") {
            Some("allow" | "allowed" | "approve" | "approved") => Outcome::Allowed,
            Some("deny" | "denied" | "expired") => Outcome::Denied,
            Some("error") => Outcome::Error,
            Some(_) => Outcome::Unknown,
            None => match event.get("status").and_then(serde_json::Value::as_u64) {
                Some(100..=399) => Outcome::Allowed,
                Some(400..=499) => Outcome::Denied,
                Some(500..=599) => Outcome::Error,
                _ => Outcome::Unknown,
            },
        }
    }
}

/// One line of text for people: `deny POST api.stripe.com/v1/refunds -> 403: REASON`, with
/// the event kind first and the operator or approver last when the line has them.
pub fn summary(event: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(kind) = field(event, "event") {
        parts.push(kind.to_string());
    }
    if let Some(action) = field(event, "action") {
        parts.push(action.to_string());
    }
    if let Some(d) = field(event, "decision") {
        parts.push(d.to_string());
    }
    if let Some(m) = field(event, "method") {
        parts.push(m.to_string());
    }
    match (field(event, "host"), field(event, "path")) {
        (Some(h), Some(p)) => parts.push(format!("{h}{p}")),
        (Some(h), None) => parts.push(h.to_string()),
        (None, Some(p)) => parts.push(p.to_string()),
        (None, None) => {}
    }
    if let Some(s) = event.get("status").and_then(serde_json::Value::as_u64) {
        parts.push(format!("-> {s}"));
    }
    let by = field(event, "operator")
        .or_else(|| field(event, "by"))
        .or_else(|| event.get("approval")?.get("by")?.as_str());
    if let (Some(by), true) = (by, event.contains_key("event")) {
        parts.push(format!("by {by}"));
    }
    let mut text = parts.join(" ");
    if let Some(r) = field(event, "reason") {
        text.push_str(": ");
        text.push_str(r);
    }
    if text.is_empty() {
        text.push_str("audit event");
    }
    text
}
