//! Counters of an upstream: connections opened, requests on new versus
//! reused connections, retries, ejections. Each is kept here (for
//! [`UpstreamStats::snapshot`]) and in the process's metrics recorder
//! (`portico_upstream_*`, see `observe::metrics`), through handles
//! registered once per upstream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use metrics::Counter;

use crate::data::observe::metrics as names;

/// Live counters; read them with [`UpstreamStats::snapshot`].
#[derive(Debug, Default)]
pub struct UpstreamStats {
    connections: AtomicU64,
    new_connection_requests: AtomicU64,
    reused_connection_requests: AtomicU64,
    retries: AtomicU64,
    retries_denied: AtomicU64,
    ejections: AtomicU64,
    exported: Exported,
}

/// The same counters in the metrics recorder (no-ops without one).
#[derive(Debug)]
struct Exported {
    connections: Counter,
    new_connection_requests: Counter,
    reused_connection_requests: Counter,
    retries: Counter,
    retries_denied: Counter,
    ejections: Counter,
}

impl Default for Exported {
    fn default() -> Self {
        Exported {
            connections: Counter::noop(),
            new_connection_requests: Counter::noop(),
            reused_connection_requests: Counter::noop(),
            retries: Counter::noop(),
            retries_denied: Counter::noop(),
            ejections: Counter::noop(),
        }
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Connections opened to targets (TLS handshakes included).
    pub connections: u64,
    /// Requests that were the first on their connection.
    pub new_connection_requests: u64,
    /// Requests sent on a connection that had served one before.
    pub reused_connection_requests: u64,
    /// Attempts after a failed one.
    pub retries: u64,
    /// Retries the budget refused.
    pub retries_denied: u64,
    /// Targets ejected by outlier detection.
    pub ejections: u64,
}

impl StatsSnapshot {
    /// Share of requests that reused a connection, 0 to 1.
    pub fn reuse_rate(&self) -> f64 {
        let total = self.new_connection_requests + self.reused_connection_requests;
        if total == 0 {
            0.0
        } else {
            self.reused_connection_requests as f64 / total as f64
        }
    }
}

impl UpstreamStats {
    /// Counters for upstream `name`, registered with the metrics recorder
    /// installed now (if any).
    pub fn new(name: &str) -> Self {
        let counter =
            |metric: &'static str| metrics::counter!(metric, "upstream" => name.to_owned());
        let requests = |connection: &'static str| metrics::counter!(names::UPSTREAM_REQUESTS, "upstream" => name.to_owned(), "connection" => connection);
        UpstreamStats {
            exported: Exported {
                connections: counter(names::UPSTREAM_CONNECTIONS),
                new_connection_requests: requests("new"),
                reused_connection_requests: requests("reused"),
                retries: counter(names::UPSTREAM_RETRIES),
                retries_denied: counter(names::UPSTREAM_RETRIES_DENIED),
                ejections: counter(names::UPSTREAM_EJECTIONS),
            },
            ..UpstreamStats::default()
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connections: get(&self.connections),
            new_connection_requests: get(&self.new_connection_requests),
            reused_connection_requests: get(&self.reused_connection_requests),
            retries: get(&self.retries),
            retries_denied: get(&self.retries_denied),
            ejections: get(&self.ejections),
        }
    }

    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.exported.connections.increment(1);
    }

    /// Counts a response by whether its connection was new (`marker` is the
    /// connection's [`ConnectionMarker`]).
    pub(crate) fn response_on(&self, marker: Option<&ConnectionMarker>) {
        let reused = marker.is_some_and(|m| m.0.swap(true, Ordering::Relaxed));
        self.response_on_connection(reused);
    }

    /// Counts a response on a new (`reused == false`) or reused connection.
    pub(crate) fn response_on_connection(&self, reused: bool) {
        let (counter, exported) = if reused {
            (
                &self.reused_connection_requests,
                &self.exported.reused_connection_requests,
            )
        } else {
            (
                &self.new_connection_requests,
                &self.exported.new_connection_requests,
            )
        };
        counter.fetch_add(1, Ordering::Relaxed);
        exported.increment(1);
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.exported.retries.increment(1);
    }

    pub(crate) fn retry_denied(&self) {
        self.retries_denied.fetch_add(1, Ordering::Relaxed);
        self.exported.retries_denied.increment(1);
    }

    pub(crate) fn ejected(&self) {
        self.ejections.fetch_add(1, Ordering::Relaxed);
        self.exported.ejections.increment(1);
    }
}

/// Attached to every response of a connection (hyper-util copies a
/// connector's `extra` into response extensions); set once the connection
/// has served a response.
#[derive(Debug, Clone, Default)]
pub struct ConnectionMarker(Arc<AtomicBool>);

impl names::ScrapeGauges for super::Upstream {
    /// `portico_upstream_target_healthy`: 1 for each available target.
    fn refresh_gauges(&self) {
        for (target, available) in self.target_health() {
            metrics::gauge!(names::TARGET_HEALTHY, "upstream" => self.name().to_owned(), "target" => target)
                .set(if available { 1.0 } else { 0.0 });
        }
    }
}
