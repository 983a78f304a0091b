//! Caveats on what a request contains: `query`, `form` and `json` fields, `body size`.
//!
//! A caveat on content holds only if the upstream reads the content exactly as we do,
//! and the history of this check is a history of readings that differ. HTTP parameter
//! pollution (di Paola and Carettoni, OWASP AppSec 2009): given `amount=1&amount=9999`,
//! one framework takes the first, another the last, a third joins them. Separators:
//! Python's `parse_qsl` also split on `;` until CVE-2021-23336, so `amount=1;amount=9999`
//! is one field to us and two to it. Frameworks merge the query string into body
//! parameters, so the field checked in the body is overridden by `?amount=9999`. JSON
//! parsers keep the first or the last duplicate key ([`crate::json`]). Compressed bodies
//! check the compressed bytes. A `Content-Type` we do not read (`text/plain` holding JSON,
//! a charset other than UTF-8) hides the content from the check but not from the upstream.
//!
//! So nothing is "fixed" or guessed; every reading two servers could disagree on denies:
//! a field absent, present twice (after percent-decoding the names), or of the wrong type;
//! a raw `;` in a query string or form body; a malformed percent escape or invalid UTF-8;
//! a form field also named in the query string (and a top-level JSON key, for the same
//! reason), and a query field also in a form or JSON body; names compared as the most
//! lenient framework reads them ([`crate::field`]: case, PHP's and Rack's spellings); under
//! a `method` caveat, a `_method` field; a body whose `Content-Type` is not the caveat's kind or whose charset is not
//! UTF-8; any `Content-Encoding`; a body the proxy did not read. Numbers are exact
//! decimals ([`crate::decimal`]). The proxy forwards exactly the bytes checked here.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::cmp::Ordering;

use crate::caveat::{string_heap, vec_heap, Caveat, CaveatError};
use crate::decimal::{self, Decimal};
use crate::field::FieldName;
use crate::json::{self, Document, JsonPointer, Lookup, Value};
use crate::request::{BodyView, Request, RequestBody};
use crate::verify::DenyKind;

/// What a `query`, `form` or `json` caveat asks of its field.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Condition {
    /// `= V`: the value is V (for JSON: the string V, or a number equal to V).
    Is(String),
    /// `in V1 V2...`: the value is one of these.
    In(Vec<String>),
    /// `<= N`: a number at most N.
    AtMost(Decimal),
    /// `>= N`: a number at least N.
    AtLeast(Decimal),
}

impl Condition {
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Condition::Is(v) => string_heap(v),
            Condition::In(vs) => vec_heap(vs) + vs.iter().map(|v| string_heap(v)).sum::<usize>(),
            Condition::AtMost(n) | Condition::AtLeast(n) => n.heap_bytes(),
        }
    }

    /// The operator and values, as written after the field.
    pub(crate) fn write(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Is(v) => write!(f, "= {v}"),
            Condition::In(vs) => write!(f, "in {}", vs.join(" ")),
            Condition::AtMost(n) => write!(f, "<= {n}"),
            Condition::AtLeast(n) => write!(f, ">= {n}"),
        }
    }

    /// "amount at most 5000", "model is one of a, b".
    pub(crate) fn explain(&self, label: &str) -> String {
        match self {
            Condition::Is(v) => format!("{label} is {v}"),
            Condition::In(vs) => format!("{label} is one of {}", vs.join(", ")),
            Condition::AtMost(n) => format!("{label} at most {n}"),
            Condition::AtLeast(n) => format!("{label} at least {n}"),
        }
    }

    /// What the token allows, for denials: "at most 5000", "only usd".
    fn allows(&self) -> String {
        match self {
            Condition::Is(v) => format!("only {v}"),
            Condition::In(vs) => format!("only one of {}", vs.join(", ")),
            Condition::AtMost(n) => format!("at most {n}"),
            Condition::AtLeast(n) => format!("at least {n}"),
        }
    }

    fn bound_holds(&self, ord: Ordering) -> bool {
        match self {
            Condition::AtMost(_) => ord != Ordering::Greater,
            Condition::AtLeast(_) => ord != Ordering::Less,
            Condition::Is(_) | Condition::In(_) => false,
        }
    }

    fn values(&self) -> &[String] {
        match self {
            Condition::Is(v) => std::slice::from_ref(v),
            Condition::In(vs) => vs,
            Condition::AtMost(_) | Condition::AtLeast(_) => &[],
        }
    }

    /// Checks a query or form value (text; numbers as plain decimals).
    fn check_text(&self, label: &str, value: &str) -> Result<(), String> {
        let refused = || format!("{label} is {}; the token allows {}", shown(value), self.allows());
        match self {
            Condition::Is(_) | Condition::In(_) => {
                if self.values().iter().any(|v| v == value) {
                    Ok(())
                } else {
                    Err(refused())
                }
            }
            Condition::AtMost(n) | Condition::AtLeast(n) => {
                let v = decimal::scan(value, false).map_err(|_| {
                    format!(
                        "{label} is {}, not a plain decimal number; the token allows {}",
                        shown(value),
                        self.allows()
                    )
                })?;
                if self.bound_holds(v.cmp(&n.as_ref())) {
                    Ok(())
                } else {
                    Err(refused())
                }
            }
        }
    }

    /// Checks a JSON value: `=`/`in` match a string equal to a value, or a number equal
    /// to a value that is a number; bounds need a number.
    fn check_json(&self, label: &str, value: &Value<'_>) -> Result<(), String> {
        let wrong_type = || {
            let want = match self {
                Condition::Is(_) | Condition::In(_) => "a string or number",
                Condition::AtMost(_) | Condition::AtLeast(_) => "a number",
            };
            format!(
                "{label} is {}, not {want}; the token allows {}",
                value.kind(),
                self.allows()
            )
        };
        match (self, value) {
            (Condition::Is(_) | Condition::In(_), Value::String(s)) => self.check_text(label, s),
            (Condition::Is(_) | Condition::In(_), Value::Number(text)) => {
                let n = json::number(text).ok_or_else(wrong_type)?;
                let equal = self
                    .values()
                    .iter()
                    .filter_map(|v| Decimal::parse(v).ok())
                    .any(|v| n.cmp(&v.as_ref()) == Ordering::Equal);
                if equal {
                    Ok(())
                } else {
                    Err(format!(
                        "{label} is {}; the token allows {}",
                        shown(text),
                        self.allows()
                    ))
                }
            }
            (Condition::AtMost(bound) | Condition::AtLeast(bound), Value::Number(text)) => {
                let n = json::number(text).ok_or_else(wrong_type)?;
                if self.bound_holds(n.cmp(&bound.as_ref())) {
                    Ok(())
                } else {
                    Err(format!(
                        "{label} is {}; the token allows {}",
                        shown(text),
                        self.allows()
                    ))
                }
            }
            _ => Err(wrong_type()),
        }
    }
}

/// A value from the request, for a denial: as is when short and plain, else quoted
/// and cut (a denial is logged and sent back; it must stay one readable line).
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 64;
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '"');
    let count = value.chars().count();
    if plain && count <= MAX {
        return value.to_string();
    }
    let cut: String = value.chars().take(MAX).collect();
    if count > MAX {
        format!("{cut:?}… ({} bytes)", value.len())
    } else {
        format!("{cut:?}")
    }
}

/// Parses `query ...`, `form ...`, `json ...` and `body size <= N` (the words of `text`
/// with their byte offsets; `at` makes an error at a byte offset).
pub(crate) fn parse(
    text: &str,
    words: &[(usize, &str)],
    at: &dyn Fn(usize, String) -> CaveatError,
) -> Result<Caveat, CaveatError> {
    let (_, field) = words[0];
    let end = text.len() + 1;
    let example = match field {
        "query" => "query limit = 10",
        "form" => "form amount <= 5000",
        "json" => "json /model in gpt-4o-mini gpt-4.1-mini",
        _ => "body size <= 65536",
    };
    let Some(&(name_at, name)) = words.get(1) else {
        let what = match field {
            "query" => "a parameter name",
            "form" => "a field name",
            "json" => "a JSON pointer",
            _ => "\"size\"",
        };
        return Err(at(end, format!("\"{field}\" needs {what}, as in \"{example}\"")));
    };
    if words.len() < 3 {
        return Err(at(
            end,
            format!("\"{field} {name}\" has no operator, as in \"{example}\""),
        ));
    }
    if field == "body" {
        return body_size(words, end, example, at);
    }
    let condition = condition(words, end, at)?;
    Ok(match field {
        "query" => Caveat::Query {
            name: name.to_string(),
            condition,
        },
        "form" => Caveat::Form {
            name: name.to_string(),
            condition,
        },
        _ => Caveat::Json {
            pointer: JsonPointer::parse(name).map_err(|e| at(name_at, e.to_string()))?,
            condition,
        },
    })
}

/// `body size <= N`; `words` has at least the field, the name and the operator.
fn body_size(
    words: &[(usize, &str)],
    end: usize,
    example: &str,
    at: &dyn Fn(usize, String) -> CaveatError,
) -> Result<Caveat, CaveatError> {
    let ((name_at, name), (op_at, op), values) = (words[1], words[2], &words[3..]);
    if name != "size" {
        return Err(at(
            name_at,
            format!("unknown body caveat {name:?}; expected \"{example}\""),
        ));
    }
    if op != "<=" {
        return Err(at(
            op_at,
            format!("unknown operator {op:?} for body size; expected <="),
        ));
    }
    let [(n_at, n)] = values else {
        return Err(match values.get(1) {
            Some(&(extra_at, _)) => at(extra_at, "\"body size <=\" takes one number of bytes".into()),
            None => at(end, "\"body size <=\" needs a number of bytes".into()),
        });
    };
    parse_bytes(n).map(Caveat::BodySize).map_err(|m| at(*n_at, m))
}

/// The operator and values of a `query`, `form` or `json` caveat, as a [`Condition`];
/// `words` has at least the field, the name and the operator.
fn condition(
    words: &[(usize, &str)],
    end: usize,
    at: &dyn Fn(usize, String) -> CaveatError,
) -> Result<Condition, CaveatError> {
    let ((_, field), (name_at, name), (op_at, op), values) = (words[0], words[1], words[2], &words[3..]);
    let ops: &[&str] = if field == "query" {
        &["=", "in"]
    } else {
        &["=", "in", "<=", ">="]
    };
    if !ops.contains(&op) {
        return Err(at(
            op_at,
            format!(
                "unknown operator {op:?} for {field}; expected {}",
                ops.join(" or ")
            ),
        ));
    }
    if values.is_empty() {
        return Err(at(end, format!("\"{field} {name} {op}\" needs a value")));
    }
    if op != "in" && values.len() > 1 {
        let hint = if op == "=" {
            "; use \"in\" for several values"
        } else {
            ""
        };
        return Err(at(
            values[1].0,
            format!("\"{field} {name} {op}\" takes one value{hint}"),
        ));
    }
    for &(w_at, w) in std::iter::once(&(name_at, name)).chain(values) {
        if w.chars().any(char::is_control) {
            return Err(at(w_at, "control characters are not allowed".into()));
        }
    }
    Ok(match op {
        "=" => Condition::Is(values[0].1.to_string()),
        "in" => Condition::In(values.iter().map(|(_, w)| w.to_string()).collect()),
        _ => {
            let (n_at, n) = values[0];
            let n = Decimal::parse(n).map_err(|e| at(n_at, e.to_string()))?;
            if op == "<=" {
                Condition::AtMost(n)
            } else {
                Condition::AtLeast(n)
            }
        }
    })
}

/// A byte count as written in `body size <= N`: digits, no sign, no leading zero.
fn parse_bytes(n: &str) -> Result<u64, String> {
    let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'));
    if !digits {
        return Err(format!(
            "{n:?} is not a number of bytes; write digits, like 65536"
        ));
    }
    n.parse()
        .map_err(|_| format!("{n:?} is too large a number of bytes"))
}

/// The request's content, each part checked at most once per decision however many
/// caveats look at it (several JSON caveats share one parse of the body).
///
/// A form body or query string is validated once and kept as its text, not as a list of
/// decoded pairs: a 1 MiB body of `a&a&a...` is half a million pairs, tens of MB as
/// strings, for every request in flight. Each caveat then scans the text for its one
/// name (a handful of caveats, linear scans, no allocation but what is percent-decoded).
pub(crate) struct Content<'r> {
    req: &'r Request,
    query: OnceCell<Result<Pairs<'r>, String>>,
    form: OnceCell<Result<Pairs<'r>, String>>,
    json: OnceCell<Result<Document<'r>, String>>,
}

/// `application/x-www-form-urlencoded` text that [`Pairs::check`] accepted.
#[derive(Clone, Copy)]
struct Pairs<'a>(&'a str);

impl<'a> Pairs<'a> {
    /// Validates the whole text: `&` separates, `+` is a space, `%XX` a byte; names and
    /// values must decode to UTF-8. A raw `;` is refused, not read either way.
    fn check(text: &'a str, place: &str) -> Result<Self, String> {
        if text.contains(';') {
            return Err(format!(
                "{place} contains a raw ';', which some servers read as a separator; percent-encode it as %3B"
            ));
        }
        for part in Pairs(text).parts() {
            let (name, value) = split_pair(part);
            for s in [name, value] {
                form_decode(s).map_err(|why| format!("{place} has {why} in {}", shown(part)))?;
            }
        }
        Ok(Pairs(text))
    }

    fn parts(self) -> impl Iterator<Item = &'a str> {
        self.0
            .split('&')
            .filter(|p| !p.is_empty())
            .inspect(|_| crate::steps::step())
    }

    /// The decoded value of the first pair whose decoded name is exactly `name`, and how
    /// many pairs a framework could read as that field ([`FieldName::overlaps`]), with the
    /// first other spelling among them.
    fn find(self, name: &str) -> Found<'a> {
        let field = FieldName::of(name);
        let mut found = Found::default();
        for part in self.parts() {
            let (n, v) = split_pair(part);
            let Ok(n) = form_decode(n) else { continue };
            if !field.overlaps(&n) {
                continue;
            }
            found.count += 1;
            if n == name {
                if found.value.is_none() {
                    found.value = form_decode(v).ok();
                }
            } else if found.other.is_none() {
                found.other = Some(n.into_owned());
            }
        }
        found
    }

    /// True if a pair's top-level name is `field`'s: the query string and a form body merge
    /// on it.
    fn has_base(self, field: &FieldName) -> bool {
        self.parts()
            .filter_map(|p| form_decode(split_pair(p).0).ok())
            .any(|n| field.same_base(&n))
    }
}

/// What [`Pairs::find`] saw of one field.
#[derive(Default)]
struct Found<'a> {
    /// The value under the exact name.
    value: Option<Cow<'a, str>>,
    /// Pairs that are this field, in any spelling.
    count: usize,
    /// A spelling other than the exact name, for the denial.
    other: Option<String>,
}

fn split_pair(part: &str) -> (&str, &str) {
    part.split_once('=').unwrap_or((part, ""))
}

impl<'r> Content<'r> {
    /// Nothing is read until a caveat asks.
    pub(crate) fn new(req: &'r Request) -> Self {
        Content {
            req,
            query: OnceCell::new(),
            form: OnceCell::new(),
            json: OnceCell::new(),
        }
    }

    fn query(&self) -> Result<Pairs<'r>, String> {
        let req = self.req;
        self.query
            .get_or_init(|| Pairs::check(req.query.as_deref().unwrap_or(""), "the query string"))
            .clone()
    }

    pub(crate) fn body(&self) -> Result<&'r RequestBody, String> {
        match &self.req.body {
            BodyView::Read(body) => Ok(body),
            BodyView::NotRead => Err("the proxy did not read the body, so a body caveat cannot hold".into()),
        }
    }

    fn form(&self) -> Result<Pairs<'r>, String> {
        self.form
            .get_or_init(|| {
                let body = self.body()?;
                check_media(body, Kind::Form)?;
                let text = std::str::from_utf8(&body.bytes)
                    .map_err(|_| "the form body is not valid UTF-8".to_string())?;
                Pairs::check(text, "the form body")
            })
            .clone()
    }

    pub(crate) fn json(&self) -> Result<&Document<'r>, String> {
        check_media(self.body()?, Kind::Json)?;
        self.parsed_json()
    }

    /// The body parsed as JSON whatever its type says (once per decision).
    fn parsed_json(&self) -> Result<&Document<'r>, String> {
        self.json
            .get_or_init(|| {
                let body = self.body()?;
                Document::parse(&body.bytes).map_err(|e| format!("the JSON body is refused: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// True if a read form or JSON body has a top-level field named as `field` (in any
    /// spelling), read as loosely as any framework reads it. A body that was not read, or
    /// whose type frameworks take no parameters from, has none. One that cannot be read
    /// (encoded, or JSON we refuse) denies: it might.
    fn body_has(&self, field: &FieldName) -> Result<bool, String> {
        let BodyView::Read(body) = &self.req.body else {
            return Ok(false);
        };
        let Some(ct) = body.content_type.as_deref().filter(|ct| params_in_body(ct)) else {
            return Ok(false);
        };
        no_encoding(body)?;
        let lower = ct.to_ascii_lowercase();
        if lower.contains("x-www-form-urlencoded") {
            let text = String::from_utf8_lossy(&body.bytes);
            if crate::field::lenient_names(&text).any(|n| field.same_base(&n)) {
                return Ok(true);
            }
        }
        if lower.contains("json") {
            let doc = self
                .parsed_json()
                .map_err(|why| format!("{why}; so the proxy cannot tell which fields it holds"))?;
            return Ok(doc.top_keys().any(|k| field.same_base(&k)));
        }
        Ok(false)
    }
}

/// What a caveat may deny with.
pub(crate) type Failed = (DenyKind, String);

fn failed(why: String) -> Failed {
    (DenyKind::CaveatFailed, why)
}

/// The one value of `name` in `pairs`: absent or repeated (in any spelling) denies.
fn once<'a>(pairs: Pairs<'a>, name: &str, label: &str, place: &str) -> Result<Cow<'a, str>, String> {
    let found = pairs.find(name);
    match (found.value, found.count) {
        (Some(v), 1) => Ok(v),
        (None, _) => Err(format!("{label} is missing from {place}")),
        (Some(_), n) => {
            let spelled = found.other.map_or(String::new(), |o| {
                format!(
                    ", counting {} which frameworks read as the same field (case, PHP's [] . and space)",
                    shown(&o)
                )
            });
            Err(format!(
                "{label} appears {n} times in {place}{spelled}; a field the token checks must appear exactly once"
            ))
        }
    }
}

pub(crate) fn check_query(name: &str, condition: &Condition, content: &Content<'_>) -> Result<(), Failed> {
    let label = format!("query parameter {name}");
    let query = content.query().map_err(failed)?;
    let value = once(query, name, &label, "the query string").map_err(failed)?;
    condition.check_text(&label, &value).map_err(failed)?;
    if content.body_has(&FieldName::of(name)).map_err(failed)? {
        return Err(failed(format!(
            "{name} is in the body as well as the query string, and Rails and PHP merge the two; \
             send it once, in the query string"
        )));
    }
    Ok(())
}

pub(crate) fn check_form(name: &str, condition: &Condition, content: &Content<'_>) -> Result<(), Failed> {
    let form = content.form().map_err(failed)?;
    not_in_query(name, &FieldName::of(name), content)?;
    let value = once(form, name, name, "the form body").map_err(failed)?;
    condition.check_text(name, &value).map_err(failed)
}

pub(crate) fn check_json(
    pointer: &JsonPointer,
    condition: &Condition,
    content: &Content<'_>,
) -> Result<(), Failed> {
    let label = pointer.label();
    let doc = content.json().map_err(failed)?;
    if let Some(key) = pointer.tokens().first() {
        not_in_query(key, &FieldName::of(key), content)?;
    }
    let value = doc.get(pointer).map_err(|e| {
        failed(match e {
            Lookup::Missing(why) => format!("{label} is missing: {why}"),
            Lookup::Twice(why) => format!("{label} is there twice: {why}"),
        })
    })?;
    condition.check_json(label, &value).map_err(failed)
}

/// The one value of the query parameter `name`, `None` if absent; present twice (in any
/// spelling a framework reads as it) is an error.
pub(crate) fn query_value<'r>(content: &Content<'r>, name: &str) -> Result<Option<Cow<'r, str>>, String> {
    let query = content.query()?;
    if query.find(name).count == 0 {
        return Ok(None);
    }
    once(
        query,
        name,
        &format!("query parameter {name}"),
        "the query string",
    )
    .map(Some)
}

/// True if the query string has a parameter a framework reads as `name` (its top-level name,
/// in any spelling).
pub(crate) fn query_has(content: &Content<'_>, name: &str) -> Result<bool, String> {
    Ok(content.query()?.has_base(&FieldName::of(name)))
}

/// Frameworks merge the query string into body parameters: a body field the token checks
/// must not also arrive in the query string (under the same top-level name, in any
/// spelling), where it could override the checked one.
fn not_in_query(name: &str, field: &FieldName, content: &Content<'_>) -> Result<(), Failed> {
    let query = content.query().map_err(failed)?;
    if query.has_base(field) {
        return Err(failed(format!(
            "{name} is in the query string as well as the body; send it once, in the body"
        )));
    }
    Ok(())
}

/// The field Rails (`Rack::MethodOverride`), Laravel and Symfony read as the request method.
const METHOD_FIELD: &str = "_method";

/// Under a `method` caveat: no `_method` field (in any spelling) in the query string or in
/// a form or JSON body, which would make the upstream act on another method than the one
/// checked. A body that was not read is the proxy's to read first
/// ([`crate::Verified::needs_body_for`]).
pub(crate) fn check_method_override(content: &Content<'_>) -> Result<(), String> {
    // Built once: this runs for every request a token with a method caveat makes.
    static FIELD: std::sync::LazyLock<FieldName> = std::sync::LazyLock::new(|| FieldName::of(METHOD_FIELD));
    let field = &*FIELD;
    let query = content.req.query.as_deref().unwrap_or("");
    let in_query = crate::field::lenient_names(query).any(|n| field.same_base(&n));
    let place = if in_query {
        "the query string"
    } else if content.body_has(field)? {
        "the body"
    } else {
        return Ok(());
    };
    Err(format!(
        "{place} has a _method field, which Rails, Laravel and Symfony read as the request method; \
         a token with a method caveat refuses it: send the request with the method it means"
    ))
}

/// True if the content type is one frameworks read parameters from (a form, or JSON), read
/// as loosely as the loosest of them (Laravel takes any type containing `json`; PHP any that
/// starts with the form type). A token with `method` or `query` caveats needs such a body
/// read, to look for `_method` and for query fields sent again in the body.
pub fn params_in_body(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.contains("json") || ct.contains("x-www-form-urlencoded")
}

pub(crate) fn check_body_size(max: u64, content: &Content<'_>) -> Result<(), Failed> {
    let body = content.body().map_err(failed)?;
    no_encoding(body).map_err(failed)?;
    let len = body.bytes.len() as u64;
    if len > max {
        return Err((
            DenyKind::BodyTooLarge,
            format!("the body is {len} bytes; the token allows at most {max}"),
        ));
    }
    Ok(())
}

/// The body kinds a caveat reads.
#[derive(Clone, Copy)]
enum Kind {
    Form,
    Json,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Form => "an application/x-www-form-urlencoded form",
            Kind::Json => "JSON (application/json or a +json type)",
        }
    }
}

fn no_encoding(body: &RequestBody) -> Result<(), String> {
    match &body.content_encoding {
        Some(e) => Err(format!(
            "the body has Content-Encoding {}; body caveats check only bodies sent as they are, uncompressed",
            shown(e)
        )),
        None => Ok(()),
    }
}

/// The body must be of the caveat's kind, in UTF-8, not encoded.
fn check_media(body: &RequestBody, kind: Kind) -> Result<(), String> {
    no_encoding(body)?;
    let Some(ct) = body.content_type.as_deref() else {
        return Err(format!(
            "the body has no Content-Type; the caveat reads {}",
            kind.expected()
        ));
    };
    let Some((essence, charset)) = media_type(ct) else {
        return Err(format!(
            "the Content-Type {} is malformed; the caveat reads {}",
            shown(ct),
            kind.expected()
        ));
    };
    let ok = match kind {
        Kind::Form => essence == "application/x-www-form-urlencoded",
        Kind::Json => {
            essence == "application/json"
                || essence
                    .split_once('/')
                    .and_then(|(_, sub)| sub.strip_suffix("+json"))
                    .is_some_and(|s| !s.is_empty())
        }
    };
    if !ok {
        return Err(format!(
            "the body is {essence}; the caveat reads {}",
            kind.expected()
        ));
    }
    if let Some(cs) = charset {
        if !cs.eq_ignore_ascii_case("utf-8") {
            return Err(format!(
                "the body's charset is {}; body caveats read only UTF-8",
                shown(&cs)
            ));
        }
    }
    Ok(())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `media-type`: the lower-cased `type/subtype` and the charset parameter, if
/// any. `None` when malformed, or when `charset` is given twice (which one counts?).
fn media_type(ct: &str) -> Option<(String, Option<String>)> {
    let b = ct.as_bytes();
    let ows = |i: &mut usize| {
        while matches!(b.get(*i), Some(b' ' | b'\t')) {
            *i += 1;
        }
    };
    let token = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(|&c| is_tchar(c)) {
            *i += 1;
        }
        (*i > start).then(|| &ct[start..*i])
    };
    let mut i = 0;
    ows(&mut i);
    let ty = token(&mut i)?;
    if b.get(i) != Some(&b'/') {
        return None;
    }
    i += 1;
    let sub = token(&mut i)?;
    let essence = format!("{ty}/{sub}").to_ascii_lowercase();
    let mut charset = None;
    loop {
        ows(&mut i);
        match b.get(i) {
            None => break,
            Some(b';') => i += 1,
            Some(_) => return None,
        }
        ows(&mut i);
        if matches!(b.get(i), None | Some(b';')) {
            continue; // an empty parameter is allowed
        }
        let name = token(&mut i)?;
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        let value = if b.get(i) == Some(&b'"') {
            i += 1;
            let mut v = String::new();
            loop {
                match b.get(i) {
                    None => return None,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let c = ct[i + 1..].chars().next()?;
                        v.push(c);
                        i += 1 + c.len_utf8();
                    }
                    Some(_) => {
                        let c = ct[i..].chars().next()?;
                        if c.is_control() && c != '\t' {
                            return None;
                        }
                        v.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            v
        } else {
            token(&mut i)?.to_string()
        };
        if name.eq_ignore_ascii_case("charset") {
            if charset.is_some() {
                return None;
            }
            charset = Some(value);
        }
    }
    Some((essence, charset))
}

fn form_decode(s: &str) -> Result<Cow<'_, str>, &'static str> {
    if !s.contains(['%', '+']) {
        return Ok(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(b.get(i + 1)), hex(b.get(i + 2))) else {
                    return Err("a malformed percent escape");
                };
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| "percent escapes that are not UTF-8")
}

/// True if any of these raw predicates is a caveat on the body (`form`, `json`,
/// `body size`, `mcp`, `graphql`): then the proxy must read the body whole before deciding. Predicates
/// that do not parse need no body (they deny every request anyway).
pub fn needs_body(predicates: &[Vec<u8>]) -> bool {
    predicates.iter().any(|p| {
        std::str::from_utf8(p)
            .ok()
            .and_then(|t| Caveat::parse(t).ok())
            .is_some_and(|c| c.needs_body())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::path::RequestPath;
    use crate::request::Method;
    use bytes::Bytes;
    use std::time::SystemTime;

    fn parse(s: &str) -> Caveat {
        Caveat::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn bad(s: &str) -> CaveatError {
        Caveat::parse(s).expect_err("must not parse")
    }

    fn req(query: Option<&str>, body: Option<(&str, &[u8])>) -> Request {
        let mut r = Request::new(
            SystemTime::UNIX_EPOCH,
            Method::new("POST").expect("method"),
            Host::normalize("api.stripe.com").expect("host"),
            RequestPath::parse("/v1/payment_intents").expect("path"),
        );
        r.query = query.map(str::to_string);
        if let Some((ct, bytes)) = body {
            r.body = BodyView::Read(RequestBody::new(
                (!ct.is_empty()).then(|| ct.to_string()),
                None,
                Bytes::copy_from_slice(bytes),
            ));
        }
        r
    }

    fn form(body: &str) -> Request {
        req(None, Some(("application/x-www-form-urlencoded", body.as_bytes())))
    }

    fn json(body: &str) -> Request {
        req(None, Some(("application/json", body.as_bytes())))
    }

    fn check(c: &str, r: &Request) -> Result<(), String> {
        parse(c).check(r)
    }

    fn kind(c: &str, r: &Request) -> Option<DenyKind> {
        parse(c).check_in(r, &Content::new(r)).err().map(|(k, _)| k)
    }

    #[test]
    fn every_content_kind_prints_back_exactly() {
        for s in [
            "query limit = 10",
            "query expand in customer invoice",
            "form amount <= 5000",
            "form amount >= 50.00",
            "form currency = usd",
            "form metadata[order] in a b",
            "json /model in gpt-4o-mini gpt-4.1-mini",
            "json /max_tokens <= 1000",
            "json /messages/0/role = user",
            "json /a~1b >= -1.5",
            "body size <= 65536",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
    }

    #[test]
    fn kinds_and_explanations_are_plain_words() {
        let e = |s: &str| parse(s).explain_at(SystemTime::UNIX_EPOCH);
        assert_eq!(e("form amount <= 5000"), "amount at most 5000");
        assert_eq!(e("form amount >= 1"), "amount at least 1");
        assert_eq!(e("form currency = usd"), "currency is usd");
        assert_eq!(
            e("json /model in gpt-4o-mini gpt-4.1-mini"),
            "model is one of gpt-4o-mini, gpt-4.1-mini"
        );
        assert_eq!(e("json /messages/0/role = user"), "/messages/0/role is user");
        assert_eq!(e("query limit = 10"), "query parameter limit is 10");
        assert_eq!(e("body size <= 65536"), "body at most 65536 bytes");
        assert_eq!(parse("query a = b").kind(), "query");
        assert_eq!(parse("form a = b").kind(), "form");
        assert_eq!(parse("json /a = b").kind(), "json");
        assert_eq!(parse("body size <= 1").kind(), "body-size");
    }

    #[test]
    fn only_body_caveats_need_the_body() {
        assert!(parse("form a = b").needs_body());
        assert!(parse("json /a = b").needs_body());
        assert!(parse("body size <= 10").needs_body());
        assert!(!parse("query a = b").needs_body());
        assert!(!parse("method = GET").needs_body());
        assert!(needs_body(&[
            b"method = GET".to_vec(),
            b"json /model = x".to_vec()
        ]));
        assert!(!needs_body(&[
            b"method = GET".to_vec(),
            b"jsn /model = x".to_vec()
        ]));
    }

    #[test]
    fn typos_in_content_caveats_are_parse_errors() {
        assert!(bad("form amount <= 5,000").message.contains("not a number"));
        assert!(bad("form amount <= +5").message.contains("'+'"));
        assert!(bad("form amount <= 05").message.contains("leading zero"));
        assert!(bad("form amount <= 5e3").message.contains("exponent"));
        assert!(bad("json /n >= NaN").message.contains("not a number"));
        assert!(bad("form amount < 5000")
            .message
            .contains("expected = or in or <= or >="));
        assert!(bad("query limit <= 10").message.contains("expected = or in"));
        assert!(bad("json model = x").message.contains("starts with '/'"));
        assert!(bad("json /a~2 = x").message.contains("~0"));
        assert!(bad("form amount").message.contains("no operator"));
        assert!(bad("form").message.contains("needs a field name"));
        assert!(bad("form amount =").message.contains("needs a value"));
        assert!(bad("form currency = usd eur").message.contains("use \"in\""));
        assert!(bad("body size <= 64k").message.contains("number of bytes"));
        assert!(bad("body size <= 064").message.contains("number of bytes"));
        assert!(bad("body size <= +64").message.contains("number of bytes"));
        assert!(bad("body size < 64").message.contains("expected <="));
        assert!(bad("body length <= 64").message.contains("unknown body caveat"));
        assert!(bad("form a\u{1}b = x").message.contains("control"));
        let e = bad("form amount <= 5,000");
        assert_eq!(e.column, 16, "{e}");
    }

    #[test]
    fn form_amount_within_and_over_the_bound() {
        let c = "form amount <= 5000";
        assert_eq!(check(c, &form("amount=5000&currency=usd")), Ok(()));
        assert_eq!(check(c, &form("amount=4999.99")), Ok(()));
        assert_eq!(
            check(c, &form("amount=6000")),
            Err("amount is 6000; the token allows at most 5000".into())
        );
        assert_eq!(kind(c, &form("amount=6000")), Some(DenyKind::CaveatFailed));
        assert_eq!(check("form amount >= 100", &form("amount=100")), Ok(()));
        assert!(check("form amount >= 100", &form("amount=99.999")).is_err());
    }

    #[test]
    fn form_numbers_must_be_plain_decimals() {
        let c = "form amount <= 5000";
        for v in [
            "5e3", "+5", "05", "0x10", "NaN", "Infinity", "", "5%2C000", "1e400", "5000%00",
        ] {
            let why = check(c, &form(&format!("amount={v}"))).expect_err(v);
            assert!(why.contains("not a plain decimal number"), "{v}: {why}");
        }
        assert_eq!(check(c, &form("amount=5000.00")), Ok(()));
    }

    #[test]
    fn form_field_present_twice_denies() {
        let c = "form amount <= 5000";
        let why = check(c, &form("amount=1&amount=9999")).expect_err("twice");
        assert!(why.contains("appears 2 times"), "{why}");
        // The same name spelled differently is the same name once decoded.
        assert!(check(c, &form("amount=1&%61mount=9999")).is_err());
        assert!(check(c, &form("amount=1&amount")).is_err());
    }

    #[test]
    fn a_field_spelled_twice_is_present_twice() {
        let c = "form amount <= 5000";
        for body in [
            "amount=1&AMOUNT=99999",
            "amount=1&Amount=99999",
            "amount=1&amount%00=99999",
            "amount=1&%20amount=99999",
            "amount=1&+amount=99999",
            "amount=1&amount[]=99999",
            "amount[x]=99999&amount=1",
        ] {
            let why = check(c, &form(body)).expect_err(body);
            assert!(why.contains("appears 2 times"), "{body}: {why}");
        }
        let why = check("form a.b = 1", &form("a.b=1&a_b=2")).expect_err("a_b");
        assert!(why.contains("same field"), "{why}");
        assert!(check("form a_b = 1", &form("a_b=1&a.b=2")).is_err());
        assert!(check("form metadata[order] = 1", &form("metadata[order]=1&metadata=2")).is_err());
        assert!(check("query limit = 1", &req(Some("limit=1&LIMIT=2"), None)).is_err());
        assert!(check("query limit = 1", &req(Some("limit=1&limit[]=2"), None)).is_err());
        // Other fields, and other keys under the same parent, are other fields.
        assert_eq!(check(c, &form("amount=1&amounts=2&xamount=3")), Ok(()));
        assert_eq!(
            check(
                "form metadata[order] = 1",
                &form("metadata[order]=1&metadata[other]=2")
            ),
            Ok(())
        );
    }

    #[test]
    fn a_case_variant_json_key_is_present_twice() {
        let why = check("json /amount <= 5000", &json(r#"{"amount":1,"AMOUNT":99999}"#)).expect_err("AMOUNT");
        assert!(why.contains("twice"), "{why}");
        assert!(check("json /a/b = 1", &json(r#"{"a":{"b":1,"B":2}}"#)).is_err());
    }

    #[test]
    fn a_query_field_also_in_the_body_denies() {
        let in_form = req(
            Some("limit=10"),
            Some(("application/x-www-form-urlencoded", b"LIMIT=1000")),
        );
        let why = check("query limit = 10", &in_form).expect_err("form");
        assert!(why.contains("in the body as well"), "{why}");
        let in_json = req(Some("limit=10"), Some(("application/json", br#"{"limit":1000}"#)));
        assert!(check("query limit = 10", &in_json).is_err());
        // Read loosely: a raw ';' separates, and any type with "json" in it is JSON.
        let loose = req(
            Some("limit=10"),
            Some(("application/x-www-form-urlencoded", b"a=1;limit=1000")),
        );
        assert!(check("query limit = 10", &loose).is_err());
        let text_json = req(Some("limit=10"), Some(("text/json", br#"{"limit":1}"#)));
        assert!(check("query limit = 10", &text_json).is_err());
        // A body frameworks take no parameters from, or one without the field, is fine.
        let other = req(Some("limit=10"), Some(("text/plain", b"limit=1000")));
        assert_eq!(check("query limit = 10", &other), Ok(()));
        let fine = req(Some("limit=10"), Some(("application/json", br#"{"n":1}"#)));
        assert_eq!(check("query limit = 10", &fine), Ok(()));
        // The reverse, in any spelling: a JSON field under a nested pointer too.
        let r = req(
            Some("USER[x]=1"),
            Some(("application/json", br#"{"user":{"amount":1}}"#)),
        );
        assert!(check("json /user/amount <= 5", &r).is_err());
        let r = req(
            Some("Amount=9999"),
            Some(("application/x-www-form-urlencoded", b"amount=1")),
        );
        assert!(check("form amount <= 5000", &r).is_err());
        // Found by fuzz/field_names: Rack (Rails) puts `a[mount` under `a`.
        let r = req(
            Some("a[mount=1"),
            Some(("application/x-www-form-urlencoded", b"a=6")),
        );
        assert!(check("form a = 6", &r).is_err());
    }

    #[test]
    fn under_a_method_caveat_a_method_field_denies() {
        let post = |query: Option<&str>, ct: &str, body: &[u8]| req(query, Some((ct, body)));
        let formtype = "application/x-www-form-urlencoded";
        for r in [
            post(None, formtype, b"_method=DELETE"),
            post(None, formtype, b"a=1&_METHOD=DELETE"),
            post(None, formtype, b"%5Fmethod=DELETE"),
            post(None, formtype, b".method=DELETE"),
            post(None, formtype, b"_method[]=DELETE"),
            post(None, "application/json", br#"{"_method":"DELETE"}"#),
            post(None, "application/vnd.api+json", br#"{"_Method":"DELETE"}"#),
            post(Some("_method=DELETE"), "text/plain", b"x"),
            req(Some("a=1;_method=DELETE"), None),
        ] {
            let why = check("method = POST", &r).expect_err("override");
            assert!(why.contains("_method"), "{why}");
            assert!(check("method in GET POST", &r).is_err());
        }
        // A nested field of that name is no override; nor is a body nobody reads fields from.
        assert_eq!(
            check(
                "method = POST",
                &post(None, "application/json", br#"{"a":{"_method":"x"}}"#)
            ),
            Ok(())
        );
        assert_eq!(
            check("method = POST", &post(None, "text/plain", b"_method=DELETE")),
            Ok(())
        );
        // A JSON body that cannot be read might hold one.
        assert!(check("method = POST", &post(None, "application/json", b"{\"a\":1,}")).is_err());
        assert!(check("method = POST", &post(None, formtype, b"a=1")).is_ok());
    }

    #[test]
    fn form_field_absent_denies() {
        let why = check("form amount <= 5000", &form("currency=usd")).expect_err("absent");
        assert_eq!(why, "amount is missing from the form body");
        assert!(check("form amount <= 5000", &form("")).is_err());
    }

    #[test]
    fn form_field_also_in_the_query_string_denies() {
        let r = req(
            Some("amount=9999"),
            Some(("application/x-www-form-urlencoded", b"amount=1")),
        );
        let why = check("form amount <= 5000", &r).expect_err("in both");
        assert!(why.contains("query string as well as the body"), "{why}");
        let r = req(
            Some("expand=customer"),
            Some(("application/x-www-form-urlencoded", b"amount=1")),
        );
        assert_eq!(check("form amount <= 5000", &r), Ok(()));
    }

    #[test]
    fn raw_semicolon_separator_denies() {
        let why = check("form amount <= 5000", &form("amount=1;amount=9999")).expect_err(";");
        assert!(why.contains("';'"), "{why}");
        assert!(check("query limit = 10", &req(Some("limit=10;limit=1000"), None)).is_err());
        assert_eq!(check("form note = a;b", &form("note=a%3Bb")), Ok(()));
    }

    #[test]
    fn form_names_and_values_are_percent_decoded_with_plus_as_space() {
        assert_eq!(
            check("form metadata[order] = 42", &form("metadata%5Border%5D=42")),
            Ok(())
        );
        assert_eq!(
            check("form metadata[order] = 42", &form("metadata[order]=42")),
            Ok(())
        );
        assert_eq!(check("form d = a+b", &form("d=a%2Bb")), Ok(()));
        assert!(check("form d = a+b", &form("d=a+b")).is_err(), "'+' is a space");
        assert!(check("form d = x", &form("d=%zz"))
            .expect_err("bad")
            .contains("malformed percent escape"));
        assert!(check("form d = x", &form("d=%ff"))
            .expect_err("bad")
            .contains("not UTF-8"));
        // Malformed anywhere in the body denies, not only in the field checked.
        assert!(check("form d = x", &form("d=x&e=%zz")).is_err());
    }

    #[test]
    fn form_body_must_be_utf8() {
        let r = req(
            None,
            Some(("application/x-www-form-urlencoded", b"amount=1&x=\xff")),
        );
        assert!(check("form amount <= 5", &r).expect_err("utf8").contains("UTF-8"));
    }

    #[test]
    fn form_values_compare_as_text_for_equality() {
        assert_eq!(check("form currency = usd", &form("currency=usd")), Ok(()));
        assert_eq!(
            check("form currency in usd eur", &form("currency=gbp")),
            Err("currency is gbp; the token allows only one of usd, eur".into())
        );
        assert!(check("form currency = usd", &form("currency=USD")).is_err());
    }

    #[test]
    fn form_caveat_on_a_json_body_denies_and_the_reverse() {
        let why = check("form amount <= 5", &json(r#"{"amount":1}"#)).expect_err("json body");
        assert!(why.contains("the body is application/json"), "{why}");
        let why = check("json /amount <= 5", &form("amount=1")).expect_err("form body");
        assert!(
            why.contains("the body is application/x-www-form-urlencoded"),
            "{why}"
        );
        let text = req(None, Some(("text/plain", br#"{"amount":1}"#)));
        assert!(check("json /amount <= 5", &text).is_err());
        let none = req(None, Some(("", br#"{"amount":1}"#)));
        assert!(check("json /amount <= 5", &none)
            .expect_err("no type")
            .contains("no Content-Type"));
    }

    #[test]
    fn content_type_parameters_and_charset() {
        let with = |ct: &str| req(None, Some((ct, br#"{"n":1}"#)));
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
            "application/vnd.api+json",
            "application/merge-patch+json; profile=x",
            "application/json;",
        ] {
            assert_eq!(check("json /n <= 5", &with(ok)), Ok(()), "{ok}");
        }
        for no in [
            "application/json; charset=latin1",
            "application/json; charset=utf-16",
            "application/json; charset=utf-8; charset=latin1",
            "application/json, text/plain",
            "application/+json",
            "application/jsonx",
            "application/json charset=utf-8",
            "application/json; charset",
            "application",
        ] {
            assert!(check("json /n <= 5", &with(no)).is_err(), "{no}");
        }
    }

    #[test]
    fn any_content_encoding_denies() {
        for enc in ["gzip", "identity", "br", ""] {
            let mut r = json(r#"{"n":1}"#);
            if let BodyView::Read(b) = &mut r.body {
                b.content_encoding = Some(enc.to_string());
            }
            let why = check("json /n <= 5", &r).expect_err(enc);
            assert!(why.contains("Content-Encoding"), "{why}");
            assert!(check("body size <= 100", &r).is_err());
        }
    }

    #[test]
    fn body_not_read_denies_every_body_caveat() {
        let r = req(None, None);
        for c in ["form a = b", "json /a = b", "body size <= 100"] {
            let why = check(c, &r).expect_err(c);
            assert!(why.contains("did not read the body"), "{why}");
            assert_eq!(kind(c, &r), Some(DenyKind::CaveatFailed));
        }
    }

    #[test]
    fn body_over_the_size_bound_is_too_large() {
        let c = "body size <= 10";
        assert_eq!(check(c, &form("a=12345678")), Ok(()));
        assert_eq!(
            check(c, &form("a=123456789")),
            Err("the body is 11 bytes; the token allows at most 10".into())
        );
        assert_eq!(kind(c, &form("a=123456789")), Some(DenyKind::BodyTooLarge));
        assert_eq!(check("body size <= 0", &req(None, Some(("", b"")))), Ok(()));
    }

    #[test]
    fn query_parameter_exactly_once_with_one_of_the_values() {
        let c = "query limit in 10 20";
        assert_eq!(check(c, &req(Some("limit=10&starting_after=x"), None)), Ok(()));
        assert_eq!(
            check(c, &req(Some("limit=100"), None)),
            Err("query parameter limit is 100; the token allows only one of 10, 20".into())
        );
        assert!(check(c, &req(Some("limit=10&limit=100"), None)).is_err());
        assert!(check(c, &req(None, None))
            .expect_err("absent")
            .contains("missing from the query string"));
        assert_eq!(
            check("query name = café", &req(Some("name=caf%C3%A9"), None)),
            Ok(())
        );
        assert_eq!(check("query limit = 10", &req(Some("lim%69t=10"), None)), Ok(()));
    }

    #[test]
    fn json_model_is_one_of_the_allowed() {
        let c = "json /model in gpt-4o-mini gpt-4.1-mini";
        assert_eq!(
            check(c, &json(r#"{"model":"gpt-4o-mini","messages":[]}"#)),
            Ok(())
        );
        assert_eq!(
            check(c, &json(r#"{"model":"gpt-4o"}"#)),
            Err("model is gpt-4o; the token allows only one of gpt-4o-mini, gpt-4.1-mini".into())
        );
        assert!(check(c, &json(r#"{"messages":[]}"#))
            .expect_err("absent")
            .contains("model is missing: the body has no key \"model\""));
        assert!(check(c, &json(r#"{"model":["gpt-4o-mini"]}"#))
            .expect_err("array")
            .contains("is an array, not a string or number"));
    }

    #[test]
    fn json_equality_matches_strings_and_equal_numbers() {
        assert_eq!(check("json /n = 5000", &json(r#"{"n":5e3}"#)), Ok(()));
        assert_eq!(check("json /n = 5000", &json(r#"{"n":"5000"}"#)), Ok(()));
        assert!(
            check("json /n = 5000", &json(r#"{"n":"5e3"}"#)).is_err(),
            "a string is compared as text"
        );
        assert!(check("json /n = 5000", &json(r#"{"n":5001}"#)).is_err());
        assert!(
            check("json /stream = false", &json(r#"{"stream":false}"#)).is_err(),
            "only strings and numbers"
        );
        assert!(check("json /x = null", &json(r#"{"x":null}"#)).is_err());
    }

    #[test]
    fn json_bounds_need_a_number() {
        let c = "json /max_tokens <= 1000";
        assert_eq!(check(c, &json(r#"{"max_tokens":1000}"#)), Ok(()));
        assert_eq!(check(c, &json(r#"{"max_tokens":1e3}"#)), Ok(()));
        assert_eq!(check(c, &json(r#"{"max_tokens":999.5}"#)), Ok(()));
        assert_eq!(
            check(c, &json(r#"{"max_tokens":1001}"#)),
            Err("max_tokens is 1001; the token allows at most 1000".into())
        );
        assert!(check(c, &json(r#"{"max_tokens":"10"}"#))
            .expect_err("string")
            .contains("is a string, not a number"));
        assert!(check(c, &json(r#"{"max_tokens":null}"#)).is_err());
        assert!(check(c, &json(r#"{"max_tokens":1e400}"#))
            .expect_err("range")
            .contains("out of range"));
    }

    #[test]
    fn json_nested_pointer() {
        let c = "json /messages/0/role = user";
        assert_eq!(check(c, &json(r#"{"messages":[{"role":"user"}]}"#)), Ok(()));
        assert!(check(c, &json(r#"{"messages":[]}"#))
            .expect_err("absent")
            .contains("/messages has no element 0"));
    }

    #[test]
    fn duplicate_json_keys_deny_even_away_from_the_pointer() {
        let why = check(
            "json /model = a",
            &json(r#"{"model":"a","messages":[{"role":"user","role":"system"}]}"#),
        )
        .expect_err("dup");
        assert!(why.contains("duplicate key \"role\""), "{why}");
    }

    #[test]
    fn trailing_garbage_after_the_json_value_denies() {
        assert!(check("json /model = a", &json(r#"{"model":"a"}{"model":"b"}"#)).is_err());
    }

    #[test]
    fn top_level_json_key_also_in_the_query_string_denies() {
        let r = req(
            Some("model=gpt-4o"),
            Some(("application/json", br#"{"model":"a"}"#)),
        );
        assert!(check("json /model = a", &r).is_err());
    }

    #[test]
    fn several_json_caveats_share_one_parse() {
        let r = json(r#"{"model":"a","max_tokens":10}"#);
        let content = Content::new(&r);
        for c in [
            "json /model = a",
            "json /max_tokens <= 100",
            "json /max_tokens >= 1",
        ] {
            assert_eq!(parse(c).check_in(&r, &content), Ok(()));
        }
        let first = content.json().map(|d| d as *const Document<'_>);
        let again = content.json().map(|d| d as *const Document<'_>);
        assert_eq!(first, again, "one document per decision");
    }

    #[test]
    fn a_body_of_half_a_million_pairs_is_scanned_not_stored() {
        let body = format!("{}amount=1&currency=usd", "a&".repeat(500_000));
        let r = form(&body);
        let pairs = 500_002;
        let ((), steps) = crate::steps::counted(|| {
            for c in ["form amount <= 5", "form currency = usd", "form amount >= 1"] {
                assert_eq!(check(c, &r), Ok(()));
            }
        });
        // Each caveat: one pass to validate the text, one to find its name.
        assert!(steps <= 3 * 2 * pairs, "{steps} steps for {pairs} pairs");
    }

    #[test]
    fn denials_show_long_or_odd_values_quoted_and_cut() {
        assert_eq!(shown("usd"), "usd");
        assert_eq!(shown("a b"), "\"a b\"");
        assert_eq!(shown(""), "\"\"");
        let long = "x".repeat(1000);
        let s = shown(&long);
        assert!(s.len() < 100 && s.ends_with("(1000 bytes)"), "{s}");
    }
}
