//! Passive outlier ejection: a target that fails `consecutive_failures`
//! requests in a row is ejected for a backoff period that doubles with each
//! repeated ejection (up to a maximum), then re-admitted.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::config::OutlierConfig;

/// A target's ejection state.
#[derive(Debug, Default)]
pub struct OutlierState {
    consecutive: AtomicU32,
    /// Ejections since the target last served a request successfully.
    ejections: AtomicU32,
    /// `now_ms()` until which the target is ejected; 0 when it is not.
    ejected_until: AtomicU64,
}

impl OutlierState {
    /// Whether the target is ejected at `now` (ms).
    pub fn is_ejected(&self, now: u64) -> bool {
        now < self.ejected_until.load(Ordering::Relaxed)
    }

    /// Ends an ejection now.
    pub fn readmit(&self) {
        self.ejected_until.store(0, Ordering::Relaxed);
        self.consecutive.store(0, Ordering::Relaxed);
    }
}

/// The ejection policy of one upstream.
#[derive(Debug, Clone)]
pub struct OutlierDetector {
    threshold: u32,
    base_ms: u64,
    max_ms: u64,
}

impl OutlierDetector {
    /// The policy from config (`consecutive_failures = 0` turns it off).
    pub fn new(config: &OutlierConfig) -> Self {
        OutlierDetector {
            threshold: config.consecutive_failures,
            base_ms: config.ejection_ms,
            max_ms: config.max_ejection_ms.max(config.ejection_ms),
        }
    }

    /// A request to the target succeeded.
    pub fn record_success(&self, state: &OutlierState, now: u64) {
        state.consecutive.store(0, Ordering::Relaxed);
        if !state.is_ejected(now) {
            state.ejections.store(0, Ordering::Relaxed);
        }
    }

    /// A request to the target failed; returns the ejection period (ms) when
    /// this failure ejected it.
    pub fn record_failure(&self, state: &OutlierState, now: u64) -> Option<u64> {
        if self.threshold == 0 || state.is_ejected(now) {
            return None;
        }
        let failures = state.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        if failures < self.threshold {
            return None;
        }
        state.consecutive.store(0, Ordering::Relaxed);
        let repeated = state.ejections.fetch_add(1, Ordering::Relaxed).min(20);
        let period = self.base_ms.saturating_mul(1 << repeated).min(self.max_ms);
        state.ejected_until.store(now + period, Ordering::Relaxed);
        Some(period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ejects_after_consecutive_failures_with_growing_backoff() {
        let detector = OutlierDetector::new(&OutlierConfig {
            consecutive_failures: 2,
            ejection_ms: 100,
            max_ejection_ms: 250,
        });
        let state = OutlierState::default();
        assert_eq!(detector.record_failure(&state, 1), None);
        detector.record_success(&state, 2);
        assert_eq!(detector.record_failure(&state, 3), None);
        assert_eq!(detector.record_failure(&state, 4), Some(100));
        assert!(state.is_ejected(50) && !state.is_ejected(104));
        // Re-admitted, fails again: twice as long, then capped.
        detector.record_failure(&state, 110);
        assert_eq!(detector.record_failure(&state, 111), Some(200));
        detector.record_failure(&state, 400);
        assert_eq!(detector.record_failure(&state, 401), Some(250));
        // A success after re-admission resets the backoff.
        detector.record_success(&state, 700);
        detector.record_failure(&state, 701);
        assert_eq!(detector.record_failure(&state, 702), Some(100));
    }
}
