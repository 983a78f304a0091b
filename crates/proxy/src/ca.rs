//! The proxy's local certificate authority, for intercepting HTTPS_PROXY tunnels.
//!
//! Created on first run as `$MACAROON_HOME/ca.pem` + `ca.key` (0600). Clients that trust
//! `ca.pem` accept the leaf certificates issued here for the host they CONNECT to. Leaf
//! certificates are cached in memory: a handshake after the first costs no signing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// Most leaf certificates kept in memory; the cache is cleared when it would grow past it.
const LEAF_CACHE_MAX: usize = 10_000;

/// The local CA and its leaf cache.
pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_path: PathBuf,
    leaves: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalCa({}, private key redacted)", self.cert_path.display())
    }
}

impl LocalCa {
    /// Loads the CA from `home`, creating it first if there is none.
    pub fn load_or_create(home: &Path) -> anyhow::Result<Self> {
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
            leaves: Mutex::new(HashMap::new()),
        })
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
        if let Some(hit) = self
            .leaves
            .lock()
            .map_err(|_| anyhow::anyhow!("leaf cache poisoned"))?
            .get(host)
        {
            return Ok(hit.clone());
        }
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
        let now = std::time::SystemTime::now();
        params.not_before = (now - std::time::Duration::from_secs(3600)).into();
        params.not_after = (now + std::time::Duration::from_secs(30 * 24 * 3600)).into();
        let cert = params.signed_by(&key, &self.issuer)?;
        let der_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&der_key)
            .map_err(|e| anyhow::anyhow!("leaf key not usable: {e}"))?;
        let certified = Arc::new(CertifiedKey::new(
            vec![CertificateDer::from(cert.der().to_vec())],
            signing,
        ));
        let mut cache = self
            .leaves
            .lock()
            .map_err(|_| anyhow::anyhow!("leaf cache poisoned"))?;
        if cache.len() >= LEAF_CACHE_MAX {
            cache.clear();
        }
        cache.insert(host.to_string(), certified.clone());
        Ok(certified)
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
    std::fs::write(cert_path, cert.pem())
        .with_context(|| format!("could not write {}", cert_path.display()))?;
    Ok(())
}

/// The environment lines a client needs to trust the CA and use the proxy. `bundle` is
/// the system roots plus the CA (for variables that replace a trust store), `ca` the CA
/// alone (for Node, which adds it to its own roots).
pub fn client_env(ca: &Path, bundle: &Path, proxy_url: &str) -> String {
    let (ca, b) = (ca.display(), bundle.display());
    format!(
        "export HTTPS_PROXY={proxy_url} HTTP_PROXY={proxy_url}\n\
         export SSL_CERT_FILE={b}          # OpenSSL, Go, Ruby, many others\n\
         export CURL_CA_BUNDLE={b}         # curl\n\
         export REQUESTS_CA_BUNDLE={b}     # Python requests\n\
         export GIT_SSL_CAINFO={b}         # git\n\
         export NODE_EXTRA_CA_CERTS={ca}    # Node.js (added to its built-in roots)\n\
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
}
