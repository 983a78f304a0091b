//! The list files in a home (`revoked`, `issuers`): one entry per line, `#` comments,
//! edited by `macaroon-proxy` or configuration management, re-read by running proxies when
//! they change and read by `macaroon verify`. One reader and one editor for all of them,
//! so the proxy and the dry run see the same lists.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// A list file and what it looked like when last read.
pub struct ListFile {
    path: PathBuf,
    stamp: Mutex<Option<(SystemTime, u64)>>,
}

/// One entry: its text (trimmed, comment removed), its comment, and its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry itself.
    pub value: String,
    /// What followed `#` on its line, trimmed.
    pub note: String,
    /// 1-based line number, for error messages.
    pub line: usize,
}

impl ListFile {
    /// The list at `path` (which need not exist yet).
    pub fn new(path: PathBuf) -> Self {
        ListFile {
            path,
            stamp: Mutex::new(None),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn current_stamp(&self) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// True if the file changed (appeared, went, or was rewritten) since the last read.
    pub fn changed(&self) -> bool {
        let now = self.current_stamp();
        self.stamp.lock().map(|s| *s != now).unwrap_or(true)
    }

    /// Reads the entries (none if the file does not exist) and remembers the file's stamp.
    pub fn read(&self) -> std::io::Result<Vec<Entry>> {
        let stamp = self.current_stamp();
        let entries = match std::fs::read_to_string(&self.path) {
            Ok(text) => parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        if let Ok(mut s) = self.stamp.lock() {
            *s = stamp;
        }
        Ok(entries)
    }

    /// Appends an entry with a comment.
    pub fn append(path: &Path, value: &str, note: &str) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path)?;
        writeln!(f, "{value}  # {note}")
    }

    /// Removes every line whose entry `matches`; returns how many went. The file is
    /// replaced whole (written beside it, then renamed), so a reader never sees half of it.
    pub fn remove(path: &Path, matches: &dyn Fn(&str) -> bool) -> std::io::Result<usize> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        let mut kept = String::with_capacity(text.len());
        for line in text.lines() {
            if matches(entry_of(line)) {
                removed += 1;
            } else {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        if removed > 0 {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, kept)?;
            std::fs::rename(&tmp, path)?;
        }
        Ok(removed)
    }
}

fn entry_of(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !entry_of(l).is_empty())
        .map(|(i, l)| Entry {
            value: entry_of(l).to_string(),
            note: l.split_once('#').map_or("", |(_, n)| n).trim().to_string(),
            line: i + 1,
        })
        .collect()
}

/// File name of the revocation list (token family ids).
pub const REVOKED_FILE: &str = "revoked";
/// File name of the trusted issuers list.
pub const ISSUERS_FILE: &str = "issuers";
/// File name of the home's own issuer public key (trusted by default).
pub const LOCAL_ISSUER_FILE: &str = "issuer.pub";

/// The revoked token families of a home (lower-case `kid`s).
pub fn revoked(home: &Path) -> std::io::Result<std::collections::HashSet<String>> {
    Ok(ListFile::new(home.join(REVOKED_FILE))
        .read()?
        .into_iter()
        .map(|e| e.value.to_ascii_lowercase())
        .collect())
}

/// The issuers a proxy of this home trusts: its `issuers` file and its own `issuer.pub`.
/// Malformed lines are returned as problems (file, line, why), not skipped silently.
pub fn trusted_issuers(home: &Path) -> std::io::Result<(Vec<caveat::IssuerPublic>, Vec<String>)> {
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for name in [ISSUERS_FILE, LOCAL_ISSUER_FILE] {
        let list = ListFile::new(home.join(name));
        for e in list.read()? {
            let what = format!("{} line {}", list.path().display(), e.line);
            match caveat::IssuerPublic::from_base64(&e.value, &what) {
                Ok(k) => keys.push(k),
                Err(err) => problems.push(format!(
                    "{err}; fix or remove the line (macaroon-proxy issuers rm KEY)"
                )),
            }
        }
    }
    Ok((keys, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_comments_and_blank_lines() {
        let e = parse("# header\nABC  # old laptop\n\ndef\n");
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].value.as_str(), e[0].note.as_str(), e[0].line),
            ("ABC", "old laptop", 2)
        );
        assert_eq!((e[1].value.as_str(), e[1].line), ("def", 4));
    }

    #[test]
    fn append_remove_and_change_detection() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("list");
        let f = ListFile::new(path.clone());
        assert!(f.read().expect("missing is empty").is_empty());
        assert!(!f.changed());
        ListFile::append(&path, "one", "first").expect("append");
        ListFile::append(&path, "two", "second").expect("append");
        assert!(f.changed());
        assert_eq!(f.read().expect("read").len(), 2);
        assert_eq!(ListFile::remove(&path, &|e| e == "one").expect("rm"), 1);
        let left = f.read().expect("read");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].value, "two");
    }
}
