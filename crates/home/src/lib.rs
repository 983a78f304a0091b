//! The macaroon home directory: where keys, the local CA and stored tokens live.
//!
//! The core crate (`caveat`) does no I/O; this crate is the one place that finds the home,
//! creates private directories and files, refuses secret files that other users can read,
//! reads and writes the proxy's key files, and writes the client trust bundle. Both
//! binaries use it, so a key written by `macaroon-proxy keygen` is read the same way by
//! `macaroon wrap`, `macaroon verify` and `macaroon-proxy run`.
//!
//! ```no_run
//! use caveat::ProxyKeyPair;
//! use macaroon_home::KeyPairFiles;
//!
//! let home = macaroon_home::locate(None).expect("a home directory");
//! let keys = ProxyKeyPair::load_all(&home)?; // every proxy*.key, mode 0600 or refused
//! # Ok::<(), macaroon_home::HomeError>(())
//! ```

pub mod listfile;
pub mod text;
pub mod tokens;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use caveat::{KeyError, ProxyKeyPair, PublicKey};
pub use listfile::{
    revoked, trusted_issuers, Entry, ListFile, ISSUERS_FILE, LOCAL_ISSUER_FILE, REVOKED_FILE,
};

/// File name of the private key in a macaroon home.
pub const PRIVATE_KEY_FILE: &str = "proxy.key";
/// The Redis set of revoked families in a shared `--state` store (`kid`s).
pub const STATE_REVOKED_SET: &str = "macaroon:revoked";
/// The Redis key bumped on every shared revocation, so replicas re-read the set only then.
pub const STATE_REVOKED_VERSION: &str = "macaroon:revoked:version";
/// File name of the public key in a macaroon home.
pub const PUBLIC_KEY_FILE: &str = "proxy.pub";
/// File name of the trust bundle (system roots + the proxy CA) in a macaroon home.
pub const TRUST_BUNDLE_FILE: &str = "ca-bundle.pem";
/// The Python start-up hook that `macaroon exec` and `macaroon-proxy ca` write as
/// `$MACAROON_HOME/python/sitecustomize.py` and put first on `PYTHONPATH`: it points SDKs
/// that pin their own CA bundle (`stripe.ca_bundle_path`) and `certifi.where()` at
/// `SSL_CERT_FILE`, so they accept the intercepting proxy's certificates. One file, kept
/// here so both binaries embed the same bytes.
pub const SITECUSTOMIZE: &str = include_str!("sitecustomize.py");

/// Errors reading or writing the home. Each message names the file and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HomeError {
    /// A key file holds no key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A secret file is readable by group or others.
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
        /// The error text, with a hint when there is one.
        message: String,
    },
    /// The key files exist and overwriting was not asked for.
    #[error(
        "{0} already exists: this home has its proxy key (`macaroon-proxy run` creates one), so there is \
         nothing to do; its public half is in proxy.pub. To rotate and keep old tokens working, rename it \
         to proxy-old.key first (every proxy*.key is loaded); --force replaces it, and every token sealed \
         to it stops working"
    )]
    Exists(String),
    /// A token name that cannot be a file name or a keyring entry.
    #[error(
        "{0:?} is not a valid token name: use 1 to 64 letters, digits, '.', '_' or '-', not starting \
         with '.' or '-' (no path separators)"
    )]
    BadName(String),
    /// The token store could not be read; the message names the store and the fix.
    #[error("{0}")]
    Store(String),
}

fn io_err(path: &Path, e: std::io::Error) -> HomeError {
    HomeError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A missing key file says how to make one.
fn key_io_err(path: &Path, e: std::io::Error) -> HomeError {
    let message = if e.kind() == std::io::ErrorKind::NotFound {
        "not found: this home has no proxy key. If a proxy runs with another home, name it \
         (--home DIR or MACAROON_HOME); a new home gets its key from: macaroon-proxy keygen"
            .to_string()
    } else {
        e.to_string()
    };
    HomeError::Io {
        path: path.display().to_string(),
        message,
    }
}

/// The macaroon home: `explicit` (a `--home` flag) if given, else `$MACAROON_HOME`, else
/// the platform config dir (`~/.config/macaroon` on Linux). `None` if none can be found.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    match std::env::var_os("MACAROON_HOME") {
        Some(h) if !h.is_empty() => Some(PathBuf::from(h)),
        _ => default_home(),
    }
}

/// Creates a directory (and parents) readable only by its owner.
pub fn create_private_dir(dir: &Path) -> Result<(), HomeError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| io_err(dir, e))
}

/// Writes a file that only its owner may read (0600 from creation, never wider).
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), HomeError> {
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

/// Creates a directory (and parents) that others may read but only its owner may change:
/// 0755 whatever the umask (an existing one loses group and other write).
pub fn create_public_dir(dir: &Path) -> Result<(), HomeError> {
    // A missing home is made the way every command makes it: private.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        create_private_dir(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(io_err(dir, e)),
    }
    set_mode(dir, 0o755)
}

/// Writes a file that others may read but only its owner may change (a public key, the
/// CA certificate, a trust list): 0644 whatever the umask. The content goes to a file
/// beside it first, then replaces it whole, so a reader never sees half of it.
pub fn write_public_file(path: &Path, contents: &[u8]) -> Result<(), HomeError> {
    replace_file(path, contents, 0o644).map_err(|e| io_err(path, e))
}

/// Replaces `path` whole with `contents` at permission bits `mode` (whatever the umask):
/// written beside it, then renamed over it.
pub(crate) fn replace_file(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = beside(path);
    let written = (|| {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
        let mut f = opts.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        f.write_all(contents)?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// A temporary name beside `path`, unique to this process.
pub fn beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Sets `path`'s permission bits to `mode` (no-op off Unix).
fn set_mode(path: &Path, mode: u32) -> Result<(), HomeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| io_err(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Warnings for the home and its `tokens/` directory when group or others may write
/// there (through a symlink too): whoever can write there can replace the trust files
/// (`issuers`, `revoked`, `proxy.pub`, `ca.pem`) or a stored token. Each says how to fix it.
pub fn writable_by_others(home: &Path) -> Vec<String> {
    let mut out = Vec::new();
    #[cfg(unix)]
    for dir in [home.to_path_buf(), home.join(tokens::TOKENS_DIR)] {
        use std::os::unix::fs::PermissionsExt;
        // `metadata` follows a symlink: what counts is the place it leads to.
        let Ok(meta) = fs::metadata(&dir) else { continue };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 == 0 {
            continue;
        }
        let target = fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        let shown = if target == dir {
            dir.display().to_string()
        } else {
            format!("{} (a link to {})", dir.display(), target.display())
        };
        out.push(format!(
            "warning: {shown} is writable by other users (mode {mode:o}): they could replace the \
             trust files or tokens in it; run: chmod go-w {}",
            target.display()
        ));
    }
    #[cfg(not(unix))]
    let _ = home;
    out
}

/// Refuses a secret file that group or others can read or write.
pub fn check_private_mode(path: &Path) -> Result<(), HomeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).map_err(|e| io_err(path, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(HomeError::TooOpen {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Every `proxy*.key` in `home`, sorted.
fn proxy_key_paths(home: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(home)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("proxy") && name.ends_with(".key")
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// Whether `home` holds a proxy key, as every home a proxy runs with does (a command that
/// writes for a running proxy refuses a home without one: a mistyped `MACAROON_HOME`). A
/// home that does not exist has none; one that cannot be read is an error.
pub fn has_proxy_key(home: &Path) -> std::io::Result<bool> {
    match proxy_key_paths(home) {
        Ok(p) => Ok(!p.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Key files for the proxy's keypair: `use macaroon_home::KeyPairFiles` and call
/// `ProxyKeyPair::load`, `load_all` and `save`.
pub trait KeyPairFiles: Sized {
    /// Loads a private key file, refusing one that group or others can read.
    fn load(path: &Path) -> Result<Self, HomeError>;
    /// Loads every `proxy*.key` in `home` (key rotation: tokens name the key that opens
    /// them). Errors if there is none, or if any is unreadable or readable by others.
    fn load_all(home: &Path) -> Result<Vec<Self>, HomeError>;
    /// Writes `proxy.key` (mode 0600) and `proxy.pub` into `dir`, creating `dir` (0700)
    /// if needed. Refuses to replace existing files unless `force`.
    fn save(&self, dir: &Path, force: bool) -> Result<(PathBuf, PathBuf), HomeError>;
}

impl KeyPairFiles for ProxyKeyPair {
    fn load(path: &Path) -> Result<Self, HomeError> {
        fs::metadata(path).map_err(|e| key_io_err(path, e))?;
        check_private_mode(path)?;
        let text = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(|e| key_io_err(path, e))?);
        Ok(ProxyKeyPair::from_base64(&text, &path.display().to_string())?)
    }

    fn load_all(home: &Path) -> Result<Vec<Self>, HomeError> {
        let paths = proxy_key_paths(home).map_err(|e| key_io_err(&home.join(PRIVATE_KEY_FILE), e))?;
        if paths.is_empty() {
            return Err(key_io_err(
                &home.join(PRIVATE_KEY_FILE),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        paths.iter().map(|p| Self::load(p)).collect()
    }

    fn save(&self, dir: &Path, force: bool) -> Result<(PathBuf, PathBuf), HomeError> {
        create_private_dir(dir)?;
        let key_path = dir.join(PRIVATE_KEY_FILE);
        let pub_path = dir.join(PUBLIC_KEY_FILE);
        if !force {
            for p in [&key_path, &pub_path] {
                if p.exists() {
                    return Err(HomeError::Exists(p.display().to_string()));
                }
            }
        }
        let private = zeroize::Zeroizing::new(format!("{}\n", *self.private_to_base64()));
        write_private_file(&key_path, private.as_bytes())?;
        write_public_file(&pub_path, format!("{}\n", self.public().to_base64()).as_bytes())?;
        Ok((key_path, pub_path))
    }
}

/// A public key file (`proxy.pub`): `use macaroon_home::PublicKeyFile` and call
/// `PublicKey::load`.
pub trait PublicKeyFile: Sized {
    /// Reads a public key file.
    fn load(path: &Path) -> Result<Self, HomeError>;
}

impl PublicKeyFile for PublicKey {
    fn load(path: &Path) -> Result<Self, HomeError> {
        let text = fs::read_to_string(path).map_err(|e| key_io_err(path, e))?;
        Ok(PublicKey::from_base64(&text, &path.display().to_string())?)
    }
}

/// Writes `$home/ca-bundle.pem`: the platform's root certificates followed by the proxy CA
/// at `ca`. Clients whose CA variable replaces their trust store (OpenSSL's
/// `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`...) then trust the proxy and still verify hosts
/// the proxy lets through untouched. The file holds public certificates only.
///
/// The roots are the ones `rustls-native-certs` finds: `SSL_CERT_FILE` / `SSL_CERT_DIR`
/// when set, else the platform store (found with `openssl-probe` on Linux, the keychain on
/// macOS, the system store on Windows). Without any, the bundle holds the proxy CA alone.
pub fn write_trust_bundle(home: &Path, ca: &Path) -> Result<PathBuf, HomeError> {
    let bundle = trust_bundle(&read_ca(ca)?);
    let path = home.join(TRUST_BUNDLE_FILE);
    write_public_file(&path, bundle.as_bytes())?;
    Ok(path)
}

/// Reads the proxy's CA certificate, saying how to create it when it is missing.
pub fn read_ca(ca: &Path) -> Result<String, HomeError> {
    fs::read_to_string(ca).map_err(|e| HomeError::Io {
        path: ca.display().to_string(),
        message: format!("{e}; run `macaroon-proxy run` once (it creates the CA) or pass --ca"),
    })
}

/// The system's trusted roots followed by `ca_pem`: what tools that replace their trust
/// store (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`) need to trust the proxy's CA as well.
pub fn trust_bundle(ca_pem: &str) -> String {
    let roots: Vec<pem::Pem> = system_roots()
        .0
        .into_iter()
        .map(|der| pem::Pem::new("CERTIFICATE", der))
        .collect();
    let mut bundle = pem::encode_many_config(
        &roots,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    );
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str(ca_pem);
    bundle
}

/// The system's root certificates (DER), read where the distributions keep them, never
/// from `SSL_CERT_FILE` / `SSL_CERT_DIR` (`rustls_native_certs::load_native_certs` and
/// `openssl-probe` read those first): the client set-up points them at a bundle holding
/// the proxy's own CA, which must never become a root for upstreams, nor be folded into a
/// new bundle again. The flag says the platform store was skipped because those variables
/// are set (macOS, Windows: the crate can only read the store through them then).
pub fn system_roots() -> (Vec<Vec<u8>>, bool) {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        // The bundle files and directories of the common distributions (as openssl-probe
        // and Go's crypto/x509 list them).
        const FILES: &[&str] = &[
            "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo, Arch
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Fedora, RHEL 7+
            "/etc/pki/tls/certs/ca-bundle.crt",   // RHEL 6
            "/etc/ssl/ca-bundle.pem",             // openSUSE
            "/etc/ssl/cert.pem",                  // Alpine, the BSDs
            "/usr/local/etc/ssl/cert.pem",        // FreeBSD
            "/usr/local/share/certs/ca-root-nss.crt", // DragonFly
        ];
        const DIRS: &[&str] = &["/etc/ssl/certs", "/etc/pki/tls/certs"];
        let file = FILES.iter().map(Path::new).find(|p| p.is_file());
        let mut dirs = DIRS.iter().map(Path::new).filter(|d| d.is_dir());
        // One call reads the bundle and the first directory, skipping files already read.
        let mut certs = rustls_native_certs::load_certs_from_paths(file, dirs.next()).certs;
        for dir in dirs {
            certs.extend(rustls_native_certs::load_certs_from_paths(None, Some(dir)).certs);
        }
        (certs.into_iter().map(|c| c.as_ref().to_vec()).collect(), false)
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        if std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some() {
            return (Vec::new(), true);
        }
        let certs = rustls_native_certs::load_native_certs().certs;
        (certs.into_iter().map(|c| c.as_ref().to_vec()).collect(), false)
    }
}

/// The default home when neither `--home` nor `$MACAROON_HOME` names one.
pub fn default_home() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("macaroon"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    #[test]
    fn save_then_load_round_trips() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        let kp = ProxyKeyPair::generate();
        let (key, pubf) = kp.save(&home, false).expect("save");
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
            let mode = fs::metadata(&home).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "the home is created private");
        }
    }

    #[test]
    fn save_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        ProxyKeyPair::generate().save(dir.path(), false).expect("first");
        let e = ProxyKeyPair::generate()
            .save(dir.path(), false)
            .expect_err("second");
        assert!(matches!(e, HomeError::Exists(_)));
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
        assert!(ProxyKeyPair::load_all(dir.path()).is_err());
    }

    #[test]
    fn missing_key_says_how_to_create_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = ProxyKeyPair::load_all(dir.path()).expect_err("none");
        assert!(e.to_string().contains("macaroon-proxy keygen"), "{e}");
        let e = PublicKey::load(&dir.path().join(PUBLIC_KEY_FILE)).expect_err("none");
        assert!(e.to_string().contains("macaroon-proxy keygen"), "{e}");
    }

    #[test]
    fn load_all_picks_up_every_rotated_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = ProxyKeyPair::generate();
        old.save(dir.path(), false).expect("save");
        fs::rename(
            dir.path().join(PRIVATE_KEY_FILE),
            dir.path().join("proxy-old.key"),
        )
        .expect("rename");
        let new = ProxyKeyPair::generate();
        new.save(dir.path(), true).expect("save");
        let ids: Vec<_> = ProxyKeyPair::load_all(dir.path())
            .expect("load")
            .iter()
            .map(ProxyKeyPair::key_id)
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&old.key_id()) && ids.contains(&new.key_id()));
    }

    #[test]
    fn malformed_key_file_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(PRIVATE_KEY_FILE);
        write_private_file(&path, b"aGVsbG8=\n").expect("write");
        let e = ProxyKeyPair::load(&path).expect_err("short");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert!(e.to_string().contains("5 bytes, not 32"), "{e}");
    }

    #[test]
    fn explicit_home_wins() {
        let p = Path::new("/somewhere/else");
        assert_eq!(locate(Some(p)).as_deref(), Some(p));
    }

    /// The bundle is the native roots (here: `SSL_CERT_FILE` / `SSL_CERT_DIR` or the
    /// platform store) as 64-column PEM, then the proxy CA exactly as written.
    #[test]
    fn trust_bundle_is_native_roots_then_the_proxy_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        let ca_pem = "-----BEGIN CERTIFICATE-----\nTUFDQVJPT04=\n-----END CERTIFICATE-----\n";
        fs::write(&ca, ca_pem).expect("write");
        let path = write_trust_bundle(dir.path(), &ca).expect("bundle");
        assert_eq!(path, dir.path().join(TRUST_BUNDLE_FILE));
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.ends_with(ca_pem), "the proxy CA comes last");
        assert!(!text.contains('\r'));
        let native = system_roots().0.len();
        let parsed = pem::parse_many(&text).expect("every block is PEM");
        assert_eq!(parsed.len(), native + 1);
        assert!(text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .all(|l| l.len() <= 64));
        let e = write_trust_bundle(dir.path(), &dir.path().join("missing.pem")).expect_err("no CA");
        assert!(e.to_string().contains("macaroon-proxy run"), "{e}");
    }
}
