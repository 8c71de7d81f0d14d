//! One request to an upstream: within its circuit breaker (see `breaker`),
//! choose a usable target, send, and on failure retry on a different
//! target when that is safe and the budget allows.
//!
//! A retry is safe when the attempt failed before the request was sent
//! (the connection could not be opened), or when the method is idempotent;
//! in both cases the body must still be at hand (buffered by a plugin, or a
//! stream the failed attempt never started reading).

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, Version};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;

use super::backend::{Backend, InFlight};
use super::balance::key::request_key;
use super::breaker::{Permit, Tripped};
use super::client::UpstreamClient;
use super::health::now_ms;
use super::pool::{Http1Pool, SendFailure, error_chain};
use super::replay::RequestBody;
use super::{ForwardError, Transport, Upstream};
use crate::body::{self, Body};
use crate::data::runtime::MessageBody;

/// The target (`host:port`) that answered, attached to the response's
/// extensions for the access log.
#[derive(Debug, Clone)]
pub struct AnsweredBy(pub String);

/// Why an attempt failed.
enum Failure {
    /// No connection could be opened: nothing was sent.
    Connect(String),
    /// The request may have been (partly) sent.
    Sent(String),
    /// No response headers within the response timeout.
    Timeout(Duration),
    /// The circuit breaker's `max_pending` were waiting for a connection.
    Pending,
}

impl Upstream {
    /// Sends a request (origin-form URI, headers ready) to a target and
    /// returns the response headers with the body streaming. `client` is the
    /// client's address, for `hash_on = "client_address"`.
    pub async fn forward(
        &self,
        mut head: http::request::Parts,
        body: MessageBody,
        client: IpAddr,
    ) -> Result<Response<Body>, ForwardError> {
        let key = self
            .hash_on
            .as_ref()
            .and_then(|hash_on| request_key(hash_on, &head.headers, client));
        let permit = self
            .breaker
            .request()
            .map_err(|tripped| self.overloaded(tripped))?;
        let idempotent = is_idempotent(&head.method);
        head.version = Version::HTTP_11;
        let mut body = RequestBody::new(body);
        self.budget.record_request();
        let set = self.targets.load();
        let mut tried: Vec<Arc<Backend>> = Vec::new();
        let mut last_error: Option<ForwardError> = None;
        loop {
            let usable =
                |b: &Backend| b.is_available() && !tried.iter().any(|t| std::ptr::eq(&**t, b));
            let Some(backend) = set.select(key, &usable) else {
                return Err(last_error.unwrap_or_else(|| ForwardError::NoHealthyTarget {
                    upstream: self.name.to_string(),
                }));
            };
            if let Some(error) = last_error.take() {
                if !self.budget.try_retry() {
                    self.stats.retry_denied();
                    return Err(error);
                }
                self.stats.retried();
                tracing::debug!(upstream = %self.name, target = %backend.target.addr, %error, "retrying");
            }
            tried.push(backend.clone());
            // The last attempt allowed takes the head; an earlier one a copy
            // (without the extensions, which upstreams never see).
            let mut parts = if tried.len() > self.retries as usize {
                std::mem::replace(&mut head, Request::new(()).into_parts().0)
            } else {
                copy_head(&head)
            };
            let (attempt_body, loan) = body.lend();
            let in_flight = backend.begin();
            let attempt = match &self.transport {
                Transport::Http1(pool) => {
                    name_te_in_connection(&mut parts.headers);
                    self.attempt_pooled(pool, &backend, Request::from_parts(parts, attempt_body))
                        .await
                }
                Transport::Legacy(client) => {
                    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
                    parts.uri = format!("{}://{}{path}", self.scheme, backend.target.addr)
                        .parse()
                        .map_err(|_| ForwardError::Uri(backend.target.addr.clone()))?;
                    self.attempt(client, Request::from_parts(parts, attempt_body))
                        .await
                        .map(|response| {
                            self.stats.response_on(response.extensions().get());
                            response.map(body::stream)
                        })
                }
            };
            let failure = match attempt {
                Ok(response) => {
                    self.outlier
                        .record_success(&backend.health.outlier, now_ms());
                    let mut response = response;
                    response
                        .extensions_mut()
                        .insert(AnsweredBy(backend.target.addr.clone()));
                    return Ok(response.map(|body| {
                        body::stream(Tracked {
                            body,
                            _in_flight: in_flight,
                            _permit: permit,
                        })
                    }));
                }
                // Not the target's fault, and no other target would do
                // better: refused as it is.
                Err(Failure::Pending) => return Err(self.overloaded(Tripped::MaxPending)),
                Err(failure) => failure,
            };
            drop(in_flight);
            if let Some(period) = self
                .outlier
                .record_failure(&backend.health.outlier, now_ms())
            {
                self.stats.ejected();
                tracing::warn!(upstream = %self.name, target = %backend.target.addr, period_ms = period, "target ejected");
            }
            body.take_back(loan);
            let before_sending = matches!(failure, Failure::Connect(_));
            let error = self.error(failure);
            let retry = tried.len() <= self.retries as usize
                && (before_sending || idempotent)
                && body.is_available();
            if !retry {
                return Err(error);
            }
            last_error = Some(error);
        }
    }

    async fn attempt_pooled(
        &self,
        pool: &Arc<Http1Pool>,
        backend: &Arc<Backend>,
        request: Request<Body>,
    ) -> Result<Response<Body>, Failure> {
        match tokio::time::timeout(self.response_timeout, pool.send(backend, request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(SendFailure::Connect(reason))) => Err(Failure::Connect(reason)),
            Ok(Err(SendFailure::Sent(reason))) => Err(Failure::Sent(reason)),
            Ok(Err(SendFailure::Pending)) => Err(Failure::Pending),
            Err(_) => Err(Failure::Timeout(self.response_timeout)),
        }
    }

    async fn attempt(
        &self,
        client: &UpstreamClient,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, Failure> {
        match tokio::time::timeout(self.response_timeout, client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) if error.is_connect() => Err(Failure::Connect(error_chain(&error))),
            Ok(Err(error)) => Err(Failure::Sent(error_chain(&error))),
            Err(_) => Err(Failure::Timeout(self.response_timeout)),
        }
    }

    fn error(&self, failure: Failure) -> ForwardError {
        let upstream = self.name.to_string();
        match failure {
            Failure::Connect(reason) | Failure::Sent(reason) => {
                ForwardError::Unreachable { upstream, reason }
            }
            Failure::Timeout(after) => ForwardError::Timeout { upstream, after },
            Failure::Pending => self.overloaded(Tripped::MaxPending),
        }
    }

    fn overloaded(&self, tripped: Tripped) -> ForwardError {
        ForwardError::Overloaded {
            upstream: self.name.to_string(),
            bound: tripped.key(),
            limit: self.breaker.limit(tripped),
        }
    }
}

/// Methods whose repetition has the effect of one request (RFC 9110 9.2.2).
/// RFC 9110 §10.1.4: `TE` (the proxy keeps `te: trailers` for gRPC) is
/// hop-by-hop, so an HTTP/1.1 request carrying it also names it in
/// `Connection`. (HTTP/2 has no `Connection`; there `te: trailers` alone
/// is allowed.)
fn name_te_in_connection(headers: &mut http::HeaderMap) {
    if headers.contains_key(http::header::TE) {
        headers.append(
            http::header::CONNECTION,
            http::HeaderValue::from_static("te"),
        );
    }
}

/// The method, target, version and headers of `head`, for one attempt.
fn copy_head(head: &http::request::Parts) -> http::request::Parts {
    let mut request = Request::new(());
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    *request.version_mut() = head.version;
    *request.headers_mut() = head.headers.clone();
    request.into_parts().0
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// A response body that keeps its request counted as outstanding on its
/// backend until it is finished or dropped.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
    /// The request's place under the upstream's `max_requests`.
    _permit: Permit,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = crate::body::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
