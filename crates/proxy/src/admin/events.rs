//! `GET /api/events[?backlog=N]`: the audit lines as Server-Sent Events, one JSON record
//! per `data:` line, as this replica writes them; with `backlog=N`, the last N (at most
//! [`crate::feed::BACKLOG`]) first. A client that reads too slowly loses lines (an
//! `event: dropped` tells how many, and `/metrics` counts them); it never slows the proxy.

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
pub fn events(proxy: &Arc<Proxy>, query: Option<&str>) -> ApiResult {
    let backlog = backlog(query)?;
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
    let mut r = Response::new(SseBody(body_rx).boxed());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(r)
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
