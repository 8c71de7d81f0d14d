//! Body wrappers: one counts the request bytes read; the other counts the
//! response bytes sent and finishes the request's record when the body
//! ends, fails, or is dropped (the client went away).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::body::{Body, BoxError};

/// A request body that adds the length of each data frame to a counter.
pub(crate) struct CountingBody {
    inner: Body,
    count: Arc<AtomicU64>,
}

impl CountingBody {
    /// Wraps `inner`, adding to `count`.
    pub fn new(inner: Body, count: Arc<AtomicU64>) -> Self {
        CountingBody { inner, count }
    }
}

impl HttpBody for CountingBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.count.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Called once when a response body is done, with the bytes sent and
/// whether it ended cleanly.
pub(crate) trait OnFinish: Send + Sync + Unpin + 'static {
    /// The body ended (`complete`), failed or was dropped.
    fn finish(self: Box<Self>, bytes: u64, complete: bool);
}

/// A response body that counts its bytes and reports once when done.
pub(crate) struct FinishingBody {
    inner: Body,
    bytes: u64,
    on_finish: Option<Box<dyn OnFinish>>,
}

impl FinishingBody {
    /// Wraps `inner`; `on_finish` runs when it is done.
    pub fn new(inner: Body, on_finish: Box<dyn OnFinish>) -> Self {
        FinishingBody {
            inner,
            bytes: 0,
            on_finish: Some(on_finish),
        }
    }

    fn finish(&mut self, complete: bool) {
        if let Some(on_finish) = self.on_finish.take() {
            on_finish.finish(self.bytes, complete);
        }
    }
}

impl HttpBody for FinishingBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
                if self.inner.is_end_stream() {
                    self.finish(true);
                }
            }
            Poll::Ready(Some(Err(_))) => self.finish(false),
            Poll::Ready(None) => self.finish(true),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for FinishingBody {
    fn drop(&mut self) {
        // Never polled to the end: an empty body hyper did not poll, or a
        // client that went away mid-body.
        let complete = self.inner.is_end_stream();
        self.finish(complete);
    }
}
