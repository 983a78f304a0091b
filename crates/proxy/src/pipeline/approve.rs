//! Phase 3b′, approve: a request whose token carries an approval caveat, and that every
//! other check allowed (the body included), goes upstream only with a discharge for that
//! caveat. One the client sent is checked by phase 3a like any other; else the one a
//! person's approval minted ([`crate::approvals`]) is attached and the chain verified
//! again with it, for real. Without one, the request becomes a pending approval and is
//! held (`--approval-wait`) until a person decides: approved, it goes on; denied, 403
//! `approval_denied`; undecided, 403 `approval_pending` with `Retry-After`. Nothing is
//! sent upstream before one of these ends.

use std::sync::Arc;
use std::time::Instant;

use caveat::{Decision, Verified};

use super::decide::{Allowed, NeedsApproval};
use crate::approvals::{FileError, Filing, State};
use crate::audit::ApprovalRecord;
use crate::deny::Deny;
use crate::proxy::Proxy;
use crate::request::RequestCtx;

/// Settles the approval `allowed` needs, holding the request while a person decides.
pub async fn settle(proxy: &Arc<Proxy>, mut allowed: Allowed, ctx: &mut RequestCtx) -> Result<Allowed, Deny> {
    let Some(need) = allowed.approval.take() else {
        return Ok(allowed);
    };
    let start = Instant::now();
    let scope = need
        .caveats
        .first()
        .map(|(_, c)| c.scope.text())
        .unwrap_or_default();
    let mut record = ApprovalRecord {
        scope,
        ..ApprovalRecord::default()
    };
    let mut held: Option<(String, tokio::sync::watch::Receiver<State>)> = None;
    let outcome = loop {
        if let Some(v) = with_kept_discharges(proxy, &allowed, &need) {
            allowed.verified = Arc::new(v);
            record.decision = "approved";
            break Ok(());
        }
        let (id, mut rx) = match held.take() {
            Some(h) => h,
            None => match file(proxy, &need, ctx) {
                Ok(h) => h,
                Err(e) => break Err(e),
            },
        };
        record.id = Some(id.clone());
        let wait = proxy.live.load().approval_wait;
        let left = wait.saturating_sub(start.elapsed());
        tokio::select! {
            changed = rx.changed() => {
                let state = *rx.borrow_and_update();
                match (changed, state) {
                    (Ok(()), State::Approved) => {
                        record.by = proxy.approvals.get(&id).and_then(|a| a.decided_by);
                        // The discharge is kept: the next turn attaches it.
                    }
                    (Ok(()), State::Denied) => {
                        let a = proxy.approvals.get(&id);
                        record.decision = "denied";
                        record.by = a.as_ref().and_then(|a| a.decided_by.clone());
                        break Err(Deny::ApprovalDenied {
                            id,
                            by: record.by.clone(),
                            reason: a.and_then(|a| a.reason),
                        });
                    }
                    (Ok(()), State::Expired) | (Err(_), _) => {
                        record.decision = "expired";
                        break Err(Deny::ApprovalPending { id, expired: true });
                    }
                    (Ok(()), State::Pending) => {
                        held = Some((id, rx));
                        continue;
                    }
                }
            }
            _ = tokio::time::sleep(left) => {
                record.decision = "pending";
                break Err(Deny::ApprovalPending { id, expired: false });
            }
            _ = proxy.stopping.cancelled() => {
                record.decision = "pending";
                break Err(Deny::Stopping);
            }
        }
    };
    record.waited_ms = crate::http::ms(start.elapsed());
    ctx.rec.approval = Some(Box::new(record));
    outcome.map(|()| allowed)
}

/// The token verified with the discharges kept for its approval caveats, if there is one
/// for each and the chain, with them, allows this request.
fn with_kept_discharges(proxy: &Proxy, allowed: &Allowed, need: &NeedsApproval) -> Option<Verified> {
    let mut discharges = need.presented.clone();
    for (id, _) in &need.caveats {
        let d = proxy.approvals.discharge_for(id, &need.digest)?;
        discharges.push(need.token.bind(&d));
    }
    let v = Verified::new(&need.token, allowed.payload.clone(), &discharges).ok()?;
    match v.decide(&need.core) {
        Decision::Allow => Some(v),
        Decision::Deny(_) => None,
    }
}

/// Files the request as a pending approval (or joins the open one for it).
fn file(
    proxy: &Proxy,
    need: &NeedsApproval,
    ctx: &RequestCtx,
) -> Result<(String, tokio::sync::watch::Receiver<State>), Deny> {
    let (id, caveat) = need.caveats.first().ok_or(Deny::Stopping)?;
    let body = match &need.core.body {
        caveat::BodyView::Read(b) => b.bytes.clone(),
        caveat::BodyView::NotRead => bytes::Bytes::new(),
    };
    let filing = Filing {
        caveat_id: id,
        caveat,
        digest: need.digest,
        issuer: ctx.rec.issuer.as_deref().map(str::to_string),
        labels: ctx
            .rec
            .labels
            .as_deref()
            .map(<[String]>::to_vec)
            .unwrap_or_default(),
        kid: ctx.rec.kid.clone().unwrap_or_default(),
        client: ctx.rec.client.clone(),
        method: need.core.method.to_string(),
        host: need.core.host.to_string(),
        path: need.core.path.to_string(),
        query: need.core.query.clone(),
        body: &body,
    };
    match proxy.approvals.file(filing) {
        Ok((id, rx, new)) => {
            if let Some(a) = new {
                proxy.webhooks.notify(a);
            }
            Ok((id, rx))
        }
        Err(FileError::TooMany) => Err(Deny::TooManyApprovals),
    }
}
