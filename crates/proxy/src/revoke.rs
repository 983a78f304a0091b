//! Revocation by token family: `$MACAROON_HOME/revoked` lists `kid`s (one per line, `#`
//! comments), and every token minted from a revoked root is denied. A background task
//! re-reads the file when it changes (checked once a second, never on the request path),
//! so configuration management can push it to every replica without a restart.

use std::collections::HashSet;
use std::path::Path;
use std::sync::RwLock;

use crate::limits::REVOKED_FILE_RECHECK;
use macaroon_home::ListFile;
pub use macaroon_home::REVOKED_FILE;

/// The revocation list of one home.
pub struct Revocations {
    file: ListFile,
    kids: RwLock<HashSet<String>>,
    /// Families revoked in the shared store (`--state`), kept current by
    /// [`crate::state::revocations::watch_revocations`].
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
        // Lists hold lower case; a payload from another implementation may not.
        let lower;
        let kid = if kid.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = kid.to_ascii_lowercase();
            &lower
        } else {
            kid
        };
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
    let mut tick = tokio::time::interval(REVOKED_FILE_RECHECK);
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

/// The file's kids; a line that is not one is an error naming it (see
/// [`macaroon_home::listfile::read_revoked`]).
fn kids(file: &ListFile) -> std::io::Result<HashSet<String>> {
    macaroon_home::listfile::read_revoked(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kids_and_comments() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join(REVOKED_FILE),
            format!(
                "\u{feff}# header\n{}  # old laptop\r\n\n{B}\n",
                A.to_ascii_uppercase()
            ),
        )
        .expect("write");
        let r = Revocations::load(dir.path()).expect("load");
        assert!(r.is_revoked(A));
        assert!(r.is_revoked(B));
        assert!(!r.is_revoked("header"));
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    /// Lines that would revoke nothing: each one is refused at load, naming the line.
    #[test]
    fn a_line_that_is_not_a_kid_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(REVOKED_FILE);
        for bad in [
            format!("{A},"),
            format!("kid: {A}"),
            format!("{A} {B}"),
            A[..31].to_string(),
            format!("{A}0"),
        ] {
            std::fs::write(&path, format!("# ok\n{B}\n{bad}  # note\n")).expect("write");
            let e = Revocations::load(dir.path()).err().expect("refused");
            let msg = e.to_string();
            assert!(
                msg.contains("line 3") && msg.contains("32 hex digits"),
                "{bad:?}: {msg}"
            );
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
    }

    #[test]
    fn a_bad_line_on_reload_keeps_the_last_good_list() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(REVOKED_FILE);
        std::fs::write(&path, format!("{A}\n")).expect("write");
        let r = Revocations::load(dir.path()).expect("load");
        std::fs::write(&path, format!("{B}\nkid: {A}\n")).expect("write");
        r.refresh();
        assert!(r.is_revoked(A), "the last good list stays");
        assert!(!r.is_revoked(B));
    }

    #[test]
    fn a_changed_file_is_picked_up_by_refresh() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = Revocations::load(dir.path()).expect("load");
        assert!(!r.is_revoked(A));
        Revocations::add(dir.path(), A, "leaked").expect("add");
        r.refresh();
        assert!(r.is_revoked(A));
    }

    #[test]
    fn missing_file_revokes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(!Revocations::load(dir.path()).expect("load").is_revoked("abc"));
    }
}
