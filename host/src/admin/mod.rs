//! The admin listener: what operators ask the running gateway, on its own
//! address (loopback by default), never on a traffic listener.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /plugins` | each loaded plugin: name, version, SHA-256, the previous version, the routes using it |
//! | `GET /routes` | each route's active chain, in order, with versions |
//! | `GET /reloads` | recent reload reports (newest last) and replaced snapshots still held by requests |
//! | `POST /reload` | re-read the config file; 200 with the report, 422 when refused |
//! | `POST /plugins/<name>/rollback` | make the previous version active; 200, 404, 409 or 422 |
//! | `GET /metrics` | Prometheus text exposition (see `observe::metrics`) |
//! | `GET /healthz` | `ok` |
//! | `GET /`, `/dashboard`, `/api/live`, `/api/alerts`, `/analytics/...` | the monitor's dashboard and JSON ([`crate::monitor::http`]) |

mod api;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::monitor::Monitor;
use crate::reload::Reloader;
use crate::server::ListenerError;
use crate::shutdown::stopping;

/// The admin listener, serving until the gateway shuts down.
pub struct AdminServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `addr` and serves the admin API for `reloader`'s gateway.
    pub async fn start(
        addr: SocketAddr,
        reloader: Arc<Reloader>,
        monitor: Option<Arc<Monitor>>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, ListenerError> {
        let bind_error = |error| ListenerError::Bind {
            name: "admin".into(),
            addr,
            error,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        tracing::info!(%addr, "admin listening");
        let task = tokio::spawn(accept_loop(listener, reloader, monitor, shutdown));
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

async fn accept_loop(
    listener: TcpListener,
    reloader: Arc<Reloader>,
    monitor: Option<Arc<Monitor>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stopping(&mut shutdown) => return,
        };
        let reloader = reloader.clone();
        let monitor = monitor.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let reloader = reloader.clone();
                let monitor = monitor.clone();
                async move {
                    let response = api::handle(&reloader, monitor.as_deref(), request).await;
                    Ok::<_, Infallible>(response)
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopping(&mut shutdown) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}
