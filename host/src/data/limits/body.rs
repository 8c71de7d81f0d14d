//! A request body bounded by the listener's `max_body_bytes`, whether its
//! size was declared or it streams in chunks, and the guard that remembers
//! why it failed.
//!
//! A body that grows past the limit while it is being forwarded fails the
//! upstream request (hyper aborts it); the [`BodyGuard`] then turns the
//! resulting upstream error back into the client's fault: 413 for a body
//! too large, 400 for a body the client sent malformed (bad chunking) or cut
//! short.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::body::BoxError;
use crate::data::error::ProxyError;

/// The error a [`LimitedBody`] yields once the body grew past its limit.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds {limit} bytes")]
pub struct BodyTooLarge {
    /// The limit, bytes.
    pub limit: u64,
}

const INTACT: u8 = 0;
const TOO_LARGE: u8 = 1;
const CLIENT_FAILED: u8 = 2;

/// Shared between a [`LimitedBody`] and the request path: records whether
/// the body failed, and why. Travels as a request extension.
#[derive(Debug, Clone)]
pub struct BodyGuard {
    state: Arc<AtomicU8>,
    limit: u64,
}

impl BodyGuard {
    pub(super) fn new(limit: u64) -> Self {
        BodyGuard {
            state: Arc::new(AtomicU8::new(INTACT)),
            limit,
        }
    }

    /// The error the client should see for `error`: when the request failed
    /// because its body did, the body's failure (413 or 400) instead of
    /// whatever it caused downstream (an upstream or plugin error).
    pub fn reclassify(&self, error: ProxyError) -> ProxyError {
        match self.state.load(Ordering::Acquire) {
            TOO_LARGE => ProxyError::PayloadTooLarge { limit: self.limit },
            CLIENT_FAILED => {
                ProxyError::BadRequest("the request body is malformed or was cut short".into())
            }
            _ => error,
        }
    }

    fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release);
    }
}

/// A body that fails with [`BodyTooLarge`] once more than its limit has
/// streamed through.
#[derive(Debug)]
pub struct LimitedBody<B> {
    inner: B,
    seen: u64,
    guard: BodyGuard,
    failed: bool,
}

impl<B> LimitedBody<B> {
    pub(super) fn new(inner: B, guard: BodyGuard) -> Self {
        LimitedBody {
            inner,
            seen: 0,
            guard,
            failed: false,
        }
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if this.seen > this.guard.limit {
                        this.failed = true;
                        this.guard.set(TOO_LARGE);
                        let limit = this.guard.limit;
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge { limit }))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.failed = true;
                this.guard.set(CLIENT_FAILED);
                Poll::Ready(Some(Err(error.into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test]
    async fn a_streamed_body_fails_once_it_grows_past_the_limit() {
        let chunks = ["0123", "4567", "89"]
            .map(|c| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(c))));
        let stream = StreamBody::new(stream_of(chunks));
        let guard = BodyGuard::new(9);
        let mut body = LimitedBody::new(stream, guard.clone());
        assert!(body.frame().await.unwrap().is_ok());
        assert!(body.frame().await.unwrap().is_ok());
        let error = body.frame().await.unwrap().unwrap_err();
        assert!(error.is::<BodyTooLarge>());
        let error = guard.reclassify(ProxyError::Internal("upstream".into()));
        assert!(matches!(error, ProxyError::PayloadTooLarge { limit: 9 }));
    }

    fn stream_of<T>(items: [T; 3]) -> impl futures::Stream<Item = T> + Unpin {
        futures::stream::iter(items)
    }
}
