//! The proxy's X25519 keypair: anyone with the public key can seal a secret to the
//! proxy; only the holder of the private key can open it.
//!
//! Files hold the 32 raw key bytes as standard base64 on one line. The private key file
//! must not be readable by group or others: loading refuses it, saying how to fix it.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sodiumoxide::crypto::box_;

use crate::crypto;

/// File name of the private key in a macaroon home.
pub const PRIVATE_KEY_FILE: &str = "proxy.key";
/// File name of the public key in a macaroon home.
pub const PUBLIC_KEY_FILE: &str = "proxy.pub";

/// Errors reading, writing or decoding keys.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not base64 of 32 bytes.
    #[error("{what} is not a proxy key: expected 32 bytes as base64 on one line ({why})")]
    Malformed {
        /// What was being read (a file path or "the --proxy-key value").
        what: String,
        /// The decoding problem.
        why: String,
    },
    /// The private key file is readable by group or others.
    #[error("{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}")]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// An I/O error, with the path.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The error text.
        message: String,
    },
    /// The key files exist and overwriting was not asked for.
    #[error("{0} already exists; pass --force to replace it (tokens sealed to the old key stop working)")]
    Exists(String),
}

/// The first 8 bytes of SHA-256 of a proxy public key: names the key inside sealed
/// identifiers, so a proxy holding several keys knows which one opens a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A proxy public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(pub(crate) box_::PublicKey);

impl PublicKey {
    /// Decodes a public key from its one-line base64 text. `what` names the source in errors.
    pub fn from_base64(text: &str, what: &str) -> Result<Self, KeyError> {
        let bytes = decode32(text, what)?;
        Ok(PublicKey(box_::PublicKey(bytes)))
    }

    /// The key as standard base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0 .0)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0 .0
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        let digest = crypto::sha256(&self.0 .0);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }

    /// Reads a public key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|e| io_err(path, e))?;
        Self::from_base64(&text, &path.display().to_string())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

/// The proxy's keypair. The private half is wiped from memory on drop and never printed.
#[derive(Clone)]
pub struct ProxyKeyPair {
    public: PublicKey,
    secret: box_::SecretKey,
}

impl fmt::Debug for ProxyKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyKeyPair({}, private key redacted)", self.public.key_id())
    }
}

impl ProxyKeyPair {
    /// Generates a fresh random keypair.
    pub fn generate() -> Self {
        crypto::init();
        let (pk, sk) = box_::gen_keypair();
        ProxyKeyPair {
            public: PublicKey(pk),
            secret: sk,
        }
    }

    /// Builds a keypair from the 32 private key bytes (the public half is derived).
    pub fn from_private_bytes(bytes: [u8; 32]) -> Self {
        crypto::init();
        let secret = box_::SecretKey(bytes);
        ProxyKeyPair {
            public: PublicKey(secret.public_key()),
            secret,
        }
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key id of the public half.
    pub fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    pub(crate) fn box_secret(&self) -> &box_::SecretKey {
        &self.secret
    }

    /// Loads a private key file, refusing one that group or others can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        check_private_mode(path)?;
        let text = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(|e| io_err(path, e))?);
        let bytes = zeroize::Zeroizing::new(decode32(&text, &path.display().to_string())?);
        Ok(Self::from_private_bytes(*bytes))
    }

    /// Loads every `proxy*.key` in `home` (key rotation: tokens name the key that opens
    /// them). Errors if there is none, or if any is unreadable or readable by others.
    pub fn load_all(home: &Path) -> Result<Vec<Self>, KeyError> {
        let entries = fs::read_dir(home).map_err(|e| io_err(&home.join(PRIVATE_KEY_FILE), e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.starts_with("proxy") && name.ends_with(".key")
            })
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(io_err(
                &home.join(PRIVATE_KEY_FILE),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        paths.iter().map(|p| Self::load(p)).collect()
    }

    /// Writes `proxy.key` (mode 0600) and `proxy.pub` into `dir`, creating `dir` (0700)
    /// if needed. Refuses to replace existing files unless `force`.
    pub fn save(&self, dir: &Path, force: bool) -> Result<(PathBuf, PathBuf), KeyError> {
        create_private_dir(dir)?;
        let key_path = dir.join(PRIVATE_KEY_FILE);
        let pub_path = dir.join(PUBLIC_KEY_FILE);
        if !force {
            for p in [&key_path, &pub_path] {
                if p.exists() {
                    return Err(KeyError::Exists(p.display().to_string()));
                }
            }
        }
        let private = zeroize::Zeroizing::new(format!("{}\n", STANDARD.encode(self.secret.0)));
        write_private_file(&key_path, private.as_bytes())?;
        fs::write(&pub_path, format!("{}\n", self.public.to_base64())).map_err(|e| io_err(&pub_path, e))?;
        Ok((key_path, pub_path))
    }
}

fn decode32(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let malformed = |why: String| KeyError::Malformed {
        what: what.to_string(),
        why,
    };
    let bytes = zeroize::Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|e| malformed(e.to_string()))?,
    );
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| malformed(format!("decoded to {} bytes, not 32", bytes.len())))
}

fn io_err(path: &Path, e: std::io::Error) -> KeyError {
    let hint = if e.kind() == std::io::ErrorKind::NotFound {
        "; create a key with: macaroon-proxy keygen"
    } else {
        ""
    };
    KeyError::Io {
        path: path.display().to_string(),
        message: format!("{e}{hint}"),
    }
}

/// The macaroon home: `explicit` (a `--home` flag) if given, else `$MACAROON_HOME`, else
/// the platform config dir (`~/.config/macaroon` on Linux). `None` if none can be found.
pub fn macaroon_home(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    match std::env::var_os("MACAROON_HOME") {
        Some(h) if !h.is_empty() => Some(PathBuf::from(h)),
        _ => dirs::config_dir().map(|d| d.join("macaroon")),
    }
}

/// System trust stores, in the order they are looked for.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Writes `$home/ca-bundle.pem`: the system's root certificates followed by the proxy CA
/// at `ca`. Clients whose CA variable replaces their trust store (OpenSSL's
/// `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`...) then trust the proxy and still verify hosts
/// the proxy lets through untouched. The file holds public certificates only.
pub fn write_trust_bundle(home: &Path, ca: &Path) -> Result<PathBuf, KeyError> {
    let ca_pem = fs::read_to_string(ca).map_err(|e| KeyError::Io {
        path: ca.display().to_string(),
        message: format!("{e}; run `macaroon-proxy run` once (it creates the CA) or pass --ca"),
    })?;
    let mut bundle = SYSTEM_BUNDLES
        .iter()
        .find_map(|p| fs::read_to_string(p).ok())
        .unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str(&ca_pem);
    let path = home.join("ca-bundle.pem");
    fs::write(&path, bundle).map_err(|e| io_err(&path, e))?;
    Ok(path)
}

/// Creates a directory (and parents) readable only by its owner.
pub fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| io_err(dir, e))
}

/// Writes a file that only its owner may read (0600 from creation, never wider).
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| io_err(path, e))?;
    // An existing file keeps its old mode when opened; tighten it before writing.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| io_err(path, e))?;
    }
    f.write_all(contents).map_err(|e| io_err(path, e))
}

/// Refuses a secret file that group or others can read or write.
pub fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).map_err(|e| io_err(path, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kp = ProxyKeyPair::generate();
        let (key, pubf) = kp.save(dir.path(), false).expect("save");
        let loaded = ProxyKeyPair::load(&key).expect("load");
        assert_eq!(loaded.public(), kp.public());
        assert_eq!(PublicKey::load(&pubf).expect("pub"), *kp.public());
        let text = fs::read_to_string(&key).expect("read");
        assert_eq!(text.lines().count(), 1);
        assert_eq!(STANDARD.decode(text.trim()).expect("b64").len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn save_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        ProxyKeyPair::generate().save(dir.path(), false).expect("first");
        let e = ProxyKeyPair::generate()
            .save(dir.path(), false)
            .expect_err("second");
        assert!(matches!(e, KeyError::Exists(_)));
        assert!(e.to_string().contains("--force"));
        ProxyKeyPair::generate().save(dir.path(), true).expect("forced");
    }

    #[cfg(unix)]
    #[test]
    fn private_key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, _) = ProxyKeyPair::generate().save(dir.path(), false).expect("save");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = ProxyKeyPair::load(&key).expect_err("too open");
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn malformed_key_text_is_refused() {
        let e = PublicKey::from_base64("aGVsbG8=", "the --proxy-key value").expect_err("short");
        assert!(e.to_string().contains("5 bytes, not 32"), "{e}");
        assert!(PublicKey::from_base64("not base64!", "x").is_err());
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let kp = ProxyKeyPair::generate();
        let private = STANDARD.encode(kp.secret.0);
        let shown = format!("{kp:?}");
        assert!(!shown.contains(&private));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn key_id_is_sha256_prefix() {
        let pk = PublicKey(box_::PublicKey([7u8; 32]));
        let d = sodiumoxide::crypto::hash::sha256::hash(&[7u8; 32]);
        assert_eq!(pk.key_id().0, d.0[..8]);
    }
}
