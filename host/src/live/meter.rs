//! The request path's one hook: counts body bytes on both sides and, when
//! the response body has been sent (or dropped), hands a [`RequestSample`]
//! to the gateway's [`Recorder`].

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::sample::{PluginSample, RequestSample};
use crate::body::{Body, BoxError};
use crate::runtime::ChainRun;
use crate::upstream::exchange::ServedBy;

/// Receives every finished request (the live stats, alerts, analytics).
/// Called on the task that sent the response; must not block.
pub trait Recorder: Send + Sync {
    /// One request finished.
    fn record(&self, sample: RequestSample);
}

/// What the proxy learns about a request while serving it.
#[derive(Debug, Default)]
pub struct Trace {
    /// The matched route.
    pub route: Option<Arc<str>>,
    /// The route's upstream.
    pub upstream: Option<Arc<str>>,
    /// The context's `consumer` after the chain ran.
    pub consumer: Option<String>,
    /// The chain's phase calls.
    pub plugins: Vec<PluginSample>,
}

impl Trace {
    /// Takes what the chain walk left: its phase calls and the consumer.
    pub fn chain(&mut self, run: &mut ChainRun<'_>) {
        self.plugins = run.take_calls();
        self.consumer = run.context().get("consumer").cloned();
    }
}

/// Measures one request from its head to the end of its response.
pub struct Meter {
    recorder: Option<Arc<dyn Recorder>>,
    started: Instant,
    method: Method,
    bytes_in: Arc<AtomicU64>,
}

impl Meter {
    /// Starts measuring `request`; its body is counted as it is read. With
    /// no recorder nothing is wrapped or counted.
    pub fn start<B>(
        recorder: Option<Arc<dyn Recorder>>,
        request: Request<B>,
    ) -> (Request<Body>, Meter)
    where
        B: HttpBody<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let bytes_in = Arc::new(AtomicU64::new(0));
        let meter = Meter {
            recorder,
            started: Instant::now(),
            method: request.method().clone(),
            bytes_in: bytes_in.clone(),
        };
        let request = if meter.recorder.is_some() {
            request.map(|body| {
                crate::body::stream(Counting {
                    body: crate::body::stream(body),
                    bytes: bytes_in,
                })
            })
        } else {
            request.map(crate::body::stream)
        };
        (request, meter)
    }

    /// Wraps the response body; the sample is recorded when it ends.
    pub fn finish(self, trace: Trace, response: Response<Body>) -> Response<Body> {
        let Some(recorder) = self.recorder else {
            return response;
        };
        let target = response.extensions().get::<ServedBy>().map(|s| s.0.clone());
        let sample = RequestSample {
            route: trace.route,
            method: self.method,
            status: response.status().as_u16(),
            latency: Default::default(),
            upstream: trace.upstream,
            target,
            consumer: trace.consumer,
            bytes_in: 0,
            bytes_out: 0,
            plugins: trace.plugins,
        };
        let pending = Pending {
            recorder,
            sample,
            started: self.started,
            bytes_in: self.bytes_in,
        };
        response.map(|body| {
            crate::body::stream(Metered {
                body,
                bytes: 0,
                pending: Some(pending),
            })
        })
    }
}

/// A request body that counts the bytes read from it.
struct Counting {
    body: Body,
    bytes: Arc<AtomicU64>,
}

impl HttpBody for Counting {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The sample waiting for its response body to end.
struct Pending {
    recorder: Arc<dyn Recorder>,
    sample: RequestSample,
    started: Instant,
    bytes_in: Arc<AtomicU64>,
}

/// A response body that records its request once sent or dropped.
struct Metered {
    body: Body,
    bytes: u64,
    pending: Option<Pending>,
}

impl Metered {
    fn done(&mut self) {
        if let Some(pending) = self.pending.take() {
            let mut sample = pending.sample;
            sample.latency = pending.started.elapsed();
            sample.bytes_in = pending.bytes_in.load(Ordering::Relaxed);
            sample.bytes_out = self.bytes;
            pending.recorder.record(sample);
        }
    }
}

impl HttpBody for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
                if self.body.is_end_stream() {
                    self.done();
                }
            }
            Poll::Ready(_) => self.done(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.done();
    }
}
