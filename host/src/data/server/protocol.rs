//! Which HTTP version a connection speaks: HTTP/2 clients open with a fixed
//! 24-byte preface (RFC 9113 §3.4), anything else is HTTP/1. Detection reads
//! only as many bytes as it needs, and [`Prefixed`] hands them back to the
//! HTTP server, so the read is invisible to it. The caller bounds the wait
//! (the header read timeout), so a client that connects and stays silent,
//! or stops inside the preface, is dropped.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// HTTP/1.0 or HTTP/1.1.
    Http1,
    /// HTTP/2 (prior knowledge, or negotiated with ALPN).
    Http2,
}

/// Reads the start of a connection until its protocol is known; returns it
/// with the bytes read.
pub(super) async fn detect<I>(io: &mut I) -> io::Result<(Protocol, Vec<u8>)>
where
    I: AsyncRead + Unpin,
{
    let mut seen = Vec::with_capacity(PREFACE.len());
    let mut chunk = [0u8; PREFACE.len()];
    loop {
        let wanted = PREFACE.len() - seen.len();
        let read = io.read(&mut chunk[..wanted]).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&chunk[..read]);
        if !PREFACE.starts_with(&seen) {
            return Ok((Protocol::Http1, seen));
        }
        if seen.len() == PREFACE.len() {
            return Ok((Protocol::Http2, seen));
        }
    }
}

/// An I/O stream whose first reads return `prefix`.
pub(super) struct Prefixed<I> {
    prefix: Vec<u8>,
    offset: usize,
    io: I,
}

impl<I> Prefixed<I> {
    /// `io`, with `prefix` read first.
    pub(super) fn new(prefix: Vec<u8>, io: I) -> Self {
        Prefixed {
            prefix,
            offset: 0,
            io,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.offset < this.prefix.len() {
            let rest = &this.prefix[this.offset..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.offset += n;
            if this.offset == this.prefix.len() {
                this.prefix = Vec::new();
                this.offset = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

delegate_async_write!(Prefixed, io);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn http1_is_known_from_the_first_byte_and_replayed() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let (protocol, seen) = detect(&mut server).await.unwrap();
        assert_eq!(protocol, Protocol::Http1);
        let mut replayed = Prefixed::new(seen, server);
        let mut line = [0u8; 16];
        replayed.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"GET / HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn the_http2_preface_is_read_whole_even_in_pieces() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let task = tokio::spawn(async move {
            for piece in PREFACE.chunks(5) {
                client.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            client
        });
        let (protocol, seen) = detect(&mut server).await.unwrap();
        assert_eq!(protocol, Protocol::Http2);
        assert_eq!(seen, PREFACE);
        drop(task.await);
    }
}
