//! The admin listener: what operators ask the running gateway, on its own
//! address (loopback by default), never on a traffic listener.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /plugins` | each loaded plugin: name, version, SHA-256, the previous version, the routes using it |
//! | `GET /routes` | each route's active chain, in order, with versions |
//! | `GET /reloads` | recent reload reports (newest last) and replaced snapshots still held by requests |
//! | `POST /reload` | re-read the config (file or etcd document); 200 with the report, 422 when refused |
//! | `POST /plugins/<name>/rollback` | make the previous version active; 200, 404, 409 or 422 |
//! | `GET /metrics` | Prometheus text exposition (see `observe::metrics`) |
//! | `GET /cluster` | for a gateway configured from etcd: every registered instance, the config's latest revision, whether each serves it; 404 otherwise, 503 when etcd does not answer |
//! | `GET /audit?after=SEQ&limit=N` | audit records after `SEQ` (oldest first, at most `N`, default 100, at most 1000); 404 without `[admin.audit]` |
//! | `GET /healthz` | `ok` (needs no token) |
//! | `GET /`, `/dashboard`, `/api/live`, `/api/alerts`, `/analytics/...` | the monitor's dashboard and JSON ([`crate::telemetry::monitor::http`]) |
//!
//! With `[admin.tls]` the listener speaks HTTPS (HTTP/1.1 only), its
//! certificates re-read when their files change; with `client_ca`, client
//! certificates are verified in the handshake and matched in `auth`.

mod api;
mod auth;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::AdminConfig;
use crate::control::cluster::ClusterSlot;
use crate::control::reload::Reloader;
use crate::data::limits::Limits;
use crate::data::server::{Admission, Lifecycle, ListenerError, Serve, accept_loop};
use crate::data::tls::{ClientIdentity, TlsTerminator};
use crate::shutdown::stopping;
use crate::telemetry::monitor::Monitor;

/// The admin listener, serving until the gateway shuts down.
pub struct AdminServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `admin.addr` and serves the admin API for `reloader`'s
    /// gateway, with the traffic listeners' accept loop: at most
    /// `max_connections` open (more are closed at once), heads read within
    /// the gateway's `[limits] header_read_timeout_ms` and no larger than
    /// its `max_header_bytes`, and the same drain on shutdown.
    pub async fn start(
        admin: &AdminConfig,
        limits: &Limits,
        reloader: Arc<Reloader>,
        monitor: Option<Arc<Monitor>>,
        cluster: ClusterSlot,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, ListenerError> {
        let (addr, max_connections) = (admin.addr, admin.max_connections);
        let tls = crate::data::server::load_admin_tls(admin)?;
        if let Some(terminator) = &tls {
            terminator.spawn_reload(shutdown.clone());
        }
        let bind_error = |error| ListenerError::Bind {
            name: "admin".into(),
            addr,
            error,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        tracing::info!(%addr, max_connections, tls = tls.is_some(), "admin listening");
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192));
        let server = Arc::new(AdminConnections {
            access: Arc::new(auth::Access::new(&admin.tokens, &admin.clients)),
            tls,
            reloader,
            monitor,
            cluster,
            http1,
            drain_timeout: limits.drain_timeout,
        });
        let admission = Admission::new(max_connections);
        let task = tokio::spawn(accept_loop(listener, server, admission, shutdown));
        Ok(AdminServer { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the listener to stop (after shutdown was signalled).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// The admin API on one HTTP/1.1 connection.
struct AdminConnections {
    access: Arc<auth::Access>,
    tls: Option<Arc<TlsTerminator>>,
    reloader: Arc<Reloader>,
    monitor: Option<Arc<Monitor>>,
    cluster: ClusterSlot,
    http1: http1::Builder,
    drain_timeout: Duration,
}

impl Serve for AdminConnections {
    async fn serve(&self, stream: TcpStream, addr: SocketAddr, life: Lifecycle) {
        let Some(tls) = &self.tls else {
            return self.serve_http(stream, addr, None, life).await;
        };
        match tls.accept(stream).await {
            Ok(accepted) => {
                let identity = accepted.identity.map(Arc::new);
                self.serve_http(accepted.stream, addr, identity, life).await;
            }
            Err(error) => tracing::debug!(%addr, %error, "admin TLS handshake failed"),
        }
    }

    fn drain_timeout(&self) -> Duration {
        self.drain_timeout
    }
}

impl AdminConnections {
    /// The admin API over one (plain or TLS) connection from `addr`.
    async fn serve_http<IO>(
        &self,
        stream: IO,
        addr: SocketAddr,
        identity: Option<Arc<ClientIdentity>>,
        mut life: Lifecycle,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let access = self.access.clone();
        let reloader = self.reloader.clone();
        let monitor = self.monitor.clone();
        let cluster = self.cluster.clone();
        let service = service_fn(move |request| {
            let access = access.clone();
            let reloader = reloader.clone();
            let monitor = monitor.clone();
            let cluster = cluster.clone();
            let identity = identity.clone();
            async move {
                let context = api::Context {
                    access: &access,
                    reloader: &reloader,
                    monitor: monitor.as_deref(),
                    cluster: cluster.get(),
                    addr,
                    identity: identity.as_deref(),
                };
                Ok::<_, Infallible>(api::handle(&context, request).await)
            }
        });
        let connection = self.http1.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stopping(&mut life.shutdown) => connection.as_mut().graceful_shutdown(),
        }
        tokio::select! {
            _ = connection => {}
            _ = stopping(&mut life.closing) => {}
        }
    }
}
