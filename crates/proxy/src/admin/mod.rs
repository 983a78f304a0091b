//! The admin listener (`--admin`): `/healthz` ([`health`]) and `/metrics` ([`metrics`])
//! openly, and the JSON admin API under `/api/` ([`api`]) to operator tokens only; on its
//! own address, never on the proxy's listener, and over TLS ([`tls`]) on any address but
//! loopback. The web console ([`crate::console`]) is served here too, at `/`.

pub mod api;
pub mod approvals;
pub mod auth;
pub mod events;
pub mod health;
pub mod issuers;
pub mod metrics;
pub mod reply;
pub mod revocations;
pub mod state;
pub mod tls;

pub use state::AdminState;

use std::net::SocketAddr;
use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use crate::http::plain;
use crate::limits::HEADER_TIMEOUT;
use crate::proxy::Proxy;

/// Serves the admin listener until the proxy stops.
pub async fn serve(proxy: Arc<Proxy>, admin: Arc<AdminState>, listener: TcpListener) {
    proxy.audit.live().enable();
    let stop = proxy.stopping.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                tokio::spawn(admin_conn(proxy.clone(), admin.clone(), stream, peer));
            }
            _ = stop.cancelled() => break,
        }
    }
}

async fn admin_conn(proxy: Arc<Proxy>, admin: Arc<AdminState>, stream: TcpStream, peer: SocketAddr) {
    let svc = {
        let admin = admin.clone();
        service_fn(move |req: http::Request<Incoming>| {
            let proxy = proxy.clone();
            let admin = admin.clone();
            async move {
                let path = req.uri().path();
                let resp = if path == "/api" || path.starts_with("/api/") {
                    api::handle(proxy, admin, req, peer).await
                } else if crate::console::serves(path) {
                    crate::console::handle(proxy, admin, req, peer).await
                } else {
                    match path {
                        "/healthz" => health::health(&proxy),
                        "/metrics" => metrics::metrics(&proxy),
                        _ => plain(
                            StatusCode::NOT_FOUND,
                            "not found: try the console at /, /healthz, /metrics or the admin API under /api/ (docs/admin-api.md)",
                        ),
                    }
                };
                Ok::<_, std::convert::Infallible>(resp)
            }
        })
    };
    let builder = {
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
        b
    };
    match &admin.tls {
        None => {
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        }
        Some(acceptor) => {
            let Ok(Ok(tls)) = tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await else {
                return;
            };
            let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
        }
    }
}
