//! Circuit breaking per upstream: at most `max_requests` requests in flight
//! to it (from the first attempt until the response body is done), and at
//! most `max_pending` of them waiting for a new connection to a target
//! (HTTP/1.1 upstreams; an HTTP/2 upstream multiplexes on its connection).
//! A request past either bound is refused at once with 503
//! `upstream-overloaded` and `Retry-After`, not queued and not retried: a
//! slow or stuck upstream then costs the gateway a bounded number of
//! requests, connections and sockets, and its neighbours keep theirs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use metrics::Counter;
use serde::Serialize;

use crate::config::CircuitBreakerConfig;
use crate::data::observe::metrics as names;

/// Which bound refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tripped {
    /// `circuit_breaker.max_requests`.
    MaxRequests,
    /// `circuit_breaker.max_pending`.
    MaxPending,
}

impl Tripped {
    /// The config key of the bound.
    pub fn key(self) -> &'static str {
        match self {
            Tripped::MaxRequests => "max_requests",
            Tripped::MaxPending => "max_pending",
        }
    }
}

/// The two counts of one upstream.
#[derive(Debug)]
pub struct Breaker {
    max_requests: usize,
    max_pending: usize,
    requests: AtomicUsize,
    pending: AtomicUsize,
    refused_requests: Counter,
    refused_pending: Counter,
    /// The same refusals, readable for the dashboard.
    refused: [AtomicU64; 2],
}

/// A breaker's counts now, as the dashboard shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BreakerState {
    /// Requests in flight to the upstream.
    pub requests: usize,
    /// `circuit_breaker.max_requests`.
    pub max_requests: usize,
    /// Requests waiting for a new connection.
    pub pending: usize,
    /// `circuit_breaker.max_pending`.
    pub max_pending: usize,
    /// Requests refused at `max_requests` since the upstream was built.
    pub refused_requests: u64,
    /// Requests refused at `max_pending` since the upstream was built.
    pub refused_pending: u64,
}

/// A place among the counted requests (or pending ones); left when dropped.
#[derive(Debug)]
pub struct Permit {
    breaker: Arc<Breaker>,
    pending: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let count = if self.pending {
            &self.breaker.pending
        } else {
            &self.breaker.requests
        };
        count.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Breaker {
    /// The breaker of upstream `name`.
    pub fn new(name: &str, config: &CircuitBreakerConfig) -> Arc<Self> {
        let refused = |limit: &'static str| metrics::counter!(names::UPSTREAM_REFUSED, "upstream" => name.to_owned(), "limit" => limit);
        Arc::new(Breaker {
            max_requests: config.max_requests,
            max_pending: config.max_pending,
            requests: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            refused_requests: refused(Tripped::MaxRequests.key()),
            refused_pending: refused(Tripped::MaxPending.key()),
            refused: [AtomicU64::new(0), AtomicU64::new(0)],
        })
    }

    /// The counts now.
    pub fn state(&self) -> BreakerState {
        BreakerState {
            requests: self.requests.load(Ordering::Relaxed),
            max_requests: self.max_requests,
            pending: self.pending.load(Ordering::Relaxed),
            max_pending: self.max_pending,
            refused_requests: self.refused[0].load(Ordering::Relaxed),
            refused_pending: self.refused[1].load(Ordering::Relaxed),
        }
    }

    /// A place for one more request, unless `max_requests` are in flight.
    pub fn request(self: &Arc<Self>) -> Result<Permit, Tripped> {
        self.enter(false)
    }

    /// A place to wait for a new connection, unless `max_pending` wait.
    pub fn pending(self: &Arc<Self>) -> Result<Permit, Tripped> {
        self.enter(true)
    }

    /// The bound that `tripped` names.
    pub fn limit(&self, tripped: Tripped) -> usize {
        match tripped {
            Tripped::MaxRequests => self.max_requests,
            Tripped::MaxPending => self.max_pending,
        }
    }

    fn enter(self: &Arc<Self>, pending: bool) -> Result<Permit, Tripped> {
        let (count, max, refused, tripped) = if pending {
            (
                &self.pending,
                self.max_pending,
                &self.refused_pending,
                Tripped::MaxPending,
            )
        } else {
            (
                &self.requests,
                self.max_requests,
                &self.refused_requests,
                Tripped::MaxRequests,
            )
        };
        if count.fetch_add(1, Ordering::Relaxed) < max {
            return Ok(Permit {
                breaker: self.clone(),
                pending,
            });
        }
        count.fetch_sub(1, Ordering::Relaxed);
        refused.increment(1);
        self.refused[usize::from(pending)].fetch_add(1, Ordering::Relaxed);
        Err(tripped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bound_admits_up_to_its_limit_and_again_once_one_leaves() {
        let breaker = Breaker::new(
            "u",
            &CircuitBreakerConfig {
                max_requests: 2,
                max_pending: 1,
            },
        );
        let a = breaker.request().expect("first");
        let _b = breaker.request().expect("second");
        assert_eq!(breaker.request().unwrap_err(), Tripped::MaxRequests);
        let waiting = breaker.pending().expect("one may wait");
        assert_eq!(breaker.pending().unwrap_err(), Tripped::MaxPending);
        let state = breaker.state();
        assert_eq!((state.requests, state.pending), (2, 1));
        assert_eq!((state.refused_requests, state.refused_pending), (1, 1));
        drop(a);
        drop(waiting);
        assert!(breaker.request().is_ok());
        assert!(breaker.pending().is_ok());
    }
}
