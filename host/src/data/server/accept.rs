//! A listener's accept loop: at most `max_connections` open at once (more
//! are closed as soon as they are accepted, and counted), and on shutdown
//! the drain: stop accepting, let in-flight requests and tunnels finish for
//! up to `drain_timeout`, then close what is left.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::shutdown::stopping;

/// What ties a connection to its listener (see [`Serve`]).
pub struct Lifecycle {
    /// Turns `true` when shutdown starts: finish in-flight requests.
    pub shutdown: watch::Receiver<bool>,
    /// Turns `true` when the drain period is over: close now.
    pub closing: watch::Receiver<bool>,
    /// Held for as long as the connection (or a tunnel it became) is open.
    pub hold: Arc<dyn Any + Send + Sync>,
}

/// What a listener does with each connection it admitted: the traffic
/// listeners' proxy (`ConnectionServer`) and the admin listener share the
/// accept loop, its connection cap and its drain.
pub trait Serve: Send + Sync + 'static {
    /// Serves one connection until it ends, shutdown finishes it
    /// (`life.shutdown`: finish what is in flight) or the drain period is
    /// over (`life.closing`: close now). `life.hold` must live as long as
    /// the connection does.
    fn serve(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        life: Lifecycle,
    ) -> impl Future<Output = ()> + Send;

    /// How long shutdown waits for open connections before closing them.
    fn drain_timeout(&self) -> Duration;
}

/// How long closed connections get to end after the drain period.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Connection counts of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Connections (and tunnels) open now.
    pub open: usize,
    /// Connections closed at once because `max_connections` were open.
    pub refused: u64,
}

/// Admission of a listener's connections.
#[derive(Debug)]
pub(crate) struct Admission {
    permits: Arc<Semaphore>,
    max: usize,
    refused: AtomicU64,
}

impl Admission {
    /// Admits up to `max` connections at once.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Admission {
            permits: Arc::new(Semaphore::new(max)),
            max,
            refused: AtomicU64::new(0),
        })
    }

    /// The current counts.
    pub fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            open: self.max - self.permits.available_permits(),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.permits.clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        permit
    }
}

/// What an open connection holds: its admission, and the drain's count.
struct Hold {
    _permit: OwnedSemaphorePermit,
    _open: mpsc::Sender<()>,
}

/// Accepts and serves connections until shutdown, then drains.
pub(crate) async fn accept_loop<S: Serve>(
    listener: TcpListener,
    server: Arc<S>,
    admission: Arc<Admission>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Every connection (and tunnel) holds a clone of `open`; `drained`
    // yields `None` once all of them ended.
    let (open, mut drained) = mpsc::channel::<()>(1);
    let (closing_tx, closing) = watch::channel(false);
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
        let Some(permit) = admission.admit() else {
            tracing::debug!(client = %addr, "connection limit reached: closed");
            drop(stream);
            continue;
        };
        let life = Lifecycle {
            shutdown: shutdown.clone(),
            closing: closing.clone(),
            hold: Arc::new(Hold {
                _permit: permit,
                _open: open.clone(),
            }),
        };
        let server = server.clone();
        tokio::spawn(async move { server.serve(stream, addr, life).await });
    }
    // New connections are refused from here on.
    drop(listener);
    drop(open);
    let drain = server.drain_timeout();
    if tokio::time::timeout(drain, drained.recv()).await.is_err() {
        tracing::warn!("shutdown: connections still open after {drain:?} are closed");
        let _ = closing_tx.send(true);
        let _ = tokio::time::timeout(CLOSE_GRACE, drained.recv()).await;
    }
}
