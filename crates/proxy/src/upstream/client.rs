//! The upstream client: one pool of TLS connections per worker.
//!
//! hyper-util's pooled client runs every upstream connection as a task of its own and
//! hands each request and response across tasks, through a pool checkout (a shared map,
//! a lock, and a task spawned per request to wait for the connection's return). Here an
//! HTTP/1.1 upstream connection is driven by the request that uses it: the request's
//! future writes it and reads the response head, the response body reads the rest, and
//! the end of the body puts the connection back. Nothing crosses a task. An idle
//! connection is polled by nobody; it is polled once before reuse, which notices a close
//! the upstream sent meanwhile. HTTP/2 connections (chosen by ALPN) are shared by every
//! request of the worker and run as tasks of their own, as there.
//!
//! Idle connections close [`UPSTREAM_IDLE_TIMEOUT`] after their last use: an HTTP/1.1 one is
//! dropped with its pool entry, an HTTP/2 one ends once the pool's handle to it (the only
//! one left) is dropped. Nothing else keeps a request handle to a connection.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::uri::Authority;
use http::{Request, Response, Uri};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use crate::http::{Body, BodyError};
use crate::limits::UPSTREAM_IDLE_TIMEOUT;
use crate::upstream::policy::AddressPolicy;

type Io = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;

/// What every worker's pool connects with: the address policy and the TLS configuration
/// (one session cache, so any worker resumes a session another made).
pub struct Connector {
    policy: Arc<AddressPolicy>,
    tls: tokio_rustls::TlsConnector,
    /// Connections opened, for `/metrics`.
    opened: Arc<AtomicU64>,
}

impl Connector {
    /// A connector offering HTTP/2 and HTTP/1.1 by ALPN; `opened` counts its connections.
    pub fn new(policy: Arc<AddressPolicy>, mut tls: rustls::ClientConfig, opened: Arc<AtomicU64>) -> Self {
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Connector {
            policy,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            opened,
        }
    }
}

/// An HTTP/1.1 connection and its request handle, driven by whoever holds it.
struct H1 {
    tx: http1::SendRequest<Body>,
    conn: Pin<Box<http1::Connection<Io, Body>>>,
}

impl H1 {
    /// Polls the connection once; true when it has ended (closed, or failed).
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        self.conn.as_mut().poll(cx).is_ready()
    }

    /// [`H1::drive`], with wake-ups going nowhere when `quietly`, else to `cx`'s task.
    fn drive_as(&mut self, quietly: bool, cx: &mut Context<'_>) -> bool {
        if quietly {
            self.drive(&mut quiet())
        } else {
            self.drive(cx)
        }
    }
}

/// A connection checked out for one request.
enum Conn {
    H1(H1),
    H2(http2::SendRequest<Body>),
}

/// The idle connections of one authority.
#[derive(Default)]
struct Slot {
    /// Most recently returned last.
    h1: Vec<(H1, Instant)>,
    /// The shared HTTP/2 connection, and when a request last took it.
    h2: Option<(http2::SendRequest<Body>, Instant)>,
}

/// One worker's upstream connections, by authority (`host` or `host:port`).
pub struct Pool {
    connector: Arc<Connector>,
    idle: Mutex<HashMap<String, Slot>>,
    max_idle: usize,
    /// [`UPSTREAM_IDLE_TIMEOUT`], shorter in tests.
    idle_timeout: Duration,
}

impl Pool {
    /// A pool keeping up to `max_idle` idle HTTP/1.1 connections per authority.
    pub fn new(connector: Arc<Connector>, max_idle: usize) -> Arc<Pool> {
        Arc::new(Pool {
            connector,
            idle: Mutex::new(HashMap::new()),
            max_idle,
            idle_timeout: UPSTREAM_IDLE_TIMEOUT,
        })
    }

    /// Whether a connection idle since `since` has been kept long enough at `now`.
    fn expired(&self, since: Instant, now: Instant) -> bool {
        now.saturating_duration_since(since) >= self.idle_timeout
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while the map was held cannot leave it inconsistent: every change is one
        // push, pop or insert.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `req` (an absolute `https://` URI) on an idle connection of its authority or a
    /// new one. A request that a reused connection closed before it was sent is sent again
    /// on a new connection.
    ///
    /// A plain function returning its future: an `async fn` would hold the request twice
    /// in it, and this future is part of every request's.
    #[allow(clippy::manual_async_fn)]
    pub fn send(
        self: &Arc<Self>,
        mut req: Request<Body>,
    ) -> impl Future<Output = Result<Response<UpstreamBody>, BodyError>> + Send + '_ {
        async move {
            let uri = req.uri().clone();
            let (Some(authority), Some(host)) = (uri.authority(), uri.host()) else {
                return Err("the upstream URI has no host".into());
            };
            let key = authority.as_str();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = uri.port_u16().unwrap_or(443);
            loop {
                let (conn, reused) = match self.checkout(key) {
                    Some(conn) => (conn, true),
                    // Boxed: connecting (TLS handshake included) is a large future, and rare;
                    // inline, every request's future would carry its size.
                    None => (Box::pin(self.connect(key, host, port)).await?, false),
                };
                let returned = match conn {
                    Conn::H2(mut tx) => match tx.try_send_request(req).await {
                        Ok(resp) => return Ok(resp.map(UpstreamBody::new)),
                        Err(mut e) => match e.take_message() {
                            Some(back) if reused => back,
                            _ => return Err(e.into_error().into()),
                        },
                    },
                    Conn::H1(h1) => {
                        // HTTP/1.1 names the authority in Host (HTTP/2 in :authority).
                        if !req.headers().contains_key(HOST) {
                            req.headers_mut().insert(HOST, HeaderValue::from_str(key)?);
                        }
                        *req.uri_mut() = origin_form(&uri);
                        match send_h1(h1, req).await {
                            Ok((resp, h1)) => {
                                let driver = h1.map(|h1| Driver {
                                    h1,
                                    pool: self.clone(),
                                    key: authority.clone(),
                                });
                                return Ok(resp.map(|body| UpstreamBody { body, driver }));
                            }
                            Err(mut e) => match e.take_message() {
                                Some(back) if reused => back,
                                _ => return Err(e.into_error().into()),
                            },
                        }
                    }
                };
                req = returned;
                *req.uri_mut() = uri.clone();
            }
        }
    }

    /// An idle connection of `key` that is still open and ready, if there is one.
    fn checkout(&self, key: &str) -> Option<Conn> {
        loop {
            let (mut h1, since) = {
                let mut idle = self.lock();
                let slot = idle.get_mut(key)?;
                if let Some((tx, used)) = &mut slot.h2 {
                    let now = Instant::now();
                    if !tx.is_closed() && !self.expired(*used, now) {
                        *used = now;
                        return Some(Conn::H2(tx.clone()));
                    }
                    slot.h2 = None;
                }
                slot.h1.pop()?
            };
            if self.expired(since, Instant::now()) {
                continue;
            }
            // One poll notices a close (or stray bytes) the upstream sent while it was idle.
            // Quiet: the request is sent and the connection polled for real right after.
            if !h1.drive(&mut quiet()) && h1.tx.is_ready() {
                return Some(Conn::H1(h1));
            }
        }
    }

    /// Opens a connection to `host:port` through the address policy, over TLS.
    async fn connect(&self, key: &str, host: &str, port: u16) -> Result<Conn, BodyError> {
        let c = &self.connector;
        let tcp = c.policy.connect(host, port).await?;
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host} is no TLS server name"),
            )
        })?;
        let tls = c.tls.connect(name, tcp).await?;
        c.opened.fetch_add(1, Relaxed);
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(tls);
        if h2 {
            let (tx, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(io)
                .await?;
            tokio::spawn(conn);
            self.lock().entry(key.to_string()).or_default().h2 = Some((tx.clone(), Instant::now()));
            return Ok(Conn::H2(tx));
        }
        let (tx, conn) = http1::Builder::new().handshake(io).await?;
        Ok(Conn::H1(H1 {
            tx,
            conn: Box::pin(conn),
        }))
    }

    /// Takes back a connection whose response has been read whole.
    fn put(&self, key: &Authority, mut h1: H1) {
        // One quiet poll lets the connection see its end if it has not yet, and leaves
        // wake-ups nowhere: while idle it belongs to no task.
        if h1.drive(&mut quiet()) {
            return;
        }
        if !h1.tx.is_ready() {
            // Still busy (writing a request body the upstream did not wait for): let it
            // finish on its own. Without its request handle, which is dropped here, the
            // connection closes once that is done instead of waiting for another request.
            let H1 { tx, conn } = h1;
            if !tx.is_closed() {
                drop(tx);
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(conn);
                }
            }
            return;
        }
        let now = Instant::now();
        let mut idle = self.lock();
        // The authority's entry is there after its first connection: no key copied per request.
        let slot = match idle.get_mut(key.as_str()) {
            Some(slot) => slot,
            None => idle.entry(key.as_str().to_string()).or_default(),
        };
        // The oldest are first: drop those kept too long, then make room.
        let expired = slot.h1.iter().take_while(|(_, t)| self.expired(*t, now)).count();
        slot.h1.drain(..expired);
        if slot.h1.len() >= self.max_idle {
            slot.h1.remove(0);
        }
        slot.h1.push((h1, now));
    }

    /// Closes idle connections kept longer than [`UPSTREAM_IDLE_TIMEOUT`] (HTTP/2 ones: since a
    /// request last took them), and forgets closed HTTP/2 ones.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut idle = self.lock();
        idle.retain(|_, slot| {
            slot.h1.retain(|(_, t)| !self.expired(*t, now));
            if slot
                .h2
                .as_ref()
                .is_some_and(|(tx, used)| tx.is_closed() || self.expired(*used, now))
            {
                slot.h2 = None;
            }
            !slot.h1.is_empty() || slot.h2.is_some()
        });
    }
}

/// Sends `req` on `h1`, driving the connection until the response head arrives. The
/// connection comes back unless it ended meanwhile.
async fn send_h1(
    mut h1: H1,
    req: Request<Body>,
) -> Result<(Response<Incoming>, Option<H1>), hyper::client::conn::TrySendError<Request<Body>>> {
    let mut resp = std::pin::pin!(h1.tx.try_send_request(req));
    let mut h1 = Some(h1);
    let got = poll_fn(|cx| {
        // Quietly first, then (still no answer) waiting on the socket for this task: see
        // `UpstreamBody::poll_frame`. Only the connection answers, while it is polled here
        // (or when dropped), so the answer itself needs no wake-up.
        for quietly in [true, false] {
            if h1.as_mut().is_some_and(|c| c.drive_as(quietly, cx)) {
                // Dropped, so that a request it never answered fails instead of waiting.
                h1 = None;
            }
            // Without its connection (dropped: the answer is an error, ready now) the answer
            // waits for this task, to be safe.
            let polled = if h1.is_some() {
                resp.as_mut().poll(&mut quiet())
            } else {
                resp.as_mut().poll(cx)
            };
            if polled.is_ready() {
                return polled;
            }
        }
        Poll::Pending
    })
    .await?;
    Ok((got, h1))
}

/// A context whose wake-ups go nowhere, for what only a connection polled in the same
/// task can make ready.
fn quiet() -> Context<'static> {
    Context::from_waker(std::task::Waker::noop())
}

/// `/path?query` of `uri` (`/` when it has none).
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) if pq.as_str() != "/" => Uri::from(pq.clone()),
        _ => Uri::from_static("/"),
    }
}

/// The HTTP/1.1 connection a response body drives, and where it goes back.
struct Driver {
    h1: H1,
    pool: Arc<Pool>,
    key: Authority,
}

/// An upstream response body. Over HTTP/1.1 it drives its connection, and returns the
/// connection to the pool once it has been read whole; dropped before that, it closes it.
pub struct UpstreamBody {
    body: Incoming,
    driver: Option<Driver>,
}

impl UpstreamBody {
    /// A body whose connection is driven elsewhere (HTTP/2, or hyper-util's client).
    pub fn new(body: Incoming) -> Self {
        UpstreamBody { body, driver: None }
    }

    fn check_in(&mut self) {
        if let Some(d) = self.driver.take() {
            d.pool.put(&d.key, d.h1);
        }
    }
}

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if this.driver.is_none() {
            return Pin::new(&mut this.body).poll_frame(cx);
        }
        // The body is fed only by its connection, driven here, so it needs no wake-up of
        // its own; and the connection is driven quietly too (its wake-ups, such as the
        // body asking for more, would only poll this task once more for nothing) until it
        // has to wait for its socket: then it waits for this task.
        let mut polled = Poll::Pending;
        for quietly in [true, true, false] {
            let Some(d) = &mut this.driver else { break };
            if d.h1.drive_as(quietly, cx) {
                this.driver = None;
            }
            polled = Pin::new(&mut this.body).poll_frame(&mut quiet());
            if polled.is_ready() {
                break;
            }
        }
        if polled.is_pending() && this.driver.is_none() {
            // The connection ended: the body ends or fails on its own now.
            polled = Pin::new(&mut this.body).poll_frame(cx);
        }
        match &polled {
            Poll::Ready(None) => this.check_in(),
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.check_in(),
            Poll::Ready(Some(Err(_))) => this.driver = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // Read whole, it may serve another request; otherwise it closes with the driver.
        if hyper::body::Body::is_end_stream(&self.body) {
            self.check_in();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::AtomicUsize;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TLS upstream for `up.test` that counts its open connections. Over HTTP/2 it
    /// answers every request; over HTTP/1.1 it answers the first request as soon as its
    /// head has arrived (without waiting for a body), then reads until the client closes.
    struct Upstream {
        addr: std::net::SocketAddr,
        roots: rustls::RootCertStore,
        open: Arc<AtomicUsize>,
    }

    async fn upstream(alpn: &[u8]) -> Upstream {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["up.test".to_string()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("leaf");
        let mut tls =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(
                    vec![leaf.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
                )
                .expect("config");
        tls.alpn_protocols = vec![alpn.to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicUsize::new(0));
        let count = open.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, count) = (acceptor.clone(), count.clone());
                count.fetch_add(1, Relaxed);
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                            let svc = hyper::service::service_fn(|_req| async {
                                Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                                    Bytes::from_static(b"ok"),
                                )))
                            });
                            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(tls), svc)
                                .await;
                        } else {
                            let mut head = Vec::new();
                            let mut buf = [0u8; 4096];
                            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                                match tls.read(&mut buf).await {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => head.extend_from_slice(&buf[..n]),
                                }
                            }
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                .await;
                            while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
                        }
                    }
                    count.fetch_sub(1, Relaxed);
                });
            }
        });
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.der().clone()).expect("root");
        Upstream { addr, roots, open }
    }

    fn pool(up: &Upstream, idle_timeout: Duration) -> Arc<Pool> {
        let policy = AddressPolicy {
            overrides: [("up.test".to_string(), up.addr)].into(),
            ..Default::default()
        };
        let tls = crate::upstream::policy::tls_config(up.roots.clone());
        let connector = Connector::new(Arc::new(policy), tls, Default::default());
        Arc::new(Pool {
            connector: Arc::new(connector),
            idle: Mutex::new(HashMap::new()),
            max_idle: 8,
            idle_timeout,
        })
    }

    /// Polls `done` (sweeping the pool first) until it holds or 10 s have passed.
    async fn eventually(pool: &Pool, done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            pool.sweep();
            if done() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    async fn get(pool: &Arc<Pool>) {
        let req = Request::get("https://up.test/")
            .body(crate::http::full(""))
            .expect("request");
        let resp = pool.send(req).await.expect("answer");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], b"ok");
    }

    /// A request body fed by the test, one chunk at a time.
    struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

    impl hyper::body::Body for Fed {
        type Data = Bytes;
        type Error = BodyError;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
            self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
        }
    }

    /// An HTTP/1.1 connection answered before its request body was sent leaves the pool's
    /// hands busy; once the body is sent, it closes rather than waiting for a request that
    /// can never come.
    #[tokio::test]
    async fn a_busy_connection_returned_early_closes_once_done() {
        let up = upstream(b"http/1.1").await;
        let pool = pool(&up, UPSTREAM_IDLE_TIMEOUT);
        let (feed, rx) = tokio::sync::mpsc::channel(1);
        feed.send(Bytes::from_static(b"first")).await.expect("feed");
        let req = Request::post("https://up.test/upload")
            .body(Body::new(Fed(rx)))
            .expect("request");
        let resp = pool.send(req).await.expect("answer");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], b"ok");
        assert_eq!(up.open.load(Relaxed), 1);
        feed.send(Bytes::from_static(b"rest")).await.expect("feed");
        drop(feed);
        assert!(
            eventually(&pool, || up.open.load(Relaxed) == 0).await,
            "the connection stayed open after its request body was sent"
        );
    }

    /// Idle connections close at the idle timeout: an HTTP/1.1 one dropped from the pool,
    /// and an HTTP/2 one whose pooled handle is dropped.
    #[tokio::test]
    async fn idle_connections_close_when_they_expire() {
        for alpn in [&b"http/1.1"[..], b"h2"] {
            let up = upstream(alpn).await;
            let pool = pool(&up, Duration::from_millis(200));
            get(&pool).await;
            assert_eq!(up.open.load(Relaxed), 1);
            assert!(!pool.lock().is_empty(), "kept for reuse");
            assert!(
                eventually(&pool, || up.open.load(Relaxed) == 0).await,
                "an idle {} connection outlived the idle timeout",
                String::from_utf8_lossy(alpn)
            );
            assert!(pool.lock().is_empty());
        }
    }

    #[test]
    fn origin_form_keeps_path_and_query() {
        let u: Uri = "https://api.example.com/v1/x?a=1".parse().expect("uri");
        assert_eq!(origin_form(&u), "/v1/x?a=1");
        let root: Uri = "https://api.example.com".parse().expect("uri");
        assert_eq!(origin_form(&root), "/");
    }
}
