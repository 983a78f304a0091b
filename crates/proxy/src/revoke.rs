//! Revocation by token family: `$MACAROON_HOME/revoked` lists `kid`s (one per line, `#`
//! comments), and every token minted from a revoked root is denied. A background task
//! re-reads the file when it changes (checked once a second, never on the request path),
//! so configuration management can push it to every replica without a restart.

use std::collections::HashSet;
use std::path::Path;
use std::sync::RwLock;
use std::time::Duration;

use macaroon_home::ListFile;
pub use macaroon_home::REVOKED_FILE;

const RECHECK: Duration = Duration::from_secs(1);

/// The revocation list of one home.
pub struct Revocations {
    file: ListFile,
    kids: RwLock<HashSet<String>>,
    /// Families revoked in the shared store (`--state`), kept current by
    /// [`crate::state::watch_revocations`].
    shared: RwLock<HashSet<String>>,
}

impl Revocations {
    /// Loads `$home/revoked` (a missing file revokes nothing; an unreadable one is an error).
    pub fn load(home: &Path) -> std::io::Result<Self> {
        let file = ListFile::new(home.join(REVOKED_FILE));
        let kids = kids(&file)?;
        Ok(Revocations {
            file,
            kids: RwLock::new(kids),
            shared: RwLock::new(HashSet::new()),
        })
    }

    /// True if tokens of family `kid` are revoked. Reads memory only.
    pub fn is_revoked(&self, kid: &str) -> bool {
        self.kids.read().map(|s| s.contains(kid)).unwrap_or(true)
            || self.shared.read().map(|s| s.contains(kid)).unwrap_or(true)
    }

    /// Replaces the families revoked in the shared store.
    pub fn set_shared(&self, kids: HashSet<String>) {
        let kids = kids.into_iter().map(|k| k.to_ascii_lowercase()).collect();
        if let Ok(mut s) = self.shared.write() {
            *s = kids;
        }
    }

    /// The families revoked in the shared store, as last seen.
    pub fn shared(&self) -> HashSet<String> {
        self.shared.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Re-reads the file if it changed since it was last read. A file that cannot be read
    /// keeps the list as it was (revocations are never dropped by a read error).
    pub fn refresh(&self) {
        if !self.file.changed() {
            return;
        }
        match kids(&self.file) {
            Ok(k) => {
                if let Ok(mut s) = self.kids.write() {
                    *s = k;
                }
                tracing::info!(path = %self.file.path().display(), "revocation list reloaded");
            }
            Err(e) => {
                tracing::warn!(path = %self.file.path().display(), "cannot re-read the revocation list, keeping the last one: {e}")
            }
        }
    }

    /// Keeps the list current until `stop`: checks the file once a second, off the
    /// request path.
    pub async fn watch(self: std::sync::Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        every_second_until(stop, move || self.refresh()).await
    }

    /// Appends `kid` to the file.
    pub fn add(home: &Path, kid: &str, note: &str) -> std::io::Result<()> {
        ListFile::append(&home.join(REVOKED_FILE), kid, note)
    }
}

/// Runs `check` (which may touch the disk, so on the blocking pool) once a second until
/// `stop`: how the home's lists are kept current without a request ever waiting on a file.
pub async fn every_second_until<F>(stop: tokio_util::sync::CancellationToken, check: F)
where
    F: Fn() + Send + Sync + 'static,
{
    let check = std::sync::Arc::new(check);
    let mut tick = tokio::time::interval(RECHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let check = check.clone();
                let _ = tokio::task::spawn_blocking(move || check()).await;
            }
            _ = stop.cancelled() => break,
        }
    }
}

fn kids(file: &ListFile) -> std::io::Result<HashSet<String>> {
    Ok(file
        .read()?
        .into_iter()
        .map(|e| e.value.to_ascii_lowercase())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kids_and_comments() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join(REVOKED_FILE),
            "# header\nABC  # old laptop\n\ndef\n",
        )
        .expect("write");
        let r = Revocations::load(dir.path()).expect("load");
        assert!(r.is_revoked("abc"));
        assert!(r.is_revoked("def"));
        assert!(!r.is_revoked("header"));
    }

    #[test]
    fn a_changed_file_is_picked_up_by_refresh() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = Revocations::load(dir.path()).expect("load");
        assert!(!r.is_revoked("abc"));
        Revocations::add(dir.path(), "abc", "leaked").expect("add");
        r.refresh();
        assert!(r.is_revoked("abc"));
    }

    #[test]
    fn missing_file_revokes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(!Revocations::load(dir.path()).expect("load").is_revoked("abc"));
    }
}
