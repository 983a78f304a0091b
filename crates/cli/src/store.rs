//! Where root tokens live: the OS keyring when one answers, else files.
//!
//! The keyring cannot list its entries, so every stored token also has a line in
//! `$MACAROON_HOME/tokens.json` (name, created, hosts, expiry, which backend holds it).
//! That index holds no token. With the file backend, the token itself is
//! `$MACAROON_HOME/tokens/NAME`, mode 0600. `MACAROON_STORE=file` forces files;
//! `MACAROON_STORE=keyring` requires the keyring.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Which backend holds a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The OS keyring (Secret Service, macOS Keychain, Windows Credential Manager).
    Keyring,
    /// `$MACAROON_HOME/tokens/NAME`, mode 0600.
    File,
}

/// What `list` shows about a stored token. Never the token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The name.
    pub name: String,
    /// When it was stored (RFC 3339).
    pub created: String,
    /// The sealed hosts.
    pub hosts: Vec<String>,
    /// The sealed expiry (RFC 3339), if any.
    pub expires: Option<String>,
    /// The injection rule.
    pub inject: String,
    /// The proxy key id it is sealed to.
    pub proxy_key_id: String,
    /// Which backend holds it.
    pub store: Backend,
}

/// The token store of one macaroon home.
pub struct Store {
    home: PathBuf,
}

/// Checks a token name: it becomes a file name and a keyring entry.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        bail!(
            "{name:?} is not a valid token name: use 1 to 64 letters, digits, '.', '_' or '-', \
             not starting with '.' or '-' (no path separators)"
        );
    }
    Ok(())
}

impl Store {
    /// The store in `home`.
    pub fn new(home: &Path) -> Self {
        Store {
            home: home.to_path_buf(),
        }
    }

    fn index_path(&self) -> PathBuf {
        self.home.join("tokens.json")
    }

    fn token_path(&self, name: &str) -> PathBuf {
        self.home.join("tokens").join(name)
    }

    fn service(&self) -> String {
        format!("macaroon {}", self.home.display())
    }

    pub(crate) fn keyring_entry(&self, name: &str) -> anyhow::Result<keyring::Entry> {
        keyring::Entry::new(&self.service(), name).context("could not open the OS keyring")
    }

    /// The backend new tokens go to.
    pub(crate) fn backend_for_writes(&self) -> anyhow::Result<Backend> {
        match std::env::var("MACAROON_STORE").as_deref() {
            Ok("file") => Ok(Backend::File),
            Ok("keyring") => {
                if self.keyring_answers() {
                    Ok(Backend::Keyring)
                } else {
                    bail!("MACAROON_STORE=keyring, but no OS keyring answers; unset it to use files")
                }
            }
            Ok("") | Err(_) => Ok(if self.keyring_answers() {
                Backend::Keyring
            } else {
                Backend::File
            }),
            Ok(other) => bail!("MACAROON_STORE={other:?} is not a store; use file or keyring"),
        }
    }

    fn keyring_answers(&self) -> bool {
        match self.keyring_entry("__probe__").map(|e| e.get_password()) {
            Ok(Ok(_)) | Ok(Err(keyring::Error::NoEntry)) => true,
            Ok(Err(_)) | Err(_) => false,
        }
    }

    fn read_index(&self) -> anyhow::Result<BTreeMap<String, Entry>> {
        match fs::read_to_string(self.index_path()) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is corrupt; fix or remove it", self.index_path().display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e).with_context(|| format!("could not read {}", self.index_path().display())),
        }
    }

    fn write_index(&self, index: &BTreeMap<String, Entry>) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(index)?;
        // Write then rename, so a crash never leaves a half-written index.
        let tmp = self.home.join(".tokens.json.tmp");
        macaroon_home::write_private_file(&tmp, text.as_bytes())?;
        fs::rename(&tmp, self.index_path())
            .with_context(|| format!("could not replace {}", self.index_path().display()))
    }

    /// Stores `token` under `entry.name`; refuses to replace an existing one unless `force`.
    pub fn put(&self, mut entry: Entry, token: &str, force: bool) -> anyhow::Result<Backend> {
        check_name(&entry.name)?;
        macaroon_home::create_private_dir(&self.home)?;
        let mut index = self.read_index()?;
        if index.contains_key(&entry.name) && !force {
            bail!(
                "a token named {:?} is already stored; pick another name, pass --force to replace it, \
                 or remove it with: macaroon rm {}",
                entry.name,
                entry.name
            );
        }
        let backend = self.backend_for_writes()?;
        match backend {
            Backend::Keyring => self
                .keyring_entry(&entry.name)?
                .set_password(token)
                .context("could not store the token in the OS keyring")?,
            Backend::File => {
                macaroon_home::create_private_dir(&self.home.join("tokens"))?;
                macaroon_home::write_private_file(
                    &self.token_path(&entry.name),
                    format!("{token}\n").as_bytes(),
                )?;
            }
        }
        entry.store = backend;
        index.insert(entry.name.clone(), entry);
        self.write_index(&index)?;
        Ok(backend)
    }

    /// The stored token named `name`, if there is one.
    pub fn get(&self, name: &str) -> anyhow::Result<Option<Zeroizing<String>>> {
        if check_name(name).is_err() {
            return Ok(None);
        }
        let Some(entry) = self.read_index()?.remove(name) else {
            return Ok(None);
        };
        let token = match entry.store {
            Backend::Keyring => self
                .keyring_entry(name)?
                .get_password()
                .with_context(|| format!("could not read {name:?} from the OS keyring"))?,
            Backend::File => {
                let path = self.token_path(name);
                macaroon_home::check_private_mode(&path)?;
                fs::read_to_string(&path).with_context(|| format!("could not read {}", path.display()))?
            }
        };
        Ok(Some(Zeroizing::new(token.trim().to_string())))
    }

    /// Every stored token's entry, by name.
    pub fn list(&self) -> anyhow::Result<Vec<Entry>> {
        Ok(self.read_index()?.into_values().collect())
    }

    /// Removes a stored token; errors if there is none.
    pub fn remove(&self, name: &str) -> anyhow::Result<Backend> {
        check_name(name)?;
        let mut index = self.read_index()?;
        let Some(entry) = index.remove(name) else {
            bail!("no stored token named {name:?}; see the names with: macaroon list");
        };
        match entry.store {
            Backend::Keyring => match self.keyring_entry(name)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(e).context("could not remove the token from the OS keyring"),
            },
            Backend::File => match fs::remove_file(self.token_path(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("could not remove the token file"),
            },
        }
        self.write_index(&index)?;
        Ok(entry.store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names() {
        for good in ["stripe", "openai-prod", "gh_2", "a.b"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            "a\\b",
            ".hidden",
            "-flag",
            "a b",
            &"x".repeat(65),
        ] {
            let e = check_name(bad).expect_err(bad).to_string();
            assert!(e.contains("no path separators"), "{e}");
        }
    }
}
