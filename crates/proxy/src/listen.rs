//! Accepting connections: plain HTTP (reverse and forward proxy), `CONNECT` (blind
//! tunnels for `--passthrough` hosts, TLS interception for the rest), and graceful
//! shutdown. The admin listener is [`crate::admin`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use caveat::Host;
use http::{Method, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::sign::CertifiedKey;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use crate::coalesce::Coalesced;
use crate::http::Body;
use crate::http::{full, plain};
use crate::idle::{ConnIo, Ended, IoFlags, Tracked};
use crate::limits::{DRAIN_TIMEOUT, HEADER_TIMEOUT, MAX_HEAD, TUNNEL_IDLE};
use crate::pipeline::handle;
use crate::pipeline::logging::{self, Tunnel};
use crate::proxy::Proxy;
use crate::request::Mode;

/// Serves the proxy listener until `shutdown` fires, then drains in-flight connections.
///
/// With `workers` (one single-threaded runtime per core, each with its own upstream pool),
/// every worker accepts from the same listening socket and serves what it accepted, like
/// nginx's worker processes: no connection or task moves between threads, and a request and
/// the pooled upstream connection it uses are driven by the same thread. Without workers,
/// connections are served on the current runtime.
pub async fn serve(proxy: Arc<Proxy>, listener: TcpListener, workers: Vec<tokio::runtime::Handle>) {
    let transparent_mode = proxy.config.transparent;
    if workers.is_empty() {
        accept_loop(proxy.clone(), listener, transparent_mode).await;
    } else {
        // Registering with a worker's reactor happens on that worker; a failure there (or
        // here) is reported and the listener is served on this runtime instead, so the proxy
        // never runs without accepting.
        let std = match listener.into_std() {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("cannot hand the listener to the workers ({e}); stopping");
                proxy.stopping.cancel();
                return;
            }
        };
        let (started_tx, mut started) = tokio::sync::mpsc::channel::<bool>(workers.len());
        for worker in &workers {
            let own = std.try_clone();
            let proxy = proxy.clone();
            let started_tx = started_tx.clone();
            proxy.tasks.clone().spawn_on(
                async move {
                    match own.and_then(TcpListener::from_std) {
                        Ok(listener) => {
                            let _ = started_tx.send(true).await;
                            drop(started_tx);
                            accept_loop(proxy, listener, transparent_mode).await;
                        }
                        Err(e) => {
                            tracing::error!("a worker cannot accept connections: {e}");
                            let _ = started_tx.send(false).await;
                        }
                    }
                },
                worker,
            );
        }
        drop(started_tx);
        let mut accepting = 0;
        while let Some(ok) = started.recv().await {
            accepting += usize::from(ok);
        }
        if accepting == 0 {
            match TcpListener::from_std(std) {
                Ok(listener) => accept_loop(proxy.clone(), listener, transparent_mode).await,
                Err(e) => {
                    tracing::error!("cannot accept connections ({e}); stopping");
                    proxy.stopping.cancel();
                }
            }
        } else {
            drop(std);
            proxy.stopping.cancelled().await;
        }
    }
    proxy.tasks.close();
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, proxy.tasks.wait()).await;
}

/// Accepts connections and serves them on the current runtime until shutdown.
async fn accept_loop(proxy: Arc<Proxy>, listener: TcpListener, transparent_mode: bool) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of descriptors (EMFILE) and the like: pause rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                // Redirected connections report another original destination; direct
                // ones (clients using us as a proxy) report the listener itself, which is
                // one of the proxy's own addresses.
                let dst = if transparent_mode {
                    original_dst(&stream).filter(|d| !proxy.policy.is_own(*d))
                } else {
                    None
                };
                // Spawned apart: one task sized for both kinds would cost every plain
                // connection the (larger) transparent one's memory. Boxed: a task's future
                // is copied when spawned and again when it ends, and a transparent
                // connection's is about 10 KB.
                match dst {
                    Some(dst) => proxy.tasks.clone().spawn(Box::pin(transparent(proxy.clone(), stream, peer, dst))),
                    None => proxy.tasks.clone().spawn(plain_conn(proxy.clone(), stream, peer)),
                };
            }
            _ = proxy.stopping.cancelled() => break,
        }
    }
}

/// One plain connection: reverse, forward and CONNECT requests. Between requests, once
/// idle for a moment, the connection holds only its socket ([`crate::idle`]).
async fn plain_conn(proxy: Arc<Proxy>, stream: TcpStream, peer: SocketAddr) {
    let stop = proxy.stopping.clone();
    let mut stream = stream;
    let mut early = bytes::Bytes::new();
    // A new connection goes straight to hyper (its request is usually there or on the
    // way); one released while idle waits for its next request first.
    let mut fresh = true;
    loop {
        if !std::mem::take(&mut fresh) && early.is_empty() {
            match first_bytes(&stream, &stop).await {
                Some(b) => early = b,
                None => return,
            }
        }
        let flags = Arc::new(IoFlags::default());
        let svc = {
            let (proxy, flags) = (proxy.clone(), flags.clone());
            service_fn(move |req| {
                let active = flags.begin();
                let proxy = proxy.clone();
                // Not an `async fn` (it would hold the request twice): this future is
                // what hyper boxes per connection and copies per request.
                async move {
                    let resp = if req.method() == Method::CONNECT {
                        connect(proxy, req, peer)
                    } else {
                        let mode = if req.uri().authority().is_some() {
                            Mode::Forward
                        } else {
                            Mode::Reverse
                        };
                        Box::pin(handle(proxy, req, peer, mode)).await
                    };
                    Ok::<_, std::convert::Infallible>(resp.map(|b| Tracked::new(b, active)))
                }
            })
        };
        let io = ConnIo::new(stream, std::mem::take(&mut early), flags.clone());
        let mut conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEAD)
            .serve_connection(TokioIo::new(io), svc)
            .with_upgrades();
        let ended = tokio::select! {
            ended = crate::idle::drive(&mut conn, &flags) => ended,
            _ = stop.cancelled() => {
                // Finish the request in flight, then close.
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                let _ = (&mut conn).await;
                return;
            }
        };
        let (Ended::Idle, Some(parts)) = (ended, conn.into_parts()) else {
            return;
        };
        proxy
            .metrics
            .idle_releases
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (s, unread) = parts.io.into_inner().into_parts();
        stream = s;
        // Bytes hyper read ahead (the start of the next request) come first next time,
        // copied: hyper's `read_buf` shares its whole 8 KiB buffer, which is what goes.
        early = if unread.is_empty() && parts.read_buf.is_empty() {
            bytes::Bytes::new()
        } else {
            [unread, parts.read_buf].concat().into()
        };
    }
}

/// Waits until a released connection's client sends something and returns it (at most
/// 4 KiB, for hyper to read first), or `None` if it went away, timed out, or shutdown
/// began: until then the connection holds no HTTP state. One read, not a peek and a read.
/// Same timeout as hyper's for a request head.
async fn first_bytes(stream: &TcpStream, stop: &tokio_util::sync::CancellationToken) -> Option<bytes::Bytes> {
    let read = async {
        loop {
            stream.readable().await.ok()?;
            let mut buf = Vec::with_capacity(4096);
            match stream.try_read_buf(&mut buf) {
                Ok(0) => return None,
                Ok(_) => return Some(bytes::Bytes::from(buf)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return None,
            }
        }
    };
    tokio::select! {
        got = read => got,
        _ = tokio::time::sleep(HEADER_TIMEOUT) => None,
        _ = stop.cancelled() => None,
    }
}

/// `CONNECT host:port`: a blind tunnel to a passthrough host, otherwise TLS interception
/// with a leaf certificate for exactly that host, and the pipeline for every request inside.
fn connect(proxy: Arc<Proxy>, req: http::Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    // Never a `user:password@` part, which the audit line must not keep.
    let target = req
        .uri()
        .authority()
        .map(|a| a.as_str().rsplit('@').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    // CONNECT-level outcomes get an audit line too (tunnelled requests get their own).
    let log = |outcome: Tunnel, status: StatusCode, reason: &str| {
        let rec = crate::audit::Record {
            time: crate::audit::now(),
            request_id: crate::ids::request_id(),
            client: peer.to_string(),
            mode: if outcome == Tunnel::Passthrough {
                "passthrough"
            } else {
                "tunnel"
            },
            host: target.clone(),
            reason: Some(reason.to_string()),
            status: status.as_u16(),
            ..Default::default()
        };
        logging::connect(&proxy, rec, outcome);
    };
    let refuse = |status: StatusCode, why: &str| {
        log(Tunnel::Refused, status, why);
        plain(status, why)
    };
    let (host, port) = match connect_target(req.uri().authority()) {
        Ok(target) => target,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why),
    };
    // `HTTPS_PROXY=http://x:TOKEN@proxy` puts the token on the CONNECT itself.
    let tunnel_token = match crate::credentials::inject::find(req.headers(), None, &mut |t| proxy.resolve(t))
    {
        Ok(f) => f.map(|f| f.token),
        Err(crate::credentials::inject::FindError::Several) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "the CONNECT carries two different tokens",
            )
        }
        Err(crate::credentials::inject::FindError::Malformed) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "the CONNECT carries a malformed macaroon; send the token exactly as it was printed",
            )
        }
    };
    if proxy.config.passthrough.contains(&host) {
        log(
            Tunnel::Passthrough,
            StatusCode::OK,
            "blind tunnel to a --passthrough host",
        );
        tokio::spawn(blind_tunnel(proxy.clone(), req, host, port));
        return Response::new(full(""));
    }
    let leaf = match proxy.ca.leaf(host.as_str()) {
        Ok(l) => l,
        Err(e) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                &format!("cannot issue a certificate for {host}: {e}"),
            )
        }
    };
    // The tunnel's opening gets its line even if no request ever comes through it.
    log(
        Tunnel::Intercepted,
        StatusCode::OK,
        &format!("intercepted: TLS with a certificate for {host}; each request inside is decided on its own"),
    );
    let mode = Mode::Tunnel {
        host,
        port,
        token: tunnel_token,
        transparent: false,
    };
    proxy
        .tasks
        .clone()
        .spawn(intercept(proxy.clone(), req, peer, leaf, mode));
    Response::new(full(""))
}

/// The CONNECT target's host and port, or why it is refused (400).
fn connect_target(authority: Option<&http::uri::Authority>) -> Result<(Host, u16), &'static str> {
    let authority = authority.ok_or("CONNECT needs host:port")?;
    let host = Host::normalize(authority.host()).map_err(|_| "CONNECT target is not a valid host")?;
    if authority.as_str().contains('@') {
        return Err(
            "bad_connect_target: the CONNECT target carries user:password@; give host:port alone \
                    (a token goes in Proxy-Authorization)",
        );
    }
    match authority.port_u16().unwrap_or(443) {
        0 => {
            Err("bad_connect_port: port 0 cannot be connected to; give host:port with a port from 1 to 65535")
        }
        port => Ok((host, port)),
    }
}

/// A `--passthrough` host's tunnel: bytes both ways, untouched.
async fn blind_tunnel(proxy: Arc<Proxy>, req: http::Request<Incoming>, host: Host, port: u16) {
    let Ok(upgraded) = hyper::upgrade::on(req).await else {
        return;
    };
    let Ok(mut upstream) = proxy.policy.connect(host.as_str(), port).await else {
        return;
    };
    let mut client = TokioIo::new(upgraded);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// An intercepted tunnel: TLS with a leaf for exactly the CONNECT target, then the
/// pipeline for every request inside.
async fn intercept(
    proxy: Arc<Proxy>,
    req: http::Request<Incoming>,
    peer: SocketAddr,
    leaf: Arc<CertifiedKey>,
    mode: Mode,
) {
    let Mode::Tunnel { host, .. } = &mode else {
        return;
    };
    let Ok(upgraded) = hyper::upgrade::on(req).await else {
        return;
    };
    // The ClientHello first: its SNI says whether the shared session store may serve it.
    // One deadline for the whole handshake, as before.
    let deadline = tokio::time::Instant::now() + HEADER_TIMEOUT;
    let io = Coalesced::new(TokioIo::new(upgraded), bytes::Bytes::new());
    let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io);
    let start = match tokio::time::timeout_at(deadline, acceptor).await {
        Ok(Ok(start)) => start,
        Ok(Err(e)) => return handshake_failed(&proxy, peer, host, &e),
        Err(_) => return,
    };
    let sni = start.client_hello().server_name().map(str::to_string);
    let Ok(tls) = proxy.intercept_tls.config(host.clone(), leaf, sni.as_deref()) else {
        return;
    };
    let Some(stream) = handshake(&proxy, peer, host, start, tls, deadline).await else {
        return;
    };
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    serve_intercepted(proxy, stream, h2, peer, mode).await;
}

/// The rest of an intercepted handshake ([`crate::intercept_tls::finish`]) by `deadline`;
/// a failure is reported.
async fn handshake<S>(
    proxy: &Proxy,
    peer: SocketAddr,
    host: &Host,
    start: tokio_rustls::StartHandshake<Coalesced<S>>,
    tls: Arc<rustls::ServerConfig>,
    deadline: tokio::time::Instant,
) -> Option<tokio_rustls::server::TlsStream<Coalesced<S>>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match tokio::time::timeout_at(
        deadline,
        crate::intercept_tls::finish(start, tls, crate::coalesce::TICKET_HOLD),
    )
    .await
    {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            handshake_failed(proxy, peer, host, &e);
            None
        }
        Err(_) => None,
    }
}

/// Serves HTTP/1.1 or HTTP/2 (by ALPN: `h2` is HTTP/2, anything else HTTP/1.1, as over TLS
/// there is no prior-knowledge HTTP/2) inside an intercepted TLS stream; every request
/// goes through the pipeline with the tunnel's one authority. A connection with no request
/// open for [`TUNNEL_IDLE`] is closed gracefully (HTTP/2: GOAWAY), like an idle HTTP/1.1
/// one.
async fn serve_intercepted<S>(proxy: Arc<Proxy>, stream: S, h2: bool, peer: SocketAddr, mode: Mode)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let stop = proxy.stopping.clone();
    let flags = Arc::new(IoFlags::default());
    let svc = {
        let flags = flags.clone();
        service_fn(move |req| {
            let active = flags.begin();
            let proxy = proxy.clone();
            let mode = mode.clone();
            // Boxed: the pipeline's future (about 2.8 KB) would otherwise be copied into
            // hyper's slot for it on every request, and held there between requests.
            async move {
                let resp = Box::pin(handle(proxy, req, peer, mode)).await;
                Ok::<_, std::convert::Infallible>(resp.map(|b| Tracked::new(b, active)))
            }
        })
    };
    let quiet = || !flags.answering();
    // The protocol is known from the handshake: no sniffing the first bytes for HTTP/2's
    // preface (hyper-util's auto builder), which costs every read of the connection a
    // rewind buffer check.
    if h2 {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(stream), svc);
        until_idle(conn, quiet, &stop).await;
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEAD)
            .serve_connection(TokioIo::new(stream), svc);
        until_idle(conn, quiet, &stop).await;
    }
}

/// Drives an intercepted connection until it ends, or, once idle for [`TUNNEL_IDLE`] or
/// when the proxy stops, shuts it down gracefully.
async fn until_idle<C>(conn: C, quiet: impl Fn() -> bool, stop: &tokio_util::sync::CancellationToken)
where
    C: hyper_util::server::graceful::GracefulConnection,
{
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = crate::idle::until_quiet(&mut conn, quiet, TUNNEL_IDLE, true) => ended,
        _ = stop.cancelled() => Ended::Idle,
    };
    if let Ended::Idle = ended {
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}

/// The address a REDIRECTed connection was originally sent to (Linux `SO_ORIGINAL_DST`);
/// `None` when the connection was not redirected or the platform cannot tell.
#[cfg(target_os = "linux")]
pub fn original_dst(stream: &TcpStream) -> Option<SocketAddr> {
    use nix::sys::socket::{getsockopt, sockopt};
    if let Ok(a) = getsockopt(stream, sockopt::OriginalDst) {
        let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
        return Some(SocketAddr::from((ip, u16::from_be(a.sin_port))));
    }
    if let Ok(a) = getsockopt(stream, sockopt::Ip6tOriginalDst) {
        let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
        return Some(SocketAddr::from((ip, u16::from_be(a.sin6_port))));
    }
    None
}

/// Without netfilter there is no redirect to recover.
#[cfg(not(target_os = "linux"))]
pub fn original_dst(_: &TcpStream) -> Option<SocketAddr> {
    None
}

/// How much of a redirected connection's first bytes are read to tell TLS from plain HTTP:
/// a whole ClientHello as most clients send it (one with a post-quantum key share is about
/// 1.8 KB); the rest is read as it comes.
const FIRST_READ: usize = 2048;

/// A connection redirected to us (transparent mode): TLS is intercepted by its SNI, which
/// becomes the one authority; plain HTTP uses its Host header. The upstream is reached by
/// resolving the sealed host name, never by trusting the redirected address.
async fn transparent(proxy: Arc<Proxy>, mut stream: TcpStream, peer: SocketAddr, dst: SocketAddr) {
    // The first bytes tell TLS (a handshake record, 0x16) from plain HTTP; read, not
    // peeked, they are read again from the wrapper.
    let deadline = tokio::time::Instant::now() + HEADER_TIMEOUT;
    let mut first = bytes::BytesMut::with_capacity(FIRST_READ);
    let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read_buf(&mut first)).await else {
        return;
    };
    let tls = n > 0 && first[0] == 0x16;
    let io = Coalesced::new(stream, first.freeze());
    if tls {
        let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io);
        let Ok(Ok(start)) = tokio::time::timeout_at(deadline, acceptor).await else {
            return;
        };
        // Without SNI there is no name to check against the sealed hosts: refuse.
        let Some(host) = start
            .client_hello()
            .server_name()
            .and_then(|s| Host::normalize(s).ok())
        else {
            return;
        };
        let Ok(leaf) = proxy.ca.leaf(host.as_str()) else {
            return;
        };
        let Ok(cfg) = proxy
            .intercept_tls
            .config(host.clone(), leaf, Some(host.as_str()))
        else {
            return;
        };
        let Some(tls) = handshake(&proxy, peer, &host, start, cfg, deadline).await else {
            return;
        };
        let mode = Mode::Tunnel {
            host,
            port: dst.port(),
            token: None,
            transparent: true,
        };
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        serve_intercepted(proxy, tls, h2, peer, mode).await;
    } else {
        let mode = Mode::TransparentHttp { port: dst.port() };
        let svc = service_fn(move |req| {
            let proxy = proxy.clone();
            let mode = mode.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(proxy, req, peer, mode).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEAD)
            .serve_connection(TokioIo::new(io), svc)
            .await;
    }
}

/// An intercepted handshake that failed leaves a trace: a counter and a line on stderr
/// with the SNI and the likely cause (most often, a client that does not trust our CA).
fn handshake_failed(proxy: &Proxy, peer: SocketAddr, host: &Host, e: &std::io::Error) {
    proxy
        .metrics
        .handshake_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let text = e.to_string();
    let cause = if text.contains("UnknownCA")
        || text.contains("unknown ca")
        || text.contains("BadCertificate")
        || text.contains("CertificateUnknown")
    {
        "the client does not trust the proxy CA: give it $MACAROON_HOME/ca.pem (eval \"$(macaroon-proxy ca)\")"
    } else if text.contains("NoServerCertificate") || text.contains("no server certificate") {
        "the client named another host (SNI) than the one the tunnel was opened to"
    } else {
        "the client gave up the TLS handshake"
    };
    tracing::warn!(client = %peer, sni = %host, error = %text, "intercepted TLS handshake failed: {cause}");
}
