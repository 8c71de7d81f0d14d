//! Whether a connection has requests in flight, and since when it has had
//! none: what the listener's `idle_timeout` measures. A request is in flight
//! from the moment hyper hands it to the service until its response body
//! is dropped (sent, or abandoned); on HTTP/1 the first byte of the next
//! head counts as activity too.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
struct State {
    in_flight: usize,
    since: Instant,
}

/// One connection's activity.
#[derive(Debug)]
pub(super) struct Activity {
    state: watch::Sender<State>,
}

impl Activity {
    /// A connection that just opened.
    pub(super) fn new() -> Arc<Self> {
        let (state, _) = watch::channel(State {
            in_flight: 0,
            since: Instant::now(),
        });
        Arc::new(Activity { state })
    }

    /// A request started; it ends when the returned value is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.state.send_modify(|state| state.in_flight += 1);
        InFlight(self.clone())
    }

    /// Something arrived: the idle period starts again.
    pub(super) fn touch(&self) {
        self.state.send_modify(|state| state.since = Instant::now());
    }

    /// Resolves once no request has been in flight for `timeout`.
    pub(super) async fn idle_for(&self, timeout: Duration) {
        let mut changes = self.state.subscribe();
        loop {
            let state = *changes.borrow_and_update();
            if state.in_flight > 0 {
                if changes.changed().await.is_err() {
                    return;
                }
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep_until(state.since + timeout) => return,
                changed = changes.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// A request in flight.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.state.send_modify(|state| {
            state.in_flight -= 1;
            state.since = Instant::now();
        });
    }
}

/// A response body that keeps its request in flight until it is dropped.
#[derive(Debug)]
pub(super) struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    /// `body`, ending `in_flight` when dropped.
    pub(super) fn new(body: B, in_flight: InFlight) -> Self {
        Tracked {
            body,
            _in_flight: in_flight,
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
