//! Whether a connection has requests in flight, and since when it has had
//! none: what the listener's `idle_timeout` measures. A request is in flight
//! from the moment hyper hands it to the service until its response body
//! is dropped (sent, or abandoned); on HTTP/1 the first byte of the next
//! head counts as activity too.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use super::shedding::Admitted;

/// One connection's activity: two counters the request path bumps without
/// waking anyone, read by [`Activity::idle_for`]'s single timer when it
/// fires (it re-arms itself for the rest of the period when there was
/// activity meanwhile).
#[derive(Debug)]
pub(super) struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds after `epoch` of the last activity.
    since_ms: AtomicU64,
    epoch: Instant,
}

impl Activity {
    /// A connection that just opened.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            since_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    /// A request started; it ends when the returned value is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Something arrived: the idle period starts again.
    pub(super) fn touch(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.since_ms.store(now, Ordering::Relaxed);
    }

    /// Resolves once no request has been in flight for `timeout`.
    pub(super) async fn idle_for(&self, timeout: Duration) {
        let timer = tokio::time::sleep(timeout);
        tokio::pin!(timer);
        loop {
            timer.as_mut().await;
            let since = self.epoch + Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
            let idle_until = since + timeout;
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                // Busy: look again an eighth of a period from now, so the
                // connection closes at most that late after it went idle.
                timer.as_mut().reset(Instant::now() + timeout / 8);
            } else if idle_until > Instant::now() {
                timer.as_mut().reset(idle_until);
            } else {
                return;
            }
        }
    }
}

/// A request in flight.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request in flight until it is dropped.
#[derive(Debug)]
pub(super) struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
    /// The request's place in the listener's load-shedding count.
    _admitted: Option<Admitted>,
}

impl<B> Tracked<B> {
    /// `body`, ending `in_flight` (and `admitted`) when dropped.
    pub(super) fn new(body: B, in_flight: InFlight, admitted: Option<Admitted>) -> Self {
        Tracked {
            body,
            _in_flight: in_flight,
            _admitted: admitted,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
