//! Revocation by family and by branch: `$MACAROON_HOME/revoked` lists `kid`s (a family:
//! every token minted from one root) and branch ids (a token and every token narrowed from
//! it: SHA-256 of a chain signature, which the verifier computes anyway), one per line,
//! `#` comments. A background task
//! re-reads the file when it changes (checked once a second, never on the request path),
//! so configuration management can push it to every replica without a restart.

use std::collections::HashSet;
use std::path::Path;
use std::sync::RwLock;

use crate::limits::REVOKED_FILE_RECHECK;
use macaroon_home::ListFile;
pub use macaroon_home::REVOKED_FILE;

/// A revocation list, split by grain for the per-request check.
#[derive(Default)]
struct Revoked {
    /// Lower-case family ids.
    kids: HashSet<String>,
    /// Branch digests.
    branches: HashSet<[u8; 32]>,
    /// Every entry as written (lower case), for writing back to the store.
    all: HashSet<String>,
}

impl Revoked {
    fn of(entries: HashSet<String>) -> Revoked {
        let mut r = Revoked::default();
        for e in entries {
            let e = e.to_ascii_lowercase();
            if let Some(d) = branch_digest(&e) {
                r.branches.insert(d);
            } else {
                r.kids.insert(e.clone());
            }
            r.all.insert(e);
        }
        r
    }

    fn hit(&self, kid: &str, branches: &[[u8; 32]]) -> Option<Revocation> {
        if self.kids.contains(kid) {
            return Some(Revocation::Family(kid.to_string()));
        }
        if self.branches.is_empty() {
            return None;
        }
        branches
            .iter()
            .find(|b| self.branches.contains(*b))
            .map(|b| Revocation::Branch(hex::encode(b)))
    }
}

/// The digest a branch id (64 hex digits) stands for.
fn branch_digest(id: &str) -> Option<[u8; 32]> {
    let mut d = [0u8; 32];
    (id.len() == 64 && hex::decode_to_slice(id, &mut d).is_ok()).then_some(d)
}

/// Why a token is refused as revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Its family (`kid`) is revoked.
    Family(String),
    /// A branch on its chain is (the branch id).
    Branch(String),
}

/// The revocation list of one home.
pub struct Revocations {
    file: ListFile,
    kids: RwLock<Revoked>,
    /// Families and branches revoked in the shared store (`--state`), kept current by
    /// [`crate::state::revocations::watch_revocations`].
    shared: RwLock<Revoked>,
}

impl Revocations {
    /// Loads `$home/revoked` (a missing file revokes nothing; an unreadable one is an error).
    pub fn load(home: &Path) -> std::io::Result<Self> {
        let file = ListFile::new(home.join(REVOKED_FILE));
        let kids = kids(&file)?;
        Ok(Revocations {
            file,
            kids: RwLock::new(Revoked::of(kids)),
            shared: RwLock::new(Revoked::default()),
        })
    }

    /// Whether a token of family `kid` whose chain has the branch digests `branches`
    /// (root first, its own last) is revoked, and at which grain. Reads memory only; a
    /// poisoned lock counts as revoked (fail closed).
    pub fn check(&self, kid: &str, branches: &[[u8; 32]]) -> Option<Revocation> {
        let lower;
        let kid = if kid.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = kid.to_ascii_lowercase();
            &lower
        } else {
            kid
        };
        let poisoned = || Some(Revocation::Family(kid.to_string()));
        let local = match self.kids.read() {
            Ok(r) => r.hit(kid, branches),
            Err(_) => return poisoned(),
        };
        local.or_else(|| match self.shared.read() {
            Ok(r) => r.hit(kid, branches),
            Err(_) => poisoned(),
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
        self.kids.read().map(|s| s.kids.contains(kid)).unwrap_or(true)
            || self.shared.read().map(|s| s.kids.contains(kid)).unwrap_or(true)
    }

    /// True if `id` (a kid or a branch id) is on this home's list or the shared one.
    pub fn lists(&self, id: &str) -> bool {
        let id = id.to_ascii_lowercase();
        self.kids.read().map(|s| s.all.contains(&id)).unwrap_or(true)
            || self.shared.read().map(|s| s.all.contains(&id)).unwrap_or(true)
    }

    /// Replaces the families and branches revoked in the shared store.
    pub fn set_shared(&self, entries: HashSet<String>) {
        let r = Revoked::of(entries);
        if let Ok(mut s) = self.shared.write() {
            *s = r;
        }
    }

    /// The families and branches revoked in the shared store, as last seen.
    pub fn shared(&self) -> HashSet<String> {
        self.shared.read().map(|s| s.all.clone()).unwrap_or_default()
    }

    /// How many revocations are in force (this home's and the shared store's).
    pub fn len(&self) -> usize {
        self.kids.read().map(|s| s.all.len()).unwrap_or(0)
            + self.shared.read().map(|s| s.all.len()).unwrap_or(0)
    }

    /// True when nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads the file if it changed since it was last read. A file that cannot be read
    /// keeps the list as it was (revocations are never dropped by a read error).
    pub fn refresh(&self) {
        if !self.file.changed() {
            return;
        }
        match kids(&self.file) {
            Ok(k) => {
                let k = Revoked::of(k);
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

    /// Appends `id` (a kid or a branch id) to the file.
    pub fn add(home: &Path, id: &str, note: &str) -> std::io::Result<()> {
        ListFile::append(&home.join(REVOKED_FILE), id, note)
    }

    /// Removes `id` from the file (`revoke --undo`): how many lines went.
    pub fn remove(home: &Path, id: &str) -> std::io::Result<usize> {
        ListFile::remove(&home.join(REVOKED_FILE), &|e| e.eq_ignore_ascii_case(id))
    }
}

use anyhow::Context;
use macaroon_home::KeyPairFiles;

/// What a revocation names: its id, what it is in words, and the hosts (when known).
pub struct Target {
    /// The id written to the list.
    pub id: String,
    /// What it is, in words.
    pub what: String,
}

/// The id `text` names at the grain asked for: a kid or branch id given as is, else the
/// token's (stored NAME, token, or stdin).
pub fn target(home: &std::path::Path, text: &str, family: bool) -> anyhow::Result<Target> {
    let trimmed = text.trim();
    if macaroon_home::listfile::is_kid(trimmed) || macaroon_home::listfile::is_branch_id(trimmed) {
        let id = trimmed.to_ascii_lowercase();
        if family && id.len() != 32 {
            anyhow::bail!(
                "--family needs a token or a family id (kid, 32 hex digits); {id:.16}... is a branch id, \
                 which names one token and its children"
            );
        }
        let what = if id.len() == 32 {
            format!("token family {id}")
        } else {
            format!("branch {}", &id[..16])
        };
        return Ok(Target { id, what });
    }
    let token = token_or_stored_name(home, text)?;
    // A stored NAME is a root: its branch is its whole family, named by its kid.
    let family = family
        || macaroon_home::tokens::stored_token(home, trimmed)
            .ok()
            .flatten()
            .is_some();
    let keys = caveat::ProxyKeyPair::load_all(home)?;
    if let Some(id) = token
        .key_id()
        .filter(|id| !keys.iter().any(|k| k.key_id() == *id))
    {
        anyhow::bail!(
            "the token is sealed to proxy key {id}, which {} does not hold: revoke it where the proxy \
             that holds that key runs (--home DIR or MACAROON_HOME), or by its family id (kid) from \
             an audit line: macaroon-proxy revoke --family KID",
            home.display()
        );
    }
    let payload = caveat::unseal(&token, &keys).map_err(|d| anyhow::anyhow!("{}", d.reason))?;
    let hosts: Vec<&str> = payload.hosts.iter().map(|h| h.as_str()).collect();
    let kid = payload.kid.to_ascii_lowercase();
    Ok(if family {
        Target {
            what: format!("token family {kid} (hosts {})", hosts.join(", ")),
            id: kid,
        }
    } else {
        Target {
            what: format!(
                "token {} and every token narrowed from it (family {kid}, hosts {})",
                token.signature_fingerprint(),
                hosts.join(", ")
            ),
            id: token.branch_id(),
        }
    })
}

/// The token `text` stands for: a NAME stored by `macaroon wrap` in this home, else the
/// token itself.
pub fn token_or_stored_name(home: &std::path::Path, text: &str) -> anyhow::Result<caveat::Token> {
    let name = text.trim();
    if let Some(stored) = macaroon_home::tokens::stored_token(home, name)? {
        return caveat::Token::decode(&stored).with_context(|| {
            format!("the stored token {name:?} is corrupt; revoke it with a copy of the token instead")
        });
    }
    caveat::Token::decode(text).map_err(|e| {
        if macaroon_home::tokens::check_name(name).is_ok() {
            // Why a short word is no token says nothing useful; a long one may be a mangled copy.
            let why = if name.len() < 64 {
                String::new()
            } else {
                format!(" (and it is not a token: {e})")
            };
            anyhow::anyhow!(
                "no token named {name:?} is stored in {}{why}; see the names with: macaroon list --home {}, \
                 or pass the token itself or its id",
                home.display(),
                home.display()
            )
        } else {
            anyhow::Error::new(e).context("not a valid token")
        }
    })
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
    fn a_branch_revokes_a_token_and_its_children_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let (root, agent, sibling) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        Revocations::add(dir.path(), &hex::encode(agent).to_ascii_uppercase(), "agent").expect("add");
        let r = Revocations::load(dir.path()).expect("load");
        assert_eq!(
            r.check(A, &[root, agent, [9u8; 32]]),
            Some(Revocation::Branch(hex::encode(agent)))
        );
        assert_eq!(
            r.check(A, &[root, agent]),
            Some(Revocation::Branch(hex::encode(agent)))
        );
        assert_eq!(r.check(A, &[root, sibling]), None);
        assert_eq!(r.check(A, &[root]), None);
        assert!(r.lists(&hex::encode(agent)));
        assert_eq!(
            Revocations::remove(dir.path(), &hex::encode(agent)).expect("undo"),
            1
        );
        r.refresh();
        assert_eq!(r.check(A, &[root, agent]), None, "undone");
        r.set_shared(HashSet::from([A.to_string(), hex::encode(sibling)]));
        assert_eq!(r.check(A, &[root]), Some(Revocation::Family(A.into())));
        assert_eq!(
            r.check(B, &[sibling]),
            Some(Revocation::Branch(hex::encode(sibling)))
        );
    }

    #[test]
    fn missing_file_revokes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(!Revocations::load(dir.path()).expect("load").is_revoked("abc"));
    }
}
