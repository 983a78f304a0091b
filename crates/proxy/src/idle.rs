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

use bytes::{Buf, Bytes};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::upstream::{Body, BodyError};

/// How long a connection stays idle before its HTTP state is released.
pub const IDLE_RELEASE: Duration = Duration::from_millis(500);

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
        if !this.early.is_empty() {
            let n = this.early.len().min(buf.remaining());
            buf.put_slice(&this.early[..n]);
            this.early.advance(n);
            if this.early.is_empty() {
                // Let the buffer it came in go now, not with the connection.
                this.early = Bytes::new();
            }
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
    let timer = tokio::time::sleep(IDLE_RELEASE);
    tokio::pin!(timer);
    // Set when a poll saw the connection busy since the timer was last set: then the timer
    // is set again rather than the connection released (one timer reset per
    // IDLE_RELEASE, not one per request).
    let mut busy = false;
    std::future::poll_fn(|cx| {
        if Pin::new(&mut *conn).poll(cx).is_ready() {
            return Poll::Ready(Ended::Closed);
        }
        if !flags.idle() {
            busy = true;
            return Poll::Pending;
        }
        while timer.as_mut().poll(cx).is_ready() {
            if !busy {
                return Poll::Ready(Ended::Idle);
            }
            busy = false;
            timer.as_mut().reset(tokio::time::Instant::now() + IDLE_RELEASE);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

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
