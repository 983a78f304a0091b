//! A strict JSON reader for `json POINTER ...` caveats, and RFC 6901 pointers.
//!
//! A JSON caveat is only as good as the agreement between our reading of the body and
//! the upstream's. JSON parsers are known to disagree (Bishop Fox's "An Exploration of
//! JSON Interoperability Vulnerabilities", 2021): with `{"model":"cheap","model":"gpt-4"}`
//! some keep the first key and some the last; some accept comments, trailing commas,
//! single quotes, `NaN`, lone surrogates or bytes after the value; numbers overflow or
//! lose digits differently. So we refuse every body two parsers could read differently:
//! invalid UTF-8 (a byte-order mark included), anything outside RFC 8259, duplicate keys in
//! any object at any depth (compared after unescaping, so `"model"` and `"mod\u0065l"`
//! are the same key), nesting deeper than [`MAX_DEPTH`], numbers outside the range in
//! [`crate::decimal`], and anything after the value but whitespace.
//!
//! Why our own reader and not serde_json: serde_json keeps the last of duplicate keys
//! silently, and gives a number's exact text only with its `arbitrary_precision` feature,
//! which Cargo would turn on for every crate of the build (and changes how
//! `serde_json::Value` holds numbers everywhere). Detecting duplicates through serde's
//! visitor and re-reading numbers through `RawValue` means re-parsing each nesting level:
//! O(depth × size) on a hostile body. This reader checks everything in one pass and keeps
//! a flat list of nodes ([`Document`]) that several pointers can then be looked up in:
//! the body is parsed at most once per request, whatever the number of JSON caveats.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use crate::decimal::{self, DecimalRef};

/// Objects and arrays nest at most this deep; deeper bodies are refused.
pub const MAX_DEPTH: usize = 64;

/// Why a body is not JSON we check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} (at byte {at})")]
pub struct JsonError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What is wrong.
    pub what: String,
}

/// One node of a parsed document. Containers are followed by their children (an object's
/// as key, value, key, value...) and know the index just past their last descendant,
/// so a lookup can skip a whole subtree in one step.
#[derive(Clone, Copy, Debug)]
enum Node {
    Null,
    Bool(bool),
    Number { start: u32, end: u32 },
    String { start: u32, end: u32, escaped: bool },
    Array { end: u32 },
    Object { end: u32 },
}

/// A JSON body, checked and indexed. Strings and numbers are spans of the body text.
#[derive(Debug)]
pub(crate) struct Document<'a> {
    text: &'a str,
    nodes: Vec<Node>,
}

/// A value found at a pointer.
#[derive(Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    /// The number's text, exactly as in the body.
    Number(&'a str),
    /// The string, unescaped.
    String(Cow<'a, str>),
    Array,
    Object,
}

impl Value<'_> {
    /// "a string", "an object"... for denials.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array => "an array",
            Value::Object => "an object",
        }
    }
}

impl<'a> Document<'a> {
    /// Reads a whole body. Only UTF-8 text that is one RFC 8259 value, with unique keys,
    /// at most [`MAX_DEPTH`] levels deep, and numbers in range, is a document.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Document<'a>, JsonError> {
        let text = std::str::from_utf8(bytes).map_err(|e| JsonError {
            at: e.valid_up_to(),
            what: "the body is not valid UTF-8".into(),
        })?;
        if u32::try_from(bytes.len()).is_err() {
            return Err(JsonError {
                at: 0,
                what: "the body is too large to check (4 GiB or more)".into(),
            });
        }
        let mut p = Parser {
            text,
            b: bytes,
            i: 0,
            depth: 0,
            nodes: Vec::new(),
        };
        p.ws();
        if p.i == p.b.len() {
            return Err(p.err("the body is empty, not a JSON value"));
        }
        p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(p.err("there is more after the JSON value"));
        }
        Ok(Document { text, nodes: p.nodes })
    }

    /// The value at `pointer`, or why there is none, or why there are two: every object on
    /// the way must hold its key once, counting keys equal to it but for case (Go's
    /// `encoding/json` reads `"AMOUNT"` into the field `amount`, the last copy winning).
    pub(crate) fn get(&self, pointer: &JsonPointer) -> Result<Value<'a>, Lookup> {
        let mut at = 0usize;
        for (n, token) in pointer.tokens.iter().enumerate() {
            let parent = || pointer.prefix(n);
            at = match self.nodes.get(at) {
                Some(Node::Object { end }) => {
                    let end = *end as usize;
                    let mut i = at + 1;
                    let mut found = None;
                    let mut spellings: Vec<Cow<'a, str>> = Vec::new();
                    while i < end {
                        let key = self.key(i);
                        if key.as_deref() == Some(token.as_str()) {
                            found = Some(i + 1);
                        }
                        if let Some(k) = key.filter(|k| crate::field::fold_eq(k, token)) {
                            spellings.push(k);
                        }
                        i = self.skip(i + 1);
                    }
                    if spellings.len() > 1 {
                        let list: Vec<String> = spellings.iter().map(|k| format!("{k:?}")).collect();
                        return Err(Lookup::Twice(format!(
                            "{} has the key {token:?} {} times ({}); frameworks such as Go's encoding/json \
                             read keys regardless of case, so a key the token checks must appear once",
                            parent(),
                            spellings.len(),
                            list.join(", ")
                        )));
                    }
                    found.ok_or_else(|| Lookup::Missing(format!("{} has no key {token:?}", parent())))?
                }
                Some(Node::Array { end }) => {
                    let end = *end as usize;
                    let index = array_index(token).ok_or_else(|| {
                        Lookup::Missing(format!("{} is an array and {token:?} is not an index", parent()))
                    })?;
                    let mut i = at + 1;
                    let mut k = 0usize;
                    while i < end && k < index {
                        i = self.skip(i);
                        k += 1;
                    }
                    if i >= end {
                        return Err(Lookup::Missing(format!(
                            "{} has no element {index} (it has {})",
                            parent(),
                            self.len(at)
                        )));
                    }
                    i
                }
                _ => {
                    let kind = self.value(at).map_or("nothing", |v| v.kind());
                    return Err(Lookup::Missing(format!(
                        "{} is {kind}, not an object or array",
                        parent()
                    )));
                }
            };
        }
        self.value(at)
            .ok_or_else(|| Lookup::Missing("the body has no value".into()))
    }

    /// The keys of the top-level object, unescaped (none if the body is not an object).
    pub(crate) fn top_keys(&self) -> impl Iterator<Item = Cow<'a, str>> + '_ {
        let end = match self.nodes.first() {
            Some(Node::Object { end }) => *end as usize,
            _ => 0,
        };
        let mut i = 1;
        std::iter::from_fn(move || {
            if i >= end {
                return None;
            }
            let key = self.key(i);
            i = self.skip(i + 1);
            key
        })
    }

    fn value(&self, at: usize) -> Option<Value<'a>> {
        Some(match *self.nodes.get(at)? {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Number { start, end } => Value::Number(&self.text[start as usize..end as usize]),
            Node::String { start, end, escaped } => {
                let raw = &self.text[start as usize..end as usize];
                Value::String(if escaped {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(raw)
                })
            }
            Node::Array { .. } => Value::Array,
            Node::Object { .. } => Value::Object,
        })
    }

    /// The index just past the subtree at `i`.
    fn skip(&self, i: usize) -> usize {
        crate::steps::step();
        match self.nodes.get(i) {
            Some(Node::Array { end } | Node::Object { end }) => *end as usize,
            _ => i + 1,
        }
    }

    fn len(&self, at: usize) -> usize {
        let end = self.skip(at);
        let mut i = at + 1;
        let mut n = 0;
        while i < end {
            i = self.skip(i);
            n += 1;
        }
        n
    }

    /// The key at node `i`, unescaped.
    fn key(&self, i: usize) -> Option<Cow<'a, str>> {
        match self.nodes.get(i) {
            Some(&Node::String { start, end, escaped }) => {
                let raw = &self.text[start as usize..end as usize];
                Some(if escaped {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(raw)
                })
            }
            _ => None,
        }
    }
}

/// A node of a [`Document`], for walking a document whose shape a caveat knows (a JSON-RPC
/// message, a GraphQL request) instead of looking one pointer up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct At(usize);

impl<'a> Document<'a> {
    /// The top-level value.
    pub(crate) fn root(&self) -> At {
        At(0)
    }

    /// The value at `at`.
    pub(crate) fn value_at(&self, at: At) -> Option<Value<'a>> {
        self.value(at.0)
    }

    /// The elements of the array at `at` (none if it is not an array).
    pub(crate) fn elements(&self, at: At) -> impl Iterator<Item = At> + '_ {
        let end = match self.nodes.get(at.0) {
            Some(Node::Array { end }) => *end as usize,
            _ => 0,
        };
        let mut i = at.0 + 1;
        std::iter::from_fn(move || {
            if i >= end {
                return None;
            }
            let here = i;
            i = self.skip(i);
            Some(At(here))
        })
    }

    /// The keys of the object at `at`, unescaped, each with its value (none if it is not an
    /// object).
    pub(crate) fn members(&self, at: At) -> impl Iterator<Item = (Cow<'a, str>, At)> + '_ {
        let end = match self.nodes.get(at.0) {
            Some(Node::Object { end }) => *end as usize,
            _ => 0,
        };
        let mut i = at.0 + 1;
        std::iter::from_fn(move || {
            if i >= end {
                return None;
            }
            let key = self.key(i)?;
            let value = At(i + 1);
            i = self.skip(i + 1);
            Some((key, value))
        })
    }

    /// The value of `key` in the object at `at`, `None` if it has no such key (or is not an
    /// object). An object holding the key in two spellings that differ only in case is an
    /// error: Go's `encoding/json` reads either as the field, the last one winning.
    pub(crate) fn member(&self, at: At, key: &str) -> Result<Option<At>, String> {
        let mut found = None;
        let mut spellings = Vec::new();
        for (k, v) in self.members(at) {
            if k == key {
                found = Some(v);
            }
            if crate::field::fold_eq(&k, key) {
                spellings.push(format!("{k:?}"));
            }
        }
        if spellings.len() > 1 {
            return Err(format!(
                "an object has the key {key:?} {} times ({}); frameworks such as Go's encoding/json \
                 read keys regardless of case, so a key the token checks must appear once",
                spellings.len(),
                spellings.join(", ")
            ));
        }
        Ok(found)
    }
}

/// Why a pointer finds no single value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Nothing is there.
    Missing(String),
    /// An object on the way holds the key twice, in two spellings.
    Twice(String),
}

/// RFC 6901: an array index is `0` or digits without a leading zero; `-` (past the end)
/// and anything else address no element.
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
    nodes: Vec<Node>,
}

impl<'a> Parser<'a> {
    fn err(&self, what: impl Into<String>) -> JsonError {
        JsonError {
            at: self.i,
            what: what.into(),
        }
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    // Offsets fit in u32: `parse` refuses bodies of 4 GiB or more.
    fn pos(&self) -> u32 {
        self.i as u32
    }

    fn value(&mut self) -> Result<(), JsonError> {
        crate::steps::step();
        match self.b.get(self.i) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                let (start, end, escaped) = self.string()?;
                self.nodes.push(Node::String { start, end, escaped });
                Ok(())
            }
            Some(b't') => self.literal("true", Node::Bool(true)),
            Some(b'f') => self.literal("false", Node::Bool(false)),
            Some(b'n') => self.literal("null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err(format!(
                "unexpected {}; expected a JSON value",
                self.text[self.i..]
                    .chars()
                    .next()
                    .map_or("end".into(), |c| format!("{c:?}"))
            ))),
            None => Err(self.err("the body ends where a value was expected")),
        }
    }

    fn literal(&mut self, word: &str, node: Node) -> Result<(), JsonError> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            self.nodes.push(node);
            Ok(())
        } else {
            Err(self
                .err("not a JSON value (true, false and null are lower case; NaN and Infinity are not JSON)"))
        }
    }

    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.i;
        while matches!(
            self.b.get(self.i),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.i += 1;
        }
        let text = &self.text[start..self.i];
        decimal::scan(text, true).map_err(|e| JsonError {
            at: start,
            what: e.to_string(),
        })?;
        self.nodes.push(Node::Number {
            start: start as u32,
            end: self.pos(),
        });
        Ok(())
    }

    /// Reads a string at `"`; returns its raw span (between the quotes) and whether it
    /// holds escapes.
    fn string(&mut self) -> Result<(u32, u32, bool), JsonError> {
        self.i += 1;
        let start = self.pos();
        let mut escaped = false;
        loop {
            match self.b.get(self.i) {
                None => return Err(self.err("a string is not closed")),
                Some(b'"') => {
                    let end = self.pos();
                    self.i += 1;
                    return Ok((start, end, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i += 1;
                    match self.b.get(self.i) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let unit = self.hex4()?;
                            if (0xDC00..0xE000).contains(&unit) {
                                return Err(self.err("a lone low surrogate (\\uDC00-\\uDFFF)"));
                            }
                            if (0xD800..0xDC00).contains(&unit) {
                                let low = if self.b[self.i..].starts_with(b"\\u") {
                                    self.i += 1;
                                    self.hex4()?
                                } else {
                                    0
                                };
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.err("a lone high surrogate (\\uD800-\\uDBFF)"));
                                }
                            }
                        }
                        _ => return Err(self.err("an unknown escape in a string")),
                    }
                }
                Some(&c) if c < 0x20 => return Err(self.err("a control character in a string (escape it)")),
                Some(_) => self.i += 1,
            }
        }
    }

    /// At `u` of `\uXXXX`: reads the four hex digits.
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .b
            .get(self.i + 1..self.i + 5)
            .ok_or_else(|| self.err("a short \\u escape"))?;
        let mut v = 0u32;
        for &d in digits {
            let h = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.err("a bad \\u escape"))?;
            v = v * 16 + h;
        }
        self.i += 5;
        Ok(v)
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("objects and arrays nest deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<(), JsonError> {
        self.enter()?;
        let at = self.nodes.len();
        self.nodes.push(Node::Array { end: 0 });
        self.i += 1;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                self.value()?;
                self.ws();
                match self.b.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or ']' in an array")),
                }
            }
        }
        self.close(at)
    }

    fn object(&mut self) -> Result<(), JsonError> {
        self.enter()?;
        let at = self.nodes.len();
        self.nodes.push(Node::Object { end: 0 });
        self.i += 1;
        self.ws();
        // Keys seen in this object, unescaped. std's hasher is randomly keyed, so a body
        // of colliding keys cannot make this quadratic.
        let mut keys: HashSet<Cow<'a, str>> = HashSet::new();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                if self.b.get(self.i) != Some(&b'"') {
                    return Err(self.err("expected a string key in an object"));
                }
                let key_at = self.i;
                let (start, end, escaped) = self.string()?;
                let raw = &self.text[start as usize..end as usize];
                let key = if escaped {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(raw)
                };
                if keys.contains(&key) {
                    return Err(JsonError {
                        at: key_at,
                        what: format!("duplicate key {:?} in an object", key.as_ref()),
                    });
                }
                keys.insert(key);
                self.nodes.push(Node::String { start, end, escaped });
                self.ws();
                if self.b.get(self.i) != Some(&b':') {
                    return Err(self.err("expected ':' after a key"));
                }
                self.i += 1;
                self.ws();
                self.value()?;
                self.ws();
                match self.b.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or '}' in an object")),
                }
            }
        }
        self.close(at)
    }

    fn close(&mut self, at: usize) -> Result<(), JsonError> {
        let end = self.nodes.len() as u32;
        match self.nodes.get_mut(at) {
            Some(Node::Array { end: e } | Node::Object { end: e }) => *e = end,
            _ => return Err(self.err("internal: container index lost")),
        }
        self.depth -= 1;
        Ok(())
    }
}

/// Unescapes the raw text of a string the parser accepted (escapes are well formed and
/// surrogates paired).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let c = match chars.next() {
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let hi = hex(&mut chars);
                let code = if (0xD800..0xDC00).contains(&hi) {
                    chars.next(); // '\'
                    chars.next(); // 'u'
                    let lo = hex(&mut chars);
                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    hi
                };
                char::from_u32(code).unwrap_or('\u{FFFD}')
            }
            Some(other) => other, // '"', '\\', '/'
            None => break,
        };
        out.push(c);
    }
    out
}

fn hex(chars: &mut std::str::Chars<'_>) -> u32 {
    chars.take(4).fold(0, |v, d| v * 16 + d.to_digit(16).unwrap_or(0))
}

/// Why a JSON pointer in a caveat was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PointerError {
    /// It does not start with `/`.
    #[error("a JSON pointer starts with '/', as in /model or /messages/0/role")]
    NotAbsolute,
    /// A `~` not followed by `0` or `1`.
    #[error("'~' in a JSON pointer must be written ~0 ('~') or ~1 ('/')")]
    BadEscape,
}

/// An RFC 6901 JSON pointer, as written in a caveat (`/model`, `/messages/0/role`,
/// `/a~1b` for the key `a/b`, `/m~0n` for `m~n`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonPointer {
    text: String,
    tokens: Vec<String>,
}

impl JsonPointer {
    /// Parses a pointer. The whole document (the empty pointer) cannot be written in a
    /// caveat, where values are non-empty words.
    pub fn parse(text: &str) -> Result<JsonPointer, PointerError> {
        let rest = text.strip_prefix('/').ok_or(PointerError::NotAbsolute)?;
        let mut tokens = Vec::new();
        for raw in rest.split('/') {
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => token.push('~'),
                        Some('1') => token.push('/'),
                        _ => return Err(PointerError::BadEscape),
                    }
                } else {
                    token.push(c);
                }
            }
            tokens.push(token);
        }
        Ok(JsonPointer {
            text: text.to_string(),
            tokens,
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The unescaped reference tokens (`/a~1b/0` is `["a/b", "0"]`).
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// How explanations name the value: the key alone for a top-level key (`model`),
    /// the pointer otherwise (`/messages/0/role`).
    pub(crate) fn label(&self) -> &str {
        match self.tokens.as_slice() {
            [one] if !one.is_empty() && one == &self.text[1..] => one,
            _ => &self.text,
        }
    }

    /// The first `n` tokens as a pointer, for messages ("the body" for none).
    fn prefix(&self, n: usize) -> String {
        if n == 0 {
            return "the body".into();
        }
        let mut end = 0;
        for _ in 0..n {
            end += 1 + self.text[end + 1..]
                .find('/')
                .unwrap_or(self.text.len() - end - 1);
        }
        self.text[..end].to_string()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        crate::caveat::string_heap(&self.text)
            + crate::caveat::vec_heap(&self.tokens)
            + self
                .tokens
                .iter()
                .map(|t| crate::caveat::string_heap(t))
                .sum::<usize>()
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPointer({:?})", self.text)
    }
}

/// The number at a value, if it is one (always in range: the parser checked).
pub(crate) fn number(text: &str) -> Option<DecimalRef<'_>> {
    decimal::scan(text, true).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Document<'_> {
        Document::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn refused(s: &str) -> String {
        Document::parse(s.as_bytes()).expect_err("must be refused").what
    }

    fn ptr(s: &str) -> JsonPointer {
        JsonPointer::parse(s).expect("pointer")
    }

    fn get<'a>(d: &Document<'a>, p: &str) -> Result<Value<'a>, String> {
        d.get(&ptr(p)).map_err(|e| match e {
            Lookup::Missing(why) | Lookup::Twice(why) => why,
        })
    }

    #[test]
    fn a_key_in_two_cases_on_the_way_is_there_twice() {
        for body in [
            r#"{"amount":1,"AMOUNT":99999}"#,
            r#"{"AMOUNT":99999,"amount":1}"#,
            r#"{"amount":1,"Amount":2}"#,
        ] {
            let d = doc(body);
            assert!(matches!(d.get(&ptr("/amount")), Err(Lookup::Twice(_))), "{body}");
        }
        let d = doc("{\"key\":1,\"\u{212a}ey\":2}");
        assert!(
            matches!(d.get(&ptr("/key")), Err(Lookup::Twice(_))),
            "Kelvin sign"
        );
        let d = doc(r#"{"a":{"b":1,"B":2},"x":1,"X":2}"#);
        assert!(matches!(d.get(&ptr("/a/b")), Err(Lookup::Twice(_))));
        // Away from the pointer, keys in two cases are no concern of this caveat.
        let d = doc(r#"{"a":{"b":1},"x":1,"X":2}"#);
        assert_eq!(get(&d, "/a/b"), Ok(Value::Number("1")));
        // Only a case variant: the key the caveat names is missing.
        let d = doc(r#"{"AMOUNT":1}"#);
        assert!(matches!(d.get(&ptr("/amount")), Err(Lookup::Missing(_))));
        let keys: Vec<_> = doc(r#"{"a":{"b":1},"c\u0064":[1]}"#).top_keys().collect();
        assert_eq!(keys, ["a", "cd"]);
    }

    #[test]
    fn pointers_find_nested_values() {
        let d = doc(
            r#"{"model":"gpt-4o-mini","messages":[{"role":"system"},{"role":"user","content":"hi"}],"n":2}"#,
        );
        assert_eq!(get(&d, "/model"), Ok(Value::String("gpt-4o-mini".into())));
        assert_eq!(get(&d, "/messages/1/role"), Ok(Value::String("user".into())));
        assert_eq!(get(&d, "/n"), Ok(Value::Number("2")));
        assert_eq!(get(&d, "/messages"), Ok(Value::Array));
        assert_eq!(get(&d, "/messages/0"), Ok(Value::Object));
    }

    #[test]
    fn pointer_escapes_name_keys_with_slash_and_tilde() {
        let d = doc(r#"{"a/b":1,"m~n":2,"":3}"#);
        assert_eq!(get(&d, "/a~1b"), Ok(Value::Number("1")));
        assert_eq!(get(&d, "/m~0n"), Ok(Value::Number("2")));
        assert_eq!(get(&d, "/"), Ok(Value::Number("3")));
        assert_eq!(JsonPointer::parse("/a~2"), Err(PointerError::BadEscape));
        assert_eq!(JsonPointer::parse("/a~"), Err(PointerError::BadEscape));
        assert_eq!(JsonPointer::parse("model"), Err(PointerError::NotAbsolute));
        // ~01 is "~1", not "/": escapes are read left to right once.
        assert_eq!(ptr("/~01").tokens(), ["~1"]);
    }

    #[test]
    fn missing_values_say_where_the_path_ends() {
        let d = doc(r#"{"messages":[{"role":"user"}],"model":"x"}"#);
        assert_eq!(
            get(&d, "/max_tokens"),
            Err("the body has no key \"max_tokens\"".into())
        );
        assert_eq!(
            get(&d, "/messages/1/role"),
            Err("/messages has no element 1 (it has 1)".into())
        );
        assert_eq!(
            get(&d, "/model/x"),
            Err("/model is a string, not an object or array".into())
        );
        assert!(get(&d, "/messages/-").is_err(), "'-' is past the end");
        assert!(get(&d, "/messages/00").is_err(), "leading zero is not an index");
        assert!(get(&d, "/messages/+0").is_err());
    }

    #[test]
    fn keys_compare_after_unescaping() {
        let d = doc(r#"{"mod\u0065l":"x"}"#);
        assert_eq!(get(&d, "/model"), Ok(Value::String("x".into())));
        let d = doc(r#"{"s":"a\"b\\c\u00e9\ud83d\ude00"}"#);
        assert_eq!(get(&d, "/s"), Ok(Value::String("a\"b\\cé😀".into())));
    }

    #[test]
    fn duplicate_json_keys_at_any_depth_deny() {
        assert!(refused(r#"{"model":"a","model":"b"}"#).contains("duplicate key \"model\""));
        assert!(refused(r#"{"x":[{"y":{"z":1,"z":2}}]}"#).contains("duplicate key \"z\""));
        assert!(refused(r#"{"model":"a","mod\u0065l":"b"}"#).contains("duplicate key"));
        // The same key in sibling objects is fine.
        doc(r#"[{"a":1},{"a":2}]"#);
    }

    #[test]
    fn nesting_deeper_than_64_denies() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        doc(&ok);
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(refused(&deep).contains("deeper than 64"));
        // A hostile body a million levels deep is refused at level 65, not by the stack.
        let hostile = "[".repeat(1_000_000);
        assert!(refused(&hostile).contains("deeper than 64"));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(65), "}".repeat(65));
        assert!(refused(&objects).contains("deeper than 64"));
    }

    #[test]
    fn trailing_garbage_after_the_value_denies() {
        assert!(refused(r#"{"a":1} {"a":2}"#).contains("more after"));
        assert!(refused(r#"{"a":1}x"#).contains("more after"));
        doc("{\"a\":1} \n\t\r");
    }

    #[test]
    fn invalid_utf8_denies() {
        assert!(Document::parse(b"{\"a\":\"\xff\"}")
            .expect_err("bad")
            .what
            .contains("UTF-8"));
        assert!(Document::parse(b"{\"a\":\"\xc0\xae\"}").is_err(), "overlong");
    }

    #[test]
    fn byte_order_mark_denies() {
        assert!(Document::parse("\u{feff}{}".as_bytes()).is_err());
    }

    #[test]
    fn lenient_json_extensions_deny() {
        for s in [
            "{'a':1}",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\":1 /* c */}",
            "{a:1}",
            "[NaN]",
            "[Infinity]",
            "[-Infinity]",
            "[+1]",
            "[01]",
            "[0x10]",
            "[1.]",
            "[.5]",
            "[True]",
            "\"a\tb\"",
            "\"\\x41\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "",
            "   ",
            "{\"a\" 1}",
            "[1 2]",
        ] {
            assert!(Document::parse(s.as_bytes()).is_err(), "{s:?} must be refused");
        }
    }

    #[test]
    fn numbers_beyond_the_range_deny() {
        assert!(refused("[1e400]").contains("out of range"));
        assert!(refused("{\"a\":{\"b\":-1e400}}").contains("out of range"));
        doc("[1e307, -1.5e-300, 0e999999]");
    }

    #[test]
    fn scalars_are_documents_too() {
        assert_eq!(
            get(&doc("\"x\""), "/a"),
            Err("the body is a string, not an object or array".into())
        );
        doc("null");
        doc(" 5 ");
    }

    #[test]
    fn a_million_element_array_is_read_in_one_pass() {
        let body = format!("[{}1]", "0,".repeat(1_000_000));
        let values = 1_000_002;
        let ((), steps) = crate::steps::counted(|| {
            let d = doc(&body);
            assert_eq!(get(&d, "/1000000"), Ok(Value::Number("1")));
        });
        // One step per value read, one per element stepped over to reach the last.
        assert!(steps <= 2 * values, "{steps} steps for {values} values");
    }

    #[test]
    fn labels_name_top_level_keys_plainly() {
        assert_eq!(ptr("/model").label(), "model");
        assert_eq!(ptr("/messages/0/role").label(), "/messages/0/role");
        assert_eq!(ptr("/a~1b").label(), "/a~1b");
        assert_eq!(ptr("/").label(), "/");
        assert_eq!(ptr("/a/b/c").prefix(2), "/a/b");
    }
}
