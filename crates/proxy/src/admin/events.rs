//! `GET /api/events[?backlog=N]`: the audit lines as Server-Sent Events, one JSON record
//! per `data:` line, as this replica writes them; with `backlog=N`, the last N (at most
//! [`crate::feed::BACKLOG`]) first. A client that reads too slowly loses lines (an
//! `event: dropped` tells how many, and `/metrics` counts them); it never slows the proxy.
//!
//! With `--state`, every replica also appends its lines to the team's stream in the store
//! ([`share`]), and this endpoint reads that stream instead: any replica's console shows
//! the whole team's traffic. If the store cannot be read, it falls back to this replica's
//! lines and says so in a comment.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::sync::{broadcast, mpsc};

use super::reply::{ApiError, ApiResult};
use crate::http::BodyError;
use crate::proxy::Proxy;

/// Events queued for one client's connection.
const CLIENT_QUEUE: usize = 256;
/// A comment line this often keeps idle connections (and the load balancers on the way) open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The SSE response.
pub async fn events(proxy: &Arc<Proxy>, query: Option<&str>) -> ApiResult {
    let backlog = backlog(query)?;
    if let Some(r) = proxy.state.shared() {
        if let (Ok(past), Ok(con)) = (r.audit_recent(backlog).await, r.audit_reader().await) {
            return Ok(team_events(proxy, past, con));
        }
    }
    local_events(proxy, backlog)
}

/// The SSE response from this replica's own lines.
fn local_events(proxy: &Arc<Proxy>, backlog: usize) -> ApiResult {
    let live = proxy.audit.live().clone();
    let (past, mut rx) = live.subscribe(backlog);
    let (tx, body_rx) = mpsc::channel::<Bytes>(CLIENT_QUEUE);
    let stop = proxy.stopping.clone();
    tokio::spawn(async move {
        // Hello first, so a client knows it is subscribed before any event arrives.
        if tx.send(Bytes::from_static(b": subscribed\n\n")).await.is_err() {
            return;
        }
        for line in past {
            if tx.send(event(&line)).await.is_err() {
                return;
            }
        }
        let mut tick = tokio::time::interval(KEEP_ALIVE);
        tick.reset();
        loop {
            let msg = tokio::select! {
                got = rx.recv() => match got {
                    Ok(line) => event(&line),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        live.lost(n);
                        Bytes::from(format!("event: dropped\ndata: {{\"dropped\":{n}}}\n\n"))
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => Bytes::from_static(b": keep-alive\n\n"),
                _ = tx.closed() => return,
                _ = stop.cancelled() => return,
            };
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    });
    Ok(sse(body_rx))
}

fn sse(body_rx: mpsc::Receiver<Bytes>) -> Response<crate::http::Body> {
    let mut r = Response::new(SseBody(body_rx).boxed());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// The SSE response from the team's stream: `past` first, then every event after it.
fn team_events(
    proxy: &Arc<Proxy>,
    past: Vec<crate::state::stream::Event>,
    mut con: redis::aio::MultiplexedConnection,
) -> Response<crate::http::Body> {
    let (tx, body_rx) = mpsc::channel::<Bytes>(CLIENT_QUEUE);
    let stop = proxy.stopping.clone();
    tokio::spawn(async move {
        if tx
            .send(Bytes::from_static(b": subscribed (the team's stream)\n\n"))
            .await
            .is_err()
        {
            return;
        }
        let mut last = past.last().map_or_else(|| "$".to_string(), |(id, _)| id.clone());
        for (_, line) in &past {
            if tx.send(event(line)).await.is_err() {
                return;
            }
        }
        loop {
            let read = crate::state::stream::read_after(&mut con, &last, KEEP_ALIVE);
            let got = tokio::select! {
                got = read => got,
                _ = tx.closed() => return,
                _ = stop.cancelled() => return,
            };
            match got {
                Ok(events) if events.is_empty() => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                }
                Ok(events) => {
                    for (id, line) in events {
                        last = id;
                        if tx.send(event(&line)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx
                        .send(Bytes::from(format!(
                            ": the state store cannot be read ({e}); retrying\n\n"
                        )))
                        .await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    sse(body_rx)
}

/// Appends this replica's audit lines to the team's stream (`--state`) until the proxy
/// stops: a batch per round trip, off the request path. Lines written while the store is
/// down are dropped from the stream (the audit log keeps them).
pub async fn share(proxy: Arc<Proxy>) {
    let Some(r) = proxy.state.shared() else { return };
    let live = proxy.audit.live().clone();
    live.enable();
    let (_, mut rx) = live.subscribe(0);
    let stop = proxy.stopping.clone();
    let mut warned = false;
    loop {
        let first = tokio::select! {
            got = rx.recv() => match got {
                Ok(line) => line,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    live.lost(n);
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = stop.cancelled() => return,
        };
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(line) => batch.push(line),
                Err(_) => break,
            }
        }
        match r.audit_append(&batch).await {
            Ok(()) => warned = false,
            Err(e) if !warned => {
                warned = true;
                tracing::warn!("the team's audit stream: {e} (said once until it answers)");
            }
            Err(_) => {}
        }
    }
}

fn event(line: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(line.len() + 8);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(line);
    b.extend_from_slice(b"\n\n");
    Bytes::from(b)
}

/// `backlog=N` from the query (0 without it).
fn backlog(query: Option<&str>) -> Result<usize, ApiError> {
    let Some(q) = query else { return Ok(0) };
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        if k == "backlog" {
            return v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= crate::feed::BACKLOG)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        format!(
                            "backlog={v:?}: expected a number from 0 to {}",
                            crate::feed::BACKLOG
                        ),
                    )
                });
        }
    }
    Ok(0)
}

/// A body that streams what the channel carries.
struct SseBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_is_a_bounded_number() {
        assert_eq!(backlog(None).ok(), Some(0));
        assert_eq!(backlog(Some("backlog=5")).ok(), Some(5));
        assert!(backlog(Some("backlog=-1")).is_err());
        assert!(backlog(Some("backlog=10001")).is_err());
    }
}
