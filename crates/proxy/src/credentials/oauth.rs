//! OAuth2 access tokens: obtained by the proxy with a sealed refresh token (or client
//! credentials), so the agent holds neither; cached until shortly before they expire.
//!
//! Why a family per credential, with one async lock: fifty requests arriving together with
//! a cold cache must make one exchange, not fifty (providers rate-limit token endpoints,
//! and some rotate the refresh token on every use, so a second concurrent exchange would
//! spend a token the first one just replaced). The first request takes the family's lock
//! and exchanges; the others wait on the lock and then find the fresh token. The fast path
//! is the same lock, held for a clone.
//!
//! Families are keyed by a digest of the sealed credential itself, not by the token
//! family id: a kid is no secret (audit lines and revocation lists name it), and a trusted
//! issuer who copied another's kid into a payload of its own must not be handed that
//! family's access token for its own hosts. Families are never evicted: a refresh token
//! the provider rotated lives only here, and dropping it would strand the credential.
//!
//! An exchange runs in a task of its own: a client that hangs up mid-exchange drops its
//! request, not the exchange, so a refresh token the provider rotated in its answer is
//! still kept (the provider has already forgotten the old one).
//!
//! With a shared store (`--state`), replicas share access tokens and rotated refresh
//! tokens, and make one exchange between them ([`crate::credentials::shared_tokens`]): under the
//! family's lock, the store is asked before exchanging, and what an exchange obtained is
//! put there.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use caveat::{Grant, OAuth2, Secret};
use http::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_TYPE};
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::credentials::shared_tokens::{Lead, SharedTokens};
use crate::limits::{FAILURE_HOLD, MAX_LIFETIME, MAX_TOKEN_RESPONSE, REFUSAL_HOLD};
use crate::upstream::client::Pool;
use crate::upstream::scrub::Scrubber;

/// Assumed lifetime of an access token whose response gives no `expires_in`.
const DEFAULT_LIFETIME: u64 = 300;
/// How long before its expiry a token stops being used: a tenth of its life, at most a
/// minute, so a request never leaves with a token that expires on the way.
const MAX_MARGIN: u64 = 60;

/// An access token the proxy obtained, with the scrubber for its responses.
#[derive(Clone)]
pub struct Access {
    /// The access token: injected as `Authorization: Bearer`, never logged.
    pub token: Secret,
    /// Used until then.
    fresh_until: Instant,
    /// Scrubs the access token, the refresh token in use and the client secret.
    pub scrubber: Option<Arc<Scrubber>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Access(redacted)")
    }
}

/// What one exchange returned.
pub struct Obtained {
    /// The new access token.
    pub access: Secret,
    /// Its lifetime in seconds, if the provider said.
    pub expires_in: Option<u64>,
    /// A new refresh token, if the provider rotated it.
    pub refresh: Option<Secret>,
}

/// Why an exchange failed. Never holds the provider's body (it may echo secrets): only
/// its status and its `error` code, if that is a plain code.
#[derive(Clone, Debug)]
pub struct ExchangeError {
    /// The token endpoint's host.
    pub host: String,
    /// The HTTP status it answered, if it answered.
    pub status: Option<u16>,
    /// The provider's `error` code (`invalid_grant`...), if it gave a plain one.
    pub code: Option<String>,
    /// What went wrong, in words (never provider text).
    pub detail: String,
}

/// All OAuth2 credential families this proxy has seen.
#[derive(Default)]
pub struct AccessTokens {
    families: Mutex<HashMap<[u8; 32], Arc<Family>>>,
    shared: Option<Arc<SharedTokens>>,
}

impl AccessTokens {
    /// Families that share their tokens with other replicas through `shared`, if given.
    pub fn new(shared: Option<SharedTokens>) -> Self {
        AccessTokens {
            families: Mutex::default(),
            shared: shared.map(Arc::new),
        }
    }

    /// The family of `oauth`, created on first use.
    pub fn family(&self, oauth: &OAuth2) -> Arc<Family> {
        let key: [u8; 32] = {
            let sealed = oauth.to_secret();
            Sha256::new()
                .chain_update(oauth.grant.rule())
                .chain_update([0])
                .chain_update(sealed.expose())
                .finalize()
                .into()
        };
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        families
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Family {
                    oauth: oauth.clone(),
                    state: Arc::default(),
                    digest: key,
                    shared: self.shared.clone(),
                })
            })
            .clone()
    }
}

impl AccessTokens {
    /// Writes back to the shared store the refresh tokens providers rotated, where the
    /// store holds none (it restarted empty): the next exchange, on any replica, then uses
    /// the newest one this replica knows rather than the retired sealed one.
    pub async fn write_back(&self) {
        let Some(shared) = &self.shared else { return };
        let families: Vec<Arc<Family>> = self
            .families
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for f in families {
            if let Some(r) = f.rotated().await {
                if let Err(e) = shared.put_refresh(f.digest(), &r, true).await {
                    tracing::warn!("could not write a rotated refresh token back to the store: {e}");
                }
            }
        }
    }
}

/// One credential's access token and refresh token, behind one lock.
pub struct Family {
    oauth: OAuth2,
    /// Shared with the exchange task, which holds it until the exchange is stored.
    state: Arc<tokio::sync::Mutex<State>>,
    /// The digest of the sealed credential: its name in the shared store.
    digest: [u8; 32],
    /// Other replicas' tokens, with `--state`.
    shared: Option<Arc<SharedTokens>>,
}

#[derive(Default)]
struct State {
    current: Option<Access>,
    /// The refresh token as last rotated by the provider (else the sealed one is used).
    rotated: Option<Secret>,
    /// The last exchange failed, then: its error answers until [`FAILURE_HOLD`] passed.
    failed: Option<(Instant, ExchangeError)>,
    /// When the last exchange forced by an upstream's 401 started.
    forced_at: Option<Instant>,
}

impl Family {
    /// The OAuth2 credential.
    pub fn oauth(&self) -> &OAuth2 {
        &self.oauth
    }

    /// A fresh access token: the cached one, or one exchange (others wait for it).
    pub async fn access<F, Fut>(&self, exchange: F) -> Result<Access, ExchangeError>
    where
        F: FnOnce(Option<Secret>) -> Fut,
        Fut: Future<Output = Result<Obtained, ExchangeError>> + Send + 'static,
    {
        let state = self.state.clone().lock_owned().await;
        if let Some(a) = state.current.as_ref().filter(|a| Instant::now() < a.fresh_until) {
            return Ok(a.clone());
        }
        if let Some((_, e)) = state
            .failed
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FAILURE_HOLD)
        {
            return Err(e.clone());
        }
        self.lead(state, exchange, None).await
    }

    /// After the upstream refused `used` (401): a new token, unless another request (or
    /// replica) has already replaced it, then that one. One exchange, however many
    /// requests saw the 401, made as the first one is (the replicas' lock, the refresh
    /// token as last rotated). `None`: an exchange was already forced less than
    /// [`REFUSAL_HOLD`] ago, and the refusal should be passed on.
    pub async fn after_refusal<F, Fut>(
        &self,
        used: &Secret,
        exchange: F,
    ) -> Result<Option<Access>, ExchangeError>
    where
        F: FnOnce(Option<Secret>) -> Fut,
        Fut: Future<Output = Result<Obtained, ExchangeError>> + Send + 'static,
    {
        let mut state = self.state.clone().lock_owned().await;
        if let Some(a) = state.current.as_ref().filter(|a| a.token != *used) {
            return Ok(Some(a.clone()));
        }
        if state.forced_at.is_some_and(|at| at.elapsed() < REFUSAL_HOLD) {
            return Ok(None);
        }
        if let Some((_, e)) = state
            .failed
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FAILURE_HOLD)
        {
            return Err(e.clone());
        }
        state.forced_at = Some(Instant::now());
        state.current = None;
        self.lead(state, exchange, Some(used)).await.map(Some)
    }

    /// A token another replica stored (other than `refused`), else one exchange, under
    /// the replicas' lock when there is a shared store.
    async fn lead<F, Fut>(
        &self,
        mut state: tokio::sync::OwnedMutexGuard<State>,
        exchange: F,
        refused: Option<&Secret>,
    ) -> Result<Access, ExchangeError>
    where
        F: FnOnce(Option<Secret>) -> Fut,
        Fut: Future<Output = Result<Obtained, ExchangeError>> + Send + 'static,
    {
        let mut holder = None;
        if let Some(shared) = &self.shared {
            match shared.fetch_or_lead(&self.digest, refused).await {
                Ok(Lead::Fresh {
                    access,
                    fresh_for,
                    refresh,
                }) => {
                    if refresh.is_some() {
                        state.rotated = refresh;
                    }
                    let until = Instant::now() + fresh_for.min(MAX_LIFETIME);
                    return Ok(adopt(&mut state, &self.oauth, access, until));
                }
                Ok(Lead::Exchange { holder: h, refresh }) => {
                    holder = h;
                    if refresh.is_some() {
                        state.rotated = refresh;
                    }
                }
                Err(e) => tracing::warn!("exchanging without the other replicas: {e}"),
            }
        }
        self.exchange(state, exchange, holder).await
    }

    /// The refresh token as last rotated, if the provider rotated it (for writing back to
    /// a shared store that lost it).
    pub async fn rotated(&self) -> Option<Secret> {
        self.state.lock().await.rotated.clone()
    }

    /// The digest of the sealed credential (its name in the shared store).
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// Runs one exchange in a task that holds the lock until its result is stored, so a
    /// request dropped mid-exchange loses neither the new token nor a rotated refresh token,
    /// and no second exchange can start with a refresh token the provider just retired.
    async fn exchange<F, Fut>(
        &self,
        mut state: tokio::sync::OwnedMutexGuard<State>,
        exchange: F,
        holder: Option<String>,
    ) -> Result<Access, ExchangeError>
    where
        F: FnOnce(Option<Secret>) -> Fut,
        Fut: Future<Output = Result<Obtained, ExchangeError>> + Send + 'static,
    {
        let refresh = state.rotated.clone().or_else(|| self.oauth.refresh_token.clone());
        let pending = exchange(refresh);
        let oauth = self.oauth.clone();
        let (shared, digest) = (self.shared.clone(), self.digest);
        let stopped = self.stopped();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            // In a task of its own: should it panic, this one still records the failure
            // and releases the replicas' lock.
            let got = tokio::spawn(pending).await.unwrap_or_else(|_| Err(stopped));
            let rotated_now = matches!(&got, Ok(o) if o.refresh.is_some());
            let stored = store(&mut state, &oauth, started, got);
            if let Some(shared) = shared {
                let access = stored
                    .as_ref()
                    .ok()
                    .map(|a| (&a.token, a.fresh_until.saturating_duration_since(Instant::now())));
                let rotated = state.rotated.as_ref().filter(|_| rotated_now);
                if let Err(e) = shared.publish(&digest, holder.as_deref(), access, rotated).await {
                    tracing::warn!("could not share the new access token with the other replicas: {e}");
                }
            }
            stored
        });
        task.await.unwrap_or_else(|_| Err(self.stopped()))
    }

    fn stopped(&self) -> ExchangeError {
        ExchangeError {
            host: self.oauth.token_url.host().to_string(),
            status: None,
            code: None,
            detail: "the exchange stopped before it finished".into(),
        }
    }
}

/// Takes a token another replica obtained as this family's current one.
fn adopt(state: &mut State, oauth: &OAuth2, token: Secret, fresh_until: Instant) -> Access {
    state.failed = None;
    let access = access_with_scrubber(state, oauth, token, fresh_until);
    state.current = Some(access.clone());
    access
}

/// An access token with the scrubber for its responses: it, the refresh token in use and
/// the client secret.
fn access_with_scrubber(state: &State, oauth: &OAuth2, token: Secret, fresh_until: Instant) -> Access {
    let mut secrets: Vec<&Secret> = vec![&token];
    secrets.extend(state.rotated.as_ref());
    secrets.extend(oauth.refresh_token.as_ref());
    secrets.extend(oauth.client_secret.as_ref());
    Access {
        scrubber: Scrubber::for_secrets(&secrets).map(Arc::new),
        token,
        fresh_until,
    }
}

/// Keeps what an exchange started at `started` returned: the access token until shortly
/// before it expires, a rotated refresh token, or the failure for [`FAILURE_HOLD`].
fn store(
    state: &mut State,
    oauth: &OAuth2,
    started: Instant,
    got: Result<Obtained, ExchangeError>,
) -> Result<Access, ExchangeError> {
    let got = match got {
        Ok(got) => got,
        Err(e) => {
            state.failed = Some((Instant::now(), e.clone()));
            return Err(e);
        }
    };
    state.failed = None;
    if let Some(r) = got.refresh {
        state.rotated = Some(r);
    }
    let lifetime = got
        .expires_in
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_LIFETIME.as_secs());
    let margin = (lifetime / 10).min(MAX_MARGIN);
    let fresh_until = started + Duration::from_secs(lifetime - margin);
    let access = access_with_scrubber(state, oauth, got.access, fresh_until);
    state.current = Some(access.clone());
    Ok(access)
}

/// The token response fields read (every other one ignored).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<Secret>,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<Secret>,
    error: Option<serde_json::Value>,
}

/// One exchange at the token endpoint: a form POST (client authentication in the body,
/// as Google, Microsoft and Slack all accept), over the proxy's TLS client and address
/// policy, within `timeout`.
pub async fn exchange(
    client: &Arc<Pool>,
    timeout: Duration,
    oauth: &OAuth2,
    refresh: Option<Secret>,
) -> Result<Obtained, ExchangeError> {
    let host = oauth.token_url.host().to_string();
    let fail = |status: Option<u16>, code: Option<String>, detail: String| ExchangeError {
        host: host.clone(),
        status,
        code,
        detail,
    };
    let body = form(oauth, refresh.as_ref());
    let req = http::Request::post(oauth.token_url.as_str())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .header(ACCEPT_ENCODING, "identity")
        .body(crate::http::full(Bytes::from(body.as_bytes().to_vec())))
        .map_err(|_| fail(None, None, "the token URL cannot be requested".into()))?;
    let exchanged = async {
        let resp = client
            .send(req)
            .await
            .map_err(|e| fail(None, None, crate::http::chain(&*e)))?;
        let status = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_TOKEN_RESPONSE)
            .collect()
            .await
            .map_err(|_| fail(Some(status), None, "its response could not be read whole".into()))?
            .to_bytes();
        Ok::<_, ExchangeError>((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(timeout, exchanged).await.map_err(|_| {
        fail(
            None,
            None,
            format!("no answer within {}", humantime::format_duration(timeout)),
        )
    })??;
    let parsed: Option<TokenResponse> = serde_json::from_slice(&bytes).ok();
    let code = parsed.as_ref().and_then(|p| plain_code(p.error.as_ref()));
    match parsed {
        Some(TokenResponse {
            access_token: Some(access),
            expires_in,
            refresh_token,
            ..
        }) if (200..300).contains(&status) && !access.expose().is_empty() => Ok(Obtained {
            access,
            expires_in: expires_in.as_ref().and_then(seconds),
            refresh: refresh_token.filter(|r| !r.expose().is_empty()),
        }),
        Some(_) => Err(fail(Some(status), code, "it gave no access token".into())),
        None => Err(fail(
            Some(status),
            None,
            "its answer is not a JSON token response".into(),
        )),
    }
}

/// The form body of the exchange.
fn form(oauth: &OAuth2, refresh: Option<&Secret>) -> Zeroizing<String> {
    let mut f = form_urlencoded::Serializer::new(String::new());
    match (oauth.grant, refresh) {
        (Grant::Refresh, Some(r)) => {
            f.append_pair("grant_type", "refresh_token");
            f.append_pair("refresh_token", r.expose());
        }
        // A refresh grant always has its sealed refresh token (checked when it opened).
        (Grant::Refresh, None) | (Grant::ClientCredentials, _) => {
            f.append_pair("grant_type", "client_credentials");
        }
    }
    f.append_pair("client_id", &oauth.client_id);
    if let Some(s) = &oauth.client_secret {
        f.append_pair("client_secret", s.expose());
    }
    if let Some(s) = &oauth.scope {
        f.append_pair("scope", s);
    }
    Zeroizing::new(f.finish())
}

/// `expires_in` as a number of seconds (some providers send it as a string).
fn seconds(v: &serde_json::Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The provider's `error`, only if it is a plain code (RFC 6749's are `invalid_grant` and
/// the like): anything else could be text that echoes a secret, and is not repeated.
fn plain_code(v: Option<&serde_json::Value>) -> Option<String> {
    let s = v?.as_str()?;
    let plain = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    plain.then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    fn oauth() -> OAuth2 {
        OAuth2::from_input(
            Grant::Refresh,
            "https://idp.example/token",
            r#"{"client_id":"cid","client_secret":"csecret_1","refresh_token":"rt_sealed_1"}"#,
        )
        .expect("oauth")
    }

    fn obtained(n: usize, expires_in: Option<u64>, rotate: bool) -> Obtained {
        Obtained {
            access: Secret::new(format!("access_token_{n}")),
            expires_in,
            refresh: rotate.then(|| Secret::new(format!("rt_rotated_{n}"))),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twenty_waiting_requests_share_one_exchange() {
        let family = AccessTokens::default().family(&oauth());
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (family, calls, gate) = (family.clone(), calls.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                family
                    .access(|_| async move {
                        let n = calls.fetch_add(1, SeqCst);
                        gate.notified().await;
                        Ok(obtained(n, Some(3600), false))
                    })
                    .await
                    .expect("access")
                    .token
            }));
        }
        // Let every task reach the lock, then release the one exchange.
        while Arc::strong_count(&family) < 21 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.expect("task").expose(), "access_token_0");
        }
        assert_eq!(calls.load(SeqCst), 1);
    }

    #[tokio::test]
    async fn an_expired_token_is_exchanged_again_with_the_rotated_refresh_token() {
        let family = AccessTokens::default().family(&oauth());
        let seen = Arc::new(Mutex::new(Vec::new()));
        for n in 0..3 {
            let seen = seen.clone();
            family
                .access(|r| async move {
                    seen.lock()
                        .expect("seen")
                        .push(r.expect("refresh").expose().to_string());
                    // Zero lifetime: stale at once, so each call exchanges.
                    Ok(obtained(n, Some(0), true))
                })
                .await
                .expect("access");
        }
        assert_eq!(
            *seen.lock().expect("seen"),
            ["rt_sealed_1", "rt_rotated_0", "rt_rotated_1"]
        );
    }

    #[tokio::test]
    async fn a_refusal_replaces_only_the_token_that_was_refused() {
        let family = AccessTokens::default().family(&oauth());
        let first = family
            .access(|_| async { Ok(obtained(0, Some(3600), false)) })
            .await
            .expect("first");
        let second = family
            .after_refusal(&first.token, |_| async { Ok(obtained(1, Some(3600), false)) })
            .await
            .expect("second")
            .expect("a new token");
        assert_eq!(second.token.expose(), "access_token_1");
        // A request that also saw the old token refused gets the new one, no exchange.
        let third = family
            .after_refusal(&first.token, |_| async { panic!("no second exchange") })
            .await
            .expect("third")
            .expect("the new token");
        assert_eq!(third.token, second.token);
        let scrubbed = {
            let mut body = b"access_token_1 rt_sealed_1 csecret_1".to_vec();
            third.scrubber.expect("scrubber").scrub(&mut body);
            String::from_utf8(body).expect("utf8")
        };
        assert!(!scrubbed.contains("access_token_1") && !scrubbed.contains("rt_sealed_1"));
        assert!(!scrubbed.contains("csecret_1"), "{scrubbed}");
        // The new token refused at once too: no second forced exchange so soon; the
        // refusal is passed on.
        let fourth = family
            .after_refusal(&second.token, |_| async { panic!("no second forced exchange") })
            .await
            .expect("fourth");
        assert!(fourth.is_none());
    }

    #[tokio::test]
    async fn a_huge_expires_in_is_clamped_and_never_panics_the_exchange() {
        let family = AccessTokens::default().family(&oauth());
        let got = family
            .access(|_| async { Ok(obtained(0, Some(9_200_000_000_000_000_000), true)) })
            .await
            .expect("access");
        assert!(got.fresh_until <= Instant::now() + MAX_LIFETIME);
        let again = family
            .access(|_| async { panic!("cached") })
            .await
            .expect("cached");
        assert_eq!(again.token, got.token);
    }

    #[tokio::test]
    async fn an_exchange_that_panics_is_a_failure_held_like_any_other() {
        let family = AccessTokens::default().family(&oauth());
        let e = family
            .access(|_| async { panic!("the exchange broke") })
            .await
            .expect_err("failed");
        assert!(e.detail.contains("stopped"), "{}", e.detail);
        // Held: the next request neither waits on a lock nor calls the endpoint again.
        let called = Arc::new(AtomicUsize::new(0));
        let seen = called.clone();
        let held = family
            .access(move |_| async move {
                seen.fetch_add(1, SeqCst);
                Ok(obtained(1, Some(3600), false))
            })
            .await;
        assert!(held.is_err());
        assert_eq!(called.load(SeqCst), 0, "the failure was not held");
    }

    #[tokio::test]
    async fn a_failed_exchange_answers_the_requests_that_waited_for_it() {
        let family = AccessTokens::default().family(&oauth());
        let refused = || async {
            Err(ExchangeError {
                host: "idp.example".into(),
                status: Some(400),
                code: Some("invalid_grant".into()),
                detail: "it gave no access token".into(),
            })
        };
        let e = family.access(|_| refused()).await.expect_err("refused");
        assert_eq!(e.code.as_deref(), Some("invalid_grant"));
        // Right after, no second call to the token endpoint.
        let again = family.access(|_| async { panic!("no second exchange") }).await;
        assert_eq!(again.expect_err("held").code.as_deref(), Some("invalid_grant"));
    }

    #[tokio::test]
    async fn a_rotated_refresh_token_is_kept_when_the_request_that_asked_went_away() {
        let family = AccessTokens::default().family(&oauth());
        let (started, go) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let (signal, gate) = (started.clone(), go.clone());
        let asked = family.access(move |_| async move {
            signal.notify_one();
            gate.notified().await;
            Ok(obtained(0, Some(3600), true))
        });
        // The client hangs up while the provider is answering: its request is dropped.
        tokio::select! {
            _ = asked => panic!("the exchange was held"),
            _ = started.notified() => {}
        }
        go.notify_one();
        // The exchange finished all the same: its token is served without another one...
        let next = family
            .access(|_| async { panic!("no second exchange") })
            .await
            .expect("access");
        assert_eq!(next.token.expose(), "access_token_0");
        // ...and its rotated refresh token is the one the next exchange uses.
        let used = Arc::new(Mutex::new(None));
        let seen = used.clone();
        family
            .after_refusal(&next.token, move |r| async move {
                *seen.lock().expect("seen") = r.map(|r| r.expose().to_string());
                Ok(obtained(1, Some(3600), false))
            })
            .await
            .expect("refresh")
            .expect("a new token");
        assert_eq!(used.lock().expect("used").as_deref(), Some("rt_rotated_0"));
    }

    #[test]
    fn only_plain_provider_codes_are_repeated() {
        assert_eq!(
            plain_code(Some(&"invalid_grant".into())).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(plain_code(Some(&"token rt_sealed_1 is bad".into())), None);
        assert_eq!(plain_code(Some(&serde_json::json!({"x": 1}))), None);
        assert_eq!(seconds(&"3599".into()), Some(3599));
        assert_eq!(seconds(&serde_json::json!(3600)), Some(3600));
    }

    #[test]
    fn the_exchange_form_carries_the_grant() {
        let o = oauth();
        let f = form(&o, Some(&Secret::new("rt x".into())));
        assert_eq!(
            f.as_str(),
            "grant_type=refresh_token&refresh_token=rt+x&client_id=cid&client_secret=csecret_1"
        );
    }
}
