//! Field names as upstream frameworks read them: when two names in one request are one
//! field to some framework, a caveat on that field must see both.
//!
//! A caveat names a field exactly (`form amount`, `json /amount`); the upstream may not.
//! Go's `encoding/json` matches object keys to struct fields regardless of case (Unicode
//! folding: `K`, the Kelvin sign, is `k`) and keeps the last, so `{"amount":1,"AMOUNT":99999}`
//! is 99999 to it. ASP.NET reads form and query keys regardless of case and joins repeats.
//! PHP (and so Laravel and Symfony) registers `amount[]=9` as an array under `amount`, turns
//! `.` and spaces in a name into `_` (`a.b` is `a_b`), drops leading spaces, and stops a name
//! at a NUL (`amount%00` is `amount`). Rails and PHP merge the query string with the body, so
//! the same top-level name in both is one field. A field present twice denies, however the
//! second copy is spelled, so each spelling is reduced here to a [`FieldName`]: the path of
//! keys the most lenient of these readers would store the value under, each key case-folded.
//!
//! Folding makes more names equal than any one framework does (`ß` is `ss`); that only ever
//! denies more.

use std::borrow::Cow;

/// A field name reduced to the keys a lenient framework stores it under: `amount[]` is
/// `["amount", ""]` (an empty key appends), `a.b` is `["a_b"]`, `metadata[Order]` is
/// `["metadata", "order"]`; every key case-folded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldName {
    keys: Vec<String>,
}

impl FieldName {
    /// The keys of a (percent-decoded) form or query name, or of a JSON object key.
    pub fn of(name: &str) -> FieldName {
        FieldName {
            keys: keys(name, Reader::Php).map(|k| k.folded().collect()).collect(),
        }
    }

    /// The top-level key: what the query string and the body are merged on.
    pub fn base(&self) -> &str {
        self.keys.first().map_or("", String::as_str)
    }

    /// True if a framework could store `name` (percent-decoded) in the same place as this
    /// field, or over it: its keys and ours agree as far as both go (`amount[]` is over
    /// `amount`; `metadata` over `metadata[order]`; `metadata[other]` is elsewhere). An empty
    /// key (`[]`, "append") agrees with any key. Allocates nothing.
    pub fn overlaps(&self, name: &str) -> bool {
        // The usual name, plain ASCII, is one key as it is.
        if !name
            .bytes()
            .any(|b| matches!(b, b'\0' | b'[' | b'.' | b' ') || !b.is_ascii())
        {
            return !name.is_empty() && name.eq_ignore_ascii_case(self.base());
        }
        [Reader::Php, Reader::Rack]
            .into_iter()
            .any(|r| self.overlaps_keys(keys(name, r)))
    }

    fn overlaps_keys<'a>(&self, theirs: impl Iterator<Item = Key<'a>>) -> bool {
        let mut any = false;
        for (i, (ours, theirs)) in self.keys.iter().zip(theirs).enumerate() {
            any = true;
            if i > 0 && (ours.is_empty() || theirs.is_empty()) {
                continue;
            }
            if !theirs.is(ours) {
                return false;
            }
        }
        any
    }

    /// True if `name`'s top-level key is ours: the query string and the body would be
    /// merged into one field.
    pub fn same_base(&self, name: &str) -> bool {
        [Reader::Php, Reader::Rack]
            .into_iter()
            .any(|r| keys(name, r).next().is_some_and(|k| k.is(self.base())))
    }
}

/// Where a name's base ends: PHP at the first `[` that a `]` closes (an unclosed one is
/// part of the base, as `_`), Rack (Rails) at the first `[` after the first character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    Php,
    Rack,
}

/// One key of a name, before folding: the base (PHP turns `.`, ` ` and an unclosed `[` into
/// `_`) or a bracketed key (literal).
#[derive(Clone, Copy)]
struct Key<'a> {
    text: &'a str,
    base: bool,
}

impl<'a> Key<'a> {
    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// True if this key folds to `folded` (a key of a [`FieldName`]). ASCII, the usual
    /// case, is compared byte by byte: a body may hold half a million names.
    fn is(self, folded: &str) -> bool {
        if self.text.is_ascii() && folded.is_ascii() {
            let b = self.base;
            return self.text.len() == folded.len()
                && self.text.bytes().zip(folded.bytes()).all(|(c, f)| {
                    let c = if b && matches!(c, b'.' | b' ' | b'[') {
                        b'_'
                    } else {
                        c.to_ascii_lowercase()
                    };
                    c == f
                });
        }
        self.folded().eq(folded.chars())
    }

    fn folded(self) -> impl Iterator<Item = char> + 'a {
        let base = self.base;
        fold(self.text.chars().map(move |c| {
            if base && matches!(c, '.' | ' ' | '[') {
                '_'
            } else {
                c
            }
        }))
    }
}

/// Case folding, per character: upper case, then lower case (`ſ` → `S` → `s`, the Kelvin
/// sign → `k`, `ß` → `SS` → `ss`).
pub fn fold(chars: impl Iterator<Item = char>) -> impl Iterator<Item = char> {
    chars.flat_map(char::to_uppercase).flat_map(char::to_lowercase)
}

/// True if two names are equal once case-folded.
pub fn fold_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    fold(a.chars()).eq(fold(b.chars()))
}

/// The keys of a name as PHP's `php_register_variable_ex` reads it: cut at a NUL, leading
/// spaces dropped, then the base up to the first `[` that has a `]` after it, then each
/// `[key]` while they follow one another (anything after is ignored, as PHP does). Rack
/// ends the base at any `[` after the first character, closed or not (`a[b` is under
/// `a`); the same cuts and spellings apply, which only makes more names one.
fn keys(name: &str, reader: Reader) -> impl Iterator<Item = Key<'_>> {
    let name = name.split('\0').next().unwrap_or("");
    let name = name.trim_start_matches(' ');
    let open = match reader {
        Reader::Php => name.find('[').filter(|&i| name[i..].contains(']')),
        Reader::Rack => name.get(1..).and_then(|n| n.find('[')).map(|i| i + 1),
    }
    .unwrap_or(name.len());
    let (base, mut rest) = name.split_at(open);
    let mut first = Some(Key {
        text: base,
        base: true,
    });
    std::iter::from_fn(move || {
        if let Some(k) = first.take() {
            return Some(k);
        }
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        rest = &inner[close + 1..];
        Some(Key {
            text: &inner[..close],
            base: false,
        })
    })
}

/// The names in `application/x-www-form-urlencoded` text, read as leniently as any server
/// does: `&` and `;` both separate, `+` is a space, a malformed escape stays as written and
/// bytes that are not UTF-8 become U+FFFD. For looking a name up where nothing may hide it.
pub fn lenient_names(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.split(['&', ';']).filter(|p| !p.is_empty()).map(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        lenient_decode(name)
    })
}

fn lenient_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex(b.get(i + 1)), hex(b.get(i + 2))) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(name: &str) -> Vec<String> {
        FieldName::of(name).keys
    }

    #[test]
    fn php_spellings_reduce_to_the_same_keys() {
        assert_eq!(keys_of("amount"), ["amount"]);
        assert_eq!(keys_of("AMOUNT"), ["amount"]);
        assert_eq!(keys_of("amount\0junk"), ["amount"]);
        assert_eq!(keys_of("  amount"), ["amount"]);
        assert_eq!(keys_of("amount[]"), ["amount", ""]);
        assert_eq!(keys_of("a.b"), ["a_b"]);
        assert_eq!(keys_of("a b"), ["a_b"]);
        assert_eq!(keys_of("a[b"), ["a_b"]);
        assert_eq!(keys_of("metadata[Order][x]tail"), ["metadata", "order", "x"]);
        assert_eq!(keys_of("meta.data[a.b]"), ["meta_data", "a.b"]);
        assert_eq!(keys_of("\u{212a}ey"), ["key"], "the Kelvin sign folds to k");
        assert_eq!(keys_of("\u{17f}ize"), ["size"], "long s folds to s");
    }

    fn amount_a() -> FieldName {
        FieldName::of("a")
    }

    #[test]
    fn overlapping_names_are_one_field() {
        let amount = FieldName::of("amount");
        for same in ["amount", "Amount", "amount[]", "amount[x]", "amount\0", " amount"] {
            assert!(amount.overlaps(same), "{same:?}");
        }
        for other in ["amounts", "amoun", "x[amount]", "", "\0amount"] {
            assert!(!amount.overlaps(other), "{other:?}");
        }
        let order = FieldName::of("metadata[order]");
        for same in ["metadata", "metadata[order]", "METADATA[ORDER][x]", "metadata[]"] {
            assert!(order.overlaps(same), "{same:?}");
        }
        assert!(!order.overlaps("metadata[other]"));
        assert!(FieldName::of("a.b").overlaps("a_b"));
        assert!(FieldName::of("a_b").overlaps("a.b"));
        assert!(order.same_base("metadata[other]"));
        // Rack puts `a[mount` under `a`; PHP reads it as `a_mount`.
        assert!(amount_a().overlaps("a[mount") && amount_a().same_base("a[mount"));
        assert!(FieldName::of("a_mount").overlaps("a[mount"));
        assert!(!order.same_base("meta"));
    }

    #[test]
    fn lenient_names_see_through_every_separator_and_escape() {
        let names: Vec<_> = lenient_names("a=1;%5Fmethod=x&b%zz=2&+c&&d").collect();
        assert_eq!(names, ["a", "_method", "b%zz", " c", "d"]);
        assert_eq!(lenient_names("%ff=1").next().as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn fold_eq_folds_unicode_too() {
        assert!(fold_eq("Amount", "aMOUNT"));
        assert!(fold_eq("\u{212a}", "k"));
        assert!(!fold_eq("amount", "amounts"));
    }
}
