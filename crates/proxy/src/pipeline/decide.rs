//! Phase 3a, decide: open the sealed identifier (cached), verify the HMAC chain and every
//! caveat with the core (cached by the token's exact text; request-dependent checks run
//! every time), then the proxy's own lists (revocations), then copies of the token that
//! would not be stripped ([`crate::copies`]). Nothing has been sent upstream
//! yet, and nothing will be unless this returns [`Allowed`].

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::SystemTime;

use caveat::{
    BodyView, Decision, Host, Method, Payload, Request as CoreRequest, RequestPath, Token, Verified,
};
use http::header::CONTENT_TYPE;
use http::request::Parts;

use super::authority::Authority;
use crate::credentials::inject::{self, Found, Place, Resolved};
use crate::deny::Deny;
use crate::proxy::Proxy;
use crate::request::RequestCtx;

/// What a request was allowed to do: everything the upstream request is built from.
pub struct Allowed {
    /// The opened payload: secret, injection rule, sealed hosts.
    pub payload: Arc<Payload>,
    /// The sealed host the request goes to, and its port.
    pub host: Host,
    /// The port asked for (an `http://` request on 80 goes upstream on 443).
    pub port: u16,
    /// The normalized path that was checked, and is the one forwarded.
    pub path: RequestPath,
    /// Every place a copy of the token was found, to strip.
    pub places: Vec<Place>,
    /// How the client asked.
    pub scheme: caveat::Scheme,
    /// The verified token: its usage and rate limits are charged next.
    pub verified: Arc<Verified>,
    /// The token needs a person's approval: everything else allowed it (checked with a
    /// stand-in discharge), and [`super::approve`] settles it before anything is sent.
    pub approval: Option<Box<NeedsApproval>>,
}

/// A request that passed every check but its approval caveats.
pub struct NeedsApproval {
    /// The token, and the discharges the client sent.
    pub token: Token,
    /// The discharges the client sent (bound to the token).
    pub presented: Vec<Token>,
    /// The approval caveats without a discharge: id and opened caveat.
    pub caveats: Vec<(Vec<u8>, caveat::ApprovalCaveat)>,
    /// The request as decided, body included.
    pub core: CoreRequest,
    /// Its digest ([`caveat::request_digest`]).
    pub digest: [u8; 32],
}

/// A request whose token verified and whose headers were allowed; when the token has body
/// caveats, the body is still to be read and checked ([`Pending::with_body`]).
pub struct Pending {
    payload: Arc<Payload>,
    /// The body is to be read and checked before anything is sent.
    needs_body: bool,
    places: Vec<Place>,
    /// What the core decided on; host, port and path move into [`Allowed`] from here.
    core: CoreRequest,
    verified: Arc<Verified>,
    /// The approval caveats the client sent no discharge for (with the token), if any.
    approval: Option<Unapproved>,
}

/// A token whose approval caveats came without discharges: the token, the discharges
/// sent, and each such caveat (id, opened).
type Unapproved = (Token, Vec<Token>, Vec<(Vec<u8>, caveat::ApprovalCaveat)>);

impl Pending {
    /// True when the body must be checked ([`Verified::needs_body_for`]): read it whole,
    /// then [`Pending::with_body`].
    pub fn needs_body(&self) -> bool {
        self.needs_body
    }

    /// Allowed without looking at the body (the token has no body caveat).
    pub fn allowed(self) -> Allowed {
        let approval = match self.approval {
            Some((token, presented, caveats)) => caveat::request_digest(&self.core).map(|digest| {
                Box::new(NeedsApproval {
                    token,
                    presented,
                    caveats,
                    core: self.core.clone(),
                    digest,
                })
            }),
            None => None,
        };
        Allowed {
            payload: self.payload,
            host: self.core.host,
            port: self.core.port,
            path: self.core.path,
            places: self.places,
            scheme: self.core.scheme,
            verified: self.verified,
            approval,
        }
    }

    /// Decides again with the body read: every caveat, the body ones included.
    pub fn with_body(mut self, body: BodyView) -> Result<Allowed, Deny> {
        self.core.body = body;
        match self.verified.decide(&self.core) {
            Decision::Allow => Ok(self.allowed()),
            Decision::Deny(d) => Err(Deny::from_denial(d)),
        }
    }
}

/// Decides a request that carries a token, as far as its head allows: a token with body
/// caveats is checked on everything else first, so a refused request never has its body
/// read (nor `Expect: 100-continue` answered).
pub fn decide(
    proxy: &Proxy,
    parts: &Parts,
    authority: Authority,
    found: Found,
    ctx: &mut RequestCtx,
) -> Result<Pending, Deny> {
    let payload = open(proxy, &found.token, ctx)?;
    ctx.rec.kid = Some(payload.kid.clone());
    trusted(proxy, &payload, ctx)?;
    let core = core_request(parts, authority, &payload, ctx)?;
    // Two types are two readings of one body: which one did the caveats check?
    let types = parts.headers.get_all(CONTENT_TYPE).iter().count();
    if types > 1 {
        return Err(Deny::AmbiguousContentType(types));
    }
    let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let discharges = discharges(parts)?;
    let (verified, approval) = verified(proxy, found.token, &payload, discharges)?;
    ctx.rec.labels = Some(verified.shared_labels());
    // An approval names one exact request, body included: it is read whole.
    let needs_body = approval.is_some() || verified.needs_body_for(content_type);
    let decision = if needs_body {
        verified.decide_before_body(&core)
    } else {
        verified.decide(&core)
    };
    if let Decision::Deny(d) = decision {
        return Err(Deny::from_denial(d));
    }
    if let Some(why) = proxy.revoked.check(&payload.kid, verified.branches()) {
        return Err(Deny::Revoked(why));
    }
    // Any other copy of the token would reach the upstream beside the key.
    if let Some(place) = ctx
        .copies
        .as_deref()
        .and_then(|c| c.in_request(parts, &found.places))
    {
        return Err(Deny::TokenCopy { place });
    }
    Ok(Pending {
        payload,
        needs_body,
        places: found.places,
        core,
        verified,
        approval,
    })
}

/// What the core decides on: the target (the authority's, else the token's first sealed
/// host), the method and the normalized path, now.
fn core_request(
    parts: &Parts,
    authority: Authority,
    payload: &Payload,
    ctx: &mut RequestCtx,
) -> Result<CoreRequest, Deny> {
    let (host, port) = match authority.target {
        Some(t) => t,
        None => match payload.hosts.first() {
            Some(h) => (h.clone(), 443),
            None => return Err(Deny::BadRequest("the token has no sealed host".into())),
        },
    };
    ctx.rec.host = host.to_string();
    let method = Method::new(parts.method.as_str()).map_err(|e| Deny::BadRequest(e.to_string()))?;
    let path = RequestPath::parse(parts.uri.path())
        .map_err(|e| Deny::BadPath(format!("the path is refused: {e}")))?;
    Ok(CoreRequest {
        time: SystemTime::now(),
        method,
        scheme: authority.scheme,
        host,
        port,
        path,
        query: parts.uri.query().map(str::to_string),
        headers: Vec::new(),
        client: None,
        body: BodyView::NotRead,
    })
}

/// The verified token: from the cache, or verified now (and kept) with `discharges`; with
/// the approval caveats the client sent no discharge for, if any.
fn verified(
    proxy: &Proxy,
    token: Resolved,
    payload: &Arc<Payload>,
    discharges: Vec<Token>,
) -> Result<(Arc<Verified>, Option<Unapproved>), Deny> {
    let (token, key) = match token {
        Resolved::Verified { verified, .. } => return Ok((verified, None)),
        Resolved::Decoded { token, key, .. } => (token, key),
    };
    // Approval caveats the client sent no discharge for: everything else is checked with a
    // stand-in discharge (minted here, never kept, never forwarded), and the request is
    // held for a person only if all of that allows it.
    let wanted = approval_caveats(proxy, &token, &discharges);
    let (v, approval) = if wanted.is_empty() {
        let v = Verified::new(&token, payload.clone(), &discharges).map_err(Deny::from_denial)?;
        (Arc::new(v), None)
    } else {
        let mut with_stand_ins = discharges.clone();
        for (id, c) in &wanted {
            let d = Token::discharge(None, &*c.key, id).map_err(|e| Deny::BadRequest(e.to_string()))?;
            with_stand_ins.push(token.bind(&d));
        }
        let v = Verified::new(&token, payload.clone(), &with_stand_ins).map_err(Deny::from_denial)?;
        (Arc::new(v), Some(((*token).clone(), discharges, wanted)))
    };
    // Its hosts' leaves now stay cached whatever other names clients try.
    for h in &payload.hosts {
        proxy.ca.protect(h.as_str());
    }
    proxy.remember(key, v.clone());
    Ok((v, approval))
}

/// The token's approval caveats (third-party caveats at `macaroon:approval` sealed to one
/// of this proxy's keys) that none of `presented` discharges.
fn approval_caveats(
    proxy: &Proxy,
    token: &Token,
    presented: &[Token],
) -> Vec<(Vec<u8>, caveat::ApprovalCaveat)> {
    token
        .third_party_raw()
        .into_iter()
        .filter(|(location, id)| {
            location == caveat::APPROVAL_LOCATION
                && id.starts_with(caveat::APPROVAL_PREFIX)
                && !presented.iter().any(|d| d.identifier() == *id)
        })
        .filter_map(|(_, id)| caveat::ApprovalCaveat::open(&id, &proxy.keys).map(|c| (id, c)))
        .collect()
}

/// Only a trusted issuer's payloads are opened, and only for hosts the operator allows.
/// Checked on every request, cache hit or not: removing an issuer stops its tokens at once.
fn trusted(proxy: &Proxy, payload: &Payload, ctx: &mut RequestCtx) -> Result<(), Deny> {
    match payload.issuer() {
        Some(i) => match proxy.issuers.name_or_reread(i) {
            Some(name) => ctx.rec.issuer = Some(name),
            None => {
                return Err(Deny::UntrustedIssuer {
                    issuer: i.to_string(),
                })
            }
        },
        None => {
            return Err(Deny::UntrustedIssuer {
                issuer: "(none)".into(),
            })
        }
    }
    // The reloadable settings in force now (SIGHUP swaps them), read once per request.
    let live = proxy.live.load();
    if let Some(host) = payload.hosts.iter().find(|h| !live.host_allowed(h)) {
        return Err(Deny::HostNotAllowed {
            host: host.to_string(),
        });
    }
    // An OAuth2 token endpoint is a host the proxy sends secrets to, so it is one the
    // operator must allow too.
    if !live.allow_hosts.is_empty() {
        if let Ok(caveat::Credential::OAuth2(o)) = payload.credential() {
            if !live.host_allowed(o.token_url.host()) {
                return Err(Deny::HostNotAllowed {
                    host: o.token_url.host().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The payload of a token: from the verified cache, the unseal cache, or the sealed box.
fn open(proxy: &Proxy, token: &Resolved, ctx: &mut RequestCtx) -> Result<Arc<Payload>, Deny> {
    match token {
        Resolved::Verified { verified, .. } => {
            proxy.metrics.verified_hit();
            ctx.rec.token = Some(verified.fingerprint().to_string());
            ctx.rec.key_id = verified.key_id().map(|k| k.to_string());
            Ok(verified.payload().clone())
        }
        Resolved::Decoded { token, .. } => {
            proxy.metrics.verified_misses.fetch_add(1, Relaxed);
            ctx.rec.token = Some(token.signature_fingerprint());
            ctx.rec.key_id = token.key_id().map(|k| k.to_string());
            proxy.unseal(token).map_err(Deny::BadToken)
        }
    }
}

/// The discharges sent with the token, each a valid token or the request is refused.
fn discharges(parts: &Parts) -> Result<Vec<Token>, Deny> {
    parts
        .headers
        .get_all(inject::DISCHARGE_HEADER)
        .iter()
        .map(|v| v.to_str().ok().and_then(|s| Token::decode(s).ok()))
        .collect::<Option<Vec<Token>>>()
        .ok_or(Deny::InvalidDischarge)
}
