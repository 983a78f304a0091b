//! `macaroon rm`: remove a stored token.

use crate::cli::RmArgs;
use crate::store::Store;

/// Runs `rm`.
pub fn run(args: RmArgs, store: &Store) -> anyhow::Result<()> {
    let name = args.name;
    store.remove(&name)?;
    eprintln!(
        "Removed {name:?}. Copies already handed out keep working until they expire; to stop them now, \
         run `macaroon-proxy revoke TOKEN` (any copy of the family) where the proxy runs."
    );
    Ok(())
}
