//! The admin listener (`--admin`): `/healthz` ([`health`]) and `/metrics` ([`metrics`]),
//! on its own address, never on the proxy's listener.

pub mod health;
pub mod metrics;

use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use crate::http::plain;
use crate::limits::HEADER_TIMEOUT;
use crate::proxy::Proxy;

/// Serves `/healthz` and `/metrics` until `shutdown` fires.
pub async fn serve(proxy: Arc<Proxy>, listener: TcpListener) {
    let stop = proxy.stopping.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let proxy = proxy.clone();
                tokio::spawn(admin_conn(proxy, stream));
            }
            _ = stop.cancelled() => break,
        }
    }
}

async fn admin_conn(proxy: Arc<Proxy>, stream: TcpStream) {
    let svc = service_fn(move |req: http::Request<Incoming>| {
        let proxy = proxy.clone();
        async move {
            let resp = match req.uri().path() {
                "/healthz" => health::health(&proxy),
                "/metrics" => metrics::metrics(&proxy),
                _ => plain(StatusCode::NOT_FOUND, "not found: try /healthz or /metrics"),
            };
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}
