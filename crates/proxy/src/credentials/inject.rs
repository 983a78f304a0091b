//! Where a client puts the token, and where the proxy puts the secret.
//!
//! Clients send the token wherever they would send the key: `Authorization: Bearer`,
//! `Basic` (as user or password), `token`, `x-api-key`, `Proxy-Authorization`, any other
//! header, or a query parameter. We look in every header and query parameter for
//! token-shaped values, so that every copy can be stripped; then the secret goes exactly
//! where the sealed injection rule says, and nowhere else.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::borrow::Cow;
use std::sync::Arc;

use caveat::{CacheKey, Injection, Secret, Token, Verified};

use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::HeaderMap;

/// The header that carries discharges for third-party caveats (repeatable).
pub const DISCHARGE_HEADER: &str = "macaroon-discharge";

/// Where a copy of the token was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// In this header.
    Header(HeaderName),
    /// In this query parameter.
    Query(String),
}

/// What a token-shaped string turned out to be, with the cache key of its text (computed
/// once: it finds a verified token, or files a newly verified one).
#[derive(Clone, Debug)]
pub enum Resolved {
    /// Text verified before (a cache hit): no decoding, no HMAC chain.
    Verified {
        /// What verifying it produced.
        verified: Arc<Verified>,
        /// The key of its text.
        key: CacheKey,
        /// The text, to find copies of it ([`crate::copies`]).
        text: TokenText,
    },
    /// A token read from text not seen before; still to be unsealed and verified.
    Decoded {
        /// The token (its `Debug` shows a fingerprint only).
        token: Arc<Token>,
        /// The key of its text.
        key: CacheKey,
        /// The text, to find copies of it ([`crate::copies`]).
        text: TokenText,
    },
}

impl Resolved {
    /// The cache key of the text it was read from.
    pub fn key(&self) -> CacheKey {
        match self {
            Resolved::Verified { key, .. } | Resolved::Decoded { key, .. } => *key,
        }
    }

    /// The text it was read from.
    pub fn text(&self) -> &TokenText {
        match self {
            Resolved::Verified { text, .. } | Resolved::Decoded { text, .. } => text,
        }
    }

    /// The same for one token in any encoding ([`Token::identity`]).
    fn identity(&self) -> [u8; 32] {
        match self {
            Resolved::Verified { verified, .. } => *verified.identity(),
            Resolved::Decoded { token, .. } => token.identity(),
        }
    }
}

/// The token of a request and every place it was found.
pub struct Found {
    /// The token, as its first copy resolved.
    pub token: Resolved,
    /// Where copies were.
    pub places: Vec<Place>,
}

/// Why the token search failed.
#[derive(Debug)]
pub enum FindError {
    /// Two different tokens in one request.
    Several,
    /// A malformed token (another spelling of a token, bytes after its signature): being
    /// no token it would not be stripped, so it would travel upstream holding the token's
    /// bytes. The request is refused instead.
    Malformed,
}

/// Our tokens are hundreds of characters; anything much shorter is a real key or noise.
const MIN_TOKEN_LEN: usize = 40;

/// Bytes of base64 in either alphabet, with padding.
const BASE64_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'+' | b'/' | b'=');
        b += 1;
    }
    t
};

/// How much of a value the shape check reads. It only filters what is worth looking up
/// or decoding; the decoder validates every byte, and a cache hit is text that decoded
/// and verified before.
const SHAPE_PREFIX: usize = 64;

fn token_shaped(s: &str) -> bool {
    s.len() >= MIN_TOKEN_LEN
        && s.len() <= caveat::MAX_TOKEN_LEN
        && (s.starts_with('{')
            || s.as_bytes()[..s.len().min(SHAPE_PREFIX)]
                .iter()
                .all(|b| BASE64_BYTE[usize::from(*b)]))
}

/// The token-shaped strings inside one header value: a `Bearer` or `token` credential,
/// either half of a `Basic` credential, or the value itself.
fn candidates(value: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let value = value.trim();
    let mut out: [Option<Cow<'_, str>>; 3] = [None, None, None];
    if let Some((scheme, rest)) = value.split_once(' ') {
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            if let Ok(decoded) = STANDARD.decode(rest) {
                if let Ok(text) = String::from_utf8(decoded) {
                    let (user, pass) = text.split_once(':').unwrap_or((&text, ""));
                    out[0] = Some(Cow::Owned(user.to_string()));
                    out[1] = Some(Cow::Owned(pass.to_string()));
                }
            }
        } else {
            out[0] = Some(Cow::Borrowed(rest));
        }
    }
    // The whole value too: one that is itself a token, or JSON (a V2JSON token may hold
    // spaces). A `Scheme credential` value is neither; skip scanning it again.
    if !value.contains(' ') || value.starts_with('{') {
        out[2] = Some(Cow::Borrowed(value));
    }
    out.into_iter().flatten().filter(|c| token_shaped(c))
}

/// Finds the request's token in headers and query. `None` when there is none.
/// `resolve` says whether a token-shaped string is a token (a cache hit or one that
/// decodes); every copy of it is recorded so that all can be stripped.
pub fn find(
    headers: &HeaderMap,
    query: Option<&str>,
    resolve: &mut dyn FnMut(&str) -> Option<Resolved>,
) -> Result<Option<Found>, FindError> {
    let mut found: Option<Found> = None;
    // Token-shaped strings that are no token: a long real key, or a malformed token.
    let mut unresolved: Vec<String> = Vec::new();
    let mut add = |text: &str, place: Place| -> Result<(), FindError> {
        match &mut found {
            None => match resolve(text) {
                Some(token) => {
                    found = Some(Found {
                        token,
                        places: vec![place],
                    })
                }
                None => unresolved.push(text.to_string()),
            },
            Some(f) => {
                let Some(other) = resolve(text) else {
                    unresolved.push(text.to_string());
                    return Ok(());
                };
                // The same text, or the same token in another encoding, is one token.
                if other.key() != f.token.key() && other.identity() != f.token.identity() {
                    return Err(FindError::Several);
                }
                if !f.places.contains(&place) {
                    f.places.push(place);
                }
            }
        }
        Ok(())
    };
    for (name, value) in headers {
        // Discharges are tokens too, but they travel in their own header.
        if name.as_str() == DISCHARGE_HEADER {
            continue;
        }
        let Ok(text) = value.to_str() else { continue };
        for c in candidates(text) {
            add(&c, Place::Header(name.clone()))?;
        }
    }
    if let Some(q) = query {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if token_shaped(&v) {
                add(&v, Place::Query(k.into_owned()))?;
            }
        }
    }
    // Another spelling of a token (bytes after its signature...) is malformed, so it is no
    // copy to strip: beside a token, or inside a tunnel authenticated on its CONNECT, it
    // would travel upstream holding the token's bytes. Refuse the request instead.
    if unresolved
        .iter()
        .any(|t| matches!(Token::decode(t), Err(caveat::DecodeError::Malformed(_))))
    {
        return Err(FindError::Malformed);
    }
    Ok(found)
}

/// Why the secret could not be put where its rule says. Nothing is sent then.
#[derive(Debug)]
pub enum InjectError {
    /// The secret holds bytes a header value cannot carry.
    Value(http::header::InvalidHeaderValue),
    /// The sealed header name is not one `http` accepts (the core checks names when they
    /// are sealed and opened, so this is a defence in depth, never a fallback).
    Name(http::header::InvalidHeaderName),
    /// The rule is not one whose secret is sent as it is sealed.
    NotStatic,
}

impl std::fmt::Display for InjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InjectError::Value(_) => f.write_str("the sealed key cannot be sent in a header"),
            InjectError::Name(_) => f.write_str("the sealed header name is not a valid header name"),
            InjectError::NotStatic => f.write_str("the sealed credential is not sent as it is sealed"),
        }
    }
}

impl std::error::Error for InjectError {}

/// Removes every copy of the token and puts the secret where `rule` says. Returns the
/// new query string (the query may have held the token or receive the secret).
pub fn strip_and_inject(
    headers: &mut HeaderMap,
    query: Option<&str>,
    places: &[Place],
    rule: &Injection,
    secret: &Secret,
) -> Result<Option<String>, InjectError> {
    let mut strip_query: Vec<&str> = Vec::new();
    for p in places {
        match p {
            Place::Header(h) => {
                headers.remove(h);
            }
            Place::Query(k) => strip_query.push(k),
        }
    }
    let inject_query = match rule {
        Injection::Query(name) => Some(name.as_str()),
        _ => None,
    };
    // Rewrite only the parameters that carried the token or receive the secret; every
    // other parameter is kept byte for byte, as it was checked.
    let query = if !strip_query.is_empty() || inject_query.is_some() {
        let mut kept: Vec<String> = query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let raw_key = pair.split('=').next().unwrap_or("");
                let key: String = form_urlencoded::parse(raw_key.as_bytes())
                    .next()
                    .map(|(k, _)| k.into_owned())
                    .unwrap_or_default();
                !strip_query.contains(&key.as_str()) && Some(key.as_str()) != inject_query
            })
            .map(str::to_string)
            .collect();
        if let Some(name) = inject_query {
            let pair: String = form_urlencoded::Serializer::new(String::new())
                .append_pair(name, secret.expose())
                .finish();
            kept.push(pair);
        }
        Some(kept.join("&")).filter(|q| !q.is_empty())
    } else {
        query.map(str::to_string)
    };
    let mut set = |name: HeaderName, value: String| -> Result<(), InjectError> {
        let mut v = HeaderValue::from_str(&value).map_err(InjectError::Value)?;
        v.set_sensitive(true);
        headers.insert(name, v);
        Ok(())
    };
    match rule {
        Injection::Bearer => set(AUTHORIZATION, format!("Bearer {}", secret.expose()))?,
        Injection::Basic => set(
            AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{}:", secret.expose()))),
        )?,
        Injection::Header(name) => {
            let name = HeaderName::from_bytes(name.as_str().as_bytes()).map_err(InjectError::Name)?;
            set(name, secret.expose().to_string())?
        }
        // A signed request carries no secret: the signature is added once it is built.
        Injection::Query(_) | Injection::SigV4(_) => {}
        // An OAuth2 credential is injected as the bearer access token it obtained, never as
        // its sealed material.
        Injection::OAuth2Refresh | Injection::OAuth2ClientCredentials => return Err(InjectError::NotStatic),
    }
    Ok(query)
}

/// A token's text as presented, kept to look for its copies; a debug print shows nothing
/// of it.
#[derive(Clone)]
pub struct TokenText(pub Arc<str>);

impl std::fmt::Debug for TokenText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenText(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        let kp = caveat::ProxyKeyPair::generate();
        Token::mint(
            kp.public(),
            caveat::MintRequest {
                secret: Secret::new("s".into()),
                inject: Injection::Bearer,
                hosts: vec![caveat::Host::normalize("a.com").expect("h")],
                expires: None,
                location: None,
                issuer: caveat::IssuerKey::generate(),
            },
            std::time::SystemTime::now(),
        )
        .expect("mint")
        .encode()
    }

    fn find(headers: &HeaderMap, query: Option<&str>) -> Result<Option<Found>, FindError> {
        super::find(headers, query, &mut |t| {
            Token::decode(t).ok().map(|token| Resolved::Decoded {
                token: Arc::new(token),
                key: caveat::CacheKey::of(t),
                text: TokenText(t.into()),
            })
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("n"),
                HeaderValue::from_str(v).expect("v"),
            );
        }
        h
    }

    #[test]
    fn finds_the_token_everywhere_a_key_goes() {
        let t = token();
        for h in [
            headers(&[("authorization", &format!("Bearer {t}"))]),
            headers(&[("authorization", &format!("token {t}"))]),
            headers(&[("x-api-key", &t)]),
            headers(&[("proxy-authorization", &format!("Bearer {t}"))]),
            headers(&[(
                "authorization",
                &format!("Basic {}", STANDARD.encode(format!("{t}:"))),
            )]),
            headers(&[(
                "authorization",
                &format!("Basic {}", STANDARD.encode(format!("user:{t}"))),
            )]),
        ] {
            let f = find(&h, None).expect("ok").expect("found");
            assert_eq!(f.places.len(), 1);
        }
        let f = find(&HeaderMap::new(), Some(&format!("a=1&key={t}")))
            .expect("ok")
            .expect("found");
        assert_eq!(f.places, vec![Place::Query("key".into())]);
    }

    #[test]
    fn an_aws_sdk_request_carries_the_token_as_its_session_token() {
        // What boto3 sends with `macaroon exec --aws`: a signature made with the dummy key,
        // and the token in X-Amz-Security-Token. The token is found there (and only there:
        // the signature is no copy of it, and no malformed token either).
        let t = token();
        let h = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=MACAROON/20261130/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            ),
            ("x-amz-security-token", &t),
            ("x-amz-date", "20261130T120000Z"),
        ]);
        let f = find(&h, None).expect("ok").expect("found");
        assert_eq!(
            f.places,
            vec![Place::Header(HeaderName::from_static("x-amz-security-token"))]
        );
    }

    #[test]
    fn one_token_in_two_encodings_is_one_token() {
        let t = token();
        let json = Token::decode(&t)
            .expect("t")
            .encode_as(caveat::WireFormat::V2Json);
        let h = headers(&[("authorization", &format!("Bearer {t}")), ("x-api-key", &json)]);
        let f = find(&h, None).expect("ok").expect("found");
        assert_eq!(f.token.key(), caveat::CacheKey::of(&t));
        assert_eq!(f.places.len(), 2);
        // A token-shaped value that is no token (a long real key) is not a copy.
        let h = headers(&[
            ("authorization", &format!("Bearer {t}")),
            ("x-other", "sk_live_0123456789abcdef0123456789abcdef0123"),
        ]);
        assert_eq!(find(&h, None).expect("ok").expect("found").places.len(), 1);
    }

    #[test]
    fn token_shape_is_base64_or_json() {
        let long = "a".repeat(MIN_TOKEN_LEN);
        assert!(token_shaped(&long));
        assert!(token_shaped(&format!("{long}-_+/=")));
        assert!(token_shaped(&format!("{{\"v\": 2, {long}")));
        assert!(!token_shaped(&format!("x {long}")));
        assert!(!token_shaped(&format!(".{long}")));
        assert!(!token_shaped(&format!("é{long}")));
        // Past the prefix only the decoder judges: a long key with a dot is looked at, and
        // is not a token because it does not decode.
        let key = format!("{}.{}", "a".repeat(SHAPE_PREFIX), "b".repeat(10));
        assert!(token_shaped(&key));
        let h = headers(&[("x-api-key", &key)]);
        assert!(find(&h, None).expect("ok").is_none());
        assert!(!token_shaped(&"a".repeat(MIN_TOKEN_LEN - 1)));
        assert!(!token_shaped(&"a".repeat(caveat::MAX_TOKEN_LEN + 1)));
    }

    #[test]
    fn two_different_tokens_are_refused() {
        let h = headers(&[
            ("authorization", &format!("Bearer {}", token())),
            ("x-api-key", &token()),
        ]);
        assert!(matches!(find(&h, None), Err(FindError::Several)));
    }

    #[test]
    fn a_malformed_copy_beside_the_token_is_refused() {
        let t = token();
        let mut bin = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&t)
            .expect("b64");
        bin.push(0);
        let malformed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bin);
        for h in [
            headers(&[
                ("authorization", &format!("Bearer {t}")),
                ("x-api-key", &malformed),
            ]),
            headers(&[
                ("x-api-key", &malformed),
                ("authorization", &format!("Bearer {t}")),
            ]),
        ] {
            assert!(matches!(find(&h, None), Err(FindError::Malformed)));
        }
        assert!(matches!(
            find(
                &headers(&[("authorization", &format!("Bearer {t}"))]),
                Some(&format!("k={malformed}"))
            ),
            Err(FindError::Malformed)
        ));
        // Alone too (inside a tunnel it would otherwise be forwarded); a long real key
        // beside a token is no reason to refuse.
        assert!(matches!(
            find(&headers(&[("x-api-key", &malformed)]), None),
            Err(FindError::Malformed)
        ));
        let h = headers(&[
            ("authorization", &format!("Bearer {t}")),
            ("x-other", "sk_live_0123456789abcdef0123456789abcdef0123"),
        ]);
        assert!(find(&h, None).expect("ok").is_some());
    }

    #[test]
    fn strips_every_copy_and_injects_once() {
        let t = token();
        let mut h = headers(&[
            ("authorization", &format!("Bearer {t}")),
            ("x-api-key", &t),
            ("accept", "*/*"),
        ]);
        let f = find(&h, Some(&format!("key={t}&n=1")))
            .expect("ok")
            .expect("found");
        assert_eq!(f.places.len(), 3);
        let secret = Secret::new("sk_live_x".into());
        let q = strip_and_inject(
            &mut h,
            Some(&format!("key={t}&n=1")),
            &f.places,
            &Injection::Bearer,
            &secret,
        )
        .expect("inject");
        assert_eq!(q.as_deref(), Some("n=1"));
        assert_eq!(h.get("authorization").expect("auth"), "Bearer sk_live_x");
        assert!(h.get("x-api-key").is_none());
        assert_eq!(h.get("accept").expect("accept"), "*/*");
        assert!(!format!("{h:?}").contains(&t));
    }

    #[test]
    fn header_injection_uses_exactly_the_sealed_name() {
        let rule: Injection = "header:X-Api-Key".parse().expect("rule");
        let mut h = headers(&[("authorization", "Basic keep")]);
        strip_and_inject(&mut h, None, &[], &rule, &Secret::new("sk".into())).expect("inject");
        assert_eq!(h.get("x-api-key").expect("x-api-key"), "sk");
        assert_eq!(h.get("authorization").expect("untouched"), "Basic keep");
        // A name that is no header never becomes one: it cannot even be sealed.
        assert!("header:bad name".parse::<Injection>().is_err());
        assert!("header:host".parse::<Injection>().is_err());
    }

    #[test]
    fn query_injection_replaces_the_parameter() {
        let mut h = HeaderMap::new();
        let q = strip_and_inject(
            &mut h,
            Some("key=TOKEN&a=b"),
            &[],
            &Injection::Query("key".into()),
            &Secret::new("s k".into()),
        )
        .expect("inject");
        assert_eq!(q.as_deref(), Some("a=b&key=s+k"));
        let q = strip_and_inject(&mut h, None, &[], &Injection::Basic, &Secret::new("sk".into()))
            .expect("inject");
        assert_eq!(q, None);
        assert_eq!(
            h.get("authorization").expect("a"),
            &format!("Basic {}", STANDARD.encode("sk:"))
        );
    }
}
