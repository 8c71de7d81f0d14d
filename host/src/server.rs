//! Listeners: accept connections and serve HTTP/1.1 and HTTP/2 (prior
//! knowledge) on each, with graceful shutdown that lets in-flight requests
//! finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::gateway::Gateway;
use crate::proxy::{self, Peer};

/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("listener `{name}` cannot bind {addr}: {source}")]
pub struct BindError {
    name: String,
    addr: SocketAddr,
    source: std::io::Error,
}

/// A gateway serving on its listeners.
pub struct RunningGateway {
    addrs: Vec<(String, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningGateway {
    /// Binds every listener of `config` and starts serving `gateway`.
    pub async fn start(config: &Config, gateway: Arc<Gateway>) -> Result<Self, BindError> {
        let (shutdown, _) = watch::channel(false);
        let mut addrs = Vec::new();
        let mut tasks = Vec::new();
        for listener in &config.listeners {
            let socket = TcpListener::bind(listener.addr)
                .await
                .map_err(|source| BindError {
                    name: listener.name.clone(),
                    addr: listener.addr,
                    source,
                })?;
            let local = socket.local_addr().map_err(|source| BindError {
                name: listener.name.clone(),
                addr: listener.addr,
                source,
            })?;
            tracing::info!(listener = %listener.name, addr = %local, "listening");
            addrs.push((listener.name.clone(), local));
            tasks.push(tokio::spawn(accept_loop(
                socket,
                gateway.clone(),
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

async fn accept_loop(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
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
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let gateway = gateway.clone();
        let peer = Peer {
            addr,
            scheme: "http",
        };
        let service = service_fn(move |request| {
            let gateway = gateway.clone();
            async move { Ok::<_, Infallible>(proxy::handle(&gateway, request, peer).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, client = %addr, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: in-flight requests did not finish within {DRAIN_TIMEOUT:?}");
    }
}
