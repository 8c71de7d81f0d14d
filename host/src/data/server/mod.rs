//! Listeners: accept connections and serve HTTP/1.1 (with upgrades) and
//! HTTP/2 on each, over TLS where the listener has a `tls` table, under the
//! listener's edge limits, with graceful shutdown that lets in-flight
//! requests finish.
//!
//! - `accept`: the accept loop, `max_connections`, the shutdown drain.
//! - `connection`: one connection, from the TLS handshake to hyper's
//!   server, its idle timeout and its part in the drain.
//! - `protocol`: HTTP/1 or HTTP/2, told by the connection's first bytes.
//! - `framing`: HTTP/1 request framing checked before hyper parses it.
//! - `service`: each request through the framing verdict, edge limits and
//!   proxy.
//! - `activity`: requests in flight, for the idle timeout.

/// Implements `AsyncWrite` for a read-side wrapper by passing every write
/// straight to its inner stream, field `$io`.
macro_rules! delegate_async_write {
    ($wrapper:ident, $io:ident) => {
        impl<I: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<I> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.$io).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.$io).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.$io.is_write_vectored()
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$io).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$io).poll_shutdown(cx)
            }
        }
    };
}

mod accept;
mod activity;
mod connection;
mod framing;
mod protocol;
mod service;
mod shedding;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::data::gateway::Gateway;
use crate::data::gateway::LiveGateway;
use crate::data::limits::Limits;
use crate::data::tls::{TlsError, TlsTerminator};
use crate::worker;
use connection::ConnectionServer;

pub use accept::{ConnectionStats, Serve};

pub use accept::Lifecycle;
pub(crate) use accept::{Admission, accept_loop};
#[doc(hidden)]
pub use framing::probe as framing_probe;

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
    admissions: Vec<Arc<Admission>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    workers: Vec<oneshot::Receiver<()>>,
}

/// One listener as every worker serves it.
struct ListenerPlan {
    name: String,
    addr: SocketAddr,
    server: Arc<ConnectionServer>,
    admission: Arc<Admission>,
}

impl RunningGateway {
    /// Loads each listener's TLS files, binds every listener of `config` and
    /// starts serving `gateway`, which never changes.
    pub async fn start(config: &Config, gateway: Arc<Gateway>) -> Result<Self, ListenerError> {
        Self::start_live(config, Arc::new(LiveGateway::new(gateway))).await
    }

    /// Like [`RunningGateway::start`], serving whichever snapshot `live`
    /// holds when each request starts.
    ///
    /// Traffic is served by `[runtime] workers` threads (see
    /// `crate::worker`), each with its own socket per listener; the
    /// caller's runtime keeps the control plane (TLS certificate reloads
    /// here, discovery, health checks, admin and monitor elsewhere).
    pub(crate) async fn start_live(
        config: &Config,
        live: Arc<LiveGateway>,
    ) -> Result<Self, ListenerError> {
        let (shutdown, _) = watch::channel(false);
        let tls = load_tls(config)?;
        let workers = worker::count(config.runtime.workers);
        let mut addrs = Vec::new();
        let mut admissions = Vec::new();
        let mut tasks = Vec::new();
        let mut plans = Vec::new();
        // The first socket of each listener is bound here, so bind errors
        // are reported now and port 0 becomes one port all workers share.
        let mut first_sockets = Vec::new();
        for (listener, tls) in config.listeners.iter().zip(tls) {
            let bind_error = |error| ListenerError::Bind {
                name: listener.name.clone(),
                addr: listener.addr,
                error,
            };
            let socket = bind(listener.addr).map_err(bind_error)?;
            let local = socket
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .ok_or_else(|| bind_error(std::io::Error::other("no local address")))?;
            tracing::info!(
                listener = %listener.name,
                addr = %local,
                tls = tls.is_some(),
                workers,
                "listening"
            );
            addrs.push((listener.name.clone(), local));
            if let Some(tls) = &tls {
                tasks.push(tls.spawn_reload(shutdown.subscribe()));
            }
            let limits = Limits::resolve(&config.limits, listener.limits.as_ref());
            let admission = Admission::new(limits.max_connections);
            admissions.push(admission.clone());
            plans.push(ListenerPlan {
                name: listener.name.clone(),
                addr: local,
                server: Arc::new(ConnectionServer::new(
                    &listener.name,
                    live.clone(),
                    limits,
                    tls,
                )),
                admission,
            });
            first_sockets.push(socket);
        }
        let plans = Arc::new(plans);
        let mut worker_done = Vec::new();
        let mut first = Some(first_sockets);
        for index in 0..workers {
            // Worker 0 takes the sockets bound above; the others bind their
            // own on the same addresses.
            let sockets = match first.take() {
                Some(sockets) => sockets,
                None => plans
                    .iter()
                    .map(|plan| {
                        bind(plan.addr).map_err(|error| ListenerError::Bind {
                            name: plan.name.clone(),
                            addr: plan.addr,
                            error,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let (done, finished) = oneshot::channel();
            worker_done.push(finished);
            let plans = plans.clone();
            let shutdown = shutdown.subscribe();
            std::thread::Builder::new()
                .name(format!("portico-worker-{index}"))
                .spawn(move || run_worker(index, sockets, &plans, shutdown, done))
                .map_err(|error| ListenerError::Bind {
                    name: "workers".into(),
                    addr: addrs.first().map_or(config.listeners[0].addr, |a| a.1),
                    error,
                })?;
        }
        Ok(RunningGateway {
            addrs,
            admissions,
            shutdown,
            tasks,
            workers: worker_done,
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

    /// Every listener's connection counts, in the order of
    /// [`RunningGateway::addrs`].
    pub fn connection_stats(&self) -> Vec<ConnectionStats> {
        self.admissions.iter().map(|a| a.stats()).collect()
    }

    /// Stops accepting, lets in-flight requests and tunnels finish for up
    /// to each listener's `drain_timeout`, then closes what is left.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        for worker in self.workers {
            let _ = worker.await;
        }
    }
}

/// A listening socket for `addr` that other workers can bind too.
fn bind(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket)
}

/// Pending connections the kernel queues per worker socket.
const LISTEN_BACKLOG: i32 = 4096;

/// One worker thread: its runtime, serving every listener on its own
/// sockets until shutdown has drained them.
fn run_worker(
    index: usize,
    sockets: Vec<socket2::Socket>,
    plans: &[ListenerPlan],
    shutdown: watch::Receiver<bool>,
    done: oneshot::Sender<()>,
) {
    worker::enter(index);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, worker = index, "cannot start a worker runtime");
            return;
        }
    };
    runtime.block_on(async {
        let mut loops = Vec::new();
        for (socket, plan) in sockets.into_iter().zip(plans) {
            let listener = match TcpListener::from_std(socket.into()) {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::error!(%error, listener = %plan.name, worker = index, "cannot serve the listener");
                    continue;
                }
            };
            loops.push(tokio::spawn(accept_loop(
                listener,
                plan.server.clone(),
                plan.admission.clone(),
                shutdown.clone(),
            )));
        }
        for accept in loops {
            let _ = accept.await;
        }
    });
    let _ = done.send(());
}

/// Loads the admin listener's TLS files (`None` without `[admin.tls]`),
/// offering HTTP/1.1 only; what `portico check` runs too.
pub fn load_admin_tls(
    admin: &crate::config::AdminConfig,
) -> Result<Option<Arc<TlsTerminator>>, ListenerError> {
    admin
        .tls
        .as_ref()
        .map(|tls| TlsTerminator::load_http1(tls, "admin.tls"))
        .transpose()
        .map_err(|error| ListenerError::Tls {
            name: "admin".into(),
            error,
        })
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
