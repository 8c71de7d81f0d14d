//! What the request path reports once per finished request.

use std::sync::Arc;
use std::time::Duration;

/// Label value of requests no route matched.
pub(crate) const NO_ROUTE: &str = "(none)";

/// Receives every finished request (the monitor: live stats, alerts,
/// analytics). Called on the task that sent the response; must not block.
pub trait Recorder: Send + Sync {
    /// One request finished.
    fn record(&self, sample: RequestSample);
}

/// One finished request, as the live stats, alerts and analytics see it.
#[derive(Debug, Clone)]
pub struct RequestSample {
    /// The route that served it; `None` when no route matched.
    pub route: Option<Arc<str>>,
    /// The request method.
    pub method: http::Method,
    /// The status sent to the client.
    pub status: u16,
    /// From the request head to the end of the response body.
    pub latency: Duration,
    /// The route's upstream, when a route matched.
    pub upstream: Option<Arc<str>>,
    /// The target (`host:port`) that answered, when one did.
    pub target: Option<Arc<str>>,
    /// The context's `consumer` (set by an auth plugin), when any.
    pub consumer: Option<String>,
    /// Request body bytes read from the client.
    pub bytes_in: u64,
    /// Response body bytes sent to the client.
    pub bytes_out: u64,
    /// Every plugin phase call, in the order they ran.
    pub plugins: Vec<PluginSample>,
}

/// One plugin's phase call within a request.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSample {
    /// The plugin's name in the route's chain.
    pub name: Arc<str>,
    /// The version the plugin reports.
    pub version: Arc<str>,
    /// Time the call took, host side included.
    pub latency: Duration,
    /// Whether the call failed (trap, deadline, memory limit, error).
    pub trapped: bool,
}

impl RequestSample {
    /// Whether the gateway answered with a server error (5xx).
    pub(crate) fn is_error(&self) -> bool {
        self.status >= 500
    }

    /// The route's name for grouping; `(none)` when no route matched (as
    /// in the metrics).
    pub(crate) fn route_name(&self) -> &str {
        self.route.as_deref().unwrap_or(NO_ROUTE)
    }
}
