//! The issuers this proxy trusts: only payloads they signed are opened, so nobody else
//! can wrap a secret for a host of their choosing and use the proxy as an open relay.
//!
//! Trusted: every key in `$MACAROON_HOME/issuers` (one base64 public key per line, `#`
//! comments; re-read by a background task when it changes, like `revoked`), every
//! `run --issuer KEY`, and the local issuer of the same home (`issuer.pub`, written by the
//! first `macaroon wrap`), so the quick start works on one machine. Removing a key from
//! the file stops every token it signed within a second, cached or not.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use caveat::IssuerPublic;

use macaroon_home::ListFile;
pub use macaroon_home::{ISSUERS_FILE, LOCAL_ISSUER_FILE};

/// Each trusted key with its name.
type Trusted = HashMap<[u8; 32], (IssuerPublic, Arc<str>)>;

/// The trusted issuers of one proxy.
pub struct Issuers {
    file: ListFile,
    local: ListFile,
    /// From `run --issuer`: fixed for the process's life.
    flags: Vec<IssuerPublic>,
    /// Each trusted key with its name, as the audit line shows it.
    trusted: RwLock<Trusted>,
}

/// The name of the home's own issuer, trusted by default.
pub const LOCAL_NAME: &str = "local";

/// An issuer's name: the note kept beside its key (`issuers add KEY --name alice`), else
/// the start of the key, so every audit line names one.
pub fn name_of(key: &IssuerPublic, note: &str) -> String {
    let note = note.trim();
    if note.is_empty() {
        let k = key.to_string();
        format!("issuer-{}", &k[..8.min(k.len())])
    } else {
        note.to_string()
    }
}

impl Issuers {
    /// Loads the trust list of `home` plus `flags`. A malformed line is an error here (at
    /// start-up); on a later reload it is reported and skipped.
    pub fn load(home: &Path, flags: Vec<IssuerPublic>) -> anyhow::Result<Self> {
        let me = Issuers {
            file: ListFile::new(home.join(ISSUERS_FILE)),
            local: ListFile::new(home.join(LOCAL_ISSUER_FILE)),
            flags,
            trusted: RwLock::new(HashMap::new()),
        };
        let (keys, problems) = me.read();
        if let Some(p) = problems.first() {
            anyhow::bail!("{p}");
        }
        if let Ok(mut t) = me.trusted.write() {
            *t = keys;
        }
        Ok(me)
    }

    fn read(&self) -> (Trusted, Vec<String>) {
        let mut keys: Trusted = self
            .flags
            .iter()
            .map(|k| (*k.as_bytes(), (*k, Arc::from(name_of(k, "")))))
            .collect();
        let mut problems = Vec::new();
        // The local issuer last: its name wins when the same key is listed twice.
        for (list, local) in [(&self.file, false), (&self.local, true)] {
            match list.read() {
                Ok(entries) => {
                    for e in entries {
                        let what = format!("{} line {}", list.path().display(), e.line);
                        match IssuerPublic::from_base64(&e.value, &what) {
                            Ok(k) => {
                                let name = if local {
                                    LOCAL_NAME.to_string()
                                } else {
                                    name_of(&k, &e.note)
                                };
                                keys.insert(*k.as_bytes(), (k, Arc::from(name)));
                            }
                            Err(err) => problems.push(format!(
                                "{err}; fix or remove the line (macaroon-proxy issuers rm KEY)"
                            )),
                        }
                    }
                }
                Err(e) => problems.push(format!("cannot read {}: {e}", list.path().display())),
            }
        }
        (keys, problems)
    }

    /// True if `issuer` is trusted. Reads memory only.
    pub fn trusts(&self, issuer: &IssuerPublic) -> bool {
        self.name(issuer).is_some()
    }

    /// The name of `issuer` if it is trusted, else `None`. Reads memory only.
    pub fn name(&self, issuer: &IssuerPublic) -> Option<Arc<str>> {
        self.trusted
            .read()
            .ok()?
            .get(issuer.as_bytes())
            .map(|(_, n)| n.clone())
    }

    /// [`Issuers::name`], and for an issuer not trusted yet, again after re-reading the
    /// files if they changed: a token wrapped a moment ago by the home's first `macaroon
    /// wrap` (or just added) works at once, not only after the next background re-read.
    /// Only refusals pay the file check, after the sealed box was opened, which costs more.
    pub fn name_or_reread(&self, issuer: &IssuerPublic) -> Option<Arc<str>> {
        self.name(issuer).or_else(|| {
            self.refresh();
            self.name(issuer)
        })
    }

    /// Every trusted key with its name.
    pub fn all(&self) -> Vec<(IssuerPublic, Arc<str>)> {
        self.trusted
            .read()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.trusted.read().map(|t| t.len()).unwrap_or(0)
    }

    /// True when no issuer is trusted (then every token is refused).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads the files if either changed.
    pub fn refresh(&self) {
        if !self.file.changed() && !self.local.changed() {
            return;
        }
        let (keys, problems) = self.read();
        for p in &problems {
            tracing::warn!("issuers: {p}");
        }
        if let Ok(mut t) = self.trusted.write() {
            *t = keys;
        }
        tracing::info!(trusted = self.len(), "trusted issuers reloaded");
    }

    /// Keeps the list current until `stop`, off the request path.
    pub async fn watch(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        crate::revoke::every_second_until(stop, move || self.refresh()).await
    }
}

/// What [`add`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// The key is trusted now.
    New,
    /// It was trusted already, under the note `from`; now under the new one.
    Renamed {
        /// The note it had.
        from: String,
    },
    /// It was trusted already, under this note, which stays.
    Already(String),
}

/// `macaroon-proxy issuers add KEY [--name NAME]`: the name is kept as the line's note.
/// A key already trusted gets the new note only when `rename` (the caller named it).
pub fn add(home: &Path, key: &str, note: &str, rename: bool) -> anyhow::Result<(IssuerPublic, Added)> {
    let k = IssuerPublic::from_base64(key, "the issuer key")?;
    let path = home.join(ISSUERS_FILE);
    // A key listed twice is named by its last line, as the proxy reads it.
    if let Some((_, old)) = list(home)?.into_iter().rev().find(|(existing, _)| existing == &k) {
        if !rename || old == note.trim() {
            return Ok((k, Added::Already(old)));
        }
        let changed = ListFile::renote(
            &path,
            &|e| IssuerPublic::from_base64(e, "").is_ok_and(|x| x == k),
            note,
        )
        .with_context(|| format!("could not rewrite {}", path.display()))?;
        if changed == 0 {
            anyhow::bail!(
                "{k} is listed in {} but its line could not be rewritten; edit the file by hand",
                path.display()
            );
        }
        return Ok((k, Added::Renamed { from: old }));
    }
    ListFile::append(&path, &k.to_string(), note)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok((k, Added::New))
}

/// `macaroon-proxy issuers rm KEY`: how many lines went.
pub fn remove(home: &Path, key: &str) -> anyhow::Result<usize> {
    let k = IssuerPublic::from_base64(key, "the issuer key")?;
    let path = home.join(ISSUERS_FILE);
    ListFile::remove(&path, &|e| IssuerPublic::from_base64(e, "").is_ok_and(|x| x == k))
        .with_context(|| format!("could not rewrite {}", path.display()))
}

/// `macaroon-proxy issuers list`: the file's keys and notes (malformed lines skipped).
pub fn list(home: &Path) -> anyhow::Result<Vec<(IssuerPublic, String)>> {
    let f = ListFile::new(home.join(ISSUERS_FILE));
    let entries = f
        .read()
        .with_context(|| format!("could not read {}", f.path().display()))?;
    Ok(entries
        .into_iter()
        .filter_map(|e| IssuerPublic::from_base64(&e.value, "").ok().map(|k| (k, e.note)))
        .collect())
}

/// The local issuer's public key, if this home has one.
pub fn local(home: &Path) -> Option<IssuerPublic> {
    let text = std::fs::read_to_string(home.join(LOCAL_ISSUER_FILE)).ok()?;
    IssuerPublic::from_base64(&text, "").ok()
}
