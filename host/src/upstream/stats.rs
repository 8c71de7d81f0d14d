//! Counters of an upstream, ready for a metrics exporter: connections
//! opened, requests on new versus reused connections, retries, ejections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Live counters; read them with [`UpstreamStats::snapshot`].
#[derive(Debug, Default)]
pub struct UpstreamStats {
    connections: AtomicU64,
    new_connection_requests: AtomicU64,
    reused_connection_requests: AtomicU64,
    retries: AtomicU64,
    retries_denied: AtomicU64,
    ejections: AtomicU64,
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
    }

    /// Counts a response by whether its connection was new (`marker` is the
    /// connection's [`ConnectionMarker`]).
    pub(crate) fn response_on(&self, marker: Option<&ConnectionMarker>) {
        let reused = marker.is_some_and(|m| m.0.swap(true, Ordering::Relaxed));
        let counter = if reused {
            &self.reused_connection_requests
        } else {
            &self.new_connection_requests
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry_denied(&self) {
        self.retries_denied.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn ejected(&self) {
        self.ejections.fetch_add(1, Ordering::Relaxed);
    }
}

/// Attached to every response of a connection (hyper-util copies a
/// connector's `extra` into response extensions); set once the connection
/// has served a response.
#[derive(Debug, Clone, Default)]
pub struct ConnectionMarker(Arc<AtomicBool>);
