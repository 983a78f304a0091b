//! Phase 2, find the credential: every copy of the request's token (headers, query, or
//! the tunnel's `Proxy-Authorization`), resolved through the verified-token cache. No
//! token at all is allowed only toward a `--passthrough` host.

use http::request::Parts;

use super::{Deny, Mode, Proxy};
use crate::inject::{self, FindError, Found};

/// The request's token and where its copies are; `None` when it carries none.
pub fn find(proxy: &Proxy, parts: &Parts, mode: &Mode) -> Result<Option<Found>, Deny> {
    let found = inject::find(&parts.headers, parts.uri.query(), &mut |t| proxy.resolve(t))
        .map_err(|FindError::Several| Deny::AmbiguousToken)?;
    Ok(match (found, mode) {
        (Some(f), _) => Some(f),
        // A token on the CONNECT, for inner requests that carry none of their own (each is
        // still decided on its own; verified since, it is now a cache hit).
        (None, Mode::Tunnel { token: Some(t), .. }) => Some(Found {
            token: proxy.re_resolve(t),
            places: Vec::new(),
        }),
        (None, _) => None,
    })
}
