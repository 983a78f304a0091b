//! Phase 1, limits and authority: refuse what is too large, then work out the one host
//! this request is for, and insist that every other place naming a host names the same
//! one. In a CONNECT tunnel the CONNECT target counts, and an inner Host or absolute URI
//! naming another host is refused (Fly's tokenizer read the Host header while it connected
//! to the CONNECT target; we close that hole here).

use caveat::{Host, Scheme};
use http::header::HOST;
use http::request::Parts;

use crate::deny::Deny;
use crate::limits::{MAX_HEAD, MAX_URI};
use crate::request::Mode;

/// The host a request is for, as far as the request itself says.
#[derive(Debug, Clone)]
pub struct Authority {
    /// How the client asked (an `http://` request still goes upstream over TLS).
    pub scheme: Scheme,
    /// Host and port, or `None` in reverse mode (then the token's first sealed host).
    pub target: Option<(Host, u16)>,
}

/// Refuses a request target or header block over the limits.
pub fn limits(parts: &Parts) -> Result<(), Deny> {
    let uri = &parts.uri;
    let uri_len = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI {
        return Err(Deny::UriTooLong(MAX_URI));
    }
    let header_bytes: usize = parts
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEAD {
        return Err(Deny::HeadersTooLarge(MAX_HEAD));
    }
    Ok(())
}

/// The one authority of this request, given how it reached us.
pub fn authority(parts: &Parts, mode: &Mode) -> Result<Authority, Deny> {
    let host_header = host_header(parts)?;
    let uri_authority = match parts.uri.authority() {
        Some(a) => Some(
            parse_authority(a.as_str())
                .ok_or_else(|| Deny::BadRequest("the request URI's host is not valid".into()))?,
        ),
        None => None,
    };
    match mode {
        Mode::Tunnel { host, port, .. } => {
            let t = (host.clone(), Some(*port));
            for (what, other) in [("request URI", &uri_authority), ("Host header", &host_header)] {
                if let Some(o) = other.as_ref().filter(|o| !same(o, &t, 443)) {
                    return Err(Deny::AuthorityMismatch(format!(
                        "the {what} names {}, but this tunnel was opened to {host}:{port}",
                        o.0
                    )));
                }
            }
            Ok(Authority {
                scheme: Scheme::Https,
                target: Some((host.clone(), *port)),
            })
        }
        Mode::Forward => {
            let scheme = match parts.uri.scheme_str() {
                Some("http") => Scheme::Http,
                Some("https") => Scheme::Https,
                _ => {
                    return Err(Deny::BadRequest(
                        "only http:// and https:// URIs can be proxied".into(),
                    ))
                }
            };
            let u = uri_authority.ok_or_else(|| Deny::BadRequest("the request URI has no host".into()))?;
            if let Some(h) = host_header.filter(|h| !same(h, &u, scheme.default_port())) {
                return Err(Deny::AuthorityMismatch(format!(
                    "the Host header names {}, but the request URI names {}",
                    h.0, u.0
                )));
            }
            Ok(Authority {
                scheme,
                target: Some((u.0, u.1.unwrap_or(scheme.default_port()))),
            })
        }
        Mode::TransparentHttp { port } => {
            let h = host_header.ok_or_else(|| Deny::BadRequest("no Host header".into()))?;
            if let Some(u) = uri_authority.filter(|u| !same(u, &h, 80)) {
                return Err(Deny::AuthorityMismatch(format!(
                    "the request URI names {}, but the Host header names {}",
                    u.0, h.0
                )));
            }
            Ok(Authority {
                scheme: Scheme::Http,
                target: Some((h.0, h.1.unwrap_or(*port))),
            })
        }
        Mode::Reverse => Ok(Authority {
            scheme: Scheme::Https,
            target: None,
        }),
    }
}

/// The one Host header, parsed; several are refused.
fn host_header(parts: &Parts) -> Result<Option<(Host, Option<u16>)>, Deny> {
    let mut all = parts.headers.get_all(HOST).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(Deny::BadRequest("several Host headers".into()));
    }
    first
        .to_str()
        .ok()
        .and_then(parse_authority)
        .map(Some)
        .ok_or_else(|| Deny::BadRequest("the Host header is not a valid host".into()))
}

/// Two authorities name the same host and port (`default` filling a missing port).
fn same(a: &(Host, Option<u16>), b: &(Host, Option<u16>), default: u16) -> bool {
    a.0 == b.0 && a.1.unwrap_or(default) == b.1.unwrap_or(default)
}

/// Splits a Host header or URI authority into a normalized host and optional port.
fn parse_authority(text: &str) -> Option<(Host, Option<u16>)> {
    let a: http::uri::Authority = text.parse().ok()?;
    if a.as_str().contains('@') {
        return None;
    }
    Some((Host::normalize(a.host()).ok()?, a.port_u16()))
}
