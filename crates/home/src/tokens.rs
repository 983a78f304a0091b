//! Stored tokens, the reading half: where `macaroon wrap` keeps the root tokens of a home,
//! and how to read one back by name. The `macaroon` CLI writes them (`wrap`, `rm`); both
//! binaries read them, so `macaroon-proxy revoke NAME` finds the same token as
//! `macaroon attenuate NAME`.
//!
//! The keyring cannot list its entries, so every stored token has a line in
//! `$MACAROON_HOME/tokens.json` (name, created, hosts, expiry, which backend holds it);
//! that index holds no token. With the file backend, the token itself is
//! `$MACAROON_HOME/tokens/NAME`, mode 0600; otherwise it is in the OS keyring under the
//! service `macaroon HOME`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::HomeError;

/// The index of stored tokens in a home.
pub const INDEX_FILE: &str = "tokens.json";
/// The directory of token files (file backend) in a home.
pub const TOKENS_DIR: &str = "tokens";

/// Which backend holds a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The OS keyring (Secret Service, macOS Keychain, Windows Credential Manager).
    Keyring,
    /// `$MACAROON_HOME/tokens/NAME`, mode 0600.
    File,
}

/// What the index keeps about a stored token. Never the token.
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
    /// The family id sealed inside (what audit lines and `revoke --family` name); absent
    /// for tokens stored by older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The root token's branch id (`revoke` of the root writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// SHA-256 of the token's identifier, hex: every token narrowed from this root has the
    /// same identifier, so `inspect` finds the family of any of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_digest: Option<String>,
    /// The issuer public key that signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// Checks a token name: it becomes a file name and a keyring entry.
pub fn check_name(name: &str) -> Result<(), HomeError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(HomeError::BadName(name.to_string()))
    }
}

/// `$home/tokens.json`.
pub fn index_path(home: &Path) -> PathBuf {
    home.join(INDEX_FILE)
}

/// `$home/tokens/NAME`, where the file backend keeps the token `name`.
pub fn token_path(home: &Path, name: &str) -> PathBuf {
    home.join(TOKENS_DIR).join(name)
}

/// The OS keyring service under which a home's tokens are kept: one per home.
pub fn keyring_service(home: &Path) -> String {
    format!("macaroon {}", home.display())
}

/// The index of `home` (empty when it has none).
pub fn read_index(home: &Path) -> Result<BTreeMap<String, Entry>, HomeError> {
    let path = index_path(home);
    let problem = |message: String| HomeError::Io {
        path: path.display().to_string(),
        message,
    };
    match fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|e| problem(format!("is corrupt ({e}); fix or remove it")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(problem(e.to_string())),
    }
}

/// The stored token `name` of `home`, if there is one. A name that no token could have
/// (a token itself, say) is `None` without reading anything.
pub fn stored_token(home: &Path, name: &str) -> Result<Option<Zeroizing<String>>, HomeError> {
    if check_name(name).is_err() {
        return Ok(None);
    }
    let Some(entry) = read_index(home)?.remove(name) else {
        return Ok(None);
    };
    let token = match entry.store {
        Backend::Keyring => keyring::Entry::new(&keyring_service(home), name)
            .and_then(|e| e.get_password())
            .map_err(|e| {
                HomeError::Store(format!(
                    "could not read the stored token {name:?} from the OS keyring ({e}); unlock the \
                     keyring, or pass the token itself"
                ))
            })?,
        Backend::File => {
            let path = token_path(home, name);
            crate::check_private_mode(&path)?;
            fs::read_to_string(&path).map_err(|e| HomeError::Io {
                path: path.display().to_string(),
                message: format!("{e}; the index lists {name:?} but its file is unreadable"),
            })?
        }
    };
    let token = Zeroizing::new(token);
    Ok(Some(Zeroizing::new(token.trim().to_string())))
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

    #[test]
    fn a_stored_file_token_is_read_back_by_name() {
        let dir = tempfile::tempdir().expect("tmp");
        let home = dir.path();
        assert_eq!(stored_token(home, "stripe").expect("no index"), None);
        let entry = Entry {
            name: "stripe".into(),
            created: "2026-01-01T00:00:00Z".into(),
            hosts: vec!["api.stripe.com".into()],
            expires: None,
            inject: "bearer".into(),
            proxy_key_id: "0011223344556677".into(),
            store: Backend::File,
            kid: None,
            branch: None,
            identifier_digest: None,
            issuer: None,
        };
        let index = BTreeMap::from([("stripe".to_string(), entry)]);
        fs::write(index_path(home), serde_json::to_string(&index).expect("json")).expect("index");
        crate::create_private_dir(&home.join(TOKENS_DIR)).expect("dir");
        crate::write_private_file(&token_path(home, "stripe"), b"TOKEN\n").expect("token");
        assert_eq!(
            stored_token(home, "stripe")
                .expect("read")
                .as_deref()
                .map(String::as_str),
            Some("TOKEN")
        );
        assert_eq!(stored_token(home, "other").expect("read"), None);
        // A token is never a name: the index is not even read.
        fs::write(index_path(home), "not json").expect("corrupt");
        assert_eq!(stored_token(home, &"A".repeat(100)).expect("not a name"), None);
        let e = stored_token(home, "stripe").expect_err("corrupt").to_string();
        assert!(e.contains("tokens.json") && e.contains("fix or remove it"), "{e}");
    }
}
