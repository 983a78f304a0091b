//! Phase 3d, count: charge the token's usage and rate caveats, last of all the checks.
//!
//! Only a request every other check allowed gets here, so a forged, tampered, revoked or
//! otherwise refused request never spends a count (the field's shipped bug: a rate limit
//! charged before the signature check lets a forger drain a victim's quota). A token with
//! no such caveat returns at once and never touches the store.

use super::decide::Allowed;
use crate::deny::Deny;
use crate::proxy::Proxy;
use crate::request::RequestCtx;
use crate::state::counters::Charge;

/// Charges `allowed`'s limits once, atomically; refuses when one is spent (429) or the
/// store cannot be asked (503, fail closed: nothing is forwarded uncounted).
pub async fn charge(proxy: &Proxy, allowed: &Allowed, ctx: &RequestCtx) -> Result<(), Deny> {
    let limits = allowed.verified.limits();
    if limits.is_empty() {
        return Ok(());
    }
    match proxy.state.charge(limits, &ctx.rec.request_id).await {
        Ok(Charge::Allowed(left)) => {
            // What the console's Tokens view shows: how many each limit allows still.
            if let Some(kid) = ctx.rec.kid.as_ref().filter(|_| proxy.audit.live().enabled()) {
                let shown: Vec<(String, u64)> = limits.iter().map(|l| l.caveat.clone()).zip(left).collect();
                proxy.audit.live().families.limits(kid, shown);
            }
            Ok(())
        }
        Ok(Charge::Limited { index, retry_after }) => {
            let caveat = limits.get(index).map(|l| (l.caveat.clone(), l.kind));
            let Some((caveat, kind)) = caveat else {
                return Err(Deny::StateUnavailable(
                    "the store named a limit the token does not have".into(),
                ));
            };
            Err(Deny::Limited {
                caveat,
                kind,
                retry_after,
            })
        }
        Err(e) => Err(Deny::StateUnavailable(e.to_string())),
    }
}
