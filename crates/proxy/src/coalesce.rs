//! The socket under an intercepted TLS server connection: it sends what the TLS layer wrote
//! only when something needs it sent, so the handshake's last records share a write (and a
//! packet) with the first response.
//!
//! tokio-rustls writes every record as soon as rustls makes it and flushes at the end of
//! the handshake. A TLS 1.3 server's last handshake record is its session ticket, which
//! the client does not wait for: written on its own, it cost every new connection a write
//! system call and a packet (and woke the client) just before the response's. Here the
//! bytes written during the handshake are held until the connection reads (the client may
//! be waiting for them), writes, flushes or shuts down; a flush during the handshake holds
//! too. What the client may be waiting for is always sent before reading, so no handshake
//! (TLS 1.2's, where the client waits for the server's last flight, included) can stall
//! on it. After a TLS 1.3 handshake only the ticket is held, and it waits for the first
//! write (the answer) or the shutdown, whatever is read or flushed before, but never longer
//! than [`TICKET_HOLD`]: a client that opens a second connection while its first waits for
//! a slow upstream (an LLM's answer can take a minute) resumes the session on it, and an
//! idle connection gets its ticket too.
//!
//! It also reads first the bytes taken from the socket before it was wrapped (transparent
//! mode reads the first bytes to tell TLS from plain HTTP, instead of peeking and reading
//! them again).

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a TLS 1.3 session ticket waits for the connection's first answer before it
/// goes out on its own. An upstream on the same network answers well within it (the ticket
/// then costs no write of its own); a client sees its ticket this soon after the handshake
/// whatever the upstream does.
pub const TICKET_HOLD: Duration = Duration::from_millis(10);

/// A socket whose writes are held between [`Coalesced::hold`] and [`Coalesced::release`],
/// and sent before the next read (unless nobody waits for them), or with the next write,
/// flush or shutdown.
#[derive(Debug)]
pub struct Coalesced<S> {
    io: S,
    /// Read before the socket.
    early: Bytes,
    /// Written, not sent yet.
    held: Vec<u8>,
    /// Writes and flushes are held (the handshake).
    holding: bool,
    /// The peer may be waiting for what is held: it is sent before reading, and on a flush.
    awaited: bool,
    /// When what nobody waits for (a ticket) is sent anyway, at the latest.
    due: Option<Pin<Box<Sleep>>>,
}

impl<S> Coalesced<S> {
    /// `io`, with `early` (already read from it) to be read first; writes go out at once
    /// until [`Coalesced::hold`].
    pub fn new(io: S, early: Bytes) -> Self {
        Coalesced {
            io,
            early,
            held: Vec::new(),
            holding: false,
            awaited: true,
            due: None,
        }
    }

    /// Holds writes and flushes from now on (the handshake), until [`Coalesced::release`].
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// Ends the holding (the handshake is over). With `None`, the peer may be waiting for
    /// what is held: it goes out before the next read or on a flush. With `Some(limit)`
    /// (a TLS 1.3 session ticket, which no client waits for), it goes out with the next
    /// write or the shutdown, or on the first read or flush once `limit` has passed.
    pub fn release(&mut self, limit: Option<Duration>) {
        self.holding = false;
        self.awaited = limit.is_none();
        self.due = match limit {
            Some(limit) if !self.held.is_empty() => Some(Box::pin(tokio::time::sleep(limit))),
            _ => None,
        };
    }

    /// Whether what is held must go out before reading and on a flush: the peer may wait
    /// for it, or its time is up. Until then, the task is woken when it is.
    fn send_now(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(due) = &mut self.due {
            if due.as_mut().poll(cx).is_ready() {
                self.due = None;
                self.awaited = true;
            }
        }
        self.awaited && !self.held.is_empty()
    }
}

impl<S: AsyncWrite + Unpin> Coalesced<S> {
    /// Sends what is held (a failed handshake's alert), holding nothing from now on.
    pub async fn send_held(&mut self) -> io::Result<()> {
        self.release(None);
        std::future::poll_fn(|cx| self.poll_send_held(cx)).await
    }

    /// Sends what is held; ready once all of it is sent.
    fn poll_send_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.held) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.held.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Let the buffer (and the timer) go: the connection lives on without them.
        self.held = Vec::new();
        self.due = None;
        Poll::Ready(Ok(()))
    }

    /// Writes `bufs` after what is held, in one system call when the socket takes it all;
    /// the count is of `bufs`' bytes.
    fn poll_write_after_held(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        while !self.held.is_empty() {
            let mut all = Vec::with_capacity(bufs.len() + 1);
            all.push(IoSlice::new(&self.held));
            all.extend(bufs.iter().map(|b| IoSlice::new(b)));
            let n = match Pin::new(&mut self.io).poll_write_vectored(cx, &all) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                other => return other,
            };
            if n < self.held.len() {
                self.held.drain(..n);
                continue;
            }
            let past = n - self.held.len();
            self.held = Vec::new();
            self.due = None;
            if past > 0 {
                return Poll::Ready(Ok(past));
            }
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// Moves what fits of `early` (bytes read from a socket before it was wrapped) into `buf`;
/// false when there is nothing left. The buffer they came in is let go once they are read,
/// not kept with the connection.
pub(crate) fn read_early(early: &mut Bytes, buf: &mut ReadBuf<'_>) -> bool {
    if early.is_empty() {
        return false;
    }
    let n = early.len().min(buf.remaining());
    buf.put_slice(&early[..n]);
    early.advance(n);
    if early.is_empty() {
        *early = Bytes::new();
    }
    true
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalesced<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // The peer may be waiting for what is held before it sends anything more. A send the
        // socket cannot take now is tried again on the next read or write.
        if this.send_now(cx) {
            if let Poll::Ready(Err(e)) = this.poll_send_held(cx) {
                return Poll::Ready(Err(e));
            }
        }
        if read_early(&mut this.early, buf) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesced<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.holding {
            let mut n = 0;
            for b in bufs {
                this.held.extend_from_slice(b);
                n += b.len();
            }
            return Poll::Ready(Ok(n));
        }
        this.poll_write_after_held(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.holding {
            return Poll::Ready(Ok(()));
        }
        // What nobody waits for (a ticket) waits for the next write, or its time: hyper
        // flushes on every turn of its loop, with or without anything to write.
        if this.send_now(cx) {
            std::task::ready!(this.poll_send_held(cx))?;
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A socket that records each write call, takes at most `per_write` bytes a call, and
    /// reads from `input` (pending when empty).
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        per_write: Option<usize>,
        input: VecDeque<u8>,
        flushes: usize,
        shut: bool,
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if this.input.is_empty() {
                return Poll::Pending;
            }
            while buf.remaining() > 0 {
                let Some(b) = this.input.pop_front() else { break };
                buf.put_slice(&[b]);
            }
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let mut all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(max) = this.per_write {
                all.truncate(max);
            }
            let n = all.len();
            this.writes.push(all);
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().shut = true;
            Poll::Ready(Ok(()))
        }
    }

    /// A limit no test reaches, however slow the machine.
    const LONG: std::time::Duration = std::time::Duration::from_secs(3600);

    fn held_recorder(io: Recorder) -> Coalesced<Recorder> {
        let mut c = Coalesced::new(io, Bytes::new());
        c.hold();
        c
    }

    /// One read attempt: what it read, or `None` when it would wait.
    fn try_read<S: AsyncRead + AsyncWrite + Unpin>(c: &mut Coalesced<S>) -> Option<Vec<u8>> {
        let mut b = [0u8; 64];
        let mut buf = ReadBuf::new(&mut b);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(c).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) => Some(buf.filled().to_vec()),
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => None,
        }
    }

    /// The handshake's writes wait through a flush, and go out before the next read.
    #[tokio::test]
    async fn held_bytes_go_out_before_a_read() {
        let mut c = held_recorder(Recorder::default());
        c.write_all(b"server hello").await.expect("write");
        c.flush().await.expect("flush");
        assert!(c.io.writes.is_empty());
        assert_eq!(try_read(&mut c), None);
        assert_eq!(c.io.writes, vec![b"server hello".to_vec()]);
        assert!(c.held.is_empty());
    }

    /// After the handshake, the held ticket goes out in the same write as the response.
    #[tokio::test]
    async fn the_held_bytes_share_the_next_write_after_release() {
        let mut c = held_recorder(Recorder::default());
        c.write_all(b"ticket").await.expect("write");
        c.flush().await.expect("flush");
        c.release(Some(LONG));
        assert_eq!(try_read(&mut c), None, "the request is not there yet");
        c.io.input.extend(b"GET /");
        assert_eq!(try_read(&mut c).as_deref(), Some(&b"GET /"[..]));
        c.flush().await.expect("flush");
        assert!(c.io.writes.is_empty(), "nobody waits for a ticket");
        c.write_all(b"HTTP/1.1 200").await.expect("write");
        assert_eq!(c.io.writes, vec![b"ticketHTTP/1.1 200".to_vec()]);
        c.write_all(b" more").await.expect("write");
        assert_eq!(c.io.writes.len(), 2);
    }

    /// A socket that takes a few bytes at a time still gets everything, in order, and the
    /// count reported is of the caller's bytes only.
    #[tokio::test]
    async fn partial_writes_keep_the_order() {
        let io = Recorder {
            per_write: Some(4),
            ..Default::default()
        };
        let mut c = held_recorder(io);
        c.write_all(b"0123456789").await.expect("write");
        c.release(None);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let n = match Pin::new(&mut c).poll_write(&mut cx, b"abcdef") {
            Poll::Ready(Ok(n)) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(n, 2, "12 bytes taken: the 10 held and 2 of the caller's");
        c.write_all(b"cdef").await.expect("write");
        let sent: Vec<u8> = c.io.writes.concat();
        assert_eq!(sent, b"0123456789abcdef");
    }

    /// Before a read or on a flush when awaited; on a shutdown; on a failed handshake (its
    /// alert).
    #[tokio::test]
    async fn flush_and_shutdown_send_what_is_held() {
        let mut c = held_recorder(Recorder::default());
        c.write_all(b"flight").await.expect("write");
        c.release(None);
        assert_eq!(try_read(&mut c), None);
        assert_eq!(
            c.io.writes,
            vec![b"flight".to_vec()],
            "awaited: sent before reading"
        );
        let mut c = held_recorder(Recorder::default());
        c.write_all(b"flight").await.expect("write");
        c.release(None);
        c.flush().await.expect("flush");
        assert_eq!(c.io.writes, vec![b"flight".to_vec()]);
        assert_eq!(c.io.flushes, 1);
        let mut c = held_recorder(Recorder::default());
        c.write_all(b"ticket").await.expect("write");
        c.release(Some(LONG));
        c.shutdown().await.expect("shutdown");
        assert_eq!(c.io.writes, vec![b"ticket".to_vec()]);
        assert!(c.io.shut);
        let mut c = held_recorder(Recorder::default());
        c.write_all(b"alert").await.expect("write");
        c.send_held().await.expect("send");
        assert_eq!(c.io.writes, vec![b"alert".to_vec()]);
    }

    /// A ticket with no answer to ride on goes out by itself once its time is up: on the
    /// read that waits for the next request (woken by its timer, not by the socket), or on
    /// a flush.
    #[tokio::test(start_paused = true)]
    async fn a_held_ticket_goes_out_by_itself_when_its_time_is_up() {
        use std::time::Duration;
        let mut c = held_recorder(Recorder::default());
        c.write_all(b"ticket").await.expect("write");
        c.release(Some(TICKET_HOLD));
        let mut b = [0u8; 8];
        let early = TICKET_HOLD - Duration::from_millis(1);
        assert!(tokio::time::timeout(early, c.read(&mut b)).await.is_err());
        assert!(c.io.writes.is_empty(), "sent before its time");
        assert!(tokio::time::timeout(Duration::from_secs(1), c.read(&mut b))
            .await
            .is_err());
        assert_eq!(c.io.writes, vec![b"ticket".to_vec()]);
        assert!(c.due.is_none(), "the timer is let go");

        let mut c = held_recorder(Recorder::default());
        c.write_all(b"ticket").await.expect("write");
        c.release(Some(TICKET_HOLD));
        c.flush().await.expect("flush");
        assert!(c.io.writes.is_empty());
        tokio::time::advance(TICKET_HOLD).await;
        c.flush().await.expect("flush");
        assert_eq!(c.io.writes, vec![b"ticket".to_vec()]);
    }

    /// Bytes read before wrapping come first, then the socket's.
    #[tokio::test]
    async fn early_bytes_are_read_first() {
        let mut io = Recorder::default();
        io.input.extend(b" world");
        let mut c = Coalesced::new(io, Bytes::from_static(b"hello"));
        let mut got = [0u8; 11];
        c.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"hello world");
    }
}
