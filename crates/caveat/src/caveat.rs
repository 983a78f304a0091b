//! The first-party caveat language: `FIELD OP VALUE...`, one predicate per caveat.
//!
//! The grammar is strict on purpose: single spaces, upper-case methods, lower-case hosts,
//! RFC 3339 UTC times to the second. Anything accepted prints back byte for byte, so what
//! `inspect` shows is exactly what the token carries, and a typo is a parse error at
//! attenuation time instead of a caveat that silently never matches. Caveats on what a
//! request contains (`query`, `form`, `json`, `body size`) are read in [`crate::content`];
//! what an agent calls (`mcp`, `graphql`) in [`crate::mcp`] and [`crate::graphql`].

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::content::{self, Condition, Content};
use crate::graphql::{self, GraphQlRule};
use crate::host::Host;
use crate::json::JsonPointer;
use crate::limit::{self, Window};
use crate::mcp::{self, McpRule};
use crate::path::{PathGlob, RequestPath};
use crate::request::{Method, Request};
use crate::verify::DenyKind;

/// A caveat that could not be parsed: which one, where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("caveat {caveat:?}, column {column}: {message}")]
pub struct CaveatError {
    /// The caveat text (lossy if it was not UTF-8).
    pub caveat: String,
    /// 1-based character column where the problem starts.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

/// One first-party caveat. Every caveat of a token must hold.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Caveat {
    /// `time < T`: the request must be before `T` (expiry).
    TimeBefore(SystemTime),
    /// `time > T`: the request must be after `T` (not before).
    TimeAfter(SystemTime),
    /// `method = M`
    MethodIs(Method),
    /// `method in M...`
    MethodIn(Vec<Method>),
    /// `host = H`
    HostIs(Host),
    /// `host in H...`
    HostIn(Vec<Host>),
    /// `path = P`
    PathIs(RequestPath),
    /// `path prefix P...`: the path is one of these or below one on a segment boundary.
    PathPrefix(Vec<RequestPath>),
    /// `path glob G...`: the path matches one of these globs.
    PathGlob(Vec<PathGlob>),
    /// `query NAME = V`, `query NAME in V...`: the query parameter NAME (percent-decoded,
    /// `+` a space) appears exactly once, with one of the values.
    Query {
        /// The parameter name, decoded.
        name: String,
        /// `=` or `in` (bounds are for body fields).
        condition: Condition,
    },
    /// `form NAME = V | in V... | <= N | >= N`: the `application/x-www-form-urlencoded`
    /// body field NAME (a literal name: `metadata[order]`) appears exactly once, and only
    /// in the body, and holds.
    Form {
        /// The field name, decoded.
        name: String,
        /// What the value must be.
        condition: Condition,
    },
    /// `json POINTER = V | in V... | <= N | >= N`: the value of the JSON body at an
    /// RFC 6901 pointer holds.
    Json {
        /// Where the value is (`/model`, `/messages/0/role`).
        pointer: JsonPointer,
        /// What the value must be.
        condition: Condition,
    },
    /// `body size <= N`: the body has at most N bytes.
    BodySize(u64),
    /// `uses <= N`: at most N requests in total, by this token and every token attenuated
    /// from it. Counted by the proxy ([`crate::Limit`]); every per-request check passes it.
    Uses(u64),
    /// `rate <= N/DURATION`: at most N requests in any rolling window of DURATION.
    Rate {
        /// Requests allowed per window.
        max: u64,
        /// The window, as written.
        window: Window,
    },
    /// `label = NAME`: always holds; names who holds the token (an agent, a skill), so
    /// the labels of a chain read as its delegation path in the audit.
    Label(String),
    /// `request digest = sha256:HEX`: exactly one request, by the SHA-256 of its method,
    /// host, path, raw query and body ([`crate::request_digest`]). A `once` approval's
    /// discharge carries it; anyone may use it to allow one exact request.
    RequestDigest([u8; 32]),
    /// `operator = NAME`: an operator token's holder ([`crate::OperatorKey`]); denies on a
    /// request token.
    Operator(String),
    /// `role in ROLE...`: what an operator token allows; denies on a request token.
    Roles(Vec<crate::Role>),
    /// `mcp method in M...`, `mcp tool in T...`: what an MCP (JSON-RPC) body may ask
    /// ([`crate::mcp`]).
    Mcp(McpRule),
    /// `graphql operation in ...`, `graphql field in F...`: what a GraphQL request may ask
    /// ([`crate::graphql`]).
    GraphQl(GraphQlRule),
}

/// The longest label (`label = NAME`).
pub const MAX_LABEL: usize = 64;

/// Checks a label: `[a-z0-9._-]{1,64}`, so it reads the same in every log and terminal.
pub fn check_label(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_LABEL {
        return Err(format!(
            "a label has 1 to {MAX_LABEL} characters, not {}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{name:?} is not a label: {c:?} is not allowed; use lower-case letters, digits, '.', '_' and '-' (e.g. billing-skill)"
        ));
    }
    Ok(())
}

/// What the allocator is likely to use per allocation beyond the bytes asked for (header and
/// rounding): small allocations dominate parsed caveats, so it matters.
pub(crate) const ALLOC_OVERHEAD: usize = 32;

/// Heap bytes a string holds, allocator overhead included.
pub(crate) fn string_heap(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.len() + ALLOC_OVERHEAD
    }
}

/// Heap bytes a vector of `T` holds (its buffer; the elements' own heap is added by the caller).
pub(crate) fn vec_heap<T>(v: &[T]) -> usize {
    if v.is_empty() {
        0
    } else {
        std::mem::size_of_val(v) + ALLOC_OVERHEAD
    }
}

/// A failed caveat check, in words a person understands.
pub type Unmet = String;

const FIELDS: &str =
    "time, method, host, path, query, form, json, body, uses, rate, label, request, mcp or graphql";

impl Caveat {
    /// Heap bytes the parsed caveat holds (beyond its own size), for cache budgets
    /// ([`crate::Verified::weight`]). A caveat of many short values holds far more than its
    /// text: 20,000 one-character paths are a 40 KB caveat and about 2.5 MB parsed.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Caveat::TimeBefore(_) | Caveat::TimeAfter(_) => 0,
            Caveat::MethodIs(m) => m.heap_bytes(),
            Caveat::MethodIn(ms) => vec_heap(ms) + ms.iter().map(Method::heap_bytes).sum::<usize>(),
            Caveat::HostIs(h) => h.heap_bytes(),
            Caveat::HostIn(hs) => vec_heap(hs) + hs.iter().map(Host::heap_bytes).sum::<usize>(),
            Caveat::PathIs(p) => p.heap_bytes(),
            Caveat::PathPrefix(ps) => vec_heap(ps) + ps.iter().map(RequestPath::heap_bytes).sum::<usize>(),
            Caveat::PathGlob(gs) => vec_heap(gs) + gs.iter().map(PathGlob::heap_bytes).sum::<usize>(),
            Caveat::Query { name, condition } | Caveat::Form { name, condition } => {
                string_heap(name) + condition.heap_bytes()
            }
            Caveat::Json { pointer, condition } => pointer.heap_bytes() + condition.heap_bytes(),
            Caveat::BodySize(_) | Caveat::Uses(_) | Caveat::Rate { .. } => 0,
            Caveat::Label(l) => string_heap(l),
            Caveat::RequestDigest(_) => 0,
            Caveat::Operator(name) => string_heap(name),
            Caveat::Roles(rs) => vec_heap(rs),
            Caveat::Mcp(r) => r.heap_bytes(),
            Caveat::GraphQl(r) => r.heap_bytes(),
        }
    }

    /// True for caveats the proxy counts (`uses`, `rate`): they hold for every single
    /// request, and are charged once every other check allowed it.
    pub fn is_counted(&self) -> bool {
        matches!(self, Caveat::Uses(_) | Caveat::Rate { .. })
    }

    /// True for caveats on the body (`form`, `json`, `body size`, `mcp`, `graphql`): the
    /// proxy must read the body whole, and check it, before anything is sent upstream.
    pub fn needs_body(&self) -> bool {
        matches!(
            self,
            Caveat::Form { .. }
                | Caveat::Json { .. }
                | Caveat::BodySize(_)
                | Caveat::RequestDigest(_)
                | Caveat::Mcp(_)
                | Caveat::GraphQl(_)
        )
    }

    /// Parses one caveat in canonical form.
    pub fn parse(text: &str) -> Result<Caveat, CaveatError> {
        let err = |column: usize, message: String| CaveatError {
            caveat: text.to_string(),
            column,
            message,
        };
        let words = split_words(text, &err)?;
        // Past the end of the text (a missing word) points one column after it.
        let at = |pos: usize, message: String| err(col(text, pos) + pos.saturating_sub(text.len()), message);
        match words[0].1 {
            "query" | "form" | "json" | "body" => content::parse(text, &words, &at),
            "uses" | "rate" => parse_limit(text, &words, &err),
            "request" => parse_digest(text, &words, &err),
            "operator" | "role" => crate::operator::parse_caveat(&words).map_err(|(pos, m)| {
                let column = if pos == usize::MAX {
                    col(text, text.len()) + 1
                } else {
                    col(text, pos)
                };
                err(column, m)
            }),
            "mcp" => mcp::parse(text, &words, &at),
            "graphql" => graphql::parse(text, &words, &at),
            _ => Caveat::parse_request(text, &words, &err),
        }
    }

    /// The caveats on the request line: `time`, `method`, `host`, `label`, `path`.
    fn parse_request(
        text: &str,
        words: &[(usize, &str)],
        err: &dyn Fn(usize, String) -> CaveatError,
    ) -> Result<Caveat, CaveatError> {
        let (_, field) = words[0];
        let op = operator(text, words, err)?;
        let values = &words[2..];
        // Each value is parsed once; an error points at its word. `operator` checked that
        // there is at least one value, and exactly one for `=`, `<` and `>`.
        fn each<T>(
            text: &str,
            values: &[(usize, &str)],
            err: &dyn Fn(usize, String) -> CaveatError,
            f: impl Fn(&str) -> Result<T, String>,
        ) -> Result<Vec<T>, CaveatError> {
            values
                .iter()
                .map(|&(at, w)| f(w).map_err(|m| err(col(text, at), m)))
                .collect()
        }
        let single = op == "=";
        Ok(match (field, op) {
            ("time", _) => {
                let t = each(text, values, err, parse_time)?.remove(0);
                if op == "<" {
                    Caveat::TimeBefore(t)
                } else {
                    Caveat::TimeAfter(t)
                }
            }
            ("method", _) => {
                let mut ms = each(text, values, err, |w| {
                    Method::parse_canonical(w).map_err(|e| e.to_string())
                })?;
                if single {
                    Caveat::MethodIs(ms.remove(0))
                } else {
                    Caveat::MethodIn(ms)
                }
            }
            ("host", _) => {
                let mut hs = each(text, values, err, |w| {
                    Host::parse_canonical(w).map_err(|e| e.to_string())
                })?;
                if single {
                    Caveat::HostIs(hs.remove(0))
                } else {
                    Caveat::HostIn(hs)
                }
            }
            ("label", _) => {
                let (at, name) = values[0];
                check_label(name).map_err(|m| err(col(text, at), m))?;
                Caveat::Label(name.to_string())
            }
            ("path", "glob") => Caveat::PathGlob(each(text, values, err, |w| {
                PathGlob::parse(w).map_err(|e| format!("bad path glob {w:?}: {e}"))
            })?),
            _ => {
                let mut ps = each(text, values, err, |w| {
                    if w.contains('*') {
                        return Err(format!("{w:?} contains '*'; use \"path glob\" for patterns"));
                    }
                    RequestPath::parse(w).map_err(|e| format!("bad path {w:?}: {e}"))
                })?;
                if single {
                    Caveat::PathIs(ps.remove(0))
                } else {
                    Caveat::PathPrefix(ps)
                }
            }
        })
    }

    /// The short kind name used in JSON output (`expires`, `not-before`, `method`, `host`,
    /// `path`, `path-prefix`, `path-glob`, `query`, `form`, `json`, `body-size`, `uses`,
    /// `rate`, `mcp-method`, `mcp-tool`, `graphql-operation`, `graphql-field`).
    pub fn kind(&self) -> &'static str {
        match self {
            Caveat::TimeBefore(_) => "expires",
            Caveat::TimeAfter(_) => "not-before",
            Caveat::MethodIs(_) | Caveat::MethodIn(_) => "method",
            Caveat::HostIs(_) | Caveat::HostIn(_) => "host",
            Caveat::PathIs(_) => "path",
            Caveat::PathPrefix(_) => "path-prefix",
            Caveat::PathGlob(_) => "path-glob",
            Caveat::Query { .. } => "query",
            Caveat::Form { .. } => "form",
            Caveat::Json { .. } => "json",
            Caveat::BodySize(_) => "body-size",
            Caveat::Uses(_) => "uses",
            Caveat::Rate { .. } => "rate",
            Caveat::Label(_) => "label",
            Caveat::RequestDigest(_) => "request-digest",
            Caveat::Operator(_) => "operator",
            Caveat::Roles(_) => "role",
            Caveat::Mcp(r) => r.kind(),
            Caveat::GraphQl(r) => r.kind(),
        }
    }

    /// Checks the caveat against a request.
    pub fn check(&self, req: &Request) -> Result<(), Unmet> {
        self.check_in(req, &Content::new(req)).map_err(|(_, why)| why)
    }

    /// Checks the caveat against a request whose content (query, body) is read at most once
    /// for all the caveats of one decision. A `body size` over its bound is
    /// [`DenyKind::BodyTooLarge`]; every other failure [`DenyKind::CaveatFailed`].
    pub(crate) fn check_in(&self, req: &Request, content: &Content<'_>) -> Result<(), (DenyKind, Unmet)> {
        let ok = match self {
            Caveat::TimeBefore(t) => req.time < *t,
            Caveat::TimeAfter(t) => req.time > *t,
            // The method held: then nothing in the request may name another one.
            Caveat::MethodIs(m) if req.method == *m => return method_override(content),
            Caveat::MethodIn(ms) if ms.contains(&req.method) => return method_override(content),
            Caveat::MethodIs(_) | Caveat::MethodIn(_) => false,
            Caveat::HostIs(h) => req.host == *h,
            Caveat::HostIn(hs) => hs.contains(&req.host),
            Caveat::PathIs(p) => req.path.decoded() == p.decoded(),
            Caveat::PathPrefix(ps) => ps.iter().any(|p| req.path.is_under(p)),
            Caveat::PathGlob(gs) => gs.iter().any(|g| g.matches(&req.path)),
            Caveat::Query { name, condition } => return content::check_query(name, condition, content),
            Caveat::Form { name, condition } => return content::check_form(name, condition, content),
            Caveat::Json { pointer, condition } => return content::check_json(pointer, condition, content),
            Caveat::BodySize(max) => return content::check_body_size(*max, content),
            Caveat::Mcp(r) => return mcp::check(r, content).map_err(|why| (DenyKind::CaveatFailed, why)),
            Caveat::GraphQl(r) => {
                return graphql::check(r, req, content).map_err(|why| (DenyKind::CaveatFailed, why))
            }
            // Counted by the proxy after every other check; nothing to check per request.
            Caveat::Uses(_) | Caveat::Rate { .. } => true,
            // Only names the holder.
            Caveat::Label(_) => true,
            Caveat::RequestDigest(want) => match crate::approval::request_digest(req) {
                Some(got) => crate::crypto::mac_eq(&got, want),
                None => {
                    return Err((
                        DenyKind::CaveatFailed,
                        "the request body was not read, so the request cannot be matched".into(),
                    ))
                }
            },
            Caveat::Operator(_) | Caveat::Roles(_) => {
                return Err((
                    DenyKind::CaveatFailed,
                    "an operator caveat on a request token: operator tokens open the admin API, never \
                     an upstream; use a token from `macaroon wrap`"
                        .into(),
                ))
            }
        };
        if ok {
            return Ok(());
        }
        let why = match self {
            Caveat::TimeBefore(t) => format!(
                "the token expired at {} ({} ago); ask for a new token",
                fmt_time(*t),
                fmt_duration(req.time.duration_since(*t).unwrap_or_default())
            ),
            Caveat::TimeAfter(t) => format!(
                "the token is not valid before {} (in {})",
                fmt_time(*t),
                fmt_duration(t.duration_since(req.time).unwrap_or_default())
            ),
            Caveat::MethodIs(_) | Caveat::MethodIn(_) => {
                format!(
                    "method {} is not allowed; {}",
                    req.method,
                    self.explain_at(req.time)
                )
            }
            Caveat::HostIs(_) | Caveat::HostIn(_) => {
                format!("host {} is not allowed; {}", req.host, self.explain_at(req.time))
            }
            Caveat::PathIs(_) | Caveat::PathPrefix(_) | Caveat::PathGlob(_) => {
                format!("path {} is not allowed; {}", req.path, self.explain_at(req.time))
            }
            // Content caveats answered above, with their own reasons.
            Caveat::Query { .. }
            | Caveat::Form { .. }
            | Caveat::Json { .. }
            | Caveat::BodySize(_)
            | Caveat::Uses(_)
            | Caveat::Rate { .. }
            | Caveat::Label(_) => self.explain_at(req.time),
            Caveat::RequestDigest(_) => {
                "this is not the one request the token allows (its method, host, path, query or body differ)"
                    .into()
            }
            Caveat::Operator(_) | Caveat::Roles(_) | Caveat::Mcp(_) | Caveat::GraphQl(_) => {
                self.explain_at(req.time)
            }
        };
        Err((DenyKind::CaveatFailed, why))
    }

    /// Says in plain words what the caveat allows, with times relative to `now`.
    pub fn explain_at(&self, now: SystemTime) -> String {
        match self {
            Caveat::TimeBefore(t) => match t.duration_since(now) {
                Ok(d) if !d.is_zero() => format!("expires in {} ({})", fmt_duration(d), fmt_time(*t)),
                _ => format!(
                    "expired {} ago ({})",
                    fmt_duration(now.duration_since(*t).unwrap_or_default()),
                    fmt_time(*t)
                ),
            },
            Caveat::TimeAfter(t) => match t.duration_since(now) {
                Ok(d) => format!("not valid until {} from now ({})", fmt_duration(d), fmt_time(*t)),
                Err(e) => format!(
                    "valid since {} ago ({})",
                    fmt_duration(e.duration()),
                    fmt_time(*t)
                ),
            },
            Caveat::MethodIs(m) => format!("only {m}"),
            Caveat::MethodIn(ms) => format!("only {}", join(ms, ", ")),
            Caveat::HostIs(h) => format!("only host {h}"),
            Caveat::HostIn(hs) => format!("only hosts {}", join(hs, ", ")),
            Caveat::PathIs(p) => format!("only the path {p}"),
            Caveat::PathPrefix(ps) => format!("only paths under {}", join(ps, " or ")),
            Caveat::PathGlob(gs) => format!("only paths matching {}", join(gs, " or ")),
            Caveat::Query { name, condition } => condition.explain(&format!("query parameter {name}")),
            Caveat::Form { name, condition } => condition.explain(name),
            Caveat::Json { pointer, condition } => condition.explain(pointer.label()),
            Caveat::BodySize(max) => format!("body at most {max} bytes"),
            Caveat::Uses(max) => limit::explain_uses(*max),
            Caveat::Rate { max, window } => limit::explain_rate(*max, *window),
            Caveat::Label(l) => format!("held by {l} (a name only: it allows as much as before)"),
            Caveat::RequestDigest(d) => format!(
                "only one exact request (method, host, path, query and body), sha256:{}...",
                &hex::encode(d)[..12]
            ),
            Caveat::Operator(_) | Caveat::Roles(_) => crate::operator::explain(self),
            Caveat::Mcp(r) => r.explain(),
            Caveat::GraphQl(r) => r.explain(),
        }
    }
}

fn method_override(content: &Content<'_>) -> Result<(), (DenyKind, Unmet)> {
    content::check_method_override(content).map_err(|why| (DenyKind::CaveatFailed, why))
}

impl fmt::Display for Caveat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caveat::TimeBefore(t) => write!(f, "time < {}", fmt_time(*t)),
            Caveat::TimeAfter(t) => write!(f, "time > {}", fmt_time(*t)),
            Caveat::MethodIs(m) => write!(f, "method = {m}"),
            Caveat::MethodIn(ms) => write!(f, "method in {}", join(ms, " ")),
            Caveat::HostIs(h) => write!(f, "host = {h}"),
            Caveat::HostIn(hs) => write!(f, "host in {}", join(hs, " ")),
            Caveat::PathIs(p) => write!(f, "path = {p}"),
            Caveat::PathPrefix(ps) => write!(f, "path prefix {}", join(ps, " ")),
            Caveat::PathGlob(gs) => write!(f, "path glob {}", join(gs, " ")),
            Caveat::Query { name, condition } => {
                write!(f, "query {name} ")?;
                condition.write(f)
            }
            Caveat::Form { name, condition } => {
                write!(f, "form {name} ")?;
                condition.write(f)
            }
            Caveat::Json { pointer, condition } => {
                write!(f, "json {pointer} ")?;
                condition.write(f)
            }
            Caveat::BodySize(max) => write!(f, "body size <= {max}"),
            Caveat::Uses(max) => write!(f, "uses <= {max}"),
            Caveat::Rate { max, window } => write!(f, "rate <= {max}/{window}"),
            Caveat::Label(l) => write!(f, "label = {l}"),
            Caveat::RequestDigest(d) => write!(f, "request digest = sha256:{}", hex::encode(d)),
            Caveat::Operator(name) => write!(f, "operator = {name}"),
            Caveat::Roles(rs) => write!(f, "role in {}", join(rs, " ")),
            Caveat::Mcp(r) => r.write(f),
            Caveat::GraphQl(r) => r.write(f),
        }
    }
}

impl std::str::FromStr for Caveat {
    type Err = CaveatError;
    fn from_str(s: &str) -> Result<Self, CaveatError> {
        Caveat::parse(s)
    }
}

fn join<T: fmt::Display>(items: &[T], sep: &str) -> String {
    items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
}

/// The words of a caveat with their byte offsets, after refusing anything but single
/// spaces between them (so errors can point at a word, and the text prints back as is).
fn split_words<'a>(
    text: &'a str,
    err: &dyn Fn(usize, String) -> CaveatError,
) -> Result<Vec<(usize, &'a str)>, CaveatError> {
    if text.is_empty() {
        return Err(err(
            1,
            format!("empty caveat; expected FIELD OP VALUE with FIELD one of {FIELDS}"),
        ));
    }
    if let Some(pos) = text.find(|c: char| c.is_whitespace() && c != ' ') {
        return Err(err(
            col(text, pos),
            "tabs and newlines are not allowed; separate words with single spaces".into(),
        ));
    }
    if let Some(pos) = text.find("  ") {
        return Err(err(
            col(text, pos) + 1,
            "two spaces in a row; separate words with single spaces".into(),
        ));
    }
    if text.starts_with(' ') {
        return Err(err(1, "leading space".into()));
    }
    if text.ends_with(' ') {
        return Err(err(col(text, text.len() - 1), "trailing space".into()));
    }
    let mut words = Vec::new();
    let mut start = 0;
    for part in text.split(' ') {
        words.push((start, part));
        start += part.len() + 1;
    }
    Ok(words)
}

/// The operator of a `time`, `method`, `host` or `path` caveat, checked against its field,
/// and the number of values it takes (one for `=`, `<`, `>`; at least one otherwise).
fn operator<'a>(
    text: &str,
    words: &[(usize, &'a str)],
    err: &dyn Fn(usize, String) -> CaveatError,
) -> Result<&'a str, CaveatError> {
    let (_, field) = words[0];
    let Some(&(op_at, op)) = words.get(1) else {
        return Err(err(
            col(text, text.len()),
            format!("{field:?} has no operator; expected e.g. \"{field} = VALUE\""),
        ));
    };
    let ops: &[&str] = match field {
        "time" => &["<", ">"],
        "method" | "host" => &["=", "in"],
        "path" => &["=", "prefix", "glob"],
        "label" => &["="],
        _ => return Err(err(1, format!("unknown field {field:?}; expected {FIELDS}"))),
    };
    if !ops.contains(&op) {
        return Err(err(
            col(text, op_at),
            format!(
                "unknown operator {op:?} for {field}; expected {}",
                ops.join(" or ")
            ),
        ));
    }
    let values = &words[2..];
    if values.is_empty() {
        return Err(err(
            col(text, text.len()) + 1,
            format!("\"{field} {op}\" needs a value"),
        ));
    }
    if matches!(op, "<" | ">" | "=") && values.len() > 1 {
        let (at, _) = values[1];
        let hint = match field {
            "path" => "; use \"path prefix\" or \"path glob\" for several paths",
            "time" => "; expected one RFC 3339 UTC time like 2026-11-25T12:00:00Z",
            _ => "; use \"in\" for several values",
        };
        return Err(err(
            col(text, at),
            format!("\"{field} {op}\" takes one value{hint}"),
        ));
    }
    Ok(op)
}

/// `uses <= N` or `rate <= N/DURATION`: exactly one bound, written with `<=`.
fn parse_limit(
    text: &str,
    words: &[(usize, &str)],
    err: &dyn Fn(usize, String) -> CaveatError,
) -> Result<Caveat, CaveatError> {
    let (_, field) = words[0];
    let example = if field == "uses" {
        "uses <= 20"
    } else {
        "rate <= 60/1m"
    };
    match words.get(1) {
        Some(&(_, "<=")) => {}
        Some(&(at, op)) => {
            return Err(err(
                col(text, at),
                format!("unknown operator {op:?} for {field}; expected <=, e.g. \"{example}\""),
            ))
        }
        None => {
            return Err(err(
                col(text, text.len()) + 1,
                format!("{field:?} has no operator; expected e.g. \"{example}\""),
            ))
        }
    }
    let Some(&(at, value)) = words.get(2) else {
        return Err(err(
            col(text, text.len()) + 1,
            format!("\"{field} <=\" needs a value, e.g. \"{example}\""),
        ));
    };
    if let Some(&(extra, _)) = words.get(3) {
        return Err(err(col(text, extra), format!("\"{field} <=\" takes one value")));
    }
    let parsed = if field == "uses" {
        limit::parse_count(value, limit::MAX_USES, "a use count of").map(Caveat::Uses)
    } else {
        limit::parse_rate(value).map(|(max, window)| Caveat::Rate { max, window })
    };
    parsed.map_err(|m| err(col(text, at), m))
}

/// `request digest = sha256:HEX` (64 lower-case hex digits).
fn parse_digest(
    text: &str,
    words: &[(usize, &str)],
    err: &dyn Fn(usize, String) -> CaveatError,
) -> Result<Caveat, CaveatError> {
    let example = "request digest = sha256:<64 hex digits>";
    match words {
        [_, (_, "digest"), (_, "="), (at, value)] => {
            let hex_part = value.strip_prefix("sha256:").ok_or_else(|| {
                err(
                    col(text, *at),
                    format!("{value:?} is not a digest; expected e.g. \"{example}\""),
                )
            })?;
            let mut d = [0u8; 32];
            if hex_part.len() != 64
                || hex_part.bytes().any(|b| b.is_ascii_uppercase())
                || hex::decode_to_slice(hex_part, &mut d).is_err()
            {
                return Err(err(
                    col(text, *at),
                    "a request digest is sha256: and 64 lower-case hex digits".into(),
                ));
            }
            Ok(Caveat::RequestDigest(d))
        }
        _ => Err(err(1, format!("expected \"{example}\""))),
    }
}

/// 1-based character column of byte offset `pos`.
fn col(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())].chars().count() + 1
}

fn parse_time(w: &str) -> Result<SystemTime, String> {
    let expected = "expected an RFC 3339 UTC time to the second, like 2026-11-25T12:00:00Z";
    let t = humantime::parse_rfc3339(w).map_err(|_| format!("{w:?} is not a time; {expected}"))?;
    if fmt_time(t) != w {
        return Err(format!("{w:?} is not in canonical form; {expected}"));
    }
    Ok(t)
}

/// Formats a time the way caveats hold it: RFC 3339, UTC, seconds.
pub fn fmt_time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Formats a duration for people, to the second ("9m 58s").
pub fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Caveat {
        Caveat::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn bad(s: &str) -> CaveatError {
        Caveat::parse(s).expect_err("must not parse")
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn req(method: &str, host: &str, path: &str, secs: u64) -> Request {
        Request::new(
            at(secs),
            Method::new(method).expect("method"),
            Host::normalize(host).expect("host"),
            RequestPath::parse(path).expect("path"),
        )
    }

    // 2026-11-25T12:00:00Z
    const NOON: u64 = 1_795_608_000;

    #[test]
    fn every_kind_prints_back_exactly() {
        for s in [
            "time < 2026-11-25T12:00:00Z",
            "time > 2026-11-25T11:00:00Z",
            "method = GET",
            "method in GET HEAD",
            "host = api.stripe.com",
            "host in a.com b.com",
            "path = /v1/charges",
            "path prefix /v1/charges /v1/refunds",
            "path glob /v1/customers/*/sources /v1/**",
            "uses <= 20",
            "rate <= 60/1m",
            "rate <= 5/30s",
            "label = billing-skill",
            "request digest = sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            "label = a.b_c-1",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
    }

    #[test]
    fn a_label_always_holds_and_is_strictly_spelled() {
        let c = parse("label = refund-subagent");
        assert_eq!(c.kind(), "label");
        assert!(c.check(&req("DELETE", "x.example", "/v1/anything", NOON)).is_ok());
        for bad in [
            "label = Billing",
            "label = a b",
            "label in a b",
            "label =",
            "label = caf\u{e9}",
            &format!("label = {}", "a".repeat(65)),
        ] {
            assert!(Caveat::parse(bad).is_err(), "{bad}");
        }
        let e = Caveat::parse("label = Billing").expect_err("refused").to_string();
        assert!(e.contains("lower-case"), "{e}");
    }

    #[test]
    fn usage_and_rate_caveats_parse_strictly_and_explain_plainly() {
        let now = at(NOON);
        assert_eq!(parse("uses <= 20").explain_at(now), "at most 20 uses in total");
        assert_eq!(parse("rate <= 60/1m").explain_at(now), "at most 60 per minute");
        assert_eq!(parse("uses <= 20").kind(), "uses");
        assert_eq!(parse("rate <= 60/1m").kind(), "rate");
        assert!(parse("uses <= 1").is_counted() && !parse("method = GET").is_counted());
        // They hold for every request: the proxy counts them.
        assert!(parse("uses <= 1").check(&req("GET", "a.com", "/", NOON)).is_ok());
        for (text, says) in [
            ("uses = 20", "expected <="),
            ("uses < 20", "expected <="),
            ("uses", "no operator"),
            ("uses <=", "needs a value"),
            ("uses <= 0", "not a count"),
            ("uses <= 20 30", "takes one value"),
            ("rate <= 60", "expected N/DURATION"),
            ("rate <= 60/1w", "not a duration"),
            ("rate >= 60/1m", "expected <="),
        ] {
            let e = bad(text);
            assert!(e.message.contains(says), "{text}: {e}");
        }
        assert_eq!(bad("uses <= 0x1").column, 9);
    }

    #[test]
    fn time_before_is_expiry() {
        let c = parse("time < 2026-11-25T12:00:00Z");
        assert_eq!(c, Caveat::TimeBefore(at(NOON)));
        assert!(c.check(&req("GET", "a.com", "/", NOON - 1)).is_ok());
        let why = c
            .check(&req("GET", "a.com", "/", NOON + 180))
            .expect_err("expired");
        assert_eq!(
            why,
            "the token expired at 2026-11-25T12:00:00Z (3m ago); ask for a new token"
        );
        assert!(
            c.check(&req("GET", "a.com", "/", NOON)).is_err(),
            "expiry instant itself is expired"
        );
    }

    #[test]
    fn time_after_is_not_before() {
        let c = parse("time > 2026-11-25T12:00:00Z");
        assert!(c.check(&req("GET", "a.com", "/", NOON + 1)).is_ok());
        let why = c
            .check(&req("GET", "a.com", "/", NOON - 60))
            .expect_err("too early");
        assert!(
            why.contains("not valid before 2026-11-25T12:00:00Z (in 1m)"),
            "{why}"
        );
    }

    #[test]
    fn time_must_be_canonical_utc() {
        for s in [
            "time < 2026-11-25T12:00:00+01:00",
            "time < 2026-11-25T12:00:00.5Z",
            "time < tomorrow",
            "time < 2026-11-25t12:00:00z",
        ] {
            let e = bad(s);
            assert_eq!(e.column, 8, "{s}: {e}");
            assert!(e.message.contains("RFC 3339"), "{e}");
        }
    }

    #[test]
    fn time_with_a_space_says_what_format_is_expected() {
        let e = bad("time < 2026-11-25 12:00:00Z");
        assert_eq!(e.column, 19);
        assert!(e.message.contains("RFC 3339"), "{e}");
    }

    #[test]
    fn method_is_and_in() {
        let c = parse("method = GET");
        assert!(c.check(&req("GET", "a.com", "/", 0)).is_ok());
        assert_eq!(
            c.check(&req("POST", "a.com", "/", 0)),
            Err("method POST is not allowed; only GET".into())
        );
        assert!(
            c.check(&req("get", "a.com", "/", 0)).is_err(),
            "methods are case-sensitive"
        );
        let c = parse("method in GET HEAD");
        assert!(c.check(&req("HEAD", "a.com", "/", 0)).is_ok());
        assert_eq!(
            c.check(&req("DELETE", "a.com", "/", 0)),
            Err("method DELETE is not allowed; only GET, HEAD".into())
        );
    }

    #[test]
    fn method_must_be_upper_case() {
        let e = bad("method = get");
        assert_eq!(e.column, 10);
        assert!(e.message.contains("upper case: GET"), "{e}");
        assert_eq!(bad("method in GET po/st").column, 15);
    }

    #[test]
    fn host_is_and_in() {
        let c = parse("host = api.stripe.com");
        assert!(c.check(&req("GET", "API.Stripe.com", "/", 0)).is_ok());
        assert!(c.check(&req("GET", "api.stripe.com.evil.com", "/", 0)).is_err());
        let c = parse("host in a.com b.com");
        assert!(c.check(&req("GET", "b.com", "/", 0)).is_ok());
        assert_eq!(
            c.check(&req("GET", "c.com", "/", 0)),
            Err("host c.com is not allowed; only hosts a.com, b.com".into())
        );
        assert!(bad("host = API.com").message.contains("lower case"));
        assert!(bad("host = a.com:443").message.contains("port"));
    }

    #[test]
    fn path_is_exact() {
        let c = parse("path = /v1/charges");
        assert!(c.check(&req("GET", "a.com", "/v1/charges", 0)).is_ok());
        assert!(c.check(&req("GET", "a.com", "/v1/charges/x", 0)).is_err());
        assert!(
            c.check(&req("GET", "a.com", "/v1/%63harges", 0)).is_ok(),
            "decoded compare"
        );
    }

    #[test]
    fn path_prefix_matches_segment_boundaries() {
        let c = parse("path prefix /v1/charges /v1/refunds");
        assert!(c.check(&req("GET", "a.com", "/v1/charges", 0)).is_ok());
        assert!(c.check(&req("GET", "a.com", "/v1/refunds/re_1", 0)).is_ok());
        assert_eq!(
            c.check(&req("GET", "a.com", "/v1/chargesX", 0)),
            Err("path /v1/chargesX is not allowed; only paths under /v1/charges or /v1/refunds".into())
        );
    }

    #[test]
    fn path_glob_matches_any_of_several() {
        let c = parse("path glob /v1/customers/*/sources /v2/**");
        assert!(c
            .check(&req("GET", "a.com", "/v1/customers/c1/sources", 0))
            .is_ok());
        assert!(c.check(&req("GET", "a.com", "/v2/x/y", 0)).is_ok());
        assert!(c
            .check(&req("GET", "a.com", "/v1/customers/c1/cards", 0))
            .is_err());
    }

    #[test]
    fn path_values_are_checked_like_request_paths() {
        assert!(bad("path prefix /v1/../admin").message.contains("dot segment"));
        assert!(bad("path = v1").message.contains("start with '/'"));
        assert!(bad("path = /v1/*").message.contains("path glob"));
        assert!(bad("path = /a /b").message.contains("path prefix"));
    }

    #[test]
    fn unknown_field_is_named() {
        let e = bad("methd = GET");
        assert_eq!(e.caveat, "methd = GET");
        assert_eq!(e.column, 1);
        assert!(e.message.contains("unknown field \"methd\""), "{e}");
        assert_eq!(
            e.to_string(),
            "caveat \"methd = GET\", column 1: unknown field \"methd\"; expected time, method, host, path, query, form, json, body, uses, rate, label, request, mcp or graphql"
        );
    }

    #[test]
    fn unknown_operator_is_named() {
        let e = bad("method == GET");
        assert_eq!(e.column, 8);
        assert!(
            e.message
                .contains("unknown operator \"==\" for method; expected = or in"),
            "{e}"
        );
        assert!(bad("time <= 2026-11-25T12:00:00Z")
            .message
            .contains("expected < or >"));
    }

    #[test]
    fn spacing_is_strict() {
        assert_eq!(bad("method  = GET").column, 8);
        assert!(bad(" method = GET").message.contains("leading"));
        assert!(bad("method = GET ").message.contains("trailing"));
        assert!(bad("method =\tGET").message.contains("single spaces"));
        assert!(bad("method =").message.contains("needs a value"));
        assert!(bad("method").message.contains("no operator"));
        assert!(bad("").message.contains("empty"));
        assert!(bad("method = GET POST").message.contains("use \"in\""));
    }

    #[test]
    fn explain_is_relative_to_now() {
        let c = parse("time < 2026-11-25T12:00:00Z");
        assert_eq!(
            c.explain_at(at(NOON - 598)),
            "expires in 9m 58s (2026-11-25T12:00:00Z)"
        );
        assert_eq!(
            c.explain_at(at(NOON + 180)),
            "expired 3m ago (2026-11-25T12:00:00Z)"
        );
        assert_eq!(parse("method in GET HEAD").explain_at(at(0)), "only GET, HEAD");
    }
}
