//! The server side of intercepted TLS (CONNECT tunnels and transparent mode): the rustls
//! settings every intercepted connection starts from, built once, with one session store
//! and one ticket key, so a client that comes back for the same host resumes its session
//! (no certificate, no signature; TLS 1.2: no key exchange either) instead of a full
//! handshake. Built per connection, as before, every store was new and empty: no client
//! ever resumed, and each connection paid for building the settings and an empty store.
//!
//! Only a connection whose SNI is exactly the host it is for shares them: rustls resumes a
//! session only for the SNI it was made for, so a session is never resumed for another
//! host; a connection without SNI, or naming another host than its tunnel's, gets settings
//! of its own with nothing to resume (and fails as before when the names differ).

use std::sync::Arc;

use caveat::Host;
use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::StartHandshake;

use crate::coalesce::Coalesced;

/// Sessions remembered for clients that resume by session id (TLS 1.2 without tickets);
/// clients with tickets (all of TLS 1.3) need no memory here.
const SESSIONS: usize = 1024;

/// The shared starting point of intercepted connections' TLS settings.
pub struct InterceptTls {
    /// `None` if they could not be built: each connection then builds its own, and meets
    /// the same error there.
    shared: Option<ServerConfig>,
}

impl std::fmt::Debug for InterceptTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InterceptTls(..)")
    }
}

impl Default for InterceptTls {
    fn default() -> Self {
        Self::new()
    }
}

impl InterceptTls {
    /// Settings with a session store and a ticket key (random, kept in memory only, rotated
    /// by rustls every 6 hours). If no ticket key can be made, sessions resume by id only.
    pub fn new() -> Self {
        let shared = base(Arc::new(OneHost::none())).ok().map(|mut shared| {
            shared.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSIONS);
            if let Ok(ticketer) = rustls::crypto::aws_lc_rs::Ticketer::new() {
                shared.ticketer = ticketer;
            }
            shared
        });
        InterceptTls { shared }
    }

    /// The settings for one connection to `host` with `leaf`, whose ClientHello named
    /// `sni`: the shared ones (a clone: the store and ticket key are shared, the rest is
    /// copied) when `sni` is exactly `host`, otherwise settings of its own.
    pub fn config(
        &self,
        host: Host,
        leaf: Arc<CertifiedKey>,
        sni: Option<&str>,
    ) -> Result<Arc<ServerConfig>, rustls::Error> {
        let resolver = Arc::new(OneHost {
            host,
            leaf: Some(leaf),
        });
        let same = sni
            .and_then(|s| Host::normalize(s).ok())
            .is_some_and(|s| s == resolver.host);
        match &self.shared {
            Some(shared) if same => {
                let mut cfg = shared.clone();
                cfg.cert_resolver = resolver;
                Ok(Arc::new(cfg))
            }
            _ => Ok(Arc::new(base(resolver)?)),
        }
    }
}

/// Finishes a handshake whose ClientHello `start` holds, with `cfg`, its writes coalesced
/// ([`Coalesced`]): the session ticket, its last record, goes out with the first response
/// instead of on its own, if that comes within `ticket_hold` ([`crate::coalesce::TICKET_HOLD`]).
/// A failed handshake's alert is still sent.
pub async fn finish<S: AsyncRead + AsyncWrite + Unpin>(
    mut start: StartHandshake<Coalesced<S>>,
    cfg: Arc<ServerConfig>,
    ticket_hold: std::time::Duration,
) -> std::io::Result<TlsStream<Coalesced<S>>> {
    start.io.hold();
    match start.into_stream(cfg).into_fallible().await {
        Ok(mut stream) => {
            // After TLS 1.3's handshake only the ticket can be held, and no client waits for
            // it; after TLS 1.2's the client waits for the server's last flight.
            let tls13 = stream.get_ref().1.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
            stream.get_mut().0.release(tls13.then_some(ticket_hold));
            Ok(stream)
        }
        Err((e, mut io)) => {
            let _ = io.send_held().await;
            Err(e)
        }
    }
}

/// ALPN h2 and http/1.1, rustls' safe defaults, [`provider`] (AES-128-GCM chosen first),
/// and `resolver`.
fn base(resolver: Arc<OneHost>) -> Result<ServerConfig, rustls::Error> {
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Ours, not the client's: most clients (OpenSSL's default) put AES-256-GCM-SHA384 first,
    // whose key schedule runs on SHA-384, which no CPU speeds up; AES-128-GCM-SHA256's runs
    // on SHA-256, which x86 and ARM CPUs do in hardware (as Go's TLS server prefers it).
    cfg.ignore_client_order = true;
    // One ticket per connection, not rustls' two: HTTP clients resume from the latest one,
    // and each ticket costs an encryption and a record on every handshake, resumed ones
    // included. A client that opens several connections at once gets one from each.
    cfg.send_tls13_tickets = 1;
    Ok(cfg)
}

/// The key exchange of rustls' aws-lc-rs provider with the cipher suites of its ring one,
/// the AES-128-GCM suites (TLS 1.3 and 1.2) first; the rest keep their order.
///
/// aws-lc-rs for the key exchange paid on every client connection: even a resumed TLS 1.3
/// handshake does an X25519 exchange, which aws-lc's formally verified s2n-bignum code does
/// in about 60 % of ring's time (a keypair and an agreement: 31-36 µs against 55-59 µs
/// here), and it also offers the X25519MLKEM768 post-quantum hybrid to clients that ask for
/// it. ring (which the proxy's other TLS uses) for the suites, whose HKDF and HMAC run the
/// TLS 1.3 key schedule: aws-lc sets up an HMAC context for each of its dozen steps, and a
/// resumed handshake costs the server 1-3 µs more with its suites (`benches/handshake.rs`:
/// 48 µs against 49 µs, and 70 µs with ring's key exchange too).
fn provider() -> rustls::crypto::CryptoProvider {
    use rustls::CipherSuite as S;
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    p.cipher_suites = rustls::crypto::ring::default_provider().cipher_suites;
    p.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            S::TLS13_AES_128_GCM_SHA256
                | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    p
}

/// Answers only for the connection's host: an SNI naming any other host fails the
/// handshake.
#[derive(Debug)]
struct OneHost {
    host: Host,
    leaf: Option<Arc<CertifiedKey>>,
}

impl OneHost {
    /// Answers for no host (the shared settings' placeholder, always replaced).
    fn none() -> Self {
        OneHost {
            host: Host::normalize("invalid").unwrap_or_else(|_| unreachable!("a valid host name")),
            leaf: None,
        }
    }
}

impl ResolvesServerCert for OneHost {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match hello.server_name() {
            None => self.leaf.clone(),
            Some(sni) => Host::normalize(sni)
                .ok()
                .filter(|h| *h == self.host)
                .and_then(|_| self.leaf.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::HandshakeKind;

    /// One handshake over an in-memory pipe; how the server side went.
    async fn handshake(
        tls: &InterceptTls,
        ca: &crate::ca::LocalCa,
        client: &Arc<rustls::ClientConfig>,
        host: &str,
        sni: &str,
    ) -> Option<HandshakeKind> {
        let (c, s) = tokio::io::duplex(64 * 1024);
        let leaf = ca.leaf(host).expect("leaf");
        let host = Host::normalize(host).expect("host");
        let server = async {
            let start = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), s)
                .await
                .ok()?;
            let sni = start.client_hello().server_name().map(str::to_string);
            let cfg = tls.config(host, leaf, sni.as_deref()).expect("config");
            let mut stream = start.into_stream(cfg).await.ok()?;
            // TLS 1.3 tickets go out after the handshake: write, so the client reads them.
            tokio::io::AsyncWriteExt::write_all(&mut stream, b"x")
                .await
                .ok()?;
            stream.get_ref().1.handshake_kind()
        };
        let client = async {
            let name = rustls::pki_types::ServerName::try_from(sni.to_string()).expect("name");
            let mut stream = tokio_rustls::TlsConnector::from(client.clone())
                .connect(name, c)
                .await
                .ok()?;
            let mut b = [0u8; 1];
            tokio::io::AsyncReadExt::read_exact(&mut stream, &mut b)
                .await
                .ok()
        };
        let (kind, _) = tokio::join!(server, client);
        kind
    }

    fn client(
        ca: &crate::ca::LocalCa,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .expect("versions")
                .with_root_certificates(roots(ca))
                .with_no_client_auth(),
        )
    }

    /// The local CA as the only root.
    fn roots(ca: &crate::ca::LocalCa) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile_certs(ca.cert_pem()) {
            roots.add(c).expect("root");
        }
        roots
    }

    fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("pem")
    }

    /// A fresh CA (in a directory that lives as long as the first value) and shared settings.
    fn setup() -> (tempfile::TempDir, crate::ca::LocalCa, InterceptTls) {
        let dir = tempfile::tempdir().expect("tmp");
        let ca = crate::ca::LocalCa::load_or_create(dir.path()).expect("ca");
        (dir, ca, InterceptTls::new())
    }

    /// Counts the write calls that reach a socket.
    struct Counting<S> {
        io: S,
        writes: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
        }
    }

    impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
        }
        fn poll_write_vectored(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
        }
        fn is_write_vectored(&self) -> bool {
            self.io.is_write_vectored()
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.io).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
        }
    }

    /// The server side of an intercepted connection for `host` on `io`, as the proxy runs
    /// it: the ClientHello read, then [`finish`] with `ticket_hold`.
    async fn serve_tls<S: AsyncRead + AsyncWrite + Unpin>(
        io: S,
        tls: &InterceptTls,
        ca: &crate::ca::LocalCa,
        host: &str,
        ticket_hold: std::time::Duration,
    ) -> TlsStream<Coalesced<S>> {
        let acceptor = tokio_rustls::LazyConfigAcceptor::new(
            rustls::server::Acceptor::default(),
            Coalesced::new(io, bytes::Bytes::new()),
        );
        let start = acceptor.await.expect("client hello");
        let leaf = ca.leaf(host).expect("leaf");
        let cfg = tls
            .config(Host::normalize(host).expect("host"), leaf, Some(host))
            .expect("config");
        finish(start, cfg, ticket_hold).await.expect("handshake")
    }

    /// One request and answer over a real socket through [`finish`]: the handshake kind and
    /// the server's write calls (handshake, ticket and answer).
    async fn exchange(
        tls: &InterceptTls,
        ca: &crate::ca::LocalCa,
        client: &Arc<rustls::ClientConfig>,
        host: &str,
    ) -> (HandshakeKind, usize) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            let io = Counting {
                io: tcp,
                writes: writes.clone(),
            };
            // The answer is written at once; the limit only keeps a slow machine from
            // sending the ticket alone, which would change the count.
            let hold = std::time::Duration::from_secs(3600);
            let mut stream = serve_tls(io, tls, ca, host, hold).await;
            let mut request = [0u8; 5];
            stream.read_exact(&mut request).await.expect("request");
            stream.write_all(b"answer").await.expect("answer");
            stream.flush().await.expect("flush");
            stream.get_ref().1.handshake_kind().expect("kind")
        };
        let client = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let name = rustls::pki_types::ServerName::try_from(host.to_string()).expect("name");
            let mut stream = tokio_rustls::TlsConnector::from(client.clone())
                .connect(name, tcp)
                .await
                .expect("client handshake");
            stream.write_all(b"GET /").await.expect("request");
            let mut answer = [0u8; 6];
            stream.read_exact(&mut answer).await.expect("answer");
            assert_eq!(&answer, b"answer");
            // A TLS 1.3 ticket is read with the answer: the next connection resumes.
        };
        let (kind, ()) = tokio::join!(server, client);
        (kind, writes.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Through [`finish`], a TLS 1.3 server writes twice per connection, full or resumed:
    /// its handshake, then the ticket with the answer (three before: the ticket went alone).
    /// TLS 1.2, whose client waits for the server's last flight, is not held up by it.
    #[tokio::test]
    async fn the_ticket_goes_out_with_the_first_answer() {
        let (_dir, ca, tls) = setup();
        let h = "api.example.test";
        let tls13 = client(&ca, &[&rustls::version::TLS13]);
        assert_eq!(exchange(&tls, &ca, &tls13, h).await, (HandshakeKind::Full, 2));
        assert_eq!(exchange(&tls, &ca, &tls13, h).await, (HandshakeKind::Resumed, 2));
        let tls12 = client(&ca, &[&rustls::version::TLS12]);
        assert_eq!(exchange(&tls, &ca, &tls12, h).await, (HandshakeKind::Full, 3));
        assert_eq!(exchange(&tls, &ca, &tls12, h).await, (HandshakeKind::Resumed, 2));
    }

    /// A client that comes back for the same host resumes (TLS 1.3 and 1.2): no new
    /// certificate, no signature. Settings built per connection never resumed.
    #[tokio::test]
    async fn a_client_that_comes_back_resumes_its_session() {
        let (_dir, ca, tls) = setup();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let client = client(&ca, &[version]);
            let h = "api.example.test";
            assert_eq!(
                handshake(&tls, &ca, &client, h, h).await,
                Some(HandshakeKind::Full)
            );
            assert_eq!(
                handshake(&tls, &ca, &client, h, h).await,
                Some(HandshakeKind::Resumed)
            );
        }
    }

    /// AES-128-GCM-SHA256 is chosen even when the client lists AES-256-GCM-SHA384 first.
    #[tokio::test]
    async fn aes_128_gcm_is_chosen_first() {
        let (_dir, ca, tls) = setup();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let client = client(&ca, &[version]);
            let h = "api.example.test";
            let suite = handshake_suite(&tls, &ca, &client, h).await;
            assert!(
                matches!(
                    suite,
                    Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256)
                        | Some(rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
                ),
                "{suite:?}"
            );
        }
    }

    /// The suite one handshake chose.
    async fn handshake_suite(
        tls: &InterceptTls,
        ca: &crate::ca::LocalCa,
        client: &Arc<rustls::ClientConfig>,
        host: &str,
    ) -> Option<rustls::CipherSuite> {
        handshake_params(tls, ca, client, host)
            .await
            .map(|(suite, _)| suite)
    }

    /// The suite and key exchange group one handshake chose (the server's view).
    async fn handshake_params(
        tls: &InterceptTls,
        ca: &crate::ca::LocalCa,
        client: &Arc<rustls::ClientConfig>,
        host: &str,
    ) -> Option<(rustls::CipherSuite, rustls::NamedGroup)> {
        let (c, s) = tokio::io::duplex(64 * 1024);
        let leaf = ca.leaf(host).expect("leaf");
        let cfg = tls
            .config(Host::normalize(host).expect("host"), leaf, Some(host))
            .expect("config");
        let server = async {
            let stream = tokio_rustls::TlsAcceptor::from(cfg).accept(s).await.ok()?;
            let conn = stream.get_ref().1;
            Some((
                conn.negotiated_cipher_suite()?.suite(),
                conn.negotiated_key_exchange_group()?.name(),
            ))
        };
        let client = async {
            let name = rustls::pki_types::ServerName::try_from(host.to_string()).expect("name");
            tokio_rustls::TlsConnector::from(client.clone())
                .connect(name, c)
                .await
                .ok()
        };
        tokio::join!(server, client).0
    }

    /// X25519 for a client that offers the usual groups; the X25519MLKEM768 post-quantum
    /// hybrid for one that offers only that.
    #[tokio::test]
    async fn the_key_exchange_is_x25519_or_the_post_quantum_hybrid_when_asked() {
        let (_dir, ca, tls) = setup();
        let h = "api.example.test";
        let usual = client(&ca, &[&rustls::version::TLS13]);
        let got = handshake_params(&tls, &ca, &usual, h).await.map(|(_, g)| g);
        assert_eq!(got, Some(rustls::NamedGroup::X25519));
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519MLKEM768];
        let pq = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(provider))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .expect("versions")
                .with_root_certificates(roots(&ca))
                .with_no_client_auth(),
        );
        let got = handshake_params(&tls, &ca, &pq, h).await.map(|(_, g)| g);
        assert_eq!(got, Some(rustls::NamedGroup::X25519MLKEM768));
    }

    /// Remembers the client's sessions as rustls' memory store does, counting the TLS 1.3
    /// tickets it is given.
    #[derive(Debug)]
    struct CountingStore {
        inner: rustls::client::ClientSessionMemoryCache,
        tickets: std::sync::atomic::AtomicUsize,
        /// Told of each ticket.
        ticket: tokio::sync::Notify,
    }

    impl CountingStore {
        fn new() -> Self {
            CountingStore {
                inner: rustls::client::ClientSessionMemoryCache::new(8),
                tickets: 0.into(),
                ticket: tokio::sync::Notify::new(),
            }
        }
    }

    impl rustls::client::ClientSessionStore for CountingStore {
        fn set_kx_hint(&self, name: rustls::pki_types::ServerName<'static>, group: rustls::NamedGroup) {
            self.inner.set_kx_hint(name, group);
        }
        fn kx_hint(&self, name: &rustls::pki_types::ServerName<'_>) -> Option<rustls::NamedGroup> {
            self.inner.kx_hint(name)
        }
        fn set_tls12_session(
            &self,
            name: rustls::pki_types::ServerName<'static>,
            value: rustls::client::Tls12ClientSessionValue,
        ) {
            self.inner.set_tls12_session(name, value);
        }
        fn tls12_session(
            &self,
            name: &rustls::pki_types::ServerName<'_>,
        ) -> Option<rustls::client::Tls12ClientSessionValue> {
            self.inner.tls12_session(name)
        }
        fn remove_tls12_session(&self, name: &rustls::pki_types::ServerName<'static>) {
            self.inner.remove_tls12_session(name);
        }
        fn insert_tls13_ticket(
            &self,
            name: rustls::pki_types::ServerName<'static>,
            value: rustls::client::Tls13ClientSessionValue,
        ) {
            self.tickets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.insert_tls13_ticket(name, value);
            self.ticket.notify_one();
        }
        fn take_tls13_ticket(
            &self,
            name: &rustls::pki_types::ServerName<'static>,
        ) -> Option<rustls::client::Tls13ClientSessionValue> {
            self.inner.take_tls13_ticket(name)
        }
    }

    /// One ticket per handshake, full or resumed: each costs an encryption and a record.
    #[tokio::test]
    async fn each_handshake_sends_one_ticket() {
        let (_dir, ca, tls) = setup();
        let store = Arc::new(CountingStore::new());
        let mut cfg = (*client(&ca, &[&rustls::version::TLS13])).clone();
        cfg.resumption = rustls::client::Resumption::store(store.clone());
        let cfg = Arc::new(cfg);
        let h = "api.example.test";
        let count = || store.tickets.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(handshake(&tls, &ca, &cfg, h, h).await, Some(HandshakeKind::Full));
        assert_eq!(count(), 1);
        assert_eq!(
            handshake(&tls, &ca, &cfg, h, h).await,
            Some(HandshakeKind::Resumed)
        );
        assert_eq!(count(), 2);
    }

    /// A client whose first answer is slow (the upstream takes its time) gets its ticket
    /// soon after the handshake anyway, from a connection served by hyper as the proxy
    /// serves it: a second connection opened meanwhile resumes instead of paying for a
    /// full handshake. Holding the ticket for the answer alone would fail this (no ticket
    /// until the answer, which waits for the second connection).
    #[tokio::test]
    async fn a_second_connection_resumes_while_the_first_answer_is_pending() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (_dir, ca, tls) = setup();
        let h = "api.example.test";
        let store = Arc::new(CountingStore::new());
        let mut cfg = (*client(&ca, &[&rustls::version::TLS13])).clone();
        cfg.resumption = rustls::client::Resumption::store(store.clone());
        let cfg = Arc::new(cfg);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (answer_tx, answer_rx) = tokio::sync::oneshot::channel::<()>();
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            let stream = serve_tls(tcp, &tls, &ca, h, crate::coalesce::TICKET_HOLD).await;
            let slow = std::sync::Mutex::new(Some(answer_rx));
            let service = hyper::service::service_fn(move |_req| {
                let wait = slow.lock().expect("lock").take();
                async move {
                    if let Some(wait) = wait {
                        let _ = wait.await;
                    }
                    let body = http_body_util::Full::new(bytes::Bytes::from_static(b"answer"));
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(body))
                }
            });
            hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
                .expect("serve");
        };
        let client = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let name = rustls::pki_types::ServerName::try_from(h.to_string()).expect("name");
            let mut first = tokio_rustls::TlsConnector::from(cfg.clone())
                .connect(name, tcp)
                .await
                .expect("client handshake");
            first
                .write_all(b"GET / HTTP/1.1\r\nhost: api.example.test\r\nconnection: close\r\n\r\n")
                .await
                .expect("request");
            let mut answer = Vec::new();
            let read_first = first.read_to_end(&mut answer);
            let second = async {
                tokio::time::timeout(std::time::Duration::from_secs(10), store.ticket.notified())
                    .await
                    .expect("no ticket reached the client while its first answer was pending");
                let kind = handshake(&tls, &ca, &cfg, h, h).await;
                answer_tx.send(()).expect("the server waits");
                kind
            };
            let (read, kind) = tokio::join!(read_first, second);
            read.expect("answer");
            assert!(
                answer.ends_with(b"answer"),
                "{}",
                String::from_utf8_lossy(&answer)
            );
            kind
        };
        let ((), kind) = tokio::join!(server, client);
        assert_eq!(kind, Some(HandshakeKind::Resumed));
    }

    /// A session is never resumed for another host, and an SNI naming another host than
    /// the connection's still fails the handshake, whatever the client kept.
    #[tokio::test]
    async fn sessions_stay_with_their_host() {
        let (_dir, ca, tls) = setup();
        let client = client(&ca, &[&rustls::version::TLS13]);
        let (a, b) = ("a.example.test", "b.example.test");
        assert_eq!(
            handshake(&tls, &ca, &client, a, a).await,
            Some(HandshakeKind::Full)
        );
        assert_eq!(
            handshake(&tls, &ca, &client, b, b).await,
            Some(HandshakeKind::Full)
        );
        // A tunnel opened to b whose client names a (and holds a session for a): refused.
        assert_eq!(handshake(&tls, &ca, &client, b, a).await, None);
        // That attempt spent the client's one ticket for a (tickets are single-use); a's
        // next connection is a full handshake, and the one after resumes again.
        assert_eq!(
            handshake(&tls, &ca, &client, a, a).await,
            Some(HandshakeKind::Full)
        );
        assert_eq!(
            handshake(&tls, &ca, &client, a, a).await,
            Some(HandshakeKind::Resumed)
        );
    }
}
