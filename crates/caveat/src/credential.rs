//! Credentials that are not one static key: OAuth2 (refresh token or client credentials)
//! and AWS SigV4 keys.
//!
//! Their material travels where a static key does, in the sealed payload's `secret`, as a
//! small JSON object, so the payload's wire shape (and the PyNaCl interop vectors) stay as
//! they were and everything sealed is covered by the issuer's signature. The injection
//! rule says which shape the secret has; opening a payload whose secret does not have it
//! fails, so a proxy never holds a half-usable credential. Every secret part is a
//! [`Secret`]: wiped on drop, redacted in `Debug`.
//!
//! The token URL is checked like a sealed host: `https` only (a refresh token never
//! travels in cleartext), a host name in canonical form, no user info, no fragment. It is
//! the one place besides the sealed hosts that the proxy sends anything to, and only the
//! exchange goes there.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::sealed::{Injection, Secret};

/// Which OAuth2 grant obtains the access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// `grant_type=refresh_token`: a user's long-lived refresh token (Gmail, Graph, Slack).
    Refresh,
    /// `grant_type=client_credentials`: the client acting for itself.
    ClientCredentials,
}

impl Grant {
    /// The injection rule's name of this grant.
    pub fn rule(self) -> &'static str {
        match self {
            Grant::Refresh => "oauth2-refresh",
            Grant::ClientCredentials => "oauth2-client-credentials",
        }
    }
}

/// An `https` token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenUrl {
    url: String,
    host: Host,
    port: u16,
}

impl TokenUrl {
    /// Checks a token URL: `https://HOST[:PORT]/PATH[?QUERY]`, nothing else.
    pub fn parse(input: &str) -> Result<Self, CredentialError> {
        let bad = |why: &str| CredentialError::TokenUrl(format!("{input:?} {why}"));
        let rest = match input.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => rest,
            Some(_) => {
                return Err(bad(
                    "is not an https URL: a refresh token never travels in cleartext",
                ))
            }
            None => return Err(bad("is not a URL; give e.g. https://oauth2.googleapis.com/token")),
        };
        if input
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'#' || !b.is_ascii())
        {
            return Err(bad(
                "holds a space, a control character, a fragment or non-ASCII text",
            ));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad("holds user info; put client credentials in the JSON instead"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse::<u16>() {
                Ok(port) if port > 0 => (h, port),
                _ => return Err(bad("has a port that is not a number from 1 to 65535")),
            },
            _ => (authority, 443),
        };
        let host = Host::normalize(host).map_err(|e| bad(&format!("has no usable host: {e}")))?;
        let path = if path.is_empty() { "/" } else { path };
        let port_text = if port == 443 {
            String::new()
        } else {
            format!(":{port}")
        };
        let shown = if host.as_str().contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Ok(TokenUrl {
            url: format!("https://{shown}{port_text}{path}"),
            host,
            port,
        })
    }

    /// The URL, normalized.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The endpoint's host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The endpoint's port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Debug for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenUrl({})", self.url)
    }
}

impl fmt::Display for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// An OAuth2 client and its grant, as the proxy needs them for the exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2 {
    /// Which grant.
    pub grant: Grant,
    /// Where to exchange.
    pub token_url: TokenUrl,
    /// The OAuth client id (not a secret, but sealed like the rest).
    pub client_id: String,
    /// The client secret; absent for public clients.
    pub client_secret: Option<Secret>,
    /// The refresh token (refresh grant only).
    pub refresh_token: Option<Secret>,
    /// The scope asked for, space-separated; absent to get the grant's own.
    pub scope: Option<String>,
}

/// The sealed JSON of an [`OAuth2`] credential.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuth2Wire {
    token_url: String,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// What `macaroon wrap --inject oauth2-…` reads from the prompt or stdin.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuth2Input {
    client_id: String,
    #[serde(default)]
    client_secret: Option<Secret>,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    scope: Option<String>,
}

impl OAuth2 {
    /// The credential from what a person typed (`{"client_id","client_secret",
    /// "refresh_token","scope"?}`) and the `--token-url`.
    pub fn from_input(grant: Grant, token_url: &str, json: &str) -> Result<Self, CredentialError> {
        let input: OAuth2Input = parse_json(grant.rule(), json, input_shape(grant))?;
        Self::checked(OAuth2 {
            grant,
            token_url: TokenUrl::parse(token_url)?,
            client_id: input.client_id,
            client_secret: input.client_secret,
            refresh_token: input.refresh_token,
            scope: input.scope,
        })
    }

    fn from_sealed(grant: Grant, secret: &Secret) -> Result<Self, CredentialError> {
        let w: OAuth2Wire = parse_json(grant.rule(), secret.expose(), "the sealed OAuth2 fields")?;
        Self::checked(OAuth2 {
            grant,
            token_url: TokenUrl::parse(&w.token_url)?,
            client_id: w.client_id,
            client_secret: w.client_secret,
            refresh_token: w.refresh_token,
            scope: w.scope,
        })
    }

    fn checked(self) -> Result<Self, CredentialError> {
        let rule = self.grant.rule();
        usable(rule, "client_id", &self.client_id)?;
        if let Some(s) = &self.client_secret {
            usable(rule, "client_secret", s.expose())?;
        }
        if let Some(s) = &self.scope {
            usable_text(rule, "scope", s, true)?;
        }
        match (self.grant, &self.refresh_token) {
            (Grant::Refresh, Some(t)) => usable(rule, "refresh_token", t.expose())?,
            (Grant::Refresh, None) => return Err(CredentialError::missing(self.grant, "refresh_token")),
            (Grant::ClientCredentials, Some(_)) => {
                return Err(CredentialError::Field {
                    rule,
                    why: "refresh_token is for oauth2-refresh; the client-credentials grant takes none"
                        .into(),
                })
            }
            (Grant::ClientCredentials, None) if self.client_secret.is_none() => {
                return Err(CredentialError::missing(self.grant, "client_secret"))
            }
            (Grant::ClientCredentials, None) => {}
        }
        Ok(self)
    }

    /// The sealed form, for the payload's `secret`.
    pub fn to_secret(&self) -> Secret {
        let w = OAuth2Wire {
            token_url: self.token_url.to_string(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            refresh_token: self.refresh_token.clone(),
            scope: self.scope.clone(),
        };
        // A struct of strings always serializes.
        Secret::new(serde_json::to_string(&w).unwrap_or_default())
    }
}

/// AWS keys for SigV4.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigV4Keys {
    /// The access key id (`AKIA…`, `ASIA…`).
    pub access_key_id: Secret,
    /// The secret access key: never sent, only signs.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Secret>,
}

const SIGV4_SHAPE: &str =
    r#"{"access_key_id": "...", "secret_access_key": "...", "session_token": "..." (optional)}"#;

impl SigV4Keys {
    /// The keys from what a person typed, or from the sealed secret.
    pub fn from_json(json: &str) -> Result<Self, CredentialError> {
        let k: SigV4Keys = parse_json("sigv4", json, SIGV4_SHAPE)?;
        usable("sigv4", "access_key_id", k.access_key_id.expose())?;
        usable("sigv4", "secret_access_key", k.secret_access_key.expose())?;
        if let Some(t) = &k.session_token {
            usable("sigv4", "session_token", t.expose())?;
        }
        Ok(k)
    }

    /// The sealed form, for the payload's `secret`.
    pub fn to_secret(&self) -> Secret {
        Secret::new(serde_json::to_string(self).unwrap_or_default())
    }
}

/// A payload's credential, read according to its injection rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// One static key, injected as is (bearer, basic, header, query).
    Static(&'a Secret),
    /// Exchanged for an access token, injected as `Authorization: Bearer`.
    OAuth2(OAuth2),
    /// Signs the request.
    SigV4 {
        /// The AWS region signed for.
        region: &'a str,
        /// The AWS service signed for.
        service: &'a str,
        /// The keys.
        keys: SigV4Keys,
    },
}

impl<'a> Credential<'a> {
    /// Reads `secret` as `rule` says it is shaped.
    pub fn read(rule: &'a Injection, secret: &'a Secret) -> Result<Self, CredentialError> {
        match rule {
            Injection::OAuth2Refresh => OAuth2::from_sealed(Grant::Refresh, secret).map(Credential::OAuth2),
            Injection::OAuth2ClientCredentials => {
                OAuth2::from_sealed(Grant::ClientCredentials, secret).map(Credential::OAuth2)
            }
            Injection::SigV4(scope) => Ok(Credential::SigV4 {
                region: scope.region(),
                service: scope.service(),
                keys: SigV4Keys::from_json(secret.expose())?,
            }),
            Injection::Bearer | Injection::Basic | Injection::Header(_) | Injection::Query(_) => {
                Ok(Credential::Static(secret))
            }
        }
    }

    /// Every secret string of this credential, for response scrubbing.
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            Credential::Static(s) => vec![*s],
            Credential::OAuth2(o) => o.client_secret.iter().chain(o.refresh_token.iter()).collect(),
            Credential::SigV4 { keys, .. } => std::iter::once(&keys.secret_access_key)
                .chain(keys.session_token.iter())
                .collect(),
        }
    }
}

fn input_shape(grant: Grant) -> &'static str {
    match grant {
        Grant::Refresh => {
            r#"{"client_id": "...", "client_secret": "...", "refresh_token": "...", "scope": "..." (optional)}"#
        }
        Grant::ClientCredentials => {
            r#"{"client_id": "...", "client_secret": "...", "scope": "..." (optional)}"#
        }
    }
}

/// Parses JSON without ever quoting it back: serde's messages may hold the input (a
/// secret), so only the ones that name fields are kept.
fn parse_json<T: serde::de::DeserializeOwned>(
    rule: &'static str,
    json: &str,
    shape: &'static str,
) -> Result<T, CredentialError> {
    serde_json::from_str(json.trim()).map_err(|e| {
        let text = e.to_string();
        let named = ["missing field", "unknown field", "duplicate field"]
            .iter()
            .any(|p| text.starts_with(p));
        let why = if named {
            // "unknown field `x`, expected one of ... at line 1 column 9": names only.
            text
        } else {
            format!("not the expected JSON (line {}, column {})", e.line(), e.column())
        };
        CredentialError::Json { rule, why, shape }
    })
}

fn usable(rule: &'static str, field: &'static str, value: &str) -> Result<(), CredentialError> {
    usable_text(rule, field, value, false)
}

/// A value the proxy will send in a form body or a header: not empty, no control
/// characters (and, unless `spaces`, no spaces).
fn usable_text(
    rule: &'static str,
    field: &'static str,
    value: &str,
    spaces: bool,
) -> Result<(), CredentialError> {
    let why = if value.trim().is_empty() {
        "is empty"
    } else if value.chars().any(char::is_control) {
        "holds a control character (a newline or tab pasted with it?)"
    } else if !spaces && value.contains(' ') {
        "holds a space"
    } else {
        return Ok(());
    };
    Err(CredentialError::Field {
        rule,
        why: format!("{field} {why}"),
    })
}

/// Why a credential was refused. Never quotes a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Not the JSON this kind reads.
    #[error("the {rule} credential is refused: {why}; give {shape}")]
    Json {
        /// The injection rule.
        rule: &'static str,
        /// What serde said (field names only).
        why: String,
        /// The expected shape.
        shape: &'static str,
    },
    /// A field is there but unusable.
    #[error("the {rule} credential is refused: {why}")]
    Field {
        /// The injection rule.
        rule: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The token URL is refused.
    #[error("the token URL {0}")]
    TokenUrl(String),
}

impl CredentialError {
    fn missing(grant: Grant, field: &str) -> Self {
        CredentialError::Json {
            rule: grant.rule(),
            why: format!("missing field `{field}`"),
            shape: input_shape(grant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOGLE: &str = "https://oauth2.googleapis.com/token";

    #[test]
    fn oauth2_refresh_input_becomes_a_sealed_credential_and_back() {
        let o = OAuth2::from_input(
            Grant::Refresh,
            GOOGLE,
            r#"{"client_id":"cid","client_secret":"csec_123","refresh_token":"1//rt_abc","scope":"a b"}"#,
        )
        .expect("input");
        assert_eq!(o.token_url.host().as_str(), "oauth2.googleapis.com");
        let sealed = o.to_secret();
        let back = OAuth2::from_sealed(Grant::Refresh, &sealed).expect("sealed");
        assert_eq!(back, o);
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("csec_123") && !shown.contains("rt_abc"),
            "{shown}"
        );
    }

    #[test]
    fn missing_and_extra_fields_are_named_and_values_never_quoted() {
        let e = OAuth2::from_input(Grant::Refresh, GOOGLE, r#"{"client_id":"c","client_secret":"s"}"#)
            .expect_err("no refresh token");
        assert!(e.to_string().contains("missing field `refresh_token`"), "{e}");
        let e = OAuth2::from_input(
            Grant::Refresh,
            GOOGLE,
            r#"{"client_id":"c","refresh_token":"r","token":"leak_me_123"}"#,
        )
        .expect_err("extra");
        assert!(e.to_string().contains("unknown field `token`"), "{e}");
        assert!(!e.to_string().contains("leak_me_123"), "{e}");
        let e = OAuth2::from_input(Grant::Refresh, GOOGLE, r#""super_secret_refresh""#).expect_err("string");
        assert!(!e.to_string().contains("super_secret_refresh"), "{e}");
        assert!(e.to_string().contains("client_id"), "says the shape: {e}");
        let e = SigV4Keys::from_json(r#"{"access_key_id":"AKIA1"}"#).expect_err("no secret");
        assert!(e.to_string().contains("missing field `secret_access_key`"), "{e}");
    }

    #[test]
    fn client_credentials_need_a_secret_and_take_no_refresh_token() {
        let ok = OAuth2::from_input(
            Grant::ClientCredentials,
            GOOGLE,
            r#"{"client_id":"c","client_secret":"s"}"#,
        );
        assert!(ok.is_ok());
        let e = OAuth2::from_input(Grant::ClientCredentials, GOOGLE, r#"{"client_id":"c"}"#)
            .expect_err("no secret");
        assert!(e.to_string().contains("client_secret"), "{e}");
        let e = OAuth2::from_input(
            Grant::ClientCredentials,
            GOOGLE,
            r#"{"client_id":"c","client_secret":"s","refresh_token":"r"}"#,
        )
        .expect_err("refresh token");
        assert!(e.to_string().contains("oauth2-refresh"), "{e}");
    }

    #[test]
    fn the_token_url_is_https_with_a_plain_host() {
        for bad in [
            "http://oauth2.googleapis.com/token",
            "oauth2.googleapis.com/token",
            "https://user:pw@idp.example/token",
            "https:///token",
            "https://idp.example/token#frag",
            "https://idp.example/to ken",
            "https://idp.example:0/token",
            "https://idp.example:99999/token",
        ] {
            assert!(TokenUrl::parse(bad).is_err(), "{bad}");
        }
        let u = TokenUrl::parse("HTTPS://Login.Example:8443/common/oauth2/v2.0/token?x=1").expect("ok");
        assert_eq!(
            u.as_str(),
            "https://login.example:8443/common/oauth2/v2.0/token?x=1"
        );
        assert_eq!((u.host().as_str(), u.port()), ("login.example", 8443));
        assert_eq!(
            TokenUrl::parse("https://slack.com").expect("ok").as_str(),
            "https://slack.com/"
        );
    }

    #[test]
    fn empty_or_multiline_values_are_refused() {
        let e = OAuth2::from_input(Grant::Refresh, GOOGLE, r#"{"client_id":"c","refresh_token":" "}"#)
            .expect_err("empty");
        assert!(e.to_string().contains("refresh_token is empty"), "{e}");
        let e =
            SigV4Keys::from_json(r#"{"access_key_id":"AKIA","secret_access_key":"a\nb"}"#).expect_err("nl");
        assert!(e.to_string().contains("control character"), "{e}");
    }
}
