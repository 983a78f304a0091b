//! `operator.key` (the root of every operator token) and `macaroon-proxy operator mint`.
//!
//! The key file holds the 32-byte key in base64 and a newline, mode 0600; it is refused if
//! group or others can read it, like `proxy.key`. Replicas share it (copy it with
//! `proxy.key`); replacing it invalidates every operator token minted from the old one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use base64::Engine;
use caveat::{OperatorKey, Role};

/// The operator key's file name in the proxy's home.
pub const OPERATOR_KEY_FILE: &str = "operator.key";
/// How long an operator token lasts unless `--expires` says otherwise.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(12 * 3600);
/// The longest `--expires` allowed: operator tokens always expire.
pub const MAX_EXPIRY: Duration = Duration::from_secs(366 * 24 * 3600);

/// The operator key file of `home`.
pub fn key_path(home: &Path) -> PathBuf {
    home.join(OPERATOR_KEY_FILE)
}

/// Loads `operator.key`; `Ok(None)` when the home has none yet.
pub fn load(home: &Path) -> anyhow::Result<Option<OperatorKey>> {
    let path = key_path(home);
    if !path.exists() {
        return Ok(None);
    }
    macaroon_home::check_private_mode(&path)?;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(&path).with_context(|| format!("could not read {}", path.display()))?,
    );
    let bytes = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .with_context(|| {
                format!(
                    "{} is not an operator key (32 bytes in base64); remove it and mint again to make a new one \
                     (every operator token minted from it stops working)",
                    path.display()
                )
            })?,
    );
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(Some(OperatorKey::from_bytes(key)))
}

/// Loads `operator.key`, creating it (0600, never replacing one) if the home has none;
/// says so on stderr when it does.
pub fn load_or_create(home: &Path) -> anyhow::Result<OperatorKey> {
    if let Some(k) = load(home)? {
        return Ok(k);
    }
    macaroon_home::create_private_dir(home)?;
    let path = key_path(home);
    let key = OperatorKey::generate();
    let text = zeroize::Zeroizing::new(format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(text.as_bytes())
                .with_context(|| format!("could not write {}", path.display()))?;
            eprintln!(
                "macaroon-proxy: created the operator key {} (mode 0600): copy it with proxy.key to every replica",
                path.display()
            );
            crate::cli::note_if_keyless(
                home,
                "a running proxy's admin API opens only to tokens minted in its own home",
            );
            Ok(key)
        }
        // Another mint made it meanwhile: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            load(home)?.with_context(|| format!("{} vanished", path.display()))
        }
        Err(e) => Err(anyhow::anyhow!("could not create {}: {e}", path.display())),
    }
}

/// Parses `--expires`: a duration (`12h`, `30m`, `7d`) up to [`MAX_EXPIRY`]; `never` is
/// refused, since an operator token that never expires can only be stopped by replacing
/// `operator.key`.
pub fn parse_expiry(text: &str) -> anyhow::Result<Duration> {
    if text.eq_ignore_ascii_case("never") {
        anyhow::bail!(
            "--expires never: operator tokens always expire (a leaked one could only be stopped by replacing \
             operator.key); give a duration such as 12h or 30d, and mint a new token when it runs out"
        );
    }
    let d = humantime::parse_duration(text)
        .with_context(|| format!("--expires {text:?}: expected a duration such as 12h, 30m or 7d"))?;
    if d < Duration::from_secs(1) || d > MAX_EXPIRY {
        anyhow::bail!("--expires {text:?}: expected a duration from 1s to 366d");
    }
    Ok(d)
}

/// `operator mint`: the token for `name` with `roles` (default `read`), valid for `expires`.
pub fn mint(home: &Path, name: &str, roles: &[Role], expires: Option<&str>) -> anyhow::Result<caveat::Token> {
    caveat::check_operator_name(name).map_err(|m| anyhow::anyhow!("--name: {m}"))?;
    let life = match expires {
        Some(e) => parse_expiry(e)?,
        None => DEFAULT_EXPIRY,
    };
    let mut roles = if roles.is_empty() {
        vec![Role::Read]
    } else {
        roles.to_vec()
    };
    roles.sort();
    roles.dedup();
    let key = load_or_create(home)?;
    key.mint(name, &roles, SystemTime::now() + life)
        .map_err(|m| anyhow::anyhow!(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_refused_when_readable_by_others() {
        let home = tempfile::tempdir().expect("home");
        assert!(load(home.path()).expect("none").is_none());
        let t = mint(home.path(), "alice", &[], None).expect("mint");
        let key = load(home.path()).expect("load").expect("made");
        let op = key.verify(&t, SystemTime::now()).expect("verifies");
        assert_eq!(op.roles(), [Role::Read]);
        let left = op
            .expires
            .and_then(|e| e.duration_since(SystemTime::now()).ok())
            .expect("expiry");
        assert!(
            left > Duration::from_secs(11 * 3600) && left <= DEFAULT_EXPIRY,
            "{left:?}"
        );
        // A second mint uses the same key.
        let t2 = mint(home.path(), "bob", &[Role::Admin], Some("1h")).expect("mint");
        assert!(key.verify(&t2, SystemTime::now()).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = key_path(home.path());
            assert_eq!(
                std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(load(home.path()).is_err(), "readable by others");
        }
    }

    #[test]
    fn expiry_must_be_a_bounded_duration() {
        assert!(parse_expiry("never")
            .expect_err("never")
            .to_string()
            .contains("always expire"));
        assert!(parse_expiry("400d").is_err());
        assert!(parse_expiry("soon").is_err());
        assert_eq!(parse_expiry("30m").expect("30m"), Duration::from_secs(1800));
        assert!(mint(tempfile::tempdir().expect("h").path(), "Alice", &[], None).is_err());
    }
}
