//! The connector behind an upstream's connection pool: TCP (no Nagle), then
//! TLS when configured, all within the connect timeout. It counts the
//! connections it opens and marks each one so responses can tell a new
//! connection from a reused one.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tower_service::Service;

use super::stats::{ConnectionMarker, UpstreamStats};
use super::tls::UpstreamTls;
use crate::body::BoxError;

/// Opens connections to targets.
#[derive(Clone)]
pub struct Connector {
    tcp: HttpConnector,
    tls: Option<UpstreamTls>,
    timeout: Duration,
    stats: Option<Arc<UpstreamStats>>,
}

impl Connector {
    /// A connector with `timeout` for TCP and TLS together, counting into
    /// `stats` when given.
    pub fn new(
        tls: Option<UpstreamTls>,
        timeout: Duration,
        stats: Option<Arc<UpstreamStats>>,
    ) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        Connector {
            tcp,
            tls,
            timeout,
            stats,
        }
    }

    /// Whether connections use TLS (the request URIs then say `https`).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// An open connection to a target.
pub struct UpstreamConnection {
    io: Io,
    h2: bool,
    marker: ConnectionMarker,
}

enum Io {
    Plain(TokioIo<TcpStream>),
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Service<Uri> for Connector {
    type Response = UpstreamConnection;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<UpstreamConnection, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut tcp = self.tcp.clone();
        let tls = self.tls.clone();
        let timeout = self.timeout;
        let stats = self.stats.clone();
        Box::pin(async move {
            let connect = async {
                let host = uri
                    .host()
                    .unwrap_or_default()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                let stream = tcp.call(uri).await?.into_inner();
                let Some(tls) = tls else {
                    return Ok::<_, BoxError>((Io::Plain(TokioIo::new(stream)), false));
                };
                let name = match tls.server_name {
                    Some(name) => name,
                    None => ServerName::try_from(host)?,
                };
                let stream = TlsConnector::from(tls.config).connect(name, stream).await?;
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                Ok((Io::Tls(Box::new(TokioIo::new(stream))), h2))
            };
            let (io, h2) = tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            if let Some(stats) = &stats {
                stats.connection_opened();
            }
            Ok(UpstreamConnection {
                io,
                h2,
                marker: ConnectionMarker::default(),
            })
        })
    }
}

impl Connection for UpstreamConnection {
    fn connected(&self) -> Connected {
        let connected = Connected::new().extra(self.marker.clone());
        if self.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl Read for UpstreamConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for UpstreamConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_flush(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(io) => io.is_write_vectored(),
            Io::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
}
