//! What the verifier knows about one request: everything a caveat may look at.

use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use bytes::Bytes;

use crate::host::Host;
use crate::path::RequestPath;

/// An HTTP method token, case preserved (methods are case-sensitive: `get` is not `GET`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(String);

impl Method {
    /// Heap bytes held, for cache budgets ([`crate::Verified::weight`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        crate::caveat::string_heap(&self.0)
    }
}

/// Why a method was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MethodError {
    /// Empty, or not an HTTP token.
    #[error("{0:?} is not an HTTP method (expected a word such as GET or POST)")]
    Invalid(String),
    /// Lower-case letters in a caveat, where methods are upper case.
    #[error("methods are written in upper case: {0}")]
    NotUpperCase(String),
    /// Longer than any method: not repeated back, since it may be a token sent in the
    /// wrong place.
    #[error("the method is {0} bytes long, not an HTTP method (expected a word such as GET or POST, at most {MAX_METHOD} bytes)")]
    TooLong(usize),
}

/// The longest method accepted (and the longest repeated back in an error).
pub const MAX_METHOD: usize = 32;

impl Method {
    /// Takes a method as a client sent it.
    pub fn new(m: &str) -> Result<Self, MethodError> {
        if m.len() > MAX_METHOD {
            return Err(MethodError::TooLong(m.len()));
        }
        let token = !m.is_empty()
            && m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if token {
            Ok(Method(m.to_string()))
        } else {
            Err(MethodError::Invalid(m.to_string()))
        }
    }

    /// Parses a method as written in a caveat: upper case only.
    pub fn parse_canonical(m: &str) -> Result<Self, MethodError> {
        let method = Method::new(m)?;
        if m.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(MethodError::NotUpperCase(m.to_ascii_uppercase()));
        }
        Ok(method)
    }

    /// The method text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Method({:?})", self.0)
    }
}

/// The scheme the client used (the proxy always forwards over TLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl Scheme {
    /// The default port of the scheme.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A request as the verifier sees it. The path is already a checked [`RequestPath`]:
/// a request whose path cannot be checked never becomes a `Request`.
#[derive(Clone, Debug)]
pub struct Request {
    /// When the request is decided (the proxy's clock).
    pub time: SystemTime,
    /// The HTTP method.
    pub method: Method,
    /// The scheme the client asked for.
    pub scheme: Scheme,
    /// The one authority of the request (CONNECT target, absolute URI or Host).
    pub host: Host,
    /// The port the client asked for.
    pub port: u16,
    /// The path that will be forwarded.
    pub path: RequestPath,
    /// The raw query string without `?`, if any.
    pub query: Option<String>,
    /// Request headers (name lower case, value), for caveats that will read them.
    pub headers: Vec<(String, String)>,
    /// The client's address, if known.
    pub client: Option<IpAddr>,
    /// The body, when the proxy read it whole (only for tokens with body caveats:
    /// [`crate::Verified::needs_body`]). Body caveats deny a body that was not read.
    pub body: BodyView,
}

impl Request {
    /// A request at `time` for `https://host/path` with no query, headers or client.
    pub fn new(time: SystemTime, method: Method, host: Host, path: RequestPath) -> Self {
        Request {
            time,
            method,
            scheme: Scheme::Https,
            host,
            port: 443,
            path,
            query: None,
            headers: Vec::new(),
            client: None,
            body: BodyView::NotRead,
        }
    }
}

/// What the verifier knows of the request body.
#[derive(Clone, Debug, Default)]
pub enum BodyView {
    /// The body was not read (the token had no body caveat, or the proxy streams it).
    /// Every body caveat denies: a caveat that cannot be checked does not hold.
    #[default]
    NotRead,
    /// The whole body, exactly the bytes that will be forwarded. No body is `Read` with
    /// empty bytes.
    Read(RequestBody),
}

/// A request body read whole, with the headers that say how to read it.
#[derive(Clone)]
pub struct RequestBody {
    /// The `Content-Type` header, as sent.
    pub content_type: Option<String>,
    /// The `Content-Encoding` header, as sent. Any encoding makes body caveats deny: the
    /// bytes checked must be the bytes the upstream reads.
    pub content_encoding: Option<String>,
    /// The body bytes.
    pub bytes: Bytes,
}

impl RequestBody {
    /// A body with its content type and encoding headers.
    pub fn new(content_type: Option<String>, content_encoding: Option<String>, bytes: Bytes) -> Self {
        RequestBody {
            content_type,
            content_encoding,
            bytes,
        }
    }
}

// The bytes are the client's data: a debug print shows their length, not them.
impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("content_type", &self.content_type)
            .field("content_encoding", &self.content_encoding)
            .field("len", &self.bytes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_tokens() {
        assert!(Method::new("GET").is_ok());
        assert!(Method::new("get").is_ok());
        assert!(Method::new("").is_err());
        assert!(Method::new("GE T").is_err());
        // A token sent as the method is never repeated back.
        let long = "AgEBbWFjYXJvb24".repeat(20);
        let e = Method::new(&long).expect_err("too long");
        assert_eq!(e, MethodError::TooLong(long.len()));
        assert!(!e.to_string().contains("AgEB"), "{e}");
        assert_eq!(
            Method::parse_canonical("get"),
            Err(MethodError::NotUpperCase("GET".into()))
        );
    }
}
