//! A real TLS upstream for tests: its own test CA, a leaf for the hosts it plays, HTTP/1.1
//! and HTTP/2, and a record of every request it received (so tests can assert that a
//! denied request reached nothing, and that the real key arrived in the right slot).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// Size of the `/big` body.
pub const BIG: usize = 5 * 1024 * 1024;
/// Chunks (of `CHUNK` bytes) in the `/chunked` body.
pub const CHUNKS: usize = 64;
/// Size of one chunk.
pub const CHUNK: usize = 16 * 1024;

/// What the upstream saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The authority: the URI's (HTTP/2 `:authority`) or else the Host header.
    pub authority: String,
    /// HTTP version, e.g. "HTTP/2.0".
    pub version: String,
    /// Request body length.
    pub body_len: usize,
    /// The request body.
    pub body: Vec<u8>,
}

impl Seen {
    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How an upstream serves, beyond the default (HTTP/2 or HTTP/1.1 by ALPN, connections
/// kept open).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Offer only HTTP/1.1 by ALPN (as nginx does without `http2 on`).
    pub http1_only: bool,
    /// Close a connection this long after its last request started, as upstreams with a
    /// keep-alive timeout do.
    pub close_idle_after: Option<Duration>,
}

/// A running upstream. Stops when dropped.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The test CA that signed its certificate (PEM file).
    pub ca_path: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    release: Arc<tokio::sync::Notify>,
    connections: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

/// The body of `/big`: deterministic bytes, so corruption is detectable.
pub fn big_body() -> Vec<u8> {
    (0..BIG).map(|i| (i % 251) as u8).collect()
}

impl Upstream {
    /// Starts an upstream on 127.0.0.1 presenting a certificate for `hosts`.
    pub fn start(hosts: &[&str]) -> Upstream {
        Self::start_on("127.0.0.1:0", hosts)
    }

    /// Starts an upstream on `bind` (e.g. an address on a test veth).
    pub fn start_on(bind: &str, hosts: &[&str]) -> Upstream {
        Self::start_with(bind, hosts, Options::default())
    }

    /// Starts an upstream on `bind` that serves as `options` say.
    pub fn start_with(bind: &str, hosts: &[&str], options: Options) -> Upstream {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::default();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "macaroon e2e upstream CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
        let ca_path = dir.path().join("upstream-ca.pem");
        std::fs::write(&ca_path, ca_cert.pem()).expect("write ca");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().expect("key");
        let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let leaf = CertificateParams::new(names)
            .expect("params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf");
        let certs = vec![rustls::pki_types::CertificateDer::from(leaf.der().to_vec())];
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let mut tls =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("server config");
        tls.alpn_protocols = if options.http1_only {
            vec![b"http/1.1".to_vec()]
        } else {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt.block_on(tokio::net::TcpListener::bind(bind)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        let release = Arc::new(tokio::sync::Notify::new());
        let released = release.clone();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        let closed = Arc::new(AtomicUsize::new(0));
        let ended = closed.clone();
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let record = record.clone();
                let released = released.clone();
                let accepted = accepted.clone();
                let ended = ended.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    serve(TokioIo::new(tls), record, released, options.close_idle_after).await;
                    ended.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Upstream {
            addr,
            ca_path,
            seen,
            release,
            connections,
            closed,
            _dir: dir,
            _rt: rt,
        }
    }

    /// Lets `/echo/sse` send the rest of its stream (it waits after the first event).
    pub fn release(&self) {
        self.release.notify_one();
    }

    /// TLS connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections it has finished serving (closed by either side).
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

/// Serves one connection; with `close_idle_after`, closes it (gracefully: a request in
/// flight is answered) once that long has passed since its last request started.
async fn serve<I>(
    io: I,
    record: Arc<Mutex<Vec<Seen>>>,
    released: Arc<tokio::sync::Notify>,
    close_idle_after: Option<Duration>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    let svc = service_fn(move |req| {
        counted.fetch_add(1, Ordering::SeqCst);
        respond(req, record.clone(), released.clone())
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(io, svc);
    let Some(after) = close_idle_after else {
        let _ = conn.await;
        return;
    };
    tokio::pin!(conn);
    let mut last = requests.load(Ordering::SeqCst);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep(after) => {
                let now = requests.load(Ordering::SeqCst);
                if now == last {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                    return;
                }
                last = now;
            }
        }
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn respond(
    req: Request<Incoming>,
    record: Arc<Mutex<Vec<Seen>>>,
    release: Arc<tokio::sync::Notify>,
) -> Result<Response<Body>, BoxError> {
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let version = format!("{:?}", req.version());
    let authority = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    // What an upstream that echoes credentials would echo: the key it was sent (a SigV4
    // request's session token; else the bearer key or OAuth2 access token).
    let key = ["x-amz-security-token", "authorization"]
        .iter()
        .find_map(|h| req.headers().get(*h))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("Bearer ").to_string())
        .unwrap_or_default();
    let body = req.into_body().collect().await?.to_bytes();
    record.lock().expect("record").push(Seen {
        method,
        target,
        headers,
        authority,
        version,
        body_len: body.len(),
        body: body.to_vec(),
    });
    if let Some(resp) = echo_more(&path, &query, &key, &body) {
        return Ok(resp);
    }
    if let Some(resp) = echo(&path, &query, &key, release) {
        return Ok(resp);
    }
    let resp = match path.as_str() {
        // A broken upstream: drop the connection without answering.
        "/reset" => return Err("reset requested".into()),
        // A slow upstream: answer after five seconds.
        "/slow" => {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            Response::new(Full::new(Bytes::from_static(b"late")).boxed())
        }
        "/big" => Response::new(Full::new(Bytes::from(big_body())).boxed()),
        "/chunked" => {
            let frames = (0..CHUNKS).map(|i| {
                Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![(i % 256) as u8; CHUNK])))
            });
            Response::new(StreamBody::new(futures_stream(frames)).boxed())
        }
        "/redirect" => Response::builder()
            .status(302)
            .header("location", "https://attacker.example/steal")
            .body(Full::new(Bytes::new()).boxed())
            .expect("response"),
        // List-shaped, so SDKs (Stripe, OpenAI) parse it as an empty page.
        _ => Response::builder()
            .header("content-type", "application/json")
            .body(
                Full::new(Bytes::from(format!(
                    "{{\"object\":\"list\",\"data\":[],\"has_more\":false,\"url\":\"{path}\",\"ok\":true,\"path\":\"{path}\",\"received\":{}}}",
                    body.len()
                )))
                .boxed(),
            )
            .expect("response"),
    };
    Ok(resp)
}

/// Upstreams that echo the key they were sent, for the response-scrubbing tests.
fn echo(path: &str, query: &str, key: &str, release: Arc<tokio::sync::Notify>) -> Option<Response<Body>> {
    let json = |text: String| {
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(text)).boxed())
            .expect("response")
    };
    let unicode: String = key.bytes().map(|b| format!("\\u{b:04x}")).collect();
    Some(match path {
        "/echo/header" => Response::builder()
            .header("x-debug-authorization", format!("Bearer {key}"))
            .body(Full::new(Bytes::from_static(b"{}")).boxed())
            .expect("response"),
        "/echo/json" => json(format!(
            "{{\"error\":{{\"message\":\"Invalid API key provided: {key}\",\"escaped\":\"{unicode}\"}}}}"
        )),
        // The key split across two chunks at byte `at` of the body.
        "/echo/split" => {
            let text = format!("{{\"echo\":\"{key}\"}}");
            let at: usize = query
                .strip_prefix("at=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
                .min(text.len());
            let (a, b) = text.split_at(at);
            let frames = [a.to_string(), b.to_string()]
                .into_iter()
                .map(|p| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(p))));
            Response::new(StreamBody::new(futures_stream(frames)).boxed())
        }
        // Compressed although asked for identity: the proxy decodes it to scrub it.
        "/echo/gzip" => {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(format!("{{\"echo\":\"{key}\"}}").as_bytes())
                .expect("gzip");
            let bytes = gz.finish().expect("gzip");
            Response::builder()
                .header("content-encoding", "gzip")
                .header("content-length", bytes.len())
                .body(Full::new(Bytes::from(bytes)).boxed())
                .expect("response")
        }
        // An encoding nobody decodes: the proxy cannot scan it.
        "/echo/compress" => Response::builder()
            .header("content-encoding", "compress")
            .body(Full::new(Bytes::from_static(b"\x1f\x9d\x90")).boxed())
            .expect("response"),
        // Server-sent events: the first event, then the rest only once the test says so.
        "/echo/sse" => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
            let key = key.to_string();
            tokio::spawn(async move {
                let _ = tx
                    .send(Bytes::from(format!("data: {{\"key\":\"{key}\"}}\n\n")))
                    .await;
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), release.notified()).await;
                let _ = tx.send(Bytes::from("data: [DONE]\n\n")).await;
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(StreamBody::new(Channel(rx)).boxed())
                .expect("response")
        }
        _ => return None,
    })
}

/// The access token `/token` issues (an OAuth2 token endpoint for the scrubbing tests).
pub const ACCESS_TOKEN: &str = "at_E2E_ACCESS_TOKEN_4f2b9c";

/// More upstreams that echo credentials: in the status line, a header name, an encoding
/// the test made (the request body, sent back as it came), in compressed bodies the proxy
/// must decode whole or refuse; and one that switches protocols unasked.
fn echo_more(path: &str, query: &str, key: &str, body: &Bytes) -> Option<Response<Body>> {
    use std::io::Write;
    let full = |b: Vec<u8>| Full::new(Bytes::from(b)).boxed();
    let gzip = |text: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).expect("gzip");
        gz.finish().expect("gzip")
    };
    let encoded = |encoding: &str, bytes: Vec<u8>| {
        Response::builder()
            .header("content-encoding", encoding)
            .body(full(bytes))
            .expect("response")
    };
    let echoed = format!("{{\"echo\":\"{key}\"}}");
    Some(match path {
        "/echo/reason" => {
            let mut r = Response::new(full(b"{}".to_vec()));
            let reason =
                hyper::ext::ReasonPhrase::try_from(format!("OK {key}").into_bytes()).expect("reason");
            r.extensions_mut().insert(reason);
            r
        }
        "/echo/header-name" => Response::builder()
            .header(key.to_ascii_lowercase().as_str(), "1")
            .body(full(b"{}".to_vec()))
            .expect("response"),
        "/echo/body" => Response::new(full(body.to_vec())),
        // The request body sent back as an MCP server answers: a JSON body with its length,
        // and one server-sent event.
        "/echo/json-body" => Response::builder()
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(full(body.to_vec()))
            .expect("response"),
        "/echo/sse-body" => Response::builder()
            .header("content-type", "text/event-stream")
            .body(full(
                format!("event: message\ndata: {}\n\n", String::from_utf8_lossy(body)).into_bytes(),
            ))
            .expect("response"),
        "/echo/query" => Response::new(full(query.as_bytes().to_vec())),
        "/token" => Response::builder()
            .header("content-type", "application/json")
            .body(full(
                format!(
                    "{{\"access_token\":\"{ACCESS_TOKEN}\",\"token_type\":\"Bearer\",\"expires_in\":3600}}"
                )
                .into_bytes(),
            ))
            .expect("response"),
        // Two gzip members, the key in the second.
        "/echo/gzip-members" => encoded(
            "gzip",
            [gzip(b"{\"first\":1,"), gzip(&echoed.as_bytes()[1..])].concat(),
        ),
        // Two zstd frames, the key in the second.
        "/echo/zstd-frames" => {
            let frame = |t: &[u8]| zstd::encode_all(t, 3).expect("zstd");
            encoded(
                "zstd",
                [frame(b"{\"first\":1,"), frame(&echoed.as_bytes()[1..])].concat(),
            )
        }
        // Raw deflate labelled `deflate` (HTTP's deflate is zlib-wrapped).
        "/echo/raw-deflate" => {
            let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            d.write_all(echoed.as_bytes()).expect("deflate");
            encoded("deflate", d.finish().expect("deflate"))
        }
        // A gzip body that stops half way: it starts to decode, then breaks.
        "/echo/gzip-cut" => {
            let text: String = (0..2000).map(|i| format!("line {i} {key}\n")).collect();
            let whole = gzip(text.as_bytes());
            encoded("gzip", whole[..whole.len() / 2].to_vec())
        }
        "/echo/switch" => Response::builder()
            .status(101)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .body(full(Vec::new()))
            .expect("response"),
        _ => {
            let _ = query;
            return None;
        }
    })
}

/// A channel's receiver as a body stream.
struct Channel(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for Channel {
    type Item = Result<Frame<Bytes>, std::convert::Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// An iterator as a stream that yields between items, so chunks really go out one by one.
fn futures_stream<I: Iterator + Unpin>(iter: I) -> impl futures_core::Stream<Item = I::Item> {
    struct S<I>(I);
    impl<I: Iterator + Unpin> futures_core::Stream for S<I> {
        type Item = I::Item;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<I::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    S(iter)
}
