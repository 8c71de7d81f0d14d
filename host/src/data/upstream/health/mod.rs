//! Target health: active HTTP checks ([`active`]) and passive outlier
//! ejection ([`outlier`]). A target is available while the active checks
//! consider it healthy (targets start healthy) and it is not ejected.

pub mod active;
pub mod outlier;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

pub use active::HealthChecker;
pub use outlier::{OutlierDetector, OutlierState};

/// What the gateway knows about a target's health.
#[derive(Debug)]
pub struct HealthState {
    healthy: AtomicBool,
    /// Active checks in a row that disagreed with `healthy`.
    streak: AtomicU32,
    /// Passive ejection.
    pub outlier: OutlierState,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            healthy: AtomicBool::new(true),
            streak: AtomicU32::new(0),
            outlier: OutlierState::default(),
        }
    }
}

impl HealthState {
    /// Healthy by the active checks and not ejected.
    pub fn is_available(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.outlier.is_ejected(now_ms())
    }

    /// Whether the active checks consider the target healthy.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Records one active check. `unhealthy_after` failures in a row make a
    /// healthy target unhealthy; `healthy_after` passes in a row make an
    /// unhealthy target healthy and end a passive ejection (evidence that the
    /// target is back). Returns the new state when it changed.
    pub fn record_check(
        &self,
        passed: bool,
        healthy_after: u32,
        unhealthy_after: u32,
    ) -> Option<bool> {
        let in_service = self.is_healthy() && !self.outlier.is_ejected(now_ms());
        let settled = if passed {
            in_service
        } else {
            !self.is_healthy()
        };
        if settled {
            self.streak.store(0, Ordering::Relaxed);
            return None;
        }
        let streak = self.streak.fetch_add(1, Ordering::Relaxed) + 1;
        let threshold = if passed {
            healthy_after
        } else {
            unhealthy_after
        };
        if streak < threshold {
            return None;
        }
        self.streak.store(0, Ordering::Relaxed);
        self.healthy.store(passed, Ordering::Relaxed);
        if passed {
            self.outlier.readmit();
        }
        Some(passed)
    }
}

/// A target and its health at one moment (for the dashboard and alerts).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetHealth {
    /// `host:port`.
    pub addr: String,
    /// Its weight.
    pub weight: u32,
    /// Its priority tier.
    pub priority: u16,
    /// Healthy by the active checks (always true without checks).
    pub healthy: bool,
    /// Ejected by outlier detection now.
    pub ejected: bool,
    /// Requests may be sent to it now (healthy and not ejected).
    pub available: bool,
    /// Requests outstanding on it.
    pub in_flight: u32,
}

/// Milliseconds on a monotonic clock private to this process.
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}
