//! The console's pages, rendered on the server with maud (which escapes every value it
//! writes: paths, hosts, labels and bodies come from agents). The views show only the
//! buttons the operator's roles allow; the API checks the roles again.

use caveat::Role;
use maud::{html, Markup, DOCTYPE};

use super::session::Session;
use crate::admin::state::AdminState;
use crate::approvals::{Approval, State};
use crate::proxy::Proxy;

/// The console's views, as named in its navigation.
pub const VIEWS: [(&str, &str); 5] = [
    ("/live", "Live"),
    ("/approvals", "Approvals"),
    ("/tokens", "Tokens"),
    ("/issuers", "Issuers"),
    ("/health", "Health"),
];

fn head(title: &str, csrf: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(c) = csrf { meta name="csrf" content=(c); }
            title { (title) " · macaroon console" }
            link rel="stylesheet" href="/static/console.css";
            script src="/static/console.js" defer {}
        }
    }
}

/// The login form: one field, named `token`.
pub fn login(error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Log in", None))
            body data-view="login" {
                main.login {
                    h1 { "macaroon console" }
                    p.lede { "Paste your operator token. It is checked here and not kept: the browser gets a session that ends when the token expires." }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    form method="post" action="/login" {
                        label for="token" { "Operator token" }
                        textarea id="token" name="token" rows="4" autocomplete="off" spellcheck="false" required {}
                        button type="submit" { "Log in" }
                    }
                    p.hint { "No token? On the proxy's host: " code { "macaroon-proxy operator mint --name YOU --role read" } }
                }
            }
        }
    }
}

/// A short page saying what happened.
pub fn message(title: &str, text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body { main.login { h1 { (title) } p { (text) } p { a href="/" { "Back to the console" } } } }
        }
    }
}

fn roles(s: &Session) -> String {
    let r: Vec<&str> = s.op.roles().iter().map(|r| r.as_str()).collect();
    r.join(" ")
}

fn layout(s: &Session, current: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(&s.csrf)))
            body data-view=(current.trim_start_matches('/')) {
                header.top {
                    span.brand { "macaroon" }
                    nav {
                        @for (path, name) in VIEWS {
                            a href=(path) aria-current=[(path == current).then_some("page")] { (name) }
                        }
                    }
                    div.who {
                        span { (s.op.name) " · " (roles(s)) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button.quiet type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A view by path (`/live`...), or a page saying there is none.
pub fn view(proxy: &Proxy, admin: &AdminState, s: &Session, path: &str, all: &[Approval]) -> Markup {
    match path {
        "/live" => layout(s, path, "Live", live()),
        "/approvals" => layout(s, path, "Approvals", approvals(all, s)),
        "/tokens" => layout(s, path, "Tokens", tokens(proxy, s)),
        "/issuers" => layout(s, path, "Issuers", issuers(proxy, admin, s)),
        "/health" => layout(s, path, "Health", health(proxy)),
        _ => message(
            "Not found",
            "The console has the views Live, Approvals, Tokens, Issuers and Health.",
        ),
    }
}

fn live() -> Markup {
    html! {
        h1 { "Live" }
        p.lede { "Every request as the proxy decides it, newest first. Click a row to see the whole record." }
        form #filters .filters {
            label { "Decision "
                select name="decision" {
                    option value="" { "any" }
                    option value="allow" { "allowed" }
                    option value="deny" { "denied" }
                    option value="error" { "errors" }
                }
            }
            label { "Host " input name="host" type="search"; }
            label { "Issuer " input name="issuer" type="search"; }
            label { "Label " input name="label" type="search"; }
            label { "Family " input name="family" type="search"; }
            button #pause .quiet type="button" { "Pause" }
        }
        p #status .status role="status" { "Connecting to the audit stream…" }
        table #events .events {
            thead { tr { th { "Time" } th { "Decision" } th { "Status" } th { "Request" } th { "Host" } th { "Issuer" } th { "Labels" } th { "Reason" } } }
            tbody {}
        }
        aside #record .record hidden {
            div.record-head { h2 { "Record" } button #close .quiet type="button" { "Close" } }
            pre #record-json {}
        }
    }
}

/// The approvals' ids and states, so the page can tell when it is out of date.
fn signature(all: &[Approval]) -> String {
    let mut v: Vec<String> = all
        .iter()
        .map(|a| format!("{}:{}", a.id, state_text(a.state)))
        .collect();
    v.sort();
    v.join(",")
}

fn state_text(s: State) -> &'static str {
    match s {
        State::Pending => "pending",
        State::Approved => "approved",
        State::Denied => "denied",
        State::Expired => "expired",
    }
}

fn request_line(a: &Approval) -> Markup {
    html! {
        span.method { (a.method) } " "
        span.host { (a.host) }
        span.path { (a.path) }
        @if let Some(q) = &a.query { span.query { "?" (q) } }
    }
}

fn approvals(all: &[Approval], s: &Session) -> Markup {
    let may = s.op.may(Role::Approve);
    let (pending, decided): (Vec<&Approval>, Vec<&Approval>) =
        all.iter().partition(|a| a.state == State::Pending);
    html! {
        h1 { "Approvals" }
        p.lede { "Requests held until a person says yes. The agent waits while you decide; approving lets this request (or a window of them) through." }
        section #approvals data-sig=(signature(all)) {
            h2 { "Waiting (" (pending.len()) ")" }
            @if pending.is_empty() { p.empty { "Nothing is waiting for a person." } }
            @for a in &pending {
                article.approval data-id=(a.id) {
                    h3.request { (request_line(a)) }
                    dl.meta {
                        dt { "Id" } dd.mono { (a.id) }
                        dt { "Asked" } dd { (a.created) }
                        dt { "Issuer" } dd { (a.issuer.as_deref().unwrap_or("—")) }
                        dt { "Labels" } dd { (a.labels.join(", ")) }
                        dt { "Family" } dd.mono { (a.kid) }
                        dt { "Client" } dd { (a.client) }
                        dt { "The token asks" } dd { (a.scope) }
                    }
                    @if let Some(b) = &a.body { h4 { "Body" } pre.body { (b) } }
                    @if may {
                        div.decide {
                            form.approve data-id=(a.id) {
                                label { "Allow "
                                    select name="for" {
                                        option value="" { (if a.scope == "once" { "this request, once".to_string() } else { format!("as the token asks ({})", a.scope) }) }
                                        option value="10m" { "for 10 minutes" }
                                        option value="1h" { "for 1 hour" }
                                    }
                                }
                                label { "Path prefix " input name="path" placeholder=(a.path) title="For a window: only paths under this prefix (default: this request's path)"; }
                                button.approve type="submit" { "Approve" }
                            }
                            form.deny data-id=(a.id) {
                                label { "Reason " input name="reason" placeholder="told to the agent"; }
                                button.deny type="submit" { "Deny" }
                            }
                        }
                        p.result role="status" {}
                    } @else {
                        p.note { "Your token may read approvals but not decide them (that needs the approve role)." }
                    }
                }
            }
        }
        section {
            h2 { "Decided" }
            @if decided.is_empty() { p.empty { "None yet." } } @else {
                table.decided {
                    thead { tr { th { "Id" } th { "Decision" } th { "Request" } th { "By" } th { "When" } th { "Note" } th { "Allowed" } } }
                    tbody {
                        @for a in &decided {
                            tr data-id=(a.id) {
                                td.mono { (a.id) }
                                td { span class=(format!("badge {}", state_text(a.state))) { (state_text(a.state)) } }
                                td { (request_line(a)) }
                                td { (a.decided_by.as_deref().unwrap_or("—")) }
                                td { (a.decided_at.as_deref().unwrap_or("—")) }
                                td { (a.reason.as_deref().unwrap_or("")) }
                                td { (a.granted.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn short(kid: &str) -> &str {
    kid.get(..12).unwrap_or(kid)
}

fn tokens(proxy: &Proxy, s: &Session) -> Markup {
    let families = proxy.audit.live().families.list();
    let may = s.op.may(Role::Revoke);
    html! {
        h1 { "Tokens" }
        p.lede { "Token families this proxy has seen. A family is every token narrowed from one wrapped key; revoking it refuses them all, revoking a branch refuses one token and those narrowed from it." }
        @if families.is_empty() { p.empty { "No token has been used here yet." } } @else {
            table.families {
                thead { tr { th { "Family" } th { "Issuer" } th { "Labels" } th title="Every host its requests named, refused ones included; the hosts a key is sealed for are inside the token" { "Hosts asked for" } th { "First seen" } th { "Last seen" } th.num { "Allowed" } th.num { "Denied" } th { "Left" } th { "Last" } @if may { th {} } } }
                tbody {
                    @for f in &families {
                        tr data-kid=(f.kid) {
                            td.mono title=(f.kid) { (short(&f.kid)) }
                            td { (f.issuer.as_deref().unwrap_or("—")) }
                            td { (f.labels.join(", ")) }
                            td { (f.hosts.join(", ")) }
                            td { (f.first_seen) }
                            td { (f.last_seen) }
                            td.num { (f.allowed) }
                            td.num { (f.denied) }
                            td.limits {
                                @if f.limits.is_empty() { "—" }
                                @for l in &f.limits { span.limit title=(l.caveat) { (l.left) " (" (l.caveat) ")" } " " }
                            }
                            td title=[f.last_reason.as_deref()] { span class=(format!("badge {}", f.last_decision)) { (f.last_decision) " " (f.last_status) } }
                            @if may {
                                td {
                                    @if proxy.revoked.is_revoked(&f.kid) {
                                        span.badge.deny { "revoked" } " "
                                        button.undo-family.quiet type="button" data-kid=(f.kid) { "Undo" }
                                    } @else {
                                        button.revoke-family.danger type="button" data-kid=(f.kid) { "Revoke family" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may {
            section.panel {
                h2 { "Revoke a branch" }
                p { "Paste a token, or its branch id: it and every token narrowed from it are refused at once; the rest of its family keeps working." }
                form #revoke-branch {
                    label for="branch" { "Token or branch id" }
                    textarea #branch name="branch" rows="3" autocomplete="off" spellcheck="false" required {}
                    button.danger type="submit" { "Revoke branch" }
                }
            }
        }
        p #revoke-result .result role="status" {}
    }
}

fn issuers(proxy: &Proxy, admin: &AdminState, s: &Session) -> Markup {
    let may = s.op.may(Role::Admin);
    let list = crate::admin::issuers::entries(proxy, admin);
    html! {
        h1 { "Issuers" }
        p.lede { "The keys whose wrapped tokens this proxy accepts. Removing one refuses every token it wrapped, on every replica sharing this home, within a second." }
        @match &list {
            Err(e) => { p.error { (e.message) } }
            Ok(list) => { table.issuers {
                thead { tr { th { "Name" } th { "Key" } th { "From" } @if may { th {} } } }
                tbody {
                    @for i in list {
                        tr {
                            td { (i.name) }
                            td.mono { (i.key) }
                            td { (i.source) }
                            @if may {
                                td { @if i.source == "file" { button.remove-issuer.danger type="button" data-key=(i.key) { "Remove" } } }
                            }
                        }
                    }
                }
            } }
        }
        @if may {
            section.panel {
                h2 { "Trust an issuer" }
                form #add-issuer {
                    label { "Public key " input name="key" required placeholder="from `macaroon issuer show`"; }
                    label { "Name " input name="name" placeholder="alice"; }
                    button type="submit" { "Add issuer" }
                }
            }
        }
        p #issuer-result .result role="status" {}
    }
}

/// The Health view's headline numbers: a name and the series prefix summed for it.
const HEADLINES: [(&str, &str); 6] = [
    ("Requests allowed", "macaroon_requests_total{decision=\"allow\""),
    ("Requests denied", "macaroon_requests_total{decision=\"deny\""),
    ("Errors", "macaroon_requests_total{decision=\"error\""),
    ("Upstream errors", "macaroon_upstream_errors_total"),
    ("Upstream timeouts", "macaroon_upstream_timeouts_total"),
    ("Audit lines dropped", "macaroon_audit_lines_dropped_total"),
];

/// The sum of the series whose name starts with `prefix`: 0 when there is none (an empty
/// `f64` sum is -0, which a page would show as "-0").
fn total(series: &[(&str, &str)], prefix: &str) -> f64 {
    series
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

fn health(proxy: &Proxy) -> Markup {
    let (up, line) = proxy.state.health();
    let text = crate::admin::metrics::text(proxy);
    let series: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.contains("_bucket{"))
        .filter_map(|l| l.rsplit_once(' '))
        .collect();
    let sum = |prefix: &str| total(&series, prefix);
    html! {
        h1 { "Health" }
        p.lede { "What this replica knows about itself: its state store and its counters (the same as /metrics). Rates are per second over the last few seconds." }
        div.cards {
            div.card {
                div.card-name { "State store" }
                div.card-value { span class=(if up { "badge allow" } else { "badge deny" }) { (if up { "ok" } else { "degraded" }) } }
                div.card-note { (line) }
            }
            div.card {
                div.card-name { "Approvals waiting" }
                div.card-value { (proxy.approvals.pending()) }
            }
            @for (name, prefix) in HEADLINES {
                div.card data-prefix=(prefix) {
                    div.card-name { (name) }
                    div.card-value.value { (sum(prefix)) }
                    div.card-note { span.rate { "…" } " per second" }
                }
            }
        }
        details.panel {
            summary { "All counters" }
            table #metrics .metrics {
                thead { tr { th { "Counter" } th.num { "Value" } th.num { "Per second" } } }
                tbody {
                    @for (name, value) in &series {
                        tr data-prefix=(name) { td.mono { (name) } td.num.value { (value) } td.num.rate { "…" } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_form_has_one_field_named_token_and_escapes_errors() {
        let page = login(Some("<script>x</script>")).into_string();
        assert_eq!(page.matches("name=\"token\"").count(), 1);
        assert!(!page.contains("<script>x"));
        assert!(page.contains("&lt;script&gt;x"));
        assert!(!page.contains("style="), "no inline style (CSP)");
    }

    #[test]
    fn a_headline_with_no_series_reads_0() {
        let series = [(
            "macaroon_requests_total{decision=\"allow\",mode=\"reverse\"}",
            "3",
        )];
        assert_eq!(
            total(&series, "macaroon_requests_total{decision=\"error\"").to_string(),
            "0"
        );
        assert_eq!(
            total(&series, "macaroon_requests_total{decision=\"allow\"").to_string(),
            "3"
        );
    }
}
