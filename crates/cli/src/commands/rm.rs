//! `macaroon rm`: remove a stored token.

use crate::store::Store;

/// Runs `rm`.
pub fn run(name: &str, store: &Store) -> anyhow::Result<()> {
    store.remove(name)?;
    eprintln!("Removed {name:?}. Copies already handed out keep working until they expire.");
    Ok(())
}
