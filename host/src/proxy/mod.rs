//! The request path: route, run the chain, forward, run the chain back.

mod headers;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Request, Response, Version, header};
use hyper::body::Incoming;

pub use headers::{set_forwarded, strip_hop_by_hop};

use crate::body::{self, Body};
use crate::error::ProxyError;
use crate::gateway::{Gateway, Route};
use crate::router::normalize_path;
use crate::runtime::bindings::types::BodyError;
use crate::runtime::{MessageBody, ProxyRequest, ProxyResponse, RequestInfo, RequestOutcome};

/// How the client reached the gateway.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's socket address.
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
}

/// Serves one request; every failure becomes its problem+json response here.
pub async fn handle(gateway: &Gateway, request: Request<Incoming>, peer: Peer) -> Response<Body> {
    match proxy(gateway, request.map(body::stream), peer).await {
        Ok(response) => response,
        Err(error) => {
            log_error(&error);
            error.to_response()
        }
    }
}

fn log_error(error: &ProxyError) {
    match error {
        ProxyError::NoRoute | ProxyError::BadRequest(_) | ProxyError::PayloadTooLarge { .. } => {
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
    peer: Peer,
) -> Result<Response<Body>, ProxyError> {
    let (mut head, body) = request.into_parts();
    let path = normalize_path(head.uri.path()).map_err(ProxyError::BadRequest)?;
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
    strip_hop_by_hop(&mut head.headers);
    // Set before the chain runs, so plugins never see client-supplied values.
    let original_host = head
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    set_forwarded(
        &mut head.headers,
        peer.addr.ip(),
        peer.scheme,
        original_host.as_deref(),
    );
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

    let mut run = route.chain.start();
    let response = match run.on_request(request).await? {
        RequestOutcome::Respond(response) => response,
        RequestOutcome::Reject(error) => {
            log_error(&error);
            error_response(&error, route.max_body_bytes)
        }
        RequestOutcome::Forward(request) => match forward(route, request).await {
            Ok(response) => response,
            Err(error) => {
                log_error(&error);
                error_response(&error, route.max_body_bytes)
            }
        },
    };
    let response = run.on_response(response).await?;
    match response.body.failure() {
        Some(BodyError::TooLarge(limit)) => return Err(ProxyError::ResponseTooLarge { limit }),
        Some(BodyError::ReadFailed(reason)) => {
            return Err(ProxyError::UpstreamUnreachable {
                upstream: route.upstream.name().to_owned(),
                reason: format!("response body: {reason}"),
            });
        }
        None => {}
    }
    Ok(response.into_http())
}

/// Sends the request to a target of the route's upstream.
async fn forward(route: &Route, request: ProxyRequest) -> Result<ProxyResponse, ProxyError> {
    let ProxyRequest { mut head, body, .. } = request;
    match body.failure() {
        Some(BodyError::TooLarge(limit)) => return Err(ProxyError::PayloadTooLarge { limit }),
        Some(BodyError::ReadFailed(reason)) => {
            return Err(ProxyError::BadRequest(format!("request body: {reason}")));
        }
        None => {}
    }
    let upstream = &route.upstream;
    let target = upstream.pick();
    let path_and_query = head.uri.path_and_query().map_or("/", |pq| pq.as_str());
    head.uri = format!("http://{target}{path_and_query}")
        .parse()
        .map_err(|_| ProxyError::Internal(format!("cannot build upstream URI for `{target}`")))?;
    head.version = Version::HTTP_11;
    let response = upstream
        .send(Request::from_parts(head, body.into_body()))
        .await?;
    let (mut head, body) = response.into_parts();
    strip_hop_by_hop(&mut head.headers);
    Ok(ProxyResponse {
        head,
        body: MessageBody::Stream(body::stream(body)),
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
