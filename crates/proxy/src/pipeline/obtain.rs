//! Phase 3c, obtain what goes upstream in the key's place, once the request is allowed:
//! the sealed key itself (bearer, basic, header, query); an OAuth2 access token, from the
//! cache or one exchange at the sealed token URL ([`crate::credentials::oauth`]); or the AWS keys that
//! sign the request ([`crate::credentials::sigv4`]). An exchange runs only for a request that was
//! allowed, so a forged or denied request never costs a call to the token endpoint.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use caveat::{Credential, Payload, SigV4Keys};

use crate::credentials::oauth::{self, Access, ExchangeError, Family};
use crate::deny::Deny;
use crate::proxy::Proxy;
use crate::request::Retry;
use crate::upstream::scrub::Scrubber;

/// What is injected into (or signs) the upstream request.
pub enum Injected {
    /// The sealed secret, where its rule says.
    Static,
    /// `Authorization: Bearer ACCESS`.
    OAuth2 {
        /// The credential's family (for a refresh after a 401).
        family: Arc<Family>,
        /// The access token used.
        access: Access,
    },
    /// The request is signed with these keys.
    SigV4 {
        /// The sealed keys.
        keys: Box<SigV4Keys>,
        /// Region signed for.
        region: String,
        /// Service signed for.
        service: String,
    },
}

impl Injected {
    /// The scrubber for the response: the access token's (with the refresh token and
    /// client secret), else the payload's.
    pub fn scrubber(&self, proxy: &Proxy, payload: &Payload) -> Option<Arc<Scrubber>> {
        match self {
            Injected::OAuth2 { access, .. } if !cfg!(feature = "bench-no-scrub") => access.scrubber.clone(),
            _ => proxy.scrubber(payload),
        }
    }
}

/// Obtains the credential of an allowed request's payload.
pub async fn obtain(proxy: &Arc<Proxy>, payload: &Payload) -> Result<Injected, Deny> {
    // The payload was checked when it opened; failing here is a defence in depth.
    match payload.credential().map_err(|_| Deny::BadSecret)? {
        Credential::Static(_) => Ok(Injected::Static),
        Credential::SigV4 {
            region,
            service,
            keys,
        } => Ok(Injected::SigV4 {
            keys: Box::new(keys),
            region: region.to_string(),
            service: service.to_string(),
        }),
        Credential::OAuth2(o) => {
            let family = proxy.access_tokens.family(&o);
            let (proxy, oauth) = (proxy.clone(), family.oauth().clone());
            let access = family
                .access(move |refresh| exchange(proxy, oauth, refresh))
                .await
                .map_err(Deny::CredentialExchange)?;
            Ok(Injected::OAuth2 { family, access })
        }
    }
}

/// One exchange with the proxy's client, counted.
pub async fn exchange(
    proxy: Arc<Proxy>,
    o: caveat::OAuth2,
    refresh: Option<caveat::Secret>,
) -> Result<oauth::Obtained, ExchangeError> {
    proxy.metrics.oauth_exchanges.fetch_add(1, Relaxed);
    let timeout = proxy
        .config
        .upstream_timeout
        .min(crate::limits::MAX_EXCHANGE_TIME);
    let got = oauth::exchange(&proxy.pools().tls, timeout, &o, refresh).await;
    if got.is_err() {
        proxy.metrics.oauth_exchange_errors.fetch_add(1, Relaxed);
    }
    got
}

/// A new access token for a kept request whose token the upstream refused (one exchange,
/// whoever else saw the 401); `None` when the 401 should be passed on (a new token was
/// forced moments ago).
pub async fn after_refusal(proxy: &Arc<Proxy>, retry: &Retry) -> Result<Option<Access>, Deny> {
    let (proxy, oauth) = (proxy.clone(), retry.family.oauth().clone());
    retry
        .family
        .after_refusal(&retry.used, move |r| exchange(proxy, oauth, r))
        .await
        .map_err(Deny::CredentialExchange)
}
