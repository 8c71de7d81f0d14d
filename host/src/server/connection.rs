//! One client connection: TLS handshake (when the listener terminates TLS),
//! protocol detection, then hyper's HTTP/1.1 (with upgrades) or HTTP/2
//! server, configured from the listener's [`Limits`]. Every request passes
//! the edge limits ([`Limits::admit`]) before the proxy sees it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::protocol::{self, Prefixed, Protocol};
use super::stopping;
use crate::gateway::Gateway;
use crate::limits::Limits;
use crate::proxy::{self, Peer};
use crate::tls::{ClientIdentity, TlsTerminator};

/// Hyper's HTTP/1 read buffer cannot be smaller than this.
const MIN_HTTP1_BUFFER: usize = 8192;

/// What a listener serves its connections with.
pub(super) struct ConnectionServer {
    gateway: Arc<Gateway>,
    limits: Arc<Limits>,
    tls: Option<Arc<TlsTerminator>>,
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

impl ConnectionServer {
    /// Configures hyper's servers from `limits`.
    pub(super) fn new(
        gateway: Arc<Gateway>,
        limits: Limits,
        tls: Option<Arc<TlsTerminator>>,
    ) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            // Heads (and chunked trailers) over the limit: 431 while
            // parsing; the read buffer holds no more than a head may be.
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(limits.max_header_bytes.max(MIN_HTTP1_BUFFER))
            .max_headers(limits.max_headers);
        let h2 = &limits.http2;
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(h2.max_concurrent_streams)
            .initial_stream_window_size(h2.initial_stream_window)
            .initial_connection_window_size(h2.initial_connection_window)
            .max_header_list_size(limits.http2_max_header_list_size())
            .max_pending_accept_reset_streams(h2.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(h2.max_local_error_reset_streams);
        ConnectionServer {
            gateway,
            limits: Arc::new(limits),
            tls,
            http1,
            http2,
        }
    }

    /// Serves one accepted connection until it closes, or until shutdown
    /// and its in-flight requests finished.
    pub(super) async fn serve(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) {
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => {
                let peer = Peer {
                    addr,
                    scheme: "http",
                };
                self.serve_http(stream, peer, None, shutdown).await;
            }
            Some(tls) => match tls.accept(stream).await {
                Ok(accepted) => {
                    let peer = Peer {
                        addr,
                        scheme: "https",
                    };
                    self.serve_http(accepted.stream, peer, accepted.identity, shutdown)
                        .await;
                }
                Err(error) => tracing::debug!(%error, client = %addr, "TLS handshake failed"),
            },
        }
    }

    async fn serve_http<IO>(
        &self,
        mut io: IO,
        peer: Peer,
        identity: Option<ClientIdentity>,
        mut shutdown: watch::Receiver<bool>,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let detected = tokio::select! {
            detected = tokio::time::timeout(
                self.limits.header_read_timeout,
                protocol::detect(&mut io),
            ) => detected,
            _ = stopping(&mut shutdown) => return,
        };
        let (protocol, prefix) = match detected {
            Ok(Ok(detected)) => detected,
            Ok(Err(error)) => {
                tracing::debug!(%error, client = %peer.addr, "connection closed before a request");
                return;
            }
            Err(_) => {
                tracing::debug!(client = %peer.addr, "no request within the header read timeout");
                return;
            }
        };
        let io = TokioIo::new(Prefixed::new(prefix, io));
        let gateway = self.gateway.clone();
        let limits = self.limits.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let gateway = gateway.clone();
            let limits = limits.clone();
            let identity = identity.clone();
            async move {
                let observation = gateway.observer.begin(&request, peer);
                let response = match limits.admit(request) {
                    Ok(mut request) => {
                        if let Some(identity) = identity {
                            request.extensions_mut().insert(identity);
                        }
                        proxy::serve(&gateway, request, peer, observation).await
                    }
                    Err(error) => observation.finish(proxy::refuse(error)),
                };
                Ok::<_, Infallible>(response)
            }
        });
        let result = match protocol {
            Protocol::Http1 => {
                let connection = self.http1.serve_connection(io, service).with_upgrades();
                drive(connection, shutdown, |c| c.graceful_shutdown()).await
            }
            Protocol::Http2 => {
                let connection = self.http2.serve_connection(io, service);
                drive(connection, shutdown, |c| c.graceful_shutdown()).await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, client = %peer.addr, "connection ended with an error");
        }
    }
}

/// Runs a connection; once shutdown starts, asks it to finish its in-flight
/// requests and close (HTTP/1: no more keep-alive; HTTP/2: GOAWAY).
async fn drive<C>(
    connection: C,
    mut shutdown: watch::Receiver<bool>,
    graceful: fn(Pin<&mut C>),
) -> Result<(), hyper::Error>
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return result,
        _ = stopping(&mut shutdown) => {}
    }
    graceful(connection.as_mut());
    connection.await
}
