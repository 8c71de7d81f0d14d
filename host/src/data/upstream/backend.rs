//! A backend: a target plus what the gateway learns about it while serving
//! (outstanding requests, health). Shared by every target set it stays in,
//! so a rediscovered target keeps its state.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::health::HealthState;
use super::idle::IdleConnections;
use super::target::Target;

/// A target and its live state.
#[derive(Debug)]
pub struct Backend {
    /// Where it is.
    pub target: Target,
    in_flight: AtomicU32,
    /// Active and passive health.
    pub health: HealthState,
    /// Idle HTTP/1.1 keep-alive connections to it.
    pub idle: IdleConnections,
}

impl Backend {
    /// A backend for `target`, healthy, with nothing in flight.
    pub fn new(target: Target) -> Arc<Self> {
        Arc::new(Backend {
            target,
            in_flight: AtomicU32::new(0),
            health: HealthState::default(),
            idle: IdleConnections::default(),
        })
    }

    /// Requests sent to it whose response has not finished.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether requests may be sent to it now.
    pub fn is_available(&self) -> bool {
        self.health.is_available()
    }

    /// Counts a request as outstanding until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// An outstanding request on a backend; the count drops with it.
#[derive(Debug)]
pub struct InFlight(Arc<Backend>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
