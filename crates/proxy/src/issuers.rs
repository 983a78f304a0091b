//! The issuers this proxy trusts: only payloads they signed are opened, so nobody else
//! can wrap a secret for a host of their choosing and use the proxy as an open relay.
//!
//! Trusted: every key in `$MACAROON_HOME/issuers` (one base64 public key per line, `#`
//! comments; re-read by a background task when it changes, like `revoked`), every
//! `run --issuer KEY`, and the local issuer of the same home (`issuer.pub`, written by the
//! first `macaroon wrap`), so the quick start works on one machine. Removing a key from
//! the file stops every token it signed within a second, cached or not.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use caveat::IssuerPublic;

use macaroon_home::ListFile;
pub use macaroon_home::{ISSUERS_FILE, LOCAL_ISSUER_FILE};

/// The trusted issuers of one proxy.
pub struct Issuers {
    file: ListFile,
    local: ListFile,
    /// From `run --issuer`: fixed for the process's life.
    flags: Vec<IssuerPublic>,
    trusted: RwLock<HashSet<[u8; 32]>>,
}

impl Issuers {
    /// Loads the trust list of `home` plus `flags`. A malformed line is an error here (at
    /// start-up); on a later reload it is reported and skipped.
    pub fn load(home: &Path, flags: Vec<IssuerPublic>) -> anyhow::Result<Self> {
        let me = Issuers {
            file: ListFile::new(home.join(ISSUERS_FILE)),
            local: ListFile::new(home.join(LOCAL_ISSUER_FILE)),
            flags,
            trusted: RwLock::new(HashSet::new()),
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

    fn read(&self) -> (HashSet<[u8; 32]>, Vec<String>) {
        let mut keys: HashSet<[u8; 32]> = self.flags.iter().map(|k| *k.as_bytes()).collect();
        let mut problems = Vec::new();
        for list in [&self.file, &self.local] {
            match list.read() {
                Ok(entries) => {
                    for e in entries {
                        let what = format!("{} line {}", list.path().display(), e.line);
                        match IssuerPublic::from_base64(&e.value, &what) {
                            Ok(k) => {
                                keys.insert(*k.as_bytes());
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
        self.trusted
            .read()
            .map(|t| t.contains(issuer.as_bytes()))
            .unwrap_or(false)
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

/// `macaroon-proxy issuers add KEY [--note TEXT]`.
pub fn add(home: &Path, key: &str, note: &str) -> anyhow::Result<IssuerPublic> {
    let k = IssuerPublic::from_base64(key, "the issuer key")?;
    let path = home.join(ISSUERS_FILE);
    if list(home)?.iter().any(|(existing, _)| existing == &k) {
        return Ok(k);
    }
    ListFile::append(&path, &k.to_string(), note)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(k)
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
