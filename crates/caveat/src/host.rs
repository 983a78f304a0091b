//! Host names in one canonical spelling, so that "the same host" is a string comparison.

use std::fmt;

/// Why a host name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Empty host.
    #[error("the host is empty")]
    Empty,
    /// A character that cannot appear in a DNS name or IP literal.
    #[error("the host {0:?} contains {1:?}; a host is letters, digits, '-', '_' and '.' (or an IP address)")]
    BadChar(String, char),
    /// Upper-case letters where the canonical (lower-case) form is required.
    #[error("the host {0:?} must be written in lower case: {1}")]
    NotLowerCase(String, String),
    /// Longer than DNS allows.
    #[error("the host is longer than 253 characters")]
    TooLong,
    /// Written with a trailing dot or IPv6 brackets where the canonical form has none.
    #[error("write the host {0:?} as {1}")]
    NotCanonical(String, String),
    /// A port was included.
    #[error("the host {0:?} includes a port; give the host name alone")]
    HasPort(String),
    /// A URL was given where a host name goes.
    #[error("{0:?} is a URL; give the host name alone: {1}")]
    Url(String, String),
}

/// A lower-case DNS name or IP address, without port or trailing dot.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Host(String);

impl Host {
    /// Heap bytes held, for cache budgets ([`crate::Verified::weight`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        crate::caveat::string_heap(&self.0)
    }

    /// Normalizes a host as a client sent it: lower-cases it and drops one trailing dot.
    /// IPv6 literals may come with or without brackets.
    pub fn normalize(input: &str) -> Result<Self, HostError> {
        let lower = input.to_ascii_lowercase();
        let trimmed = lower.strip_suffix('.').unwrap_or(&lower);
        let bare = trimmed
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(trimmed);
        Self::check(bare, input)?;
        Ok(Host(bare.to_string()))
    }

    /// Parses a host in canonical form (as caveats and sealed host lists hold them):
    /// upper case is an error rather than silently folded.
    pub fn parse_canonical(input: &str) -> Result<Self, HostError> {
        if input.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(HostError::NotLowerCase(
                input.to_string(),
                input.to_ascii_lowercase(),
            ));
        }
        let normal = Self::normalize(input)?;
        if normal.0 != input {
            return Err(HostError::NotCanonical(input.to_string(), normal.0));
        }
        Ok(normal)
    }

    fn check(bare: &str, original: &str) -> Result<(), HostError> {
        if bare.is_empty() {
            return Err(HostError::Empty);
        }
        if bare.len() > 253 {
            return Err(HostError::TooLong);
        }
        if bare.parse::<std::net::Ipv6Addr>().is_ok() {
            return Ok(());
        }
        if let Some((_, rest)) = bare.split_once("://") {
            let host = rest.split(['/', '?', '#', ':']).next().unwrap_or(rest);
            return Err(HostError::Url(original.to_string(), host.to_string()));
        }
        if bare.contains(':') {
            return Err(HostError::HasPort(original.to_string()));
        }
        if let Some(c) = bare
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.' || *c == '_'))
        {
            return Err(HostError::BadChar(original.to_string(), c));
        }
        if bare.starts_with('.') || bare.contains("..") {
            return Err(HostError::BadChar(original.to_string(), '.'));
        }
        Ok(())
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Host {
    type Error = HostError;
    fn try_from(s: String) -> Result<Self, HostError> {
        Host::parse_canonical(&s)
    }
}

impl From<Host> for String {
    fn from(h: Host) -> String {
        h.0
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Host({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_lowercases_and_drops_trailing_dot() {
        let h = Host::normalize("API.Stripe.com.").expect("host");
        assert_eq!(h.as_str(), "api.stripe.com");
        assert_eq!(Host::normalize("[::1]").expect("v6").as_str(), "::1");
    }

    #[test]
    fn a_url_where_a_host_goes_says_which_host_to_give() {
        let e = Host::normalize("https://api.stripe.com/v1").expect_err("a URL");
        assert_eq!(
            e.to_string(),
            "\"https://api.stripe.com/v1\" is a URL; give the host name alone: api.stripe.com"
        );
    }

    #[test]
    fn canonical_parse_refuses_upper_case_and_ports() {
        assert!(matches!(
            Host::parse_canonical("API.stripe.com"),
            Err(HostError::NotLowerCase(..))
        ));
        assert!(matches!(
            Host::parse_canonical("api.stripe.com:443"),
            Err(HostError::HasPort(..))
        ));
        assert!(matches!(
            Host::parse_canonical("evil.com/x"),
            Err(HostError::BadChar(..))
        ));
        assert!(Host::parse_canonical("").is_err());
        assert!(Host::parse_canonical("a..b").is_err());
        assert_eq!(
            Host::parse_canonical("a.com."),
            Err(HostError::NotCanonical("a.com.".into(), "a.com".into()))
        );
        assert!(matches!(
            Host::parse_canonical("[::1]"),
            Err(HostError::NotCanonical(..))
        ));
        assert!(Host::parse_canonical("::1").is_ok());
    }
}
