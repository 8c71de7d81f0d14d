//! Listeners: accept connections and serve HTTP/1.1 (with upgrades) and
//! HTTP/2 on each, over TLS where the listener has a `tls` table, under the
//! listener's edge limits, with graceful shutdown that lets in-flight
//! requests finish.
//!
//! - `connection`: one connection, from the TLS handshake to hyper's
//!   server and the proxy.
//! - `protocol`: HTTP/1 or HTTP/2, told by the connection's first bytes.

mod connection;
mod protocol;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::gateway::Gateway;
use crate::limits::Limits;
use crate::reload::LiveGateway;
use crate::tls::{TlsError, TlsTerminator};
use connection::ConnectionServer;

/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A listener could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    /// Its address could not be bound.
    #[error("listener `{name}` cannot bind {addr}: {error}")]
    Bind {
        /// Listener name.
        name: String,
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// Its certificates, keys or CA could not be loaded.
    #[error("listener `{name}`: {error}")]
    Tls {
        /// Listener name.
        name: String,
        /// What failed.
        error: TlsError,
    },
}

/// A gateway serving on its listeners.
pub struct RunningGateway {
    addrs: Vec<(String, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningGateway {
    /// Loads each listener's TLS files, binds every listener of `config` and
    /// starts serving `gateway`, which never changes.
    pub async fn start(config: &Config, gateway: Arc<Gateway>) -> Result<Self, ListenerError> {
        Self::start_live(config, Arc::new(LiveGateway::new(gateway))).await
    }

    /// Like [`RunningGateway::start`], serving whichever snapshot `live`
    /// holds when each request starts.
    pub async fn start_live(
        config: &Config,
        live: Arc<LiveGateway>,
    ) -> Result<Self, ListenerError> {
        let gateway = live;
        let (shutdown, _) = watch::channel(false);
        let tls = load_tls(config)?;
        let mut addrs = Vec::new();
        let mut tasks = Vec::new();
        for (listener, tls) in config.listeners.iter().zip(tls) {
            let bind_error = |error| ListenerError::Bind {
                name: listener.name.clone(),
                addr: listener.addr,
                error,
            };
            let socket = TcpListener::bind(listener.addr).await.map_err(bind_error)?;
            let local = socket.local_addr().map_err(bind_error)?;
            tracing::info!(
                listener = %listener.name,
                addr = %local,
                tls = tls.is_some(),
                "listening"
            );
            addrs.push((listener.name.clone(), local));
            if let Some(tls) = &tls {
                tasks.push(tls.spawn_reload(shutdown.subscribe()));
            }
            let limits = Limits::resolve(&config.limits, listener.limits.as_ref());
            let server = Arc::new(ConnectionServer::new(gateway.clone(), limits, tls));
            tasks.push(tokio::spawn(accept_loop(
                socket,
                server,
                shutdown.subscribe(),
            )));
        }
        Ok(RunningGateway {
            addrs,
            shutdown,
            tasks,
        })
    }

    /// The address the first listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0].1
    }

    /// Every listener's name and bound address.
    pub fn addrs(&self) -> &[(String, SocketAddr)] {
        &self.addrs
    }

    /// Stops accepting and waits for in-flight requests to finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Loads the TLS files of every listener (`None` for plain listeners); what
/// `portico check` runs too.
pub fn load_tls(config: &Config) -> Result<Vec<Option<Arc<TlsTerminator>>>, ListenerError> {
    config
        .listeners
        .iter()
        .enumerate()
        .map(|(i, listener)| {
            listener
                .tls
                .as_ref()
                .map(|tls| TlsTerminator::load(tls, &format!("listeners[{i}].tls")))
                .transpose()
                .map_err(|error| ListenerError::Tls {
                    name: listener.name.clone(),
                    error,
                })
        })
        .collect()
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn accept_loop(
    listener: TcpListener,
    server: Arc<ConnectionServer>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Every connection task holds a clone of `open`; `drained` yields
    // `None` once all of them ended.
    let (open, mut drained) = mpsc::channel::<()>(1);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stopping(&mut shutdown) => break,
        };
        let server = server.clone();
        let shutdown = shutdown.clone();
        let open = open.clone();
        tokio::spawn(async move {
            server.serve(stream, addr, shutdown).await;
            drop(open);
        });
    }
    // New connections are refused from here on.
    drop(listener);
    drop(open);
    if tokio::time::timeout(DRAIN_TIMEOUT, drained.recv())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: in-flight requests did not finish within {DRAIN_TIMEOUT:?}");
    }
}
