//! The retry budget: retries may add at most `ratio` of the requests seen
//! over a sliding window, plus `min_per_sec` per second, so that retries
//! cannot multiply an outage.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::RetryBudgetConfig;

/// Buckets the window is divided into.
const BUCKETS: usize = 10;

/// Requests and retries counted per slice of the window.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    min_per_window: f64,
    slice: Duration,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    /// (requests, retries) per bucket.
    buckets: [(u64, u64); BUCKETS],
    /// Index of the current bucket and when it started.
    current: usize,
    started: Instant,
}

impl RetryBudget {
    /// A budget from config.
    pub fn new(config: &RetryBudgetConfig) -> Self {
        let window = Duration::from_millis(config.window_ms.max(1));
        RetryBudget {
            ratio: config.ratio,
            min_per_window: f64::from(config.min_per_sec) * window.as_secs_f64(),
            slice: window / BUCKETS as u32,
            state: Mutex::new(Window {
                buckets: [(0, 0); BUCKETS],
                current: 0,
                started: Instant::now(),
            }),
        }
    }

    /// Counts a request.
    pub fn record_request(&self) {
        let mut window = self.advance();
        let current = window.current;
        window.buckets[current].0 += 1;
    }

    /// Takes a retry from the budget if there is one left.
    pub fn try_retry(&self) -> bool {
        let mut window = self.advance();
        let (requests, retries) = window
            .buckets
            .iter()
            .fold((0, 0), |(q, r), (bq, br)| (q + bq, r + br));
        let allowed = requests as f64 * self.ratio + self.min_per_window;
        if (retries as f64) < allowed {
            let current = window.current;
            window.buckets[current].1 += 1;
            true
        } else {
            false
        }
    }

    /// The window with expired buckets cleared.
    fn advance(&self) -> parking_lot::MutexGuard<'_, Window> {
        let mut window = self.state.lock();
        let elapsed = window.started.elapsed();
        if elapsed >= self.slice {
            let steps = (elapsed.as_nanos() / self.slice.as_nanos().max(1)) as usize;
            for step in 1..=steps.min(BUCKETS) {
                let index = (window.current + step) % BUCKETS;
                window.buckets[index] = (0, 0);
            }
            window.current = (window.current + steps) % BUCKETS;
            window.started += self.slice * steps as u32;
        }
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_bounded_by_ratio_plus_minimum() {
        let budget = RetryBudget::new(&RetryBudgetConfig {
            ratio: 0.2,
            min_per_sec: 1,
            window_ms: 10_000,
        });
        for _ in 0..100 {
            budget.record_request();
        }
        // 100 × 0.2 + 1/s × 10 s = 30 retries.
        let granted = (0..100).filter(|_| budget.try_retry()).count();
        assert_eq!(granted, 30);
    }
}
