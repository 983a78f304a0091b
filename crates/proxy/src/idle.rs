//! Kept-alive client connections that hold no HTTP state while they wait.
//!
//! hyper keeps two 8 KiB buffers (read and header write) and the request future's box for
//! as long as a connection lives, so 10,000 idle keep-alive connections held about 190 MB.
//! nginx frees a connection's request buffers between requests; this does the same on top
//! of hyper: the connection's socket is wrapped in [`ConnIo`], which notes whether the
//! last read found nothing to read and whether everything written was flushed, and every
//! response body is wrapped in [`Tracked`], which counts the requests not yet answered in
//! full. When they say "idle" (and no bytes were read since the last response, which
//! could be half a request head) for [`IDLE_RELEASE`], the hyper connection is taken
//! apart (`into_parts`: the socket and any bytes hyper had read ahead) and dropped; the
//! next request builds a new one on the same socket. Nothing the client sees changes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::http::{Body, BodyError};
use crate::limits::IDLE_RELEASE;

/// What the connection's socket and its responses report.
#[derive(Debug)]
pub struct IoFlags {
    /// The last read found nothing to read (the client is quiet).
    read_pending: AtomicBool,
    /// Everything written has been flushed (hyper flushes once its buffer is empty).
    flushed: AtomicBool,
    /// Bytes were read since the last response ended: hyper may hold part of a request
    /// head. Such a connection is never released, so hyper's header timeout keeps running
    /// (a client sending a head byte by byte is closed after 30 s, as before).
    unparsed: AtomicBool,
    /// Requests whose response body has not been sent (or dropped) yet.
    active: AtomicUsize,
}

impl Default for IoFlags {
    fn default() -> Self {
        IoFlags {
            read_pending: AtomicBool::new(false),
            flushed: AtomicBool::new(true),
            unparsed: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        }
    }
}

impl IoFlags {
    /// No request is being answered or half received, nothing is left to write, and the
    /// client is quiet.
    pub fn idle(&self) -> bool {
        self.active.load(Relaxed) == 0
            && !self.unparsed.load(Relaxed)
            && self.read_pending.load(Relaxed)
            && self.flushed.load(Relaxed)
    }

    /// True while a request is being answered (its response body not done).
    pub fn answering(&self) -> bool {
        self.active.load(Relaxed) > 0
    }

    /// Counts a request until its response body is done.
    pub fn begin(self: &Arc<Self>) -> Active {
        self.active.fetch_add(1, Relaxed);
        Active(self.clone())
    }
}

/// One request being answered; dropped with its response body.
#[derive(Debug)]
pub struct Active(Arc<IoFlags>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Relaxed);
        self.0.unparsed.store(false, Relaxed);
    }
}

/// A response body that counts as an unanswered request until it is done or dropped.
pub struct Tracked {
    body: Body,
    _active: Active,
}

impl Tracked {
    /// Wraps `body`, holding `active` until it is dropped.
    pub fn new(body: Body, active: Active) -> Self {
        Tracked {
            body,
            _active: active,
        }
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A client socket as hyper sees it: bytes read ahead by an earlier hyper connection come
/// first, and reads and writes update the connection's [`IoFlags`].
pub struct ConnIo {
    stream: TcpStream,
    early: Bytes,
    flags: Arc<IoFlags>,
}

impl ConnIo {
    /// `stream`, with `early` (already read from it) to be read first.
    pub fn new(stream: TcpStream, early: Bytes, flags: Arc<IoFlags>) -> Self {
        ConnIo { stream, early, flags }
    }

    /// The socket and whatever of `early` was not read.
    pub fn into_parts(self) -> (TcpStream, Bytes) {
        (self.stream, self.early)
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if crate::coalesce::read_early(&mut this.early, buf) {
            this.flags.read_pending.store(false, Relaxed);
            this.flags.unparsed.store(true, Relaxed);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.flags.read_pending.store(r.is_pending(), Relaxed);
        if buf.filled().len() > before {
            this.flags.unparsed.store(true, Relaxed);
        }
        r
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.flags.flushed.store(false, Relaxed);
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.flags.flushed.store(false, Relaxed);
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_flush(cx);
        if matches!(r, Poll::Ready(Ok(()))) {
            this.flags.flushed.store(true, Relaxed);
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// How driving one hyper connection ended.
pub enum Ended {
    /// The connection is finished (closed, upgraded, or failed).
    Closed,
    /// Idle for [`IDLE_RELEASE`]: take it apart and wait for the next request.
    Idle,
}

/// Drives `conn` until it ends, or until `flags` have said idle for [`IDLE_RELEASE`]
/// without a request in between.
pub async fn drive<F>(conn: &mut F, flags: &IoFlags) -> Ended
where
    F: Future + Unpin,
{
    // HTTP/1.1 writes its responses while the connection is polled, so the end of one
    // wakes this future: no need to keep the timer running while busy.
    until_quiet(conn, || flags.idle(), IDLE_RELEASE, false).await
}

/// Drives `conn` until it ends, or until `quiet` has held for `after` whenever it was
/// looked at (after each poll of the connection, and when the timer fires). With
/// `watch_busy`, the timer keeps running (one wake-up per `after`) while the connection
/// is busy: HTTP/2 answers in tasks of their own, whose end need not wake the connection.
pub async fn until_quiet<F>(
    conn: &mut F,
    quiet: impl Fn() -> bool,
    after: Duration,
    watch_busy: bool,
) -> Ended
where
    F: Future + Unpin,
{
    let timer = tokio::time::sleep(after);
    tokio::pin!(timer);
    // Set when a poll saw the connection busy since the timer was last set: then the timer
    // is set again rather than the connection released (one timer reset per period, not
    // one per request).
    let mut busy = false;
    std::future::poll_fn(|cx| {
        if Pin::new(&mut *conn).poll(cx).is_ready() {
            return Poll::Ready(Ended::Closed);
        }
        if !quiet() {
            busy = true;
            if !watch_busy {
                return Poll::Pending;
            }
        }
        while timer.as_mut().poll(cx).is_ready() {
            if !busy {
                return Poll::Ready(Ended::Idle);
            }
            busy = false;
            timer.as_mut().reset(tokio::time::Instant::now() + after);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

    /// A response body fed by the test.
    struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

    impl HttpBody for Fed {
        type Data = Bytes;
        type Error = BodyError;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
            self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
        }
    }

    /// An HTTP/2 connection is closed (GOAWAY) once it has had no request open for the
    /// idle timeout, and not while a response is still streaming. In virtual time.
    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_closes_once_quiet_for_the_timeout() {
        const AFTER: Duration = Duration::from_secs(30);
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (feed, rx) = tokio::sync::mpsc::channel(1);
        let rx = std::sync::Mutex::new(Some(rx));
        let flags = Arc::new(IoFlags::default());
        let svc = {
            let flags = flags.clone();
            hyper::service::service_fn(move |_req| {
                let active = flags.begin();
                let body = rx.lock().expect("lock").take().map(Fed);
                async move {
                    let body = match body {
                        Some(fed) => Body::new(fed),
                        None => crate::http::full("again"),
                    };
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Tracked::new(body, active)))
                }
            })
        };
        let server = tokio::spawn(async move {
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(server_io), svc);
            tokio::pin!(conn);
            let ended = until_quiet(&mut conn, || !flags.answering(), AFTER, true).await;
            let idle = matches!(ended, Ended::Idle);
            if idle {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
            (idle, tokio::time::Instant::now())
        });
        let (mut tx, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(client_io))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let req = || {
            hyper::Request::get("https://up.test/")
                .body(http_body_util::Empty::<Bytes>::new())
                .expect("request")
        };
        let resp = tx.send_request(req()).await.expect("answer");
        // A response streaming for four times the timeout keeps the connection.
        for _ in 0..4 {
            tokio::time::sleep(AFTER).await;
            feed.send(Bytes::from_static(b"x")).await.expect("feed");
        }
        assert!(!server.is_finished(), "closed while a response was streaming");
        drop(feed);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], b"xxxx");
        // A second request after a quiet while that is shorter than the timeout.
        tokio::time::sleep(AFTER / 2).await;
        let again = tx.send_request(req()).await.expect("answer");
        again.into_body().collect().await.expect("body");
        let last = tokio::time::Instant::now();
        let (idle, closed) = tokio::time::timeout(AFTER * 4, server)
            .await
            .expect("the idle connection was never closed")
            .expect("server task");
        assert!(idle);
        assert!(
            closed - last >= AFTER,
            "closed {:?} after the last request",
            closed - last
        );
        assert!(tx.send_request(req()).await.is_err(), "the client saw the GOAWAY");
    }

    #[test]
    fn idle_needs_quiet_flushed_and_no_request() {
        let flags = Arc::new(IoFlags::default());
        assert!(!flags.idle(), "nothing read yet");
        flags.read_pending.store(true, Relaxed);
        assert!(flags.idle());
        let active = flags.begin();
        assert!(!flags.idle(), "a request is being answered");
        drop(active);
        assert!(flags.idle());
        flags.flushed.store(false, Relaxed);
        assert!(!flags.idle(), "bytes not yet flushed");
        flags.flushed.store(true, Relaxed);
        flags.unparsed.store(true, Relaxed);
        assert!(!flags.idle(), "part of a request head was read");
        drop(flags.begin());
        assert!(
            flags.idle(),
            "a finished response means the bytes read were a request"
        );
    }
}
