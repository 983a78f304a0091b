//! Request paths, checked once and then trusted.
//!
//! Proxies have shipped path checks that passed `datasets/../api/tokens`, `%2e%2e`,
//! `%2f` and double-encoded tricks, or normalized for the check and forwarded the raw
//! path. We never "fix" a suspicious path: anything whose meaning could differ between
//! us and the upstream is refused. A [`RequestPath`] therefore only exists for a path
//! whose segments are unambiguous, and the proxy forwards exactly [`RequestPath::as_str`],
//! the same text the caveats were checked against.

use std::fmt;

/// Why a path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path must start with '/'")]
    NotAbsolute,
    /// A `.` or `..` segment (possibly with `;params`).
    #[error("the path has a dot segment ('.' or '..'); send the resolved path instead")]
    DotSegment,
    /// An empty segment in the middle (`//`).
    #[error("the path has an empty segment ('//'); send the path without repeated slashes")]
    EmptySegment,
    /// A percent-encoded character that changes how the path splits or resolves.
    #[error("the path encodes {0} as {1}; encoded dots, slashes, backslashes, percent signs and control characters are refused")]
    EncodedDelimiter(&'static str, String),
    /// A raw backslash.
    #[error("the path contains a backslash; use '/' to separate segments")]
    Backslash,
    /// A NUL or other control character.
    #[error("the path contains a control character (byte 0x{0:02x})")]
    Control(u8),
    /// A raw space, or an ASCII character not allowed in a request target. (Raw UTF-8 is
    /// accepted so caveats can be written naturally; it must be valid UTF-8.)
    #[error("the path contains a character that must be percent-encoded (byte 0x{0:02x})")]
    Unencoded(u8),
    /// A `%` not followed by two hex digits.
    #[error("the path has a malformed percent escape near byte {0}")]
    BadEscape(usize),
    /// Percent-decoding gave bytes that are not UTF-8 (overlong forms included).
    #[error("the path decodes to invalid UTF-8 (overlong or broken percent-encoded bytes)")]
    InvalidUtf8,
    /// A `*` that is part of a segment in a glob.
    #[error("a '*' in a path glob must be a whole segment ('*' or '**'), as in /v1/customers/*/sources")]
    PartialWildcard,
    /// The query was passed as part of the path.
    #[error("the path contains '?' or '#'; pass the query separately")]
    QueryInPath,
}

/// A request path that is safe to check and to forward unchanged.
///
/// Invariants: starts with `/`; no `.`/`..` segments (also with `;params`); no empty
/// interior segment; no raw backslash, NUL, control character or space; no percent-encoded
/// `.`, `/`, `\`, `%` or control character; percent escapes are well formed and decode to
/// UTF-8. The decoded form is what caveats compare; it maps one-to-one onto segments of
/// the forwarded text because nothing that could split or join segments is encoded.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestPath {
    raw: String,
    decoded: String,
}

impl RequestPath {
    /// Heap bytes held, for cache budgets ([`crate::Verified::weight`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        crate::caveat::string_heap(&self.raw) + crate::caveat::string_heap(&self.decoded)
    }

    /// Checks a raw request path (without query) and keeps it for forwarding.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        let bytes = raw.as_bytes();
        if bytes.first() != Some(&b'/') {
            return Err(PathError::NotAbsolute);
        }
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'%' => {
                    let hi = bytes.get(i + 1).and_then(|c| hex_val(*c));
                    let lo = bytes.get(i + 2).and_then(|c| hex_val(*c));
                    let (Some(hi), Some(lo)) = (hi, lo) else {
                        return Err(PathError::BadEscape(i));
                    };
                    let v = hi << 4 | lo;
                    let what = match v {
                        b'.' => Some("a dot"),
                        b'/' => Some("a slash"),
                        b'\\' => Some("a backslash"),
                        b'%' => Some("a percent sign (double encoding)"),
                        0..=0x1f | 0x7f => Some("a control character"),
                        _ => None,
                    };
                    if let Some(what) = what {
                        return Err(PathError::EncodedDelimiter(what, raw[i..i + 3].to_string()));
                    }
                    decoded.push(v);
                    i += 3;
                    continue;
                }
                b'\\' => return Err(PathError::Backslash),
                b'?' | b'#' => return Err(PathError::QueryInPath),
                0..=0x1f | 0x7f => return Err(PathError::Control(b)),
                b' ' | b'"' | b'<' | b'>' | b'^' | b'`' | b'{' | b'|' | b'}' => {
                    return Err(PathError::Unencoded(b))
                }
                _ => decoded.push(b),
            }
            i += 1;
        }
        let decoded = String::from_utf8(decoded).map_err(|_| PathError::InvalidUtf8)?;
        // Segments are checked on the decoded text: encoded dots and slashes are already
        // refused above, so decoding cannot create or merge segments.
        let inner = &decoded[1..];
        let count = inner.split('/').count();
        for (n, seg) in inner.split('/').enumerate() {
            let bare = seg.split(';').next().unwrap_or(seg);
            if bare == "." || bare == ".." {
                return Err(PathError::DotSegment);
            }
            // `/` alone and a trailing slash are fine; `//` anywhere else is not.
            if seg.is_empty() && n + 1 != count {
                return Err(PathError::EmptySegment);
            }
        }
        Ok(RequestPath {
            raw: raw.to_string(),
            decoded,
        })
    }

    /// The path exactly as it will be forwarded.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The percent-decoded path that caveats compare against.
    pub fn decoded(&self) -> &str {
        &self.decoded
    }

    /// The decoded segments, without the leading empty one (`/` has one empty segment).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.decoded[1..].split('/')
    }

    /// True if this path equals `prefix` or lies below it on a segment boundary
    /// (`/v1/chargesX` is not below `/v1/charges`).
    pub fn is_under(&self, prefix: &RequestPath) -> bool {
        let p = prefix.decoded.trim_end_matches('/');
        if p.is_empty() {
            return true; // `/` is the prefix of every path
        }
        match self.decoded.strip_prefix(p) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

impl fmt::Display for RequestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for RequestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestPath({:?})", self.raw)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A path pattern: `*` matches exactly one segment, `**` any number (zero included).
/// A `*` must be a whole segment (`/v1/ch*` is refused rather than matching nothing).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PathGlob {
    path: RequestPath,
}

impl PathGlob {
    /// Heap bytes held, for cache budgets ([`crate::Verified::weight`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.path.heap_bytes()
    }

    /// Parses a glob; it must be a valid path once `*` and `**` segments are allowed.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let path = RequestPath::parse(text)?;
        if path.segments().any(|s| s.contains('*') && s != "*" && s != "**") {
            return Err(PathError::PartialWildcard);
        }
        Ok(PathGlob { path })
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        self.path.as_str()
    }

    /// True if `path` matches this glob, segment by segment (both percent-decoded).
    pub fn matches(&self, path: &RequestPath) -> bool {
        let pat: Vec<&str> = self.path.segments().collect();
        let segs: Vec<&str> = path.segments().collect();
        glob_match(&pat, &segs)
    }
}

/// Segment-wise glob matching in O(pattern × path) time: `reach[j]` says whether the
/// pattern so far can match the first `j` segments. (A naive backtracking matcher is
/// exponential in the number of `**`; the fuzzer found `/**/**/.../z` hanging it.)
fn glob_match(pat: &[&str], segs: &[&str]) -> bool {
    let mut reach = vec![false; segs.len() + 1];
    reach[0] = true;
    for p in pat {
        let mut next = vec![false; segs.len() + 1];
        if *p == "**" {
            let mut any = false;
            for (j, r) in reach.iter().enumerate() {
                crate::steps::step();
                any |= *r;
                next[j] = any;
            }
        } else {
            for j in 1..=segs.len() {
                crate::steps::step();
                let s = segs[j - 1];
                next[j] = reach[j - 1] && ((*p == "*" && !s.is_empty()) || *p == s);
            }
        }
        reach = next;
    }
    reach[segs.len()]
}

impl fmt::Display for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathGlob({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RequestPath {
        RequestPath::parse(s).expect("valid path")
    }

    fn refused(s: &str) -> PathError {
        RequestPath::parse(s).expect_err("path must be refused")
    }

    #[test]
    fn plain_paths_are_kept_verbatim() {
        assert_eq!(p("/v1/charges").as_str(), "/v1/charges");
        assert_eq!(p("/").as_str(), "/");
        assert_eq!(p("/v1/charges/").as_str(), "/v1/charges/");
        assert_eq!(p("/v1/caf%C3%A9").decoded(), "/v1/café");
        assert_eq!(p("/v1/caf%C3%A9").as_str(), "/v1/caf%C3%A9");
    }

    #[test]
    fn dot_dot_segment_is_refused() {
        assert_eq!(refused("/v1/charges/../admin"), PathError::DotSegment);
        assert_eq!(refused("/.."), PathError::DotSegment);
        assert_eq!(refused("/v1/.."), PathError::DotSegment);
    }

    #[test]
    fn single_dot_segment_is_refused() {
        assert_eq!(refused("/v1/./charges"), PathError::DotSegment);
    }

    #[test]
    fn dot_segment_with_matrix_params_is_refused() {
        assert_eq!(refused("/v1/..;x=1/admin"), PathError::DotSegment);
        assert_eq!(refused("/v1/.;/admin"), PathError::DotSegment);
    }

    #[test]
    fn encoded_dots_are_refused() {
        assert!(matches!(
            refused("/v1/%2e%2e/admin"),
            PathError::EncodedDelimiter(..)
        ));
        assert!(matches!(
            refused("/v1/%2E%2E/admin"),
            PathError::EncodedDelimiter(..)
        ));
        assert!(matches!(
            refused("/v1/.%2e/admin"),
            PathError::EncodedDelimiter(..)
        ));
        assert!(matches!(
            refused("/v1/charges%2ejson"),
            PathError::EncodedDelimiter(..)
        ));
    }

    #[test]
    fn encoded_slash_is_refused() {
        assert!(matches!(
            refused("/v1/charges%2f..%2fadmin"),
            PathError::EncodedDelimiter(..)
        ));
        assert!(matches!(refused("/v1%2Fadmin"), PathError::EncodedDelimiter(..)));
    }

    #[test]
    fn encoded_backslash_is_refused() {
        assert!(matches!(
            refused("/v1/charges%5c..%5cadmin"),
            PathError::EncodedDelimiter(..)
        ));
        assert!(matches!(refused("/v1/%5C"), PathError::EncodedDelimiter(..)));
    }

    #[test]
    fn raw_backslash_is_refused() {
        assert_eq!(refused("/v1\\..\\admin"), PathError::Backslash);
    }

    #[test]
    fn nul_is_refused_raw_and_encoded() {
        assert_eq!(refused("/v1/charges\0"), PathError::Control(0));
        assert!(matches!(
            refused("/v1/charges%00.json"),
            PathError::EncodedDelimiter(..)
        ));
    }

    #[test]
    fn double_encoding_is_refused() {
        assert!(matches!(
            refused("/v1/%252e%252e/admin"),
            PathError::EncodedDelimiter(..)
        ));
        assert!(matches!(refused("/v1/%252f"), PathError::EncodedDelimiter(..)));
    }

    #[test]
    fn overlong_utf8_dot_is_refused() {
        assert_eq!(refused("/v1/%c0%ae%c0%ae/admin"), PathError::InvalidUtf8);
        assert_eq!(refused("/v1/%e0%80%ae"), PathError::InvalidUtf8);
    }

    #[test]
    fn empty_interior_segment_is_refused() {
        assert_eq!(refused("//v1/charges"), PathError::EmptySegment);
        assert_eq!(refused("/v1//charges"), PathError::EmptySegment);
    }

    #[test]
    fn malformed_escapes_and_raw_bytes_are_refused() {
        assert_eq!(refused("/v1/%zz"), PathError::BadEscape(4));
        assert_eq!(refused("/v1/%2"), PathError::BadEscape(4));
        assert_eq!(refused("/v1/a b"), PathError::Unencoded(b' '));
        assert_eq!(refused("v1/charges"), PathError::NotAbsolute);
        assert_eq!(refused(""), PathError::NotAbsolute);
        assert_eq!(refused("/v1?x=1"), PathError::QueryInPath);
    }

    #[test]
    fn prefix_matches_on_segment_boundaries() {
        let prefix = p("/v1/charges");
        assert!(p("/v1/charges").is_under(&prefix));
        assert!(p("/v1/charges/").is_under(&prefix));
        assert!(p("/v1/charges/ch_123").is_under(&prefix));
        assert!(!p("/v1/chargesX").is_under(&prefix));
        assert!(!p("/v1/charge").is_under(&prefix));
        assert!(!p("/v1").is_under(&prefix));
        assert!(p("/anything").is_under(&p("/")));
        assert!(p("/v1/charges/x").is_under(&p("/v1/charges/")));
    }

    #[test]
    fn prefix_compares_decoded_text() {
        assert!(p("/v1/caf%C3%A9/x").is_under(&p("/v1/café")));
        assert!(p("/v1/%63harges").is_under(&p("/v1/charges")));
    }

    #[test]
    fn glob_star_is_one_segment() {
        let g = PathGlob::parse("/v1/customers/*/sources").expect("glob");
        assert!(g.matches(&p("/v1/customers/cus_1/sources")));
        assert!(!g.matches(&p("/v1/customers/sources")));
        assert!(!g.matches(&p("/v1/customers/a/b/sources")));
        assert!(!g.matches(&p("/v1/customers/cus_1/sources/x")));
    }

    #[test]
    fn glob_double_star_is_any_number_of_segments() {
        let g = PathGlob::parse("/v1/**").expect("glob");
        assert!(g.matches(&p("/v1")));
        assert!(g.matches(&p("/v1/a/b/c")));
        assert!(!g.matches(&p("/v2/a")));
        let g = PathGlob::parse("/repos/**/issues").expect("glob");
        assert!(g.matches(&p("/repos/issues")));
        assert!(g.matches(&p("/repos/o/r/issues")));
        assert!(!g.matches(&p("/repos/o/r/pulls")));
    }

    #[test]
    fn glob_star_does_not_match_empty_trailing_segment() {
        let g = PathGlob::parse("/v1/*").expect("glob");
        assert!(g.matches(&p("/v1/x")));
        assert!(!g.matches(&p("/v1/")));
    }

    #[test]
    fn many_double_stars_match_in_linear_time() {
        let glob = PathGlob::parse(&format!("{}/z", "/**".repeat(40))).expect("glob");
        let path = p(&"/a".repeat(200));
        let ((), steps) = crate::steps::counted(|| {
            assert!(!glob.matches(&path));
            assert!(glob.matches(&p(&format!("{}/z", "/a".repeat(200)))));
        });
        // One step per pattern segment and path position: 41 × 202 per match at most.
        assert!(steps <= 2 * 41 * 202, "{steps} steps");
    }

    #[test]
    fn glob_star_inside_a_segment_is_refused() {
        assert_eq!(PathGlob::parse("/v1/ch*"), Err(PathError::PartialWildcard));
        assert_eq!(PathGlob::parse("/v1/***"), Err(PathError::PartialWildcard));
    }

    #[test]
    fn glob_compares_decoded_segments() {
        let g = PathGlob::parse("/v1/caf%C3%A9/*").expect("glob");
        assert!(g.matches(&p("/v1/café/x")));
        assert!(g.matches(&p("/v1/caf%c3%a9/x")));
    }

    #[test]
    fn glob_with_traversal_is_refused() {
        assert!(PathGlob::parse("/v1/../*").is_err());
    }
}
