//! The proxy's local certificate authority, for intercepting HTTPS_PROXY tunnels.
//!
//! Created on first run as `$MACAROON_HOME/ca.pem` + `ca.key` (0600). Clients that trust
//! `ca.pem` accept the leaf certificates issued here for the host they CONNECT to. Leaf
//! certificates are cached in memory: a handshake after the first costs no signing.
//! Leaves for sealed hosts (named by a verified token, or exactly by `--allow-host`) are
//! kept apart from the rest, so a flood of made-up names cannot evict them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

/// File name of the CA certificate.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key.
pub const CA_KEY_FILE: &str = "ca.key";

/// Most leaf certificates kept in memory for other names (the least useful are evicted
/// first).
const LEAF_CACHE_MAX: usize = 10_000;
/// Most sealed host names remembered, and leaves kept for them.
const SEALED_MAX: usize = 10_000;

/// How long a leaf certificate is valid.
const LEAF_VALID: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
/// How long a cached leaf is served before a new one is made: half its validity, so a
/// proxy that runs for months never hands out an expired certificate.
const LEAF_RENEW: std::time::Duration = std::time::Duration::from_secs(15 * 24 * 3600);
/// How far back a leaf's validity starts (clients whose clocks are a little behind).
const LEAF_BACKDATE: std::time::Duration = std::time::Duration::from_secs(3600);

/// A cached leaf and when it was made.
#[derive(Clone)]
struct Leaf {
    key: Arc<CertifiedKey>,
    minted: std::time::SystemTime,
}

impl Leaf {
    /// Still to be served at `now`: made less than [`LEAF_RENEW`] ago, and not in the
    /// future (a clock set back past its start would see it as not yet valid).
    fn fresh_at(&self, now: std::time::SystemTime) -> bool {
        match now.duration_since(self.minted) {
            Ok(age) => age < LEAF_RENEW,
            Err(e) => e.duration() < LEAF_BACKDATE,
        }
    }
}

type Leaves = quick_cache::sync::Cache<String, Leaf>;

/// The local CA and its leaf caches.
pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_path: PathBuf,
    /// Leaves for any other name a client CONNECTs to or sends as SNI.
    leaves: Leaves,
    /// Names only a verified token or the operator can add.
    sealed: quick_cache::sync::Cache<String, ()>,
    /// Leaves for those names: out of reach of a flood of other names.
    sealed_leaves: Leaves,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalCa({}, private key redacted)", self.cert_path.display())
    }
}

impl LocalCa {
    /// Loads the CA from `home`, creating it first if there is none.
    pub fn load_or_create(home: &Path) -> anyhow::Result<Self> {
        Self::load_with(home, LEAF_CACHE_MAX)
    }

    /// [`LocalCa::load_or_create`], keeping at most `leaf_max` leaves for other names.
    fn load_with(home: &Path, leaf_max: usize) -> anyhow::Result<Self> {
        let cert_path = home.join(CA_CERT_FILE);
        let key_path = home.join(CA_KEY_FILE);
        if !cert_path.exists() || !key_path.exists() {
            create(home, &cert_path, &key_path)?;
        }
        macaroon_home::check_private_mode(&key_path)?;
        let key_pem = zeroize::Zeroizing::new(
            std::fs::read_to_string(&key_path)
                .with_context(|| format!("could not read {}", key_path.display()))?,
        );
        let cert_pem = std::fs::read_to_string(&cert_path)
            .with_context(|| format!("could not read {}", cert_path.display()))?;
        let key = KeyPair::from_pem(&key_pem)
            .with_context(|| format!("{} is not a PEM private key", key_path.display()))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)
            .with_context(|| format!("{} is not a PEM CA certificate", cert_path.display()))?;
        Ok(LocalCa {
            issuer,
            cert_pem,
            cert_path,
            leaves: quick_cache::sync::Cache::new(leaf_max),
            sealed: quick_cache::sync::Cache::new(SEALED_MAX),
            sealed_leaves: quick_cache::sync::Cache::new(SEALED_MAX),
        })
    }

    /// Marks `host` as sealed (in a verified token, or named exactly by `--allow-host`):
    /// its leaf is kept where other names cannot evict it.
    pub fn protect(&self, host: &str) {
        if self.sealed.get(host).is_none() {
            self.sealed.insert(host.to_string(), ());
        }
    }

    /// Where the CA certificate is.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A leaf certificate for `host` (a DNS name or IP address), from the cache or new.
    pub fn leaf(&self, host: &str) -> anyhow::Result<Arc<CertifiedKey>> {
        self.leaf_at(host, std::time::SystemTime::now())
    }

    /// [`LocalCa::leaf`] at `now`: a cached leaf made too long ago is replaced.
    fn leaf_at(&self, host: &str, now: std::time::SystemTime) -> anyhow::Result<Arc<CertifiedKey>> {
        let protected = self.sealed.get(host).is_some();
        if let Some(hit) = self.sealed_leaves.get(host).filter(|l| l.fresh_at(now)) {
            return Ok(hit.key);
        }
        if let Some(hit) = self.leaves.get(host).filter(|l| l.fresh_at(now)) {
            if protected {
                self.sealed_leaves.insert(host.to_string(), hit.clone());
            }
            return Ok(hit.key);
        }
        let leaf = Leaf {
            key: self.mint(host, now)?,
            minted: now,
        };
        let cache = if protected {
            &self.sealed_leaves
        } else {
            &self.leaves
        };
        cache.insert(host.to_string(), leaf.clone());
        Ok(leaf.key)
    }

    /// A new leaf for `host`, valid from an hour before `now` for [`LEAF_VALID`].
    fn mint(&self, host: &str, now: std::time::SystemTime) -> anyhow::Result<Arc<CertifiedKey>> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.try_into().context("host is not a DNS name")?),
        }];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host);
        params.distinguished_name = dn;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = (now - LEAF_BACKDATE).into();
        params.not_after = (now + LEAF_VALID).into();
        let cert = params.signed_by(&key, &self.issuer)?;
        let der_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&der_key)
            .map_err(|e| anyhow::anyhow!("leaf key not usable: {e}"))?;
        Ok(Arc::new(CertifiedKey::new(
            vec![CertificateDer::from(cert.der().to_vec())],
            signing,
        )))
    }
}

fn create(home: &Path, cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    macaroon_home::create_private_dir(home)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "macaroon-proxy local CA");
    dn.push(DnType::OrganizationName, "macaroon");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(3600)).into();
    params.not_after = (now + std::time::Duration::from_secs(10 * 365 * 24 * 3600)).into();
    let cert = params.self_signed(&key)?;
    macaroon_home::write_private_file(key_path, key.serialize_pem().as_bytes())?;
    macaroon_home::write_public_file(cert_path, cert.pem().as_bytes())?;
    Ok(())
}

/// The Python start-up hook that `macaroon exec` installs too (one file, embedded by both):
/// it points SDKs that pin their own CA bundle (`stripe.ca_bundle_path`) and
/// `certifi.where()` at `SSL_CERT_FILE`, so they accept the intercepting proxy's leaves.
const SITECUSTOMIZE: &str = macaroon_home::SITECUSTOMIZE;

/// Loopback: the admin listener and local services are reached directly, never through
/// the proxy (which would answer 401 for want of a token).
const NO_PROXY: &str = "localhost,127.0.0.1,::1";

/// Writes the Python hook as `$MACAROON_HOME/python/sitecustomize.py` (where `macaroon
/// exec` writes it) and returns that directory, for the front of `PYTHONPATH`.
pub fn write_python_hook(home: &Path) -> anyhow::Result<PathBuf> {
    let dir = home.join("python");
    macaroon_home::create_public_dir(&dir)?;
    macaroon_home::write_public_file(&dir.join("sitecustomize.py"), SITECUSTOMIZE.as_bytes())?;
    Ok(dir)
}

/// Quotes `value` for a POSIX shell: single quotes, with each `'` written as `'\''`.
fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Where a client finds what it needs to use the proxy: the CA alone (for Node, which adds
/// it to its own roots), the bundle of system roots plus the CA (for variables that
/// replace a trust store), and the directory holding the Python hook.
#[derive(Debug)]
pub struct ClientFiles<'a> {
    /// The CA certificate, PEM.
    pub ca: &'a Path,
    /// The system roots followed by the CA.
    pub bundle: &'a Path,
    /// The directory holding `sitecustomize.py`.
    pub python: &'a Path,
}

/// The environment lines a client needs to use the proxy and trust its CA: POSIX shell,
/// values quoted, so `eval "$(macaroon-proxy ca)"` works whatever the paths hold.
pub fn client_env(files: &ClientFiles<'_>, proxy_url: &str) -> String {
    let q = |p: &Path| sh_quote(&p.display().to_string());
    let (ca, b, py, url, loopback) = (
        q(files.ca),
        q(files.bundle),
        q(files.python),
        sh_quote(proxy_url),
        sh_quote(NO_PROXY),
    );
    format!(
        "export HTTPS_PROXY={url} https_proxy={url} HTTP_PROXY={url} http_proxy={url}\n\
         export NO_PROXY={loopback} no_proxy={loopback}  # loopback (e.g. the admin port) goes direct\n\
         export SSL_CERT_FILE={b}       # OpenSSL, Go, Ruby, Python httpx, many others\n\
         export CURL_CA_BUNDLE={b}      # curl\n\
         export REQUESTS_CA_BUNDLE={b}  # Python requests\n\
         export GIT_SSL_CAINFO={b}      # git\n\
         export AWS_CA_BUNDLE={b}       # AWS SDKs and CLI\n\
         export NODE_EXTRA_CA_CERTS={ca}  # Node.js (added to its built-in roots)\n\
         export PYTHONPATH={py}\"${{PYTHONPATH:+:$PYTHONPATH}}\"  # Python SDKs that pin a CA bundle (stripe, certifi)\n\
         # Java: keytool -importcert -alias macaroon -file {ca} -keystore <truststore>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_key_is_private_and_a_wider_one_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let ca = LocalCa::load_or_create(dir.path()).expect("create");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = dir.path().join(CA_KEY_FILE);
            assert_eq!(
                std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let e = LocalCa::load_or_create(dir.path())
                .expect_err("too open")
                .to_string();
            assert!(e.contains("chmod 600"), "{e}");
        }
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!format!("{ca:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn leaves_are_cached_per_host() {
        let dir = tempfile::tempdir().expect("tmp");
        let ca = LocalCa::load_or_create(dir.path()).expect("create");
        let a = ca.leaf("api.example.test").expect("leaf");
        let b = ca.leaf("api.example.test").expect("leaf");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &ca.leaf("127.0.0.1").expect("ip leaf")));
    }

    /// Whether `leaf` verifies for `host` against the CA at `at`.
    fn valid_at(ca: &LocalCa, leaf: &CertifiedKey, host: &str, at: std::time::SystemTime) -> bool {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca.cert_pem().as_bytes()) {
            roots.add(c.expect("pem")).expect("root");
        }
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier");
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).expect("name");
        let secs = at
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        verifier
            .verify_server_cert(
                &leaf.cert[0],
                &[],
                &name,
                &[],
                rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs)),
            )
            .is_ok()
    }

    /// A proxy that runs for months never serves an expired leaf: a cached one is replaced
    /// once half its 30 days are gone (and when the clock was set back before its start),
    /// for sealed hosts and other names alike.
    #[test]
    fn cached_leaves_are_renewed_long_before_they_expire() {
        let dir = tempfile::tempdir().expect("tmp");
        let ca = LocalCa::load_or_create(dir.path()).expect("create");
        ca.protect("api.example.test");
        let day = std::time::Duration::from_secs(24 * 3600);
        let t0 = std::time::SystemTime::now();
        for host in ["api.example.test", "other.example.test"] {
            let first = ca.leaf_at(host, t0).expect("leaf");
            assert!(Arc::ptr_eq(
                &first,
                &ca.leaf_at(host, t0 + 14 * day).expect("leaf")
            ));
            let later = t0 + 16 * day;
            let renewed = ca.leaf_at(host, later).expect("leaf");
            assert!(!Arc::ptr_eq(&first, &renewed), "{host}: not renewed");
            assert!(Arc::ptr_eq(&renewed, &ca.leaf_at(host, later).expect("leaf")));
            // The old one would have expired while the proxy still served it; the new one
            // is valid well past that.
            assert!(!valid_at(&ca, &first, host, t0 + 31 * day));
            assert!(valid_at(&ca, &renewed, host, t0 + 31 * day));
            assert!(valid_at(&ca, &renewed, host, later + 29 * day));
            // A clock set back past the leaf's start gets a leaf valid at that time.
            let back = later - 2 * day;
            let rewound = ca.leaf_at(host, back).expect("leaf");
            assert!(!Arc::ptr_eq(&renewed, &rewound));
            assert!(valid_at(&ca, &rewound, host, back));
        }
    }

    /// A flood of made-up names cycles the cache for other names, never a sealed host's.
    #[test]
    fn a_flood_of_names_cannot_evict_a_sealed_hosts_leaf() {
        let dir = tempfile::tempdir().expect("tmp");
        let ca = LocalCa::load_with(dir.path(), 16).expect("create");
        ca.protect("api.example.test");
        let sealed = ca.leaf("api.example.test").expect("leaf");
        let other = ca.leaf("victim.example.test").expect("leaf");
        for _ in 0..3 {
            assert!(Arc::ptr_eq(&sealed, &ca.leaf("api.example.test").expect("leaf")));
            assert!(Arc::ptr_eq(
                &other,
                &ca.leaf("victim.example.test").expect("leaf")
            ));
        }
        // Each made-up name asked for a few times, so the cache counts it as in use too.
        let flood = |prefix: &str| {
            for i in 0..400 {
                for _ in 0..4 {
                    ca.leaf(&format!("{prefix}{i}.flood.test")).expect("leaf");
                }
            }
        };
        flood("n");
        assert!(Arc::ptr_eq(&sealed, &ca.leaf("api.example.test").expect("leaf")));
        assert!(
            !Arc::ptr_eq(&other, &ca.leaf("victim.example.test").expect("leaf")),
            "the flood does evict other names (so the test shows something)"
        );
        // A name protected after its leaf was made keeps that leaf, now out of reach.
        let late = ca.leaf("late.example.test").expect("leaf");
        ca.protect("late.example.test");
        assert!(Arc::ptr_eq(&late, &ca.leaf("late.example.test").expect("leaf")));
        flood("m");
        assert!(Arc::ptr_eq(&late, &ca.leaf("late.example.test").expect("leaf")));
    }

    #[test]
    fn client_env_quotes_paths_for_the_shell() {
        let files = ClientFiles {
            ca: Path::new("/home/o'neil/Application Support/macaroon/ca.pem"),
            bundle: Path::new("/b"),
            python: Path::new("/h/python"),
        };
        let env = client_env(&files, "http://127.0.0.1:8080");
        assert!(
            env.contains(r"NODE_EXTRA_CA_CERTS='/home/o'\''neil/Application Support/macaroon/ca.pem'"),
            "{env}"
        );
        assert!(
            env.contains(r#"export PYTHONPATH='/h/python'"${PYTHONPATH:+:$PYTHONPATH}""#),
            "{env}"
        );
        assert!(env.contains("no_proxy='localhost,127.0.0.1,::1'"), "{env}");
    }
}
