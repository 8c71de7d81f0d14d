//! A route's request metrics, resolved to recorder handles once instead of
//! per request.
//!
//! `metrics::counter!(name, labels...)` hashes its labels and looks the
//! series up in the recorder's registry on every call. The request path
//! instead asks its route's [`RouteMetrics`] for the handle: registered
//! the first time a (method, status class) pair is seen on the route, an
//! atomic load after that. Series appear in the exposition only once they
//! have been recorded, as before.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram};

use super::metrics as names;

/// The methods with a label of their own, then `OTHER`.
const METHODS: usize = 10;
/// `1xx` to `5xx`.
const CLASSES: usize = 5;

/// The metric handles of one route (or of the requests no route matched).
pub struct RouteMetrics {
    name: Arc<str>,
    requests: [OnceLock<Counter>; METHODS * CLASSES],
    duration: OnceLock<Histogram>,
    request_bytes: OnceLock<Counter>,
    response_bytes: OnceLock<Counter>,
    upstream_duration: OnceLock<Histogram>,
}

/// The handles of requests no route matched, labelled `(none)`.
pub(crate) static UNROUTED: LazyLock<Arc<RouteMetrics>> =
    LazyLock::new(|| RouteMetrics::new(super::sample::NO_ROUTE.into()));

impl RouteMetrics {
    /// Handles for route `name`, registered as they are first used.
    pub fn new(name: Arc<str>) -> Arc<Self> {
        Arc::new(RouteMetrics {
            name,
            requests: std::array::from_fn(|_| OnceLock::new()),
            duration: OnceLock::new(),
            request_bytes: OnceLock::new(),
            response_bytes: OnceLock::new(),
            upstream_duration: OnceLock::new(),
        })
    }

    /// The route's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Records one finished request.
    pub fn record(
        &self,
        method: &http::Method,
        status: u16,
        total: Duration,
        request_bytes: u64,
        response_bytes: u64,
    ) {
        let (m, method) = method_index(method);
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        let route = &self.name;
        self.requests[m * CLASSES + class]
            .get_or_init(|| {
                metrics::counter!(
                    names::REQUESTS,
                    "route" => route.to_string(),
                    "method" => method,
                    "status_class" => names::status_class(status)
                )
            })
            .increment(1);
        self.duration
            .get_or_init(
                || metrics::histogram!(names::REQUEST_DURATION, "route" => route.to_string()),
            )
            .record(total.as_secs_f64());
        self.request_bytes
            .get_or_init(|| metrics::counter!(names::REQUEST_BYTES, "route" => route.to_string()))
            .increment(request_bytes);
        self.response_bytes
            .get_or_init(|| metrics::counter!(names::RESPONSE_BYTES, "route" => route.to_string()))
            .increment(response_bytes);
    }

    /// Records the upstream part of a request; a route has one upstream
    /// per snapshot, so its handle is resolved once.
    pub(crate) fn record_upstream(&self, upstream: &str, elapsed: Duration) {
        self.upstream_duration
            .get_or_init(
                || metrics::histogram!(names::UPSTREAM_DURATION, "upstream" => upstream.to_owned()),
            )
            .record(elapsed.as_secs_f64());
    }
}

/// The method's slot and label.
fn method_index(method: &http::Method) -> (usize, &'static str) {
    let label = names::method_label(method);
    let index = match label {
        "GET" => 0,
        "HEAD" => 1,
        "POST" => 2,
        "PUT" => 3,
        "DELETE" => 4,
        "PATCH" => 5,
        "OPTIONS" => 6,
        "CONNECT" => 7,
        "TRACE" => 8,
        _ => 9,
    };
    (index, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_and_status_class_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        for method in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "BREW",
        ] {
            let (index, _) = method_index(&http::Method::from_bytes(method.as_bytes()).unwrap());
            for status in [100u16, 200, 302, 404, 503, 599] {
                let class = usize::from((status / 100).clamp(1, 5) - 1);
                seen.insert(index * CLASSES + class);
            }
        }
        assert_eq!(seen.len(), METHODS * CLASSES);
        assert!(seen.iter().all(|slot| *slot < METHODS * CLASSES));
    }
}
