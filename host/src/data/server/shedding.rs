//! Load shedding: a listener serves at most `limits.max_requests_in_flight`
//! requests at once, across all its workers and connections. A request
//! past the bound is answered at once with 503 `overloaded` and
//! `Retry-After` instead of queueing behind the others, so the latency of
//! the admitted ones stays bounded under a flood, and the gateway recovers
//! as soon as the flood ebbs (nothing was queued).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The in-flight count of one listener.
#[derive(Debug)]
pub(super) struct Shedder {
    in_flight: AtomicUsize,
    max: usize,
    shed: AtomicU64,
}

/// One admitted request; leaves the count when dropped.
#[derive(Debug)]
pub(super) struct Admitted(Arc<Shedder>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shedder {
    /// Admits up to `max` requests at once.
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Shedder {
            in_flight: AtomicUsize::new(0),
            max,
            shed: AtomicU64::new(0),
        })
    }

    /// Admits a request, or counts it as shed.
    pub(super) fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let before = self.in_flight.fetch_add(1, Ordering::Relaxed);
        if before < self.max {
            return Some(Admitted(self.clone()));
        }
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.shed.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// The bound.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// Requests in flight now.
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Requests refused so far (exported as `portico_requests_shed_total`).
    #[cfg(test)]
    fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_bound_and_again_once_one_leaves() {
        let shedder = Shedder::new(2);
        let a = shedder.admit().expect("first");
        let _b = shedder.admit().expect("second");
        assert!(shedder.admit().is_none());
        assert_eq!(shedder.shed(), 1);
        assert_eq!(shedder.in_flight(), 2);
        drop(a);
        assert!(shedder.admit().is_some());
        assert_eq!(shedder.in_flight(), 1, "the admitted one left again");
    }
}
