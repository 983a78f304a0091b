//! What a resumed TLS 1.3 handshake costs the intercepting server, with the proxy's own
//! settings (`InterceptTls`: aws-lc's key exchange, ring's suites, one ticket) against
//! rustls' aws-lc-rs and ring providers as they come, in one process. The client is the
//! same for all (X25519 only, as OpenSSL clients offer), and only the server's work is
//! timed: reading the client's records, answering, writing.
//!
//! `cargo bench -p macaroon-proxy --bench handshake`

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ClientConnection, ServerConnection};

const HOST: &str = "api.stripe.com";

/// Serves one certificate, whatever the SNI.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// rustls' defaults with `provider`, and as ours: AES-128-GCM first, one ticket, a session
/// store and a ticket key.
fn plain(provider: rustls::crypto::CryptoProvider, leaf: &Arc<CertifiedKey>) -> Arc<ServerConfig> {
    let mut p = provider;
    p.cipher_suites
        .sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(p))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(leaf.clone())));
    cfg.ignore_client_order = true;
    cfg.send_tls13_tickets = 1;
    cfg.session_storage = rustls::server::ServerSessionMemoryCache::new(1024);
    cfg.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().expect("ticketer");
    Arc::new(cfg)
}

/// One handshake (resumed if the client holds a ticket); the time the server spent in it.
fn handshake(
    client: &Arc<ClientConfig>,
    server: &Arc<ServerConfig>,
) -> (Duration, Option<rustls::HandshakeKind>) {
    let name = rustls::pki_types::ServerName::try_from(HOST).expect("name");
    let mut c = ClientConnection::new(client.clone(), name).expect("client");
    let mut s = ServerConnection::new(server.clone()).expect("server");
    let mut spent = Duration::ZERO;
    let mut wire = Vec::new();
    while c.is_handshaking() || s.is_handshaking() || s.wants_write() {
        wire.clear();
        while c.wants_write() {
            c.write_tls(&mut wire).expect("client write");
        }
        let t = Instant::now();
        let mut r = &wire[..];
        while !r.is_empty() {
            s.read_tls(&mut r).expect("server read");
        }
        s.process_new_packets().expect("server");
        wire.clear();
        while s.wants_write() {
            s.write_tls(&mut wire).expect("server write");
        }
        spent += t.elapsed();
        let mut r = &wire[..];
        while !r.is_empty() {
            c.read_tls(&mut r).expect("client read");
        }
        c.process_new_packets().expect("client");
    }
    (spent, c.handshake_kind())
}

fn resumed(crit: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = macaroon_proxy::ca::LocalCa::load_or_create(dir.path()).expect("ca");
    let leaf = ca.leaf(HOST).expect("leaf");
    let ours = macaroon_proxy::intercept_tls::InterceptTls::new()
        .config(
            caveat::Host::normalize(HOST).expect("host"),
            leaf.clone(),
            Some(HOST),
        )
        .expect("config");
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca.cert_pem().as_bytes()) {
        roots.add(c.expect("pem")).expect("root");
    }
    let mut kx = rustls::crypto::aws_lc_rs::default_provider();
    kx.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    let mut client = ClientConfig::builder_with_provider(Arc::new(kx))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::in_memory_sessions(16);
    let client = Arc::new(client);
    let servers = [
        ("ours (aws-lc key exchange, ring suites)", ours),
        (
            "rustls aws-lc-rs provider",
            plain(rustls::crypto::aws_lc_rs::default_provider(), &leaf),
        ),
        (
            "rustls ring provider",
            plain(rustls::crypto::ring::default_provider(), &leaf),
        ),
    ];
    let mut group = crit.benchmark_group("resumed TLS 1.3 handshake, server side");
    for (name, server) in &servers {
        // A full handshake first: it leaves the client a ticket, and each resumed one a
        // new ticket for the next.
        handshake(&client, server);
        group.bench_function(*name, |b| {
            b.iter_custom(|n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    let (spent, kind) = handshake(&client, server);
                    assert_eq!(kind, Some(rustls::HandshakeKind::Resumed));
                    total += spent;
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, resumed);
criterion_main!(benches);
