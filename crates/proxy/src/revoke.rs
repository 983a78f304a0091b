//! Revocation by token family: `$MACAROON_HOME/revoked` lists `kid`s (one per line, `#`
//! comments), and every token minted from a revoked root is denied. A background task
//! re-reads the file when it changes (checked once a second, never on the request path),
//! so configuration management can push it to every replica without a restart.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

/// File name of the revocation list.
pub const REVOKED_FILE: &str = "revoked";
const RECHECK: Duration = Duration::from_secs(1);

struct State {
    stamp: Option<(SystemTime, u64)>,
    kids: HashSet<String>,
}

/// The revocation list of one home.
pub struct Revocations {
    path: PathBuf,
    state: RwLock<State>,
}

impl Revocations {
    /// Loads `$home/revoked` (a missing file revokes nothing).
    pub fn load(home: &Path) -> Self {
        let r = Revocations {
            path: home.join(REVOKED_FILE),
            state: RwLock::new(State {
                stamp: None,
                kids: HashSet::new(),
            }),
        };
        r.reload();
        r
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    fn reload(&self) {
        let stamp = self.stamp();
        let kids = std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_ascii_lowercase())
            .filter(|l| !l.is_empty())
            .collect();
        if let Ok(mut s) = self.state.write() {
            *s = State { stamp, kids };
        }
    }

    /// True if tokens of family `kid` are revoked. Reads memory only.
    pub fn is_revoked(&self, kid: &str) -> bool {
        self.state.read().map(|s| s.kids.contains(kid)).unwrap_or(true)
    }

    /// Re-reads the file if it changed since it was last read.
    pub fn refresh(&self) {
        let changed = self.state.read().map(|s| s.stamp != self.stamp()).unwrap_or(true);
        if changed {
            self.reload();
            tracing::info!(path = %self.path.display(), "revocation list reloaded");
        }
    }

    /// Keeps the list current until `stop`: checks the file once a second, off the
    /// request path.
    pub async fn watch(self: std::sync::Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(RECHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let me = self.clone();
                    // File metadata and reads may block: keep them off the runtime thread.
                    let _ = tokio::task::spawn_blocking(move || me.refresh()).await;
                }
                _ = stop.cancelled() => break,
            }
        }
    }

    /// Appends `kid` to the file.
    pub fn add(home: &Path, kid: &str, note: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(home.join(REVOKED_FILE))?;
        writeln!(f, "{kid}  # {note}")
    }
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
        let r = Revocations::load(dir.path());
        assert!(r.is_revoked("abc"));
        assert!(r.is_revoked("def"));
        assert!(!r.is_revoked("header"));
    }

    #[test]
    fn a_changed_file_is_picked_up_by_refresh() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = Revocations::load(dir.path());
        assert!(!r.is_revoked("abc"));
        Revocations::add(dir.path(), "abc", "leaked").expect("add");
        r.refresh();
        assert!(r.is_revoked("abc"));
    }

    #[test]
    fn missing_file_revokes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(!Revocations::load(dir.path()).is_revoked("abc"));
    }
}
