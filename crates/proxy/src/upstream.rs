//! Connections to upstreams: resolve, check the addresses, connect once, speak TLS.
//!
//! The secret only ever travels over TLS (webpki roots plus `--upstream-ca`). Names are
//! resolved, every address is checked, and the checked address is the one connected to:
//! no second lookup can swap it. Link-local and metadata addresses are always refused,
//! private and loopback ones unless `--resolve` names them or `--allow-private` is set,
//! and the proxy never connects to its own listeners.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::Uri;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpStream;

/// Why a body could not be read or made (hyper's errors, a response that does not decode).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body type the proxy sends and returns.
pub type Body = BoxBody<Bytes, BodyError>;

/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where connections may go.
#[derive(Clone, Debug, Default)]
pub struct AddressPolicy {
    /// `--resolve HOST=IP:PORT`: every connection for HOST goes there (still TLS).
    pub overrides: HashMap<String, SocketAddr>,
    /// `--allow-private`: private and loopback addresses are allowed.
    pub allow_private: bool,
    /// The proxy's own listeners, never connected to.
    pub own: Vec<SocketAddr>,
}

impl AddressPolicy {
    /// Why `addr` may not be connected to for a name not in `--resolve`, if it may not.
    pub fn refuse(&self, addr: SocketAddr) -> Option<&'static str> {
        if self.is_own(addr) {
            return Some("it is this proxy's own listener");
        }
        let ip = canonical(addr.ip());
        if is_link_local(ip) {
            return Some("link-local and metadata addresses are always refused");
        }
        if !self.allow_private && (ip.is_loopback() || ip.is_unspecified() || is_private(ip)) {
            return Some("private and loopback addresses need --resolve or --allow-private");
        }
        None
    }

    /// True if `addr` is one of this proxy's own listeners.
    pub fn is_own(&self, addr: SocketAddr) -> bool {
        self.own.iter().any(|own| {
            own.port() == addr.port()
                && (own.ip() == addr.ip()
                    || own.ip().is_unspecified()
                    || (own.ip().is_loopback() && canonical(addr.ip()).is_loopback()))
        })
    }

    /// Resolves `host:port` and returns the addresses allowed, or why none is.
    pub async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Some(addr) = self.overrides.get(host) {
            if self.is_own(*addr) {
                return Err(refused(host, "it is this proxy's own listener"));
            }
            // --resolve may name private addresses, but never link-local or metadata ones.
            if is_link_local(canonical(addr.ip())) {
                return Err(refused(
                    host,
                    "link-local and metadata addresses are always refused",
                ));
            }
            return Ok(vec![*addr]);
        }
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        let mut why = "the name has no addresses";
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.refuse(*a) {
                Some(w) => {
                    why = w;
                    false
                }
                None => true,
            })
            .collect();
        if allowed.is_empty() {
            return Err(refused(host, why));
        }
        Ok(allowed)
    }

    /// Connects to the first allowed address of `host:port` that answers.
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in self.resolve(host, port).await? {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = e,
                Err(_) => {
                    last = io::Error::new(io::ErrorKind::TimedOut, format!("connecting to {addr} timed out"))
                }
            }
        }
        Err(last)
    }
}

fn refused(host: &str, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("refusing to connect to {host}: {why}"),
    )
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) || o[0] == 0
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// A `Service<Uri>` that connects through an [`AddressPolicy`]: the plain client's connector
/// (passthrough `http://` requests, which never carry a secret).
#[derive(Clone)]
pub struct PolicyConnector(pub Arc<AddressPolicy>);

impl tower_service::Service<Uri> for PolicyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            policy.connect(&host, port).await.map(TokioIo::new)
        })
    }
}

/// Root certificates for upstream TLS: the system's trust store (the Mozilla set built
/// into the binary where the system has none, e.g. a scratch container) plus the PEM
/// files given with `--upstream-ca`.
pub fn root_store(extra_ca: &[std::path::PathBuf]) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if added == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for path in extra_ca {
        let mut n = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| anyhow::anyhow!("--upstream-ca {}: {e}", path.display()))?
        {
            let cert = cert.map_err(|e| anyhow::anyhow!("--upstream-ca {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| anyhow::anyhow!("--upstream-ca {}: {e}", path.display()))?;
            n += 1;
        }
        if n == 0 {
            anyhow::bail!("--upstream-ca {} holds no PEM certificate", path.display());
        }
    }
    Ok(roots)
}

/// Idle upstream connections kept per host, across all pools. Enough for every in-flight
/// request of a busy host to find its connection again: a smaller cap closes connections
/// after each burst and opens new ones (a TLS handshake each) on the next; at 256 client
/// connections a cap of 64 doubled the CPU per request. Idle ones close after 90 s.
pub const MAX_IDLE_UPSTREAM: usize = 1024;

/// The upstream TLS configuration: system roots plus `--upstream-ca`, ring.
pub fn tls_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| unreachable_tls())
}

#[cold]
fn unreachable_tls() -> ! {
    // The ring provider always supports the safe default protocol versions.
    panic!("TLS provider without the default protocol versions")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn metadata_and_link_local_are_always_refused() {
        let p = AddressPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert!(p.refuse(addr("169.254.169.254:80")).is_some());
        assert!(p.refuse(addr("[fe80::1]:443")).is_some());
        assert!(p.refuse(addr("[::ffff:169.254.169.254]:443")).is_some());
    }

    #[test]
    fn private_needs_permission() {
        let p = AddressPolicy::default();
        for a in [
            "10.0.0.1:443",
            "192.168.1.1:443",
            "127.0.0.1:443",
            "[::1]:443",
            "100.64.0.1:443",
            "[fd00::1]:443",
        ] {
            assert!(p.refuse(addr(a)).is_some(), "{a}");
        }
        assert!(p.refuse(addr("93.184.216.34:443")).is_none());
        let open = AddressPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert!(open.refuse(addr("10.0.0.1:443")).is_none());
    }

    #[tokio::test]
    async fn resolve_never_returns_link_local_even_when_named() {
        let p = AddressPolicy {
            overrides: [("meta.example".to_string(), addr("169.254.169.254:443"))].into(),
            ..Default::default()
        };
        let e = p.resolve("meta.example", 443).await.expect_err("refused");
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let own = AddressPolicy {
            overrides: [("loop.example".to_string(), addr("127.0.0.1:8080"))].into(),
            own: vec![addr("127.0.0.1:8080")],
            ..Default::default()
        };
        assert!(own.resolve("loop.example", 443).await.is_err());
        assert!(
            AddressPolicy::default().resolve("localhost", 443).await.is_err(),
            "loopback needs permission"
        );
    }

    #[test]
    fn own_listener_is_refused() {
        let p = AddressPolicy {
            allow_private: true,
            own: vec![addr("0.0.0.0:8080")],
            ..Default::default()
        };
        assert!(p.refuse(addr("127.0.0.1:8080")).is_some());
        assert!(p.refuse(addr("127.0.0.1:8081")).is_none());
    }
}
