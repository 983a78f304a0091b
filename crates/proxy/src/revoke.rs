//! Revocation by token family: `$MACAROON_HOME/revoked` lists `kid`s (one per line, `#`
//! comments), and every token minted from a revoked root is denied. The file is re-read
//! when it changes (checked at most once a second), so configuration management can push
//! it to every replica without a restart.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

/// File name of the revocation list.
pub const REVOKED_FILE: &str = "revoked";
const RECHECK: Duration = Duration::from_secs(1);

struct State {
    checked: Instant,
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
                checked: Instant::now(),
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
            *s = State {
                checked: Instant::now(),
                stamp,
                kids,
            };
        }
    }

    /// True if tokens of family `kid` are revoked.
    pub fn is_revoked(&self, kid: &str) -> bool {
        let due = self
            .state
            .read()
            .map(|s| s.checked.elapsed() >= RECHECK)
            .unwrap_or(true);
        if due {
            let changed = self.state.read().map(|s| s.stamp != self.stamp()).unwrap_or(true);
            if changed {
                self.reload();
            } else if let Ok(mut s) = self.state.write() {
                s.checked = Instant::now();
            }
        }
        self.state.read().map(|s| s.kids.contains(kid)).unwrap_or(true)
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
    fn missing_file_revokes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(!Revocations::load(dir.path()).is_revoked("abc"));
    }
}
