//! The HTTP/1.1 connection pool of an upstream: keep-alive connections per
//! target, made with hyper's connection-level client
//! (`hyper::client::conn::http1`), no background pool task and no task per
//! request.
//!
//! Each backend keeps its idle connections in shards, one per worker
//! thread (see [`crate::worker`]), so a worker reuses the connections its
//! own runtime drives and the hot path takes an uncontended lock. A
//! request checks out the most recently used idle connection (warm
//! buffers), sends on it and gets the response head; the connection goes
//! back to the shard when the response body has been read to its end. A
//! body dropped half-read closes its connection (it cannot be reused).
//!
//! A reused connection the target closed while it sat idle is noticed
//! when the request is handed to it: hyper gives the request back unsent,
//! and it is sent on a new connection instead, once.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use tower_service::Service;

use super::backend::Backend;
use super::breaker::Breaker;
use super::connector::Connector;
use super::idle::IdleConnection;
use super::stats::UpstreamStats;
use crate::body::Body;

/// Why sending failed.
pub enum SendFailure {
    /// No connection could be opened: nothing was sent.
    Connect(String),
    /// The request may have been (partly) sent.
    Sent(String),
    /// A new connection was needed and the circuit breaker's `max_pending`
    /// requests were already waiting for one: nothing was sent.
    Pending,
}

/// The pool of one upstream's HTTP/1.1 connections.
pub struct Http1Pool {
    connector: Connector,
    idle_timeout: Duration,
    max_idle: usize,
    stats: Arc<UpstreamStats>,
    breaker: Arc<Breaker>,
}

impl Http1Pool {
    /// A pool opening connections with `connector`, keeping at most
    /// `max_idle` idle per target and worker, each for at most
    /// `idle_timeout`; at most `breaker`'s `max_pending` requests wait for
    /// a new connection at once.
    pub fn new(
        connector: Connector,
        idle_timeout: Duration,
        max_idle: usize,
        stats: Arc<UpstreamStats>,
        breaker: Arc<Breaker>,
    ) -> Self {
        Http1Pool {
            connector,
            idle_timeout,
            max_idle,
            stats,
            breaker,
        }
    }

    /// Sends `request` (origin-form URI) to `backend` on an idle connection
    /// or a new one, and returns the response head with its body
    /// streaming.
    pub async fn send(
        self: &Arc<Self>,
        backend: &Arc<Backend>,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, SendFailure> {
        if !request.headers().contains_key(header::HOST)
            && let Ok(host) = HeaderValue::from_str(&backend.target.addr)
        {
            request.headers_mut().insert(header::HOST, host);
        }
        if let Some(mut sender) = self.checkout(backend).await {
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.respond(backend, sender, response, true)),
                Err(mut error) => match error.take_message() {
                    // Closed by the target while idle: nothing was sent.
                    Some(unsent) => request = unsent,
                    None => return Err(SendFailure::Sent(error_chain(error.error()))),
                },
            }
        }
        let waiting = self.breaker.pending().map_err(|_| SendFailure::Pending)?;
        let mut sender = self.connect(backend).await?;
        drop(waiting);
        match sender.send_request(request).await {
            Ok(response) => Ok(self.respond(backend, sender, response, false)),
            Err(error) => Err(SendFailure::Sent(error_chain(&error))),
        }
    }

    /// The most recently used idle connection that is still open and ready.
    async fn checkout(&self, backend: &Backend) -> Option<SendRequest<Body>> {
        loop {
            let idle = backend.idle.shard().lock().pop()?;
            if idle.since.elapsed() >= self.idle_timeout || idle.sender.is_closed() {
                continue;
            }
            let mut sender = idle.sender;
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self, backend: &Backend) -> Result<SendRequest<Body>, SendFailure> {
        let uri = http::Uri::builder()
            .scheme(if self.connector.is_tls() {
                "https"
            } else {
                "http"
            })
            .authority(backend.target.addr.as_str())
            .path_and_query("/")
            .build()
            .map_err(|e| SendFailure::Connect(format!("invalid target address: {e}")))?;
        let io = self
            .connector
            .clone()
            .call(uri)
            .await
            .map_err(|e| SendFailure::Connect(error_chain(&*e)))?;
        let (sender, connection) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| SendFailure::Connect(error_chain(&e)))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    fn respond(
        self: &Arc<Self>,
        backend: &Arc<Backend>,
        sender: SendRequest<Body>,
        response: Response<Incoming>,
        reused: bool,
    ) -> Response<Body> {
        self.stats.response_on_connection(reused);
        let upgrade = response.status() == http::StatusCode::SWITCHING_PROTOCOLS;
        response.map(|incoming| {
            let done = incoming.is_end_stream();
            let mut body = PooledBody {
                incoming,
                checkin: Some(Checkin {
                    pool: self.clone(),
                    backend: backend.clone(),
                    sender,
                }),
            };
            // A switched connection belongs to the tunnel; an empty body is
            // done at once.
            if upgrade {
                body.checkin = None;
            } else if done {
                body.finish();
            }
            crate::body::stream(body)
        })
    }

    fn checkin(&self, backend: &Backend, sender: SendRequest<Body>) {
        if sender.is_closed() || self.max_idle == 0 {
            return;
        }
        let mut idle = backend.idle.shard().lock();
        // Oldest first: drop what waited too long, then what is over the cap.
        let now = Instant::now();
        idle.retain(|c| now.duration_since(c.since) < self.idle_timeout && !c.sender.is_closed());
        if idle.len() >= self.max_idle {
            idle.remove(0);
        }
        idle.push(IdleConnection { sender, since: now });
    }
}

struct Checkin {
    pool: Arc<Http1Pool>,
    backend: Arc<Backend>,
    sender: SendRequest<Body>,
}

/// A response body that hands its connection back to the pool when it has
/// been read to the end.
struct PooledBody {
    incoming: Incoming,
    checkin: Option<Checkin>,
}

impl PooledBody {
    fn finish(&mut self) {
        if let Some(checkin) = self.checkin.take() {
            checkin.pool.checkin(&checkin.backend, checkin.sender);
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.incoming).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.finish(),
            Poll::Ready(Some(Ok(_))) if self.incoming.is_end_stream() => self.finish(),
            Poll::Ready(Some(Err(_))) => self.checkin = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// An error and its sources, as one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
