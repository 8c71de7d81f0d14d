//! An upgraded connection pair: bytes copied both ways until either side
//! closes, the tunnel carries no byte for its idle timeout, or the
//! listener's drain period after shutdown is over.

use std::any::Any;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::data::limits::DEFAULT_TUNNEL_IDLE_TIMEOUT;

/// How a tunnel started on a connection may end besides either side
/// closing; the listener attaches it to each HTTP/1 request as an
/// extension.
#[derive(Clone)]
pub struct TunnelLimits {
    /// Closed after this long without a byte in either direction.
    pub idle_timeout: Duration,
    /// Turns `true` once the listener's drain period after shutdown is
    /// over: the tunnel is closed.
    pub closing: watch::Receiver<bool>,
    /// Held while the tunnel runs: it counts as the listener's connection
    /// (for `max_connections`, and shutdown waits for it).
    pub _hold: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for TunnelLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelLimits")
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

/// Copies bytes both ways once both sides upgraded, until one of the ends
/// above.
pub(super) async fn run(client: OnUpgrade, upstream: OnUpgrade, limits: Option<TunnelLimits>) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%error, "upgrade not completed");
            return;
        }
    };
    let idle_timeout = limits
        .as_ref()
        .map_or(DEFAULT_TUNNEL_IDLE_TIMEOUT, |l| l.idle_timeout);
    let mut closing = limits.as_ref().map(|l| l.closing.clone());
    let clock = Arc::new(Clock::new());
    let mut client = Stamped::new(TokioIo::new(client), clock.clone());
    let mut upstream = Stamped::new(TokioIo::new(upstream), clock.clone());
    tokio::select! {
        result = tokio::io::copy_bidirectional(&mut client, &mut upstream) => match result {
            Ok((sent, received)) => tracing::debug!(sent, received, "tunnel closed"),
            Err(error) => tracing::debug!(%error, "tunnel failed"),
        },
        () = clock.idle_for(idle_timeout) => {
            tracing::debug!(?idle_timeout, "tunnel idle: closed");
        }
        () = closed(&mut closing) => tracing::debug!("tunnel closed at shutdown"),
    }
    drop(limits);
}

async fn closed(closing: &mut Option<watch::Receiver<bool>>) {
    match closing {
        Some(closing) => {
            if closing.wait_for(|closing| *closing).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// When a tunnel last carried a byte.
struct Clock {
    start: Instant,
    last_ms: AtomicU64,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn stamp(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// One side of a tunnel, stamping the clock whenever it yields bytes.
struct Stamped<T> {
    io: T,
    clock: Arc<Clock>,
}

impl<T> Stamped<T> {
    fn new(io: T, clock: Arc<Clock>) -> Self {
        Stamped { io, clock }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stamped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.stamp();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stamped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
