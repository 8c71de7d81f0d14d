//! The request path: route, run the chain, forward, run the chain back.

pub mod grpc;
mod headers;
mod tunnel;
pub mod upgrade;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};

pub use crate::net::Peer;
pub use headers::{check_host, strip_hop_by_hop};
pub use tunnel::TunnelLimits;

use crate::body::{self, Body, BoxError};
use crate::data::error::ProxyError;
use crate::data::gateway::{Gateway, Route};
use crate::data::limits::BodyGuard;
use crate::data::observe::Observation;
use crate::data::observe::request::UpstreamVisit;
use crate::data::router::normalize_path;
use crate::data::runtime::bindings::types::BodyError;
use crate::data::runtime::state::RequestContext;
use crate::data::runtime::{
    ChainRun, MessageBody, ProxyRequest, ProxyResponse, RequestInfo, RequestOutcome,
};
use crate::data::tls::ClientIdentity;
use crate::data::upstream::ForwardError;
use crate::data::upstream::exchange::AnsweredBy;
use upgrade::UpgradeRequest;

/// Serves one request whose record the listener already began (so a
/// request it refuses is recorded too); every failure becomes its
/// problem+json response here.
///
/// The listener may attach, as request extensions, a [`BodyGuard`] (the
/// edge body limit: a request that failed because its body did is answered
/// 413 or 400) and a [`ClientIdentity`] (seeded into the chain's context).
pub async fn serve<B>(
    gateway: &Gateway,
    request: Request<B>,
    peer: &Peer,
    mut observation: Observation,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    let guard = request.extensions().get::<BodyGuard>().cloned();
    let grpc = grpc::is_grpc(request.headers());
    let request = request.map(|b| observation.count_request(body::stream(b)));
    let mut response = match proxy(gateway, request, peer, guard.as_ref(), &mut observation).await {
        Ok(response) => response,
        Err(error) => refuse(reclassify(guard.as_ref(), error)),
    };
    if grpc {
        response = Box::pin(grpc::answer(response)).await;
    }
    observation.finish(response)
}

/// The response for a request the gateway refuses, logged.
pub fn refuse(error: ProxyError) -> Response<Body> {
    log_error(&error);
    error.to_response()
}

fn reclassify(guard: Option<&BodyGuard>, error: ProxyError) -> ProxyError {
    match guard {
        Some(guard) => guard.reclassify(error),
        None => error,
    }
}

fn log_error(error: &ProxyError) {
    match error {
        ProxyError::NoRoute
        | ProxyError::BadRequest(_)
        | ProxyError::PayloadTooLarge { .. }
        | ProxyError::HeadersTooLarge(_)
        | ProxyError::Overloaded { .. } => {
            tracing::debug!(%error, "request refused")
        }
        // The chain already logged the plugin's failure with its backtrace.
        ProxyError::Plugin { .. } => {}
        _ => tracing::warn!(%error, "request failed"),
    }
}

/// The host the request is for: authority or `Host`, lower-case, no port.
fn request_host(request: &http::request::Parts) -> Option<String> {
    let raw = match request.uri.authority() {
        Some(authority) => authority.host().to_owned(),
        None => {
            let host = request.headers.get(header::HOST)?.to_str().ok()?;
            let host = host
                .rsplit_once(':')
                .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()));
            match host {
                Some((name, _)) => name.to_owned(),
                None => request.headers.get(header::HOST)?.to_str().ok()?.to_owned(),
            }
        }
    };
    Some(raw.trim_end_matches('.').to_ascii_lowercase())
}

async fn proxy(
    gateway: &Gateway,
    request: Request<Body>,
    peer: &Peer,
    guard: Option<&BodyGuard>,
    observation: &mut Observation,
) -> Result<Response<Body>, ProxyError> {
    let (mut head, body) = request.into_parts();
    let mut context = RequestContext::new();
    if let Some(identity) = head.extensions.remove::<ClientIdentity>() {
        context.extend(identity.context_entries());
    }
    let path = normalize_path(head.uri.path()).map_err(ProxyError::BadRequest)?;
    check_host(&head.uri, &head.headers).map_err(|e| ProxyError::BadRequest(e.into()))?;
    // The URI's authority (HTTP/2 `:authority`, HTTP/1 absolute-form) is
    // what the request is for (RFC 9112 §3.2.2): the upstream must see the
    // same host the route was chosen by.
    if let Some(authority) = head.uri.authority()
        && let Ok(value) = HeaderValue::from_str(authority.as_str())
    {
        head.headers.insert(header::HOST, value);
    }
    let host = request_host(&head);
    let matched = gateway
        .router
        .find(&head.method, host.as_deref(), &path, &head.headers)
        .ok_or(ProxyError::NoRoute)?;
    let route = &gateway.routes[matched.index];
    observation.routed(&route.metrics);
    if path != head.uri.path() || head.uri.authority().is_some() {
        let query = head
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        head.uri = format!("{path}{query}")
            .parse()
            .map_err(|_| ProxyError::BadRequest("invalid request target".into()))?;
    }
    let upgrade = UpgradeRequest::take(&mut head);
    // `TE` is hop-by-hop, but its `trailers` (the one value HTTP/2 allows,
    // and what gRPC requires) holds end to end: trailers are forwarded.
    let accepts_trailers = head
        .headers
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"));
    strip_hop_by_hop(&mut head.headers);
    if accepts_trailers {
        head.headers
            .insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(upgrade) = &upgrade {
        upgrade.restore(&mut head.headers);
    }
    // Set before the chain runs, so plugins never see client-supplied values.
    let original_host = head.headers.get(header::HOST).cloned();
    let original_host = original_host.as_ref().and_then(|v| v.to_str().ok());
    peer.forwarding.apply(&mut head.headers, original_host);
    if observation.propagates() {
        observation.trace().propagate(&mut head.headers);
    }
    let info = Arc::new(RequestInfo {
        route: route.name.clone(),
        params: matched.params,
        client_ip: peer.addr.ip(),
        scheme: peer.scheme,
        max_body_bytes: route.max_body_bytes,
    });
    let request = ProxyRequest {
        head,
        body: MessageBody::Stream(body),
        info,
    };

    let mut run = route.chain.start_with(context);
    let walked = walk(route, &mut run, request, peer, guard, observation).await;
    observation.chain(run.calls(), run.context().get("consumer"));
    let response = walked?;
    match response.body.failure() {
        Some(BodyError::TooLarge(limit)) => return Err(ProxyError::ResponseTooLarge { limit }),
        Some(BodyError::ReadFailed(reason)) => {
            return Err(ProxyError::Upstream(ForwardError::Unreachable {
                upstream: route.upstream.name().to_owned(),
                reason: format!("response body: {reason}"),
            }));
        }
        None => {}
    }
    let mut response = response.into_http();
    upgrade::finish(upgrade, &mut response, route.upstream.name())?;
    Ok(response)
}

/// Both phases of the chain around the upstream exchange (a route without
/// plugins never starts them).
async fn walk(
    route: &Route,
    run: &mut ChainRun<'_>,
    request: ProxyRequest,
    peer: &Peer,
    guard: Option<&BodyGuard>,
    observation: &mut Observation,
) -> Result<ProxyResponse, ProxyError> {
    let plugins = !route.chain.slots().is_empty();
    let outcome = if plugins {
        run.on_request(request).await?
    } else {
        RequestOutcome::Forward(request)
    };
    let response = match outcome {
        RequestOutcome::Respond(response) => response,
        RequestOutcome::Reject(error) => {
            let error = ProxyError::from(error);
            log_error(&error);
            error_response(&error, route.max_body_bytes)
        }
        RequestOutcome::Forward(request) => {
            match forward(route, request, peer, observation).await {
                Ok(response) => response,
                Err(error) => {
                    let error = reclassify(guard, error);
                    log_error(&error);
                    error_response(&error, route.max_body_bytes)
                }
            }
        }
    };
    if plugins {
        Ok(run.on_response(response).await?)
    } else {
        Ok(response)
    }
}

/// Sends the request to a target of the route's upstream.
async fn forward(
    route: &Route,
    request: ProxyRequest,
    peer: &Peer,
    observation: &mut Observation,
) -> Result<ProxyResponse, ProxyError> {
    let ProxyRequest { head, body, .. } = request;
    match body.failure() {
        Some(BodyError::TooLarge(limit)) => return Err(ProxyError::PayloadTooLarge { limit }),
        Some(BodyError::ReadFailed(reason)) => {
            return Err(ProxyError::BadRequest(format!("request body: {reason}")));
        }
        None => {}
    }
    let upstream = &route.upstream;
    let started = Instant::now();
    let timeout = grpc::deadline(route.timeout, &head.headers);
    let exchange = upstream.forward(head, body, peer.addr.ip());
    let response = match timeout {
        Some(after) => tokio::time::timeout(after, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(ForwardError::Timeout {
                    upstream: upstream.name().to_owned(),
                    after,
                })
            }),
        None => exchange.await,
    };
    observation.upstream(UpstreamVisit {
        upstream: upstream.name().to_owned(),
        addr: response
            .as_ref()
            .ok()
            .and_then(|r| r.extensions().get::<AnsweredBy>())
            .map(|answered| answered.0.clone()),
        elapsed: started.elapsed(),
    });
    let (mut head, body) = response?.into_parts();
    // The gateway speaks its own HTTP version to the client (RFC 9112
    // 2.3): an upstream answering HTTP/1.0 is not passed on as 1.0.
    head.version = http::Version::HTTP_11;
    upgrade::strip_response_hop_by_hop(&mut head);
    Ok(ProxyResponse {
        head,
        body: MessageBody::Stream(body),
        max_body_bytes: route.max_body_bytes,
    })
}

/// A gateway error as a response that still passes back through the chain.
fn error_response(error: &ProxyError, max_body_bytes: u64) -> ProxyResponse {
    let (head, body) = error.to_response().into_parts();
    ProxyResponse {
        head,
        body: MessageBody::Stream(body),
        max_body_bytes,
    }
}
