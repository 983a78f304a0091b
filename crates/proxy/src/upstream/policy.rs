//! Connections to upstreams: resolve, check the addresses, connect once, speak TLS.
//!
//! The secret only ever travels over TLS (the system's roots plus `--upstream-ca`, never
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`, never the proxy's own CA). Names are resolved, every
//! address is checked, and the checked address is the one connected to: no second lookup
//! can swap it. Link-local and metadata addresses are always refused, private and loopback
//! ones unless `--resolve` names them or `--allow-private` is set, and the proxy never
//! connects to its own listeners. An IPv6 address that carries an IPv4 one (mapped,
//! compatible, NAT64, 6to4, Teredo) is judged by both.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::limits::CONNECT_TIMEOUT;
use hyper::Uri;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpStream;

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
        if never_connected(addr.ip()) {
            return Some(NEVER);
        }
        if !self.allow_private && restricted(addr.ip()) {
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
            if never_connected(addr.ip()) {
                return Err(refused(host, NEVER));
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

/// Why an address is refused whatever the flags say.
const NEVER: &str = "link-local and metadata addresses are always refused";

/// `ip` and the IPv4 address it carries, if it is an IPv6 one that embeds one: mapped
/// (`::ffff:0:0/96`), compatible (`::/96`), NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`)
/// or Teredo (`2001::/32`, the client's). A route through a translator or tunnel reaches
/// the embedded address, so both are checked.
fn with_embedded(ip: IpAddr) -> impl Iterator<Item = IpAddr> {
    let inner = match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    std::iter::once(ip).chain(inner)
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        // `::` and `::1` are IPv6's own unspecified and loopback addresses.
        [0, 0, 0, 0, 0, 0, 0, 0..=1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(low))),
        _ => None,
    }
}

/// Link-local or metadata, in itself or in the IPv4 address it carries: never connected to.
pub(crate) fn never_connected(ip: IpAddr) -> bool {
    with_embedded(ip).any(|ip| is_link_local(ip) || is_metadata(ip))
}

/// Loopback, unspecified or private, in itself or in the IPv4 address it carries.
fn restricted(ip: IpAddr) -> bool {
    with_embedded(ip).any(|ip| ip.is_loopback() || ip.is_unspecified() || is_private(ip))
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Cloud instance services outside link-local space: AWS's `fd00:ec2::/32` (the instance
/// metadata service at `fd00:ec2::254`, its DNS resolver and time server).
fn is_metadata(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[..2] == [0xfd00, 0x0ec2])
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) || o[0] == 0
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // Unique local (fc00::/7), site-local (fec0::/10, deprecated), and the NAT64
            // prefix for local use (64:ff9b:1::/48), which translates to private networks.
            (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 || s[..3] == [0x64, 0xff9b, 1]
        }
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
///
/// Never `SSL_CERT_FILE` / `SSL_CERT_DIR`: the client set-up (`macaroon-proxy ca`) points
/// them at a bundle holding this proxy's own CA, and a proxy started from that shell would
/// trust its own CA upstream and lose the system roots. And never the proxy's own CA
/// (`own_ca_pem`), wherever it turns up: it is dropped with a warning on stderr, from the
/// system store or an `--upstream-ca` file alike.
pub fn root_store(
    extra_ca: &[std::path::PathBuf],
    own_ca_pem: &str,
) -> anyhow::Result<rustls::RootCertStore> {
    let own = own_key(own_ca_pem)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(system_roots());
    if drop_own(&mut roots, &own) {
        eprintln!(
            "macaroon-proxy: the system trust store holds this proxy's own CA; it is not trusted for upstreams"
        );
    }
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for path in extra_ca {
        let bad = |e: &dyn std::fmt::Display| anyhow::anyhow!("--upstream-ca {}: {e}", path.display());
        let mut file = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
            file.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
        }
        if file.is_empty() {
            anyhow::bail!("--upstream-ca {} holds no PEM certificate", path.display());
        }
        if drop_own(&mut file, &own) {
            eprintln!(
                "macaroon-proxy: --upstream-ca {} holds this proxy's own CA (ca.pem, or a ca-bundle.pem made for clients); \
                 it is not trusted for upstreams: give --upstream-ca only the CAs of the upstreams' certificates",
                path.display()
            );
        }
        roots.roots.extend(file.roots);
    }
    Ok(roots)
}

/// The public key of the proxy's own CA certificate: any root with it is that CA.
fn own_key(pem: &str) -> anyhow::Result<Vec<u8>> {
    let mut one = rustls::RootCertStore::empty();
    let cert = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("the proxy CA certificate (ca.pem) does not parse: {e}"))?;
    one.add(cert)
        .map_err(|e| anyhow::anyhow!("the proxy CA certificate (ca.pem) is not usable: {e}"))?;
    Ok(one.roots[0].subject_public_key_info.to_vec())
}

/// Removes the roots whose key is `own`; true if there was one.
fn drop_own(roots: &mut rustls::RootCertStore, own: &[u8]) -> bool {
    let before = roots.roots.len();
    roots.roots.retain(|r| r.subject_public_key_info.as_ref() != own);
    roots.roots.len() != before
}

/// The system's root certificates, whatever `SSL_CERT_FILE` / `SSL_CERT_DIR` say (see
/// `macaroon_home::system_roots`); where the platform store could only be read through
/// them, none, and the Mozilla set built in is used.
fn system_roots() -> Vec<CertificateDer<'static>> {
    let (roots, env_ignored) = macaroon_home::system_roots();
    if env_ignored {
        eprintln!(
            "macaroon-proxy: SSL_CERT_FILE / SSL_CERT_DIR are set (they are for clients): upstreams are verified \
             against the Mozilla roots built in, plus --upstream-ca"
        );
    }
    roots.into_iter().map(CertificateDer::from).collect()
}

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
    fn aws_metadata_over_ipv6_is_always_refused() {
        let p = AddressPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert!(p.refuse(addr("[fd00:ec2::254]:80")).is_some());
        assert!(p.refuse(addr("[fd00:ec2::253]:53")).is_some());
        assert!(
            p.refuse(addr("[fd00:ec3::254]:80")).is_none(),
            "another ULA: private, allowed"
        );
    }

    /// An IPv6 address that carries an IPv4 one is judged by both.
    #[test]
    fn embedded_ipv4_addresses_are_checked() {
        let open = AddressPolicy {
            allow_private: true,
            ..Default::default()
        };
        let closed = AddressPolicy::default();
        // 169.254.169.254 through NAT64, 6to4, IPv4-compatible, Teredo and mapped forms.
        for a in [
            "[64:ff9b::a9fe:a9fe]:80",
            "[2002:a9fe:a9fe::1]:80",
            "[::a9fe:a9fe]:80",
            "[2001:0:4136:e378:8000:63bf:5601:5601]:80",
            "[::ffff:169.254.169.254]:80",
        ] {
            assert_eq!(open.refuse(addr(a)), Some(NEVER), "{a}");
        }
        // Private and loopback ones need permission, as in IPv4.
        for a in [
            "[64:ff9b::a00:1]:443",
            "[64:ff9b::7f00:1]:443",
            "[2002:c0a8:101::1]:443",
            "[::7f00:1]:443",
            "[64:ff9b:1::a00:1]:443",
        ] {
            assert!(closed.refuse(addr(a)).is_some(), "{a}");
            assert!(open.refuse(addr(a)).is_none(), "{a}");
        }
        // Public addresses behind a translator are fine; `::1` stays IPv6 loopback.
        assert!(closed.refuse(addr("[64:ff9b::5db8:d822]:443")).is_none());
        assert!(closed.refuse(addr("[2002:5db8:d822::1]:443")).is_none());
        assert!(closed.refuse(addr("[2606:4700::1111]:443")).is_none());
        assert!(closed.refuse(addr("[::1]:443")).is_some());
    }

    #[tokio::test]
    async fn resolve_never_returns_embedded_metadata_even_when_named() {
        let p = AddressPolicy {
            overrides: [("meta.example".to_string(), addr("[64:ff9b::a9fe:a9fe]:443"))].into(),
            ..Default::default()
        };
        assert!(p.resolve("meta.example", 443).await.is_err());
        let aws = AddressPolicy {
            overrides: [("meta.example".to_string(), addr("[fd00:ec2::254]:80"))].into(),
            ..Default::default()
        };
        assert!(aws.resolve("meta.example", 443).await.is_err());
    }

    fn ca_pem(name: &str) -> String {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.self_signed(&key).expect("ca").pem()
    }

    fn has(roots: &rustls::RootCertStore, pem: &str) -> bool {
        let mut one = rustls::RootCertStore::empty();
        one.add(CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem"))
            .expect("add");
        roots.roots.contains(&one.roots[0])
    }

    /// The proxy's own CA is never an upstream root, even inside an `--upstream-ca` bundle;
    /// the bundle's other CAs are kept.
    #[test]
    fn the_proxy_ca_is_never_an_upstream_root() {
        let dir = tempfile::tempdir().expect("dir");
        let (own, other) = (ca_pem("own"), ca_pem("upstream"));
        let bundle = dir.path().join("bundle.pem");
        std::fs::write(&bundle, format!("{other}{own}")).expect("write");
        let roots = root_store(std::slice::from_ref(&bundle), &own).expect("roots");
        assert!(has(&roots, &other));
        assert!(!has(&roots, &own));
        let only_own = dir.path().join("own.pem");
        std::fs::write(&only_own, &own).expect("write");
        let roots = root_store(&[only_own], &own).expect("roots");
        assert!(!has(&roots, &own));
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
