//! TLS for the admin listener: required on any address but loopback, since operator
//! tokens (and the console's cookies) cross it. The certificate comes from
//! `--admin-cert`/`--admin-key` (PEM), or is a leaf for `--admin-name` from the proxy's
//! own CA (clients trust `ca.pem`).

use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::ca::LocalCa;
use crate::config::AdminTls;

/// The admin listener's TLS acceptor, or `None` for plain HTTP (loopback only; checked by
/// [`crate::config::Config::from_args`]).
pub fn acceptor(tls: Option<&AdminTls>, ca: &LocalCa) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    let Some(tls) = tls else { return Ok(None) };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth();
    let mut cfg = match tls {
        AdminTls::Files { cert, key } => {
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("--admin-cert {}: not a PEM certificate chain", cert.display()))?;
            if certs.is_empty() {
                anyhow::bail!("--admin-cert {} holds no PEM certificate", cert.display());
            }
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("--admin-key {}: not a PEM private key", key.display()))?;
            builder
                .with_single_cert(certs, key)
                .context("--admin-cert and --admin-key do not make a usable certificate (do they match?)")?
        }
        AdminTls::Name(name) => {
            let leaf = ca
                .leaf(name)
                .with_context(|| format!("--admin-name {name:?}: could not make a certificate for it"))?;
            builder.with_cert_resolver(Arc::new(Fixed(leaf)))
        }
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg))))
}

/// Always the same certificate.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
