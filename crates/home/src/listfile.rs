//! The list files in a home (`revoked`, `issuers`): one entry per line, `#` comments,
//! edited by `macaroon-proxy` or configuration management, re-read by running proxies when
//! they change and read by `macaroon verify`. One reader and one editor for all of them,
//! so the proxy and the dry run see the same lists.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// What a list file held when last read: `None` if it did not exist, else the SHA-256 of
/// its content. Content, not `(mtime, len)`: a key swapped for another of the same length
/// within the file system's timestamp granularity is still a change.
type Stamp = Option<[u8; 32]>;

/// A list file and what it looked like when last read.
pub struct ListFile {
    path: PathBuf,
    /// `None` until the first read.
    stamp: Mutex<Option<Stamp>>,
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

    /// The file's text (`None` if it does not exist) and its stamp.
    fn load(&self) -> std::io::Result<(Option<String>, Stamp)> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let stamp = Some(Sha256::digest(&bytes).into());
                let text = String::from_utf8(bytes).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "not UTF-8 text; save it as plain UTF-8 (one entry a line)",
                    )
                })?;
                Ok((Some(text), stamp))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((None, None)),
            Err(e) => Err(e),
        }
    }

    /// True if the file changed (appeared, went, or was rewritten with other content)
    /// since the last read. An unreadable file counts as changed, so the reader reports it.
    pub fn changed(&self) -> bool {
        let Ok((_, now)) = self.load() else {
            return true;
        };
        self.stamp.lock().map(|s| *s != Some(now)).unwrap_or(true)
    }

    /// Reads the entries (none if the file does not exist) and remembers what it held.
    pub fn read(&self) -> std::io::Result<Vec<Entry>> {
        let (text, stamp) = self.load()?;
        if let Ok(mut s) = self.stamp.lock() {
            *s = Some(stamp);
        }
        Ok(text.as_deref().map(parse).unwrap_or_default())
    }

    /// Appends an entry with a comment. A new file is created 0644 whatever the umask; an
    /// existing one loses group and other write (they could rewrite the trust list).
    pub fn append(path: &Path, value: &str, note: &str) -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o644);
        let mut f = opts.open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = f.metadata()?;
            let mode = meta.permissions().mode() & 0o7777;
            let want = if meta.len() == 0 { 0o644 } else { mode & !0o022 };
            if want != mode {
                f.set_permissions(std::fs::Permissions::from_mode(want))?;
            }
        }
        writeln!(f, "{}", line_of(value, note))
    }

    /// Removes every line whose entry `matches`; returns how many went. The file is
    /// replaced whole (written beside it, then renamed), so a reader never sees half of it.
    pub fn remove(path: &Path, matches: &dyn Fn(&str) -> bool) -> std::io::Result<usize> {
        Self::rewrite(path, matches, None)
    }

    /// Gives every line whose entry `matches` the comment `note`; returns how many lines
    /// changed. Replaced whole, as [`ListFile::remove`] does.
    pub fn renote(path: &Path, matches: &dyn Fn(&str) -> bool, note: &str) -> std::io::Result<usize> {
        Self::rewrite(path, matches, Some(note))
    }

    /// Rewrites the lines whose entry `matches`: with the comment `note`, or without them.
    fn rewrite(path: &Path, matches: &dyn Fn(&str) -> bool, note: Option<&str>) -> std::io::Result<usize> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        // A byte-order mark (which `parse` skips) stays where it was, outside every entry.
        let (bom, text) = match text.strip_prefix('\u{feff}') {
            Some(rest) => ("\u{feff}", rest),
            None => ("", text.as_str()),
        };
        let mut changed = 0;
        let mut kept = String::with_capacity(text.len() + bom.len());
        kept.push_str(bom);
        for line in text.lines() {
            let entry = entry_of(line);
            if matches(entry) {
                changed += 1;
                let Some(note) = note else { continue };
                kept.push_str(&line_of(entry, note));
            } else {
                kept.push_str(line);
            }
            kept.push('\n');
        }
        if changed > 0 {
            #[cfg(unix)]
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(path)?.permissions().mode() & 0o755 & !0o022
            };
            #[cfg(not(unix))]
            let mode = 0o644;
            crate::replace_file(path, kept.as_bytes(), mode)?;
        }
        Ok(changed)
    }
}

/// A line of a list: the entry, and its comment if there is one.
fn line_of(value: &str, note: &str) -> String {
    if note.is_empty() {
        value.to_string()
    } else {
        format!("{value}  # {note}")
    }
}

fn entry_of(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

fn parse(text: &str) -> Vec<Entry> {
    // Editors on some platforms start a UTF-8 file with a byte-order mark: not part of
    // the first entry.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
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

/// The revocations of a home: token families (lower-case `kid`s) and branches (lower-case
/// branch ids). A line that is neither is an error naming the file and the line (see
/// [`read_revoked`]).
pub fn revoked(home: &Path) -> std::io::Result<HashSet<String>> {
    read_revoked(&ListFile::new(home.join(REVOKED_FILE)))
}

/// True if `entry` is a token family id: 32 hex digits (16 bytes), as sealed in every
/// payload and written by `macaroon-proxy revoke`.
pub fn is_kid(entry: &str) -> bool {
    entry.len() == 32 && entry.bytes().all(|b| b.is_ascii_hexdigit())
}

/// True if `entry` is a branch id: 64 hex digits, SHA-256 of a chain signature, as
/// written by `macaroon-proxy revoke TOKEN` (see `caveat::branch_id_of`).
pub fn is_branch_id(entry: &str) -> bool {
    entry.len() == 64 && entry.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads a revocation list: each line one `kid` (a family) or branch id (a token and
/// every token narrowed from it), any case; `#` comments and blank lines allowed. Anything else is an `InvalidData` error naming the file and line: a line that
/// revokes nothing must never pass unnoticed. The line itself is not quoted, since it may
/// hold a whole token pasted by mistake.
pub fn read_revoked(file: &ListFile) -> std::io::Result<HashSet<String>> {
    let mut kids = HashSet::new();
    for e in file.read()? {
        if !is_kid(&e.value) && !is_branch_id(&e.value) {
            let hint = if caveat::Token::decode(&e.value).is_ok() {
                "it holds a whole token: delete that line, then run `macaroon-proxy revoke TOKEN`, which writes the token's branch id"
            } else {
                "fix or remove the line, or revoke by token with `macaroon-proxy revoke TOKEN`"
            };
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} line {} is not a revocation: each line must be one token family id (kid, 32 hex digits) \
                     or branch id (64 hex digits), optionally followed by a # comment \
                     (e.g. `0123456789abcdef0123456789abcdef  # leaked laptop`); {hint}",
                    file.path().display(),
                    e.line
                ),
            ));
        }
        kids.insert(e.value.to_ascii_lowercase());
    }
    Ok(kids)
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

    /// One key swapped for another of the same length, with the same mtime: still a change.
    #[test]
    fn a_same_length_rewrite_within_the_same_mtime_is_a_change() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("list");
        std::fs::write(&path, "AAAA  # one\n").expect("write");
        let f = ListFile::new(path.clone());
        assert_eq!(f.read().expect("read")[0].value, "AAAA");
        let mtime = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        std::fs::write(&path, "BBBB  # one\n").expect("write");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(mtime))
            .expect("set mtime");
        assert!(f.changed());
        assert_eq!(f.read().expect("read")[0].value, "BBBB");
        assert!(!f.changed());
    }

    #[test]
    fn revoked_lines_are_kids_or_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(REVOKED_FILE);
        let kid = "0123456789ABCDEF0123456789abcdef";
        std::fs::write(&path, format!("\u{feff}{kid}  # bom\r\n# c\n\n")).expect("write");
        let got = revoked(dir.path()).expect("read");
        assert!(got.contains(&kid.to_ascii_lowercase()) && got.len() == 1);
        std::fs::write(&path, format!("{kid}\n{kid} # ok\n\"{kid}\"\n")).expect("write");
        let e = revoked(dir.path()).expect_err("quoted").to_string();
        assert!(e.contains("line 3") && e.contains("32 hex digits"), "{e}");
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

    #[test]
    fn renote_changes_the_comment_of_matching_lines_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("list");
        std::fs::write(&path, "# header\none  # first\ntwo  # second\n").expect("write");
        assert_eq!(
            ListFile::renote(&path, &|e| e == "two", "renamed").expect("renote"),
            1
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "# header\none  # first\ntwo  # renamed\n"
        );
        assert_eq!(
            ListFile::renote(&path, &|e| e == "three", "x").expect("renote"),
            0
        );
        // A file an editor started with a byte-order mark: its first entry is found, and the
        // mark stays.
        std::fs::write(&path, "\u{feff}one  # first\ntwo\n").expect("write");
        assert_eq!(
            ListFile::renote(&path, &|e| e == "one", "renamed").expect("renote"),
            1
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "\u{feff}one  # renamed\ntwo\n"
        );
        assert_eq!(ListFile::remove(&path, &|e| e == "one").expect("rm"), 1);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "\u{feff}two\n");
    }
}
