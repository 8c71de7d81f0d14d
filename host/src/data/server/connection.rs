//! One client connection: TLS handshake (when the listener terminates TLS),
//! protocol detection, then hyper's HTTP/1.1 (with upgrades) or HTTP/2
//! server, configured from the listener's [`Limits`]. HTTP/1 reads go
//! through the framing guard (`framing`); every request passes the edge
//! limits ([`Limits::admit`]) before the proxy sees it (`service`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::accept::{Lifecycle, Serve};
use super::activity::Activity;
use super::framing::{FramingGuard, HeadLimits};
use super::protocol::{self, Prefixed, Protocol};
use super::service::RequestService;
use super::shedding::Shedder;
use crate::data::gateway::LiveGateway;
use crate::data::limits::Limits;
use crate::data::observe::metrics::REQUESTS_SHED;
use crate::data::proxy::{Peer, TunnelLimits};
use crate::data::tls::{ClientIdentity, TlsTerminator};
use crate::shutdown::stopping;

/// Hyper's HTTP/1 read buffer cannot be smaller than this.
const MIN_HTTP1_BUFFER: usize = 8192;

/// What a listener serves its connections with.
pub(super) struct ConnectionServer {
    gateway: Arc<LiveGateway>,
    limits: Arc<Limits>,
    tls: Option<Arc<TlsTerminator>>,
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    shedding: Arc<Shedder>,
    shed_counter: metrics::Counter,
}

impl Serve for ConnectionServer {
    fn serve(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        life: Lifecycle,
    ) -> impl Future<Output = ()> + Send {
        self.serve_connection(stream, addr, life)
    }

    fn drain_timeout(&self) -> Duration {
        self.limits.drain_timeout
    }
}

impl ConnectionServer {
    /// Configures hyper's servers from `limits`.
    pub(super) fn new(
        listener: &str,
        gateway: Arc<LiveGateway>,
        limits: Limits,
        tls: Option<Arc<TlsTerminator>>,
    ) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            // The framing guard times heads from their first byte, and
            // the idle timeout covers keep-alive.
            .header_read_timeout(None)
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
            shedding: Shedder::new(limits.max_requests_in_flight),
            shed_counter: metrics::counter!(REQUESTS_SHED, "listener" => listener.to_owned()),
            limits: Arc::new(limits),
            tls,
            http1,
            http2,
        }
    }

    /// Serves one accepted connection until it closes, goes idle, or
    /// shutdown's drain period ends.
    async fn serve_connection(&self, stream: TcpStream, addr: SocketAddr, life: Lifecycle) {
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => {
                let peer = Peer::new(addr, "http");
                self.serve_http(stream, peer, None, life).await;
            }
            // Boxed, so a cleartext connection's task is not sized for
            // the TLS session it does not have.
            Some(tls) => {
                Box::pin(async move {
                    match tls.accept(stream).await {
                        Ok(accepted) => {
                            let peer = Peer::new(addr, "https");
                            self.serve_http(accepted.stream, peer, accepted.identity, life)
                                .await;
                        }
                        Err(error) => {
                            tracing::debug!(%error, client = %addr, "TLS handshake failed")
                        }
                    }
                })
                .await
            }
        }
    }

    async fn serve_http<IO>(
        &self,
        mut io: IO,
        peer: Peer,
        identity: Option<ClientIdentity>,
        mut life: Lifecycle,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let detected = tokio::select! {
            detected = tokio::time::timeout(
                self.limits.header_read_timeout,
                protocol::detect(&mut io),
            ) => detected,
            _ = stopping(&mut life.shutdown) => return,
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
        let io = Prefixed::new(prefix, io);
        let activity = Activity::new();
        let mut service = RequestService {
            gateway: self.gateway.clone(),
            limits: self.limits.clone(),
            peer: peer.clone(),
            identity,
            activity: activity.clone(),
            framing: None,
            tunnel: None,
            shedding: self.shedding.clone(),
            shed_counter: self.shed_counter.clone(),
        };
        let idle = self.limits.idle_timeout;
        let result = match protocol {
            Protocol::Http1 => {
                let head_limits = HeadLimits {
                    max_headers: self.limits.max_headers,
                    max_header_bytes: self.limits.max_header_bytes,
                    read_timeout: self.limits.header_read_timeout,
                };
                let (io, framing) = FramingGuard::new(io, head_limits, activity.clone());
                service.framing = Some(framing);
                service.tunnel = Some(TunnelLimits {
                    idle_timeout: self.limits.tunnel_idle_timeout,
                    closing: life.closing.clone(),
                    _hold: life.hold.clone(),
                });
                let service = service_fn(move |request| boxed_call(&service, request));
                let connection = self
                    .http1
                    .serve_connection(TokioIo::new(io), service)
                    .with_upgrades();
                // Boxed: the task holds only the protocol it serves.
                Box::pin(drive(connection, &mut life, &activity, idle, |c| {
                    c.graceful_shutdown()
                }))
                .await
            }
            Protocol::Http2 => {
                let service = service_fn(move |request| boxed_call(&service, request));
                let connection = self.http2.serve_connection(TokioIo::new(io), service);
                // Boxed: the task holds only the protocol it serves.
                Box::pin(drive(connection, &mut life, &activity, idle, |c| {
                    c.graceful_shutdown()
                }))
                .await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, client = %peer.addr, "connection ended with an error");
        }
    }
}

/// The service future for one request, boxed: hyper's HTTP/1 dispatcher
/// keeps a slot as large as the service's future for the whole life of the
/// connection, so an unboxed future would cost every idle keep-alive
/// connection its full size. Boxed, the slot is a pointer and the request's
/// state exists only while the request does.
fn boxed_call(
    service: &RequestService,
    request: hyper::Request<hyper::body::Incoming>,
) -> Pin<Box<dyn Future<Output = Result<ServiceResponse, Infallible>> + Send>> {
    let service = service.clone();
    Box::pin(async move { Ok(service.call(request).await) })
}

/// What the request service answers with.
type ServiceResponse = http::Response<super::activity::Tracked<crate::body::Body>>;

/// Runs a connection. Once shutdown starts or the connection has been idle
/// for `idle`, asks it to finish its in-flight requests and close (HTTP/1:
/// no more keep-alive; HTTP/2: GOAWAY); once the drain period is over, it
/// is dropped (closed) whatever it was doing.
async fn drive<C>(
    connection: C,
    life: &mut Lifecycle,
    activity: &Activity,
    idle: Duration,
    graceful: fn(Pin<&mut C>),
) -> Result<(), hyper::Error>
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let mut connection = std::pin::pin!(connection);
    let idled = tokio::select! {
        result = connection.as_mut() => return result,
        _ = stopping(&mut life.shutdown) => false,
        () = activity.idle_for(idle) => true,
    };
    graceful(connection.as_mut());
    if idled {
        tracing::debug!(?idle, "idle connection: closing");
        // A client that never lets the close finish (no PING ACK after an
        // HTTP/2 GOAWAY) is dropped once idle for another period.
        activity.touch();
        tokio::select! {
            result = connection.as_mut() => return result,
            () = activity.idle_for(idle) => return Ok(()),
            _ = stopping(&mut life.shutdown) => {}
        }
    }
    tokio::select! {
        result = connection => result,
        _ = stopping(&mut life.closing) => {
            tracing::debug!("connection closed at the end of the drain period");
            Ok(())
        }
    }
}
