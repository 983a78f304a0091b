//! Field names as frameworks read them: where a `form`, `query` or `json` caveat allows a
//! request, every framework modelled here must read the field as the value we checked.
//!
//! Input: a mode byte, then `NAME\nQUERY\nBODY`. Mode 0: `form NAME = V` on a form body;
//! 1: `query NAME = V` (the body a form); 2: `json NAME = V` (NAME a pointer, the body
//! JSON). V is the value under the exact name (the first such pair, or serde_json's
//! pointer), so that the caveat would hold on a request without other spellings.
//!
//! Models (independent of the crate's own reading), each asserted on allow:
//! - PHP (`parse_str`, so Laravel and Symfony): names cut at NUL, leading spaces dropped,
//!   `.` and ` ` in the base made `_` (an unclosed `[` too, and the rest kept), `[k]` nests
//!   and `[]` appends, the last write wins; `$_POST`/`$_GET` at the name's path is V.
//!   Laravel's `input()` is body + query (the body wins): a query caveat's base must not be
//!   in the body.
//! - ASP.NET: values of every name equal ignoring case, joined with `,`, are exactly V.
//! - Rails: `request_parameters.merge(query_parameters)` (shallow, query wins): a form
//!   caveat's top-level Rack name must not be in the query.
//! - Go `encoding/json`: at each object on the pointer's path, keys match ignoring case
//!   (Unicode simple folding: `K` is the Kelvin sign too) and the last one wins: there must
//!   be exactly one, holding V.
#![no_main]

use std::collections::BTreeMap;
use std::time::SystemTime;

use caveat::{BodyView, Caveat, Host, Method, Request, RequestBody, RequestPath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let (Some(name), Some(query), Some(body)) = (lines.next(), lines.next(), lines.next()) else {
        return;
    };
    let mode = mode % 3;
    let value = match mode {
        0 => first_value(body, name),
        1 => first_value(query, name),
        _ => serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|d| d.pointer(name).and_then(|v| v.as_str()).map(str::to_string)),
    };
    let Some(value) = value else { return };
    // A caveat on `a[]` names no one place PHP stores (it appends): outside these models.
    if mode < 2 && php_keys(name).iter().skip(1).any(String::is_empty) {
        return;
    }
    let kind = ["form", "query", "json"][mode as usize];
    let Ok(caveat) = Caveat::parse(&format!("{kind} {name} = {value}")) else {
        return;
    };
    let content_type = if mode == 2 {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let mut req = Request::new(
        SystemTime::UNIX_EPOCH,
        Method::new("POST").expect("method"),
        Host::parse_canonical("api.example.com").expect("host"),
        RequestPath::parse("/v1/x").expect("path"),
    );
    req.query = Some(query.to_string());
    req.body = BodyView::Read(RequestBody::new(
        Some(content_type.to_string()),
        None,
        body.as_bytes().to_vec().into(),
    ));
    if caveat.check(&req).is_err() {
        return;
    }
    match mode {
        0 => {
            assert_eq!(php_read(body, name), Some(value.clone()), "PHP $_POST");
            assert_eq!(aspnet_read(body, name), Some(value.clone()), "ASP.NET form");
            assert!(
                !pairs(query).any(|(n, _)| rack_base(&n) == rack_base(name)),
                "Rails: the query string overrides the body's {name}"
            );
        }
        1 => {
            assert_eq!(php_read(query, name), Some(value.clone()), "PHP $_GET");
            assert_eq!(aspnet_read(query, name), Some(value.clone()), "ASP.NET query");
            let base = php_keys(name).into_iter().next();
            assert!(
                !pairs(body).any(|(n, _)| php_keys(&n).into_iter().next() == base),
                "Laravel: the body overrides the query's {name}"
            );
        }
        _ => {
            let doc: serde_json::Value = serde_json::from_str(body).expect("parsed above");
            assert_eq!(go_read(&doc, name), Some(value.clone()), "Go encoding/json");
        }
    }
});

/// `(name, value)` pairs split on `&`, `+` a space, `%XX` a byte (a malformed escape kept
/// as written), as PHP and ASP.NET decode.
fn pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(n), decode(v))
    })
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex(b.get(i + 1)), hex(b.get(i + 2))) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of the first pair named exactly `name`.
fn first_value(text: &str, name: &str) -> Option<String> {
    pairs(text).find(|(n, _)| n == name).map(|(_, v)| v)
}

/// PHP's `php_register_variable_ex`: the keys a name is stored under.
fn php_keys(name: &str) -> Vec<String> {
    let name = name.split('\0').next().unwrap_or("");
    let name = name.trim_start_matches(' ');
    let mut base = String::new();
    let mut chars = name.char_indices();
    let mut rest = "";
    while let Some((i, c)) = chars.next() {
        match c {
            '[' if name[i..].contains(']') => {
                rest = &name[i..];
                break;
            }
            '[' => {
                // Unclosed: `_`, and the rest of the name as it is.
                base.push('_');
                base.push_str(&name[i + 1..]);
                break;
            }
            ' ' | '.' => base.push('_'),
            c => base.push(c),
        }
    }
    let mut keys = vec![base];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        keys.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    keys
}

/// A PHP value: a string, or an array with the next index `[]` appends at.
enum Php {
    Str(String),
    Arr(BTreeMap<String, Php>, u64),
}

fn php_insert(items: &mut BTreeMap<String, Php>, next: &mut u64, keys: &[String], value: String) {
    let Some((k, rest)) = keys.split_first() else {
        return;
    };
    let key = if k.is_empty() { next.to_string() } else { k.clone() };
    if let Ok(n) = key.parse::<u64>() {
        *next = (*next).max(n + 1);
    }
    if rest.is_empty() {
        items.insert(key, Php::Str(value));
        return;
    }
    let slot = items.entry(key).or_insert_with(|| Php::Arr(BTreeMap::new(), 0));
    if let Php::Str(_) = slot {
        *slot = Php::Arr(BTreeMap::new(), 0);
    }
    if let Php::Arr(inner, inner_next) = slot {
        php_insert(inner, inner_next, rest, value);
    }
}

/// `$_POST` (or `$_GET`) at the path of `name`, if it is a string.
fn php_read(text: &str, name: &str) -> Option<String> {
    let mut root = BTreeMap::new();
    let mut next = 0;
    for (n, v) in pairs(text) {
        let keys = php_keys(&n);
        if !keys[0].is_empty() {
            php_insert(&mut root, &mut next, &keys, v);
        }
    }
    let path = php_keys(name);
    let mut cur = root.get(&path[0])?;
    for k in &path[1..] {
        let Php::Arr(m, _) = cur else { return None };
        cur = m.get(k)?;
    }
    match cur {
        Php::Str(s) => Some(s.clone()),
        Php::Arr(..) => None,
    }
}

/// `Request.Form[name]` in ASP.NET: every value whose name is equal ignoring case, joined.
fn aspnet_read(text: &str, name: &str) -> Option<String> {
    let upper = |s: &str| -> Vec<char> { s.chars().map(|c| c.to_uppercase().next().unwrap_or(c)).collect() };
    let want = upper(name);
    let values: Vec<String> = pairs(text)
        .filter(|(n, _)| upper(n) == want)
        .map(|(_, v)| v)
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The top-level name Rack stores a parameter under.
fn rack_base(name: &str) -> &str {
    match name.find('[') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    }
}

/// Go's case folding for field names: Unicode simple folding.
fn go_fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{212a}' => 'k',
            '\u{17f}' => 's',
            c => {
                let mut l = c.to_lowercase();
                match (l.next(), l.next()) {
                    (Some(l), None) => l,
                    _ => c,
                }
            }
        })
        .collect()
}

/// Decoding into structs with `encoding/json`: the string at `pointer`, if every object on
/// the way has exactly one key equal to the token ignoring case.
fn go_read(doc: &serde_json::Value, pointer: &str) -> Option<String> {
    let mut cur = doc;
    for raw in pointer.strip_prefix('/')?.split('/') {
        let token = raw.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            serde_json::Value::Object(m) => {
                let want = go_fold(&token);
                let mut found = m.iter().filter(|(k, _)| go_fold(k) == want);
                let (Some((_, v)), None) = (found.next(), found.next()) else {
                    return None;
                };
                v
            }
            serde_json::Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    cur.as_str().map(str::to_string)
}
