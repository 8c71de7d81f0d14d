//! Errors on the request path, and the one place they become responses.
//!
//! Every failure a client can see is a [`ProxyError`]; [`ProxyError::to_response`]
//! renders it as `application/problem+json` (RFC 9457) with a stable `type`,
//! the status, and a detail that names the route, upstream or plugin but no
//! internals. [`Problem`] is that one shape; the admin API and the monitor
//! endpoints answer their errors in it too ([`control_problem`]).

use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use crate::body::{self, Body};
use crate::data::runtime::{ChainError, PluginFailure};
use crate::data::upstream::ForwardError;

/// A request failed at the gateway.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No route matches the request.
    #[error("no route matches the request")]
    NoRoute,
    /// The request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request body exceeds a limit: the route's `max_body_bytes` (a
    /// plugin read it) or the listener's `limits.max_body_bytes`.
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit exceeded, bytes.
        limit: u64,
    },
    /// The request head exceeds the listener's header size or count limit.
    #[error("request header fields too large: {0}")]
    HeadersTooLarge(String),
    /// A plugin read the response body and it exceeds the route's limit.
    #[error("response body exceeds {limit} bytes")]
    ResponseTooLarge {
        /// The route's `max_body_bytes`.
        limit: u64,
    },
    /// The upstream gave no response: unreachable, no healthy target, too
    /// slow, or its circuit breaker refused (see [`ForwardError`]).
    #[error(transparent)]
    Upstream(#[from] ForwardError),
    /// A plugin failed and is configured fail-closed.
    #[error("plugin `{plugin}` on route `{route}` {failure}")]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// Route name.
        route: String,
        /// What went wrong.
        failure: PluginFailure,
    },
    /// The listener already has `limits.max_requests_in_flight` requests
    /// in flight: refused at once (load shedding), not queued.
    #[error("overloaded: {limit} requests already in flight")]
    Overloaded {
        /// The listener's `max_requests_in_flight`.
        limit: usize,
    },
    /// A bug or resource problem in the gateway itself.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Which party caused an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorSource {
    /// The client sent something wrong.
    Client,
    /// The upstream failed.
    Upstream,
    /// A plugin failed.
    Plugin,
    /// The gateway failed.
    Gateway,
}

impl From<ChainError> for ProxyError {
    fn from(error: ChainError) -> Self {
        match error {
            ChainError::Plugin {
                plugin,
                route,
                failure,
            } => ProxyError::Plugin {
                plugin,
                route,
                failure,
            },
            ChainError::PayloadTooLarge { limit } => ProxyError::PayloadTooLarge { limit },
            ChainError::Lost(what) => ProxyError::Internal(format!("{what} lost in a plugin call")),
        }
    }
}

impl ProxyError {
    /// The status code answered.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::ResponseTooLarge { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Upstream(error) => match error {
                ForwardError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
                ForwardError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                ForwardError::NoHealthyTarget { .. } | ForwardError::Overloaded { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                ForwardError::Uri(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ProxyError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Plugin { failure, .. } if failure.is_temporary() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::Plugin { .. } | ProxyError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Who caused the error.
    pub fn source(&self) -> ErrorSource {
        match self {
            ProxyError::NoRoute
            | ProxyError::BadRequest(_)
            | ProxyError::PayloadTooLarge { .. }
            | ProxyError::HeadersTooLarge(_) => ErrorSource::Client,
            ProxyError::Upstream(ForwardError::Uri(_)) => ErrorSource::Gateway,
            ProxyError::Upstream(_) => ErrorSource::Upstream,
            ProxyError::Plugin { .. } => ErrorSource::Plugin,
            ProxyError::Internal(_)
            | ProxyError::ResponseTooLarge { .. }
            | ProxyError::Overloaded { .. } => ErrorSource::Gateway,
        }
    }

    /// Whether the same request may succeed if sent again.
    pub fn retryable(&self) -> bool {
        match self {
            ProxyError::Upstream(ForwardError::Uri(_)) => false,
            ProxyError::Upstream(_) | ProxyError::Overloaded { .. } => true,
            ProxyError::Plugin { failure, .. } => failure.is_temporary(),
            _ => false,
        }
    }

    fn problem(&self) -> (&'static str, &'static str, String) {
        match self {
            ProxyError::NoRoute => (
                "no-route",
                "No route",
                "No route matches this request.".into(),
            ),
            ProxyError::BadRequest(reason) => ("bad-request", "Bad request", reason.clone()),
            ProxyError::PayloadTooLarge { limit } => (
                "payload-too-large",
                "Payload too large",
                format!("The request body exceeds {limit} bytes."),
            ),
            ProxyError::HeadersTooLarge(reason) => (
                "header-fields-too-large",
                "Request header fields too large",
                format!("The request has {reason}."),
            ),
            ProxyError::ResponseTooLarge { limit } => (
                "response-too-large",
                "Bad gateway",
                format!("The response body exceeds the {limit} bytes a plugin may read."),
            ),
            ProxyError::Upstream(error) => upstream_problem(error),
            ProxyError::Plugin {
                plugin, failure, ..
            } => (
                "plugin-failed",
                "Plugin failed",
                format!(
                    "Plugin `{plugin}` failed to handle the request ({}).",
                    failure.kind()
                ),
            ),
            ProxyError::Overloaded { limit } => (
                "overloaded",
                "Service unavailable",
                format!("The gateway has {limit} requests in flight; try again shortly."),
            ),
            ProxyError::Internal(_) => (
                "internal",
                "Internal error",
                "The gateway failed to handle the request.".into(),
            ),
        }
    }

    /// The response the client gets: `application/problem+json`.
    pub fn to_response(&self) -> Response<Body> {
        let (kind, title, detail) = self.problem();
        let plugin = match self {
            ProxyError::Plugin { plugin, .. } => Some(plugin.as_str()),
            _ => None,
        };
        let mut response = Problem {
            status: self.status(),
            kind,
            title,
            detail,
            source: self.source(),
            retryable: self.retryable(),
            plugin,
        }
        .to_response();
        if let ProxyError::Overloaded { .. }
        | ProxyError::Upstream(ForwardError::Overloaded { .. }) = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The kind, title and detail of an upstream's failure.
fn upstream_problem(error: &ForwardError) -> (&'static str, &'static str, String) {
    match error {
        ForwardError::Unreachable { upstream, .. } => (
            "upstream-unreachable",
            "Bad gateway",
            format!("Upstream `{upstream}` could not be reached."),
        ),
        ForwardError::NoHealthyTarget { upstream } => (
            "no-healthy-upstream",
            "Service unavailable",
            format!("Upstream `{upstream}` has no healthy target."),
        ),
        ForwardError::Timeout { upstream, .. } => (
            "upstream-timeout",
            "Gateway timeout",
            format!("Upstream `{upstream}` did not respond in time."),
        ),
        ForwardError::Overloaded {
            upstream,
            bound,
            limit,
        } => (
            "upstream-overloaded",
            "Service unavailable",
            format!(
                "Upstream `{upstream}` has {limit} requests {}; try again shortly.",
                if *bound == "max_pending" {
                    "waiting for a connection"
                } else {
                    "in flight"
                }
            ),
        ),
        ForwardError::Uri(_) => (
            "internal",
            "Internal error",
            "The gateway failed to handle the request.".into(),
        ),
    }
}

/// One `application/problem+json` answer (RFC 9457). Every response the
/// gateway makes itself is rendered here: the traffic path's errors
/// ([`ProxyError::to_response`]), the admin API's and the monitor
/// endpoints' ([`control_problem`]), so all have one shape: `type`
/// (`urn:portico:problem:<kind>`), `title`, `status`, `detail`, `source`,
/// `retryable`, and `plugin` when a plugin failed.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    /// The response status.
    pub status: StatusCode,
    /// The stable kind, the last part of `type`.
    pub kind: &'a str,
    /// A short, fixed summary of the kind.
    pub title: &'a str,
    /// What happened to this request.
    pub detail: String,
    /// Whose fault it was.
    pub source: ErrorSource,
    /// Whether the same request may succeed if sent again.
    pub retryable: bool,
    /// The plugin that failed, when one did.
    pub plugin: Option<&'a str>,
}

#[derive(Serialize)]
struct ProblemJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    source: ErrorSource,
    retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<&'a str>,
}

impl Problem<'_> {
    /// The problem as a response, marked as made by the gateway.
    pub fn to_response(&self) -> Response<Body> {
        let kind = format!("urn:portico:problem:{}", self.kind);
        let json = serde_json::to_vec(&ProblemJson {
            kind: &kind,
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            source: self.source,
            retryable: self.retryable,
            plugin: self.plugin,
        })
        .unwrap_or_default();
        let mut response = Response::new(body::full(json));
        *response.status_mut() = self.status;
        response.extensions_mut().insert(body::GatewayMade);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// An admin API or monitor endpoint error, in the traffic path's shape:
/// the kind follows from the status (`bad-request`, `not-found`,
/// `method-not-allowed`, `conflict`, `payload-too-large`, `unavailable`,
/// `internal`); 4xx are the client's, the rest the gateway's, and a 503
/// may be retried (with `Retry-After`).
pub fn control_problem(status: StatusCode, detail: impl Into<String>) -> Response<Body> {
    let kind = match status {
        StatusCode::BAD_REQUEST => "bad-request",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "internal",
    };
    let retryable = status == StatusCode::SERVICE_UNAVAILABLE;
    let mut response = Problem {
        status,
        kind,
        title: status.canonical_reason().unwrap_or("Error"),
        detail: detail.into(),
        source: if status.is_client_error() {
            ErrorSource::Client
        } else {
            ErrorSource::Gateway
        },
        retryable,
        plugin: None,
    }
    .to_response();
    if retryable {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
