//! Where root tokens live: the OS keyring when one answers, else files.
//!
//! The layout and the reading half are `macaroon_home::tokens` (the proxy's `revoke NAME`
//! reads the same store); writing (`wrap`, `rm`) and choosing the backend are here.
//! `MACAROON_STORE=file` forces files; `MACAROON_STORE=keyring` requires the keyring.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use macaroon_home::tokens::{index_path, keyring_service, read_index, token_path};
pub use macaroon_home::tokens::{Backend, Entry};
use zeroize::Zeroizing;

/// The token store of one macaroon home.
pub struct Store {
    home: PathBuf,
}

/// Checks a token name: it becomes a file name and a keyring entry.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    Ok(macaroon_home::tokens::check_name(name)?)
}

impl Store {
    /// The store in `home`.
    pub fn new(home: &Path) -> Self {
        Store {
            home: home.to_path_buf(),
        }
    }

    /// The home the store is in.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The stored root of `token`'s family, if this home wrapped it (found by identifier,
    /// which narrowing never changes).
    pub fn family_of(&self, token: &caveat::Token) -> Option<macaroon_home::tokens::Entry> {
        let digest = token.identifier_digest();
        self.list()
            .ok()?
            .into_iter()
            .find(|e| e.identifier_digest.as_deref() == Some(digest.as_str()))
    }

    pub(crate) fn keyring_entry(&self, name: &str) -> anyhow::Result<keyring::Entry> {
        keyring::Entry::new(&keyring_service(&self.home), name).context("could not open the OS keyring")
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
        Ok(read_index(&self.home)?)
    }

    fn write_index(&self, index: &BTreeMap<String, Entry>) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(index)?;
        // Write then rename, so a crash never leaves a half-written index.
        let tmp = self.home.join(".tokens.json.tmp");
        macaroon_home::write_private_file(&tmp, text.as_bytes())?;
        fs::rename(&tmp, index_path(&self.home))
            .with_context(|| format!("could not replace {}", index_path(&self.home).display()))
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
                    &token_path(&self.home, &entry.name),
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
        Ok(macaroon_home::tokens::stored_token(&self.home, name)?)
    }

    /// What the index keeps about the stored token `name`, if there is one.
    pub fn entry(&self, name: &str) -> anyhow::Result<Option<Entry>> {
        if check_name(name).is_err() {
            return Ok(None);
        }
        Ok(self.read_index()?.remove(name))
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
            Backend::File => match fs::remove_file(token_path(&self.home, name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("could not remove the token file"),
            },
        }
        self.write_index(&index)?;
        Ok(entry.store)
    }
}
