//! tls-load: HTTPS load through a CONNECT proxy (or straight to the server), for the
//! intercept benchmarks (bench/intercept-extra.sh).
//!
//! tls-load URL --ca PEM [--proxy HOST:PORT] [--connect-to HOST:PORT] [-H 'Name: value']...
//!          [-c CONNS] [-d SECONDS] [--new-conn] [--h2]
//!
//! Prints one line: `requests N rps R p50_ms A p99_ms B errors E`. A new connection per
//! request means a new TCP connection (and CONNECT, through a proxy) and a new TLS
//! handshake, resuming the session the last one on the same worker got (as browsers and
//! HTTP clients do). --h2: HTTP/2 (ALPN h2) with one stream at a time per connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Opts {
    url: hyper::Uri,
    proxy: Option<String>,
    connect_to: Option<String>,
    headers: Vec<(String, String)>,
    conns: usize,
    secs: u64,
    new_conn: bool,
    h2: bool,
    tls: Arc<rustls::ClientConfig>,
}

fn opts() -> Result<Opts, Error> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut ca, mut proxy, mut connect_to) = (None, None, None, None);
    let (mut headers, mut conns, mut secs, mut new_conn, mut h2) = (Vec::new(), 32, 5, false, false);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--ca" => ca = Some(val()?),
            "--proxy" => proxy = Some(val()?),
            "--connect-to" => connect_to = Some(val()?),
            "-H" => {
                let h = val()?;
                let (n, v) = h.split_once(':').ok_or("-H takes 'Name: value'")?;
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
            "-c" => conns = val()?.parse()?,
            "-d" => secs = val()?.parse()?,
            "--new-conn" => new_conn = true,
            "--h2" => h2 = true,
            _ if url.is_none() && !a.starts_with('-') => url = Some(a.parse::<hyper::Uri>()?),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca.ok_or("--ca PEM is needed")?)? {
        roots.add(c?)?;
    }
    let mut tls =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    tls.alpn_protocols = vec![if h2 { b"h2".to_vec() } else { b"http/1.1".to_vec() }];
    Ok(Opts {
        url: url.ok_or("a URL is needed")?,
        proxy,
        connect_to,
        headers,
        conns,
        secs,
        new_conn,
        h2,
        tls: Arc::new(tls),
    })
}

/// A TCP connection to the proxy, CONNECTed to the URL's host, or straight to the host
/// (or --connect-to); then TLS.
async fn open(o: &Opts) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let host = o.url.host().ok_or("the URL needs a host")?;
    let port = o.url.port_u16().unwrap_or(443);
    let tcp = match (&o.proxy, &o.connect_to) {
        (Some(p), _) => {
            let mut s = TcpStream::connect(p).await?;
            s.set_nodelay(true)?;
            s.write_all(format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n").as_bytes())
                .await?;
            let mut buf = Vec::with_capacity(256);
            let mut b = [0u8; 256];
            while !buf.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut b[..1]).await?;
                if n == 0 {
                    return Err("the proxy closed during CONNECT".into());
                }
                buf.extend_from_slice(&b[..n]);
            }
            if !buf.starts_with(b"HTTP/1.1 200") && !buf.starts_with(b"HTTP/1.0 200") {
                return Err(format!("CONNECT: {}", String::from_utf8_lossy(&buf)).into());
            }
            s
        }
        (None, Some(to)) => TcpStream::connect(to).await?,
        (None, None) => TcpStream::connect((host, port)).await?,
    };
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(host.to_string())?;
    Ok(tokio_rustls::TlsConnector::from(o.tls.clone())
        .connect(name, tcp)
        .await?)
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

async fn connect(o: &Opts) -> Result<Sender, Error> {
    let io = TokioIo::new(open(o).await?);
    if o.h2 {
        let (s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        Ok(Sender::H2(s))
    } else {
        let (s, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        Ok(Sender::H1(s))
    }
}

async fn request(o: &Opts, s: &mut Sender) -> Result<(), Error> {
    let mut b = hyper::Request::get(o.url.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    if !o.h2 {
        b = b.header("host", o.url.host().unwrap_or_default());
    } else {
        b = b.uri(o.url.clone());
    }
    for (n, v) in &o.headers {
        b = b.header(n.as_str(), v.as_str());
    }
    if o.new_conn && !o.h2 {
        b = b.header("connection", "close");
    }
    let req = b.body(Empty::new())?;
    let resp = match s {
        Sender::H1(s) => s.send_request(req).await?,
        Sender::H2(s) => s.send_request(req).await?,
    };
    let status = resp.status();
    resp.into_body().collect().await?;
    if !status.is_success() {
        return Err(format!("status {status}").into());
    }
    Ok(())
}

/// One connection's loop until `end`: request latencies in microseconds, and errors.
async fn worker(o: Arc<Opts>, end: Instant) -> (Vec<u32>, u64) {
    let (mut lat, mut errors) = (Vec::new(), 0u64);
    let mut sender = None;
    while Instant::now() < end {
        let t = Instant::now();
        let r = async {
            if sender.is_none() || o.new_conn {
                sender = Some(connect(&o).await?);
            }
            request(&o, sender.as_mut().ok_or("no connection")?).await
        }
        .await;
        match r {
            Ok(()) => lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32),
            Err(_) => {
                errors += 1;
                sender = None;
            }
        }
    }
    (lat, errors)
}

fn main() -> Result<(), Error> {
    let o = Arc::new(opts()?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let start = Instant::now();
        let end = start + Duration::from_secs(o.secs);
        let tasks: Vec<_> = (0..o.conns)
            .map(|_| tokio::spawn(worker(o.clone(), end)))
            .collect();
        let (mut lat, mut errors) = (Vec::new(), 0);
        for t in tasks {
            let (l, e) = t.await?;
            lat.extend(l);
            errors += e;
        }
        let secs = start.elapsed().as_secs_f64();
        lat.sort_unstable();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0) as f64
                / 1e3
        };
        println!(
            "requests {} rps {:.1} p50_ms {:.2} p99_ms {:.2} errors {}",
            lat.len(),
            lat.len() as f64 / secs,
            pct(0.50),
            pct(0.99),
            errors
        );
        Ok(())
    })
}
