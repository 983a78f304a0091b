//! This home's issuer key: it signs every payload `wrap` seals, so a proxy that trusts it
//! (`macaroon-proxy issuers add KEY`, or the same home) opens what this home wraps and
//! nothing wrapped by anyone else. Created by the first `wrap` (or `issuer show`): in the
//! OS keyring when tokens go there, else in `$MACAROON_HOME/issuer.key` (0600). The public
//! half is always written to `issuer.pub`, where a proxy of the same home finds it.

use std::path::Path;

use anyhow::Context;
use caveat::{IssuerKey, IssuerPublic};

use crate::store::{Backend, Store};

/// File name of the private issuer key (when not in the keyring).
pub const KEY_FILE: &str = "issuer.key";
/// File name of the public issuer key.
pub const PUB_FILE: &str = "issuer.pub";
/// The keyring entry's name: token names cannot start with `.`, so none collides with it.
const KEYRING_NAME: &str = ".issuer-key";

/// This home's issuer key, created on first use.
pub fn load_or_create(home: &Path, store: &Store) -> anyhow::Result<IssuerKey> {
    if let Some(k) = load(home, store)? {
        return Ok(k);
    }
    let key = IssuerKey::generate();
    match store.backend_for_writes()? {
        Backend::Keyring => store
            .keyring_entry(KEYRING_NAME)?
            .set_password(&key.to_base64())
            .context("could not store the issuer key in the OS keyring")?,
        Backend::File => {
            macaroon_home::create_private_dir(home)?;
            macaroon_home::write_private_file(
                &home.join(KEY_FILE),
                format!("{}\n", key.to_base64().as_str()).as_bytes(),
            )?;
        }
    }
    write_public(home, &key.public())?;
    eprintln!(
        "Created this home's issuer key ({}). A proxy in another home trusts what you wrap after: \
         macaroon-proxy issuers add {} --name YOUR_NAME (see docs/teams.md)",
        match store.backend_for_writes()? {
            Backend::Keyring => "in the OS keyring".to_string(),
            Backend::File => home.join(KEY_FILE).display().to_string(),
        },
        key.public()
    );
    Ok(key)
}

/// This home's issuer key, if it has one.
pub fn load(home: &Path, store: &Store) -> anyhow::Result<Option<IssuerKey>> {
    let path = home.join(KEY_FILE);
    if path.exists() {
        return from_file(&path).map(Some);
    }
    if let Ok(entry) = store.keyring_entry(KEYRING_NAME) {
        if let Ok(text) = entry.get_password() {
            let text = zeroize::Zeroizing::new(text);
            let key = IssuerKey::from_base64(&text, "the issuer key in the OS keyring")?;
            write_public(home, &key.public())?;
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// An issuer key kept elsewhere (`wrap --issuer-key FILE`): refused if others can read it.
pub fn from_file(path: &Path) -> anyhow::Result<IssuerKey> {
    macaroon_home::check_private_mode(path)?;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("could not read the issuer key {}", path.display()))?,
    );
    Ok(IssuerKey::from_base64(&text, &path.display().to_string())?)
}

/// Writes `issuer.pub` if it is missing or differs (public: mode 0644 is fine).
fn write_public(home: &Path, public: &IssuerPublic) -> anyhow::Result<()> {
    let path = home.join(PUB_FILE);
    let text = format!("{public}\n");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        macaroon_home::create_private_dir(home)?;
        macaroon_home::write_public_file(&path, text.as_bytes())?;
    }
    Ok(())
}
