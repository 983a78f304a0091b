//! `macaroon rm`: remove a stored token.

use crate::cli::RmArgs;
use crate::store::Store;

/// Runs `rm`.
pub fn run(args: RmArgs, store: &Store) -> anyhow::Result<()> {
    let name = args.name;
    // The family id is read before the entry goes: it is what revokes every copy.
    let kid = store.entry(&name)?.and_then(|e| e.kid);
    store.remove(&name)?;
    let how = match kid {
        Some(kid) => format!("run `macaroon-proxy revoke --family {kid}`"),
        None => "run `macaroon-proxy revoke --family TOKEN` with any copy of the family".to_string(),
    };
    eprintln!(
        "Removed {name:?}. Copies already handed out keep working until they expire; to stop them all \
         now, {how} where the proxy runs."
    );
    Ok(())
}
