//! The sliding-window counter: two fixed windows, the previous one weighted
//! by how much of it still overlaps the sliding window.
//!
//! With `W` the window, `e` the time elapsed in the current fixed window,
//! `p` the previous window's count and `c` the current one's, the estimate
//! is `p · (W − e) / W + c`. The current count is the host's atomic
//! `increment`, so concurrent requests each see a distinct count and at most
//! `limit` of them are admitted; the previous count no longer changes. All
//! arithmetic is exact (integers, scaled by `W`).

/// Where `now` falls: which fixed window, and how far into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// `now / window`.
    pub index: u64,
    /// `now % window`, milliseconds.
    pub elapsed_ms: u64,
}

impl Slot {
    /// The slot of `now_ms` for a window of `window_ms` (at least 1).
    pub fn at(now_ms: u64, window_ms: u64) -> Self {
        let window_ms = window_ms.max(1);
        Slot {
            index: now_ms / window_ms,
            elapsed_ms: now_ms % window_ms,
        }
    }
}

/// One policy's counts at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// The limit per window.
    pub limit: u64,
    /// The window, milliseconds (at least 1).
    pub window_ms: u64,
    /// Requests counted in the previous fixed window.
    pub previous: u64,
    /// Requests counted in the current fixed window.
    pub current: u64,
    /// Time elapsed in the current fixed window, milliseconds.
    pub elapsed_ms: u64,
}

impl Counts {
    /// The estimate scaled by the window: `p · (W − e) + c · W`.
    fn scaled(&self) -> u128 {
        let w = u128::from(self.window_ms);
        let overlap = w.saturating_sub(u128::from(self.elapsed_ms));
        (u128::from(self.previous) * overlap).saturating_add(u128::from(self.current) * w)
    }

    /// Whether the estimate is within the limit (`current` includes the
    /// request being decided).
    pub fn within_limit(&self) -> bool {
        self.scaled() <= u128::from(self.limit) * u128::from(self.window_ms)
    }

    /// Requests still allowed now: `⌊limit − estimate⌋`, at least 0.
    pub fn remaining(&self) -> u64 {
        let w = u128::from(self.window_ms);
        let room = (u128::from(self.limit) * w).saturating_sub(self.scaled()) / w;
        u64::try_from(room).unwrap_or(u64::MAX)
    }

    /// Milliseconds until one more request would be admitted (0 if one is
    /// now), assuming no other request is counted meanwhile.
    pub fn wait_ms(&self) -> u64 {
        let (limit, w) = (u128::from(self.limit), u128::from(self.window_ms));
        let (p, c, e) = (
            u128::from(self.previous),
            u128::from(self.current),
            u128::from(self.elapsed_ms).min(w),
        );
        if limit == 0 {
            return u64::MAX;
        }
        let wait = if c < limit {
            // Within this window: need p · (W − e − d) ≤ (limit − 1 − c) · W.
            // No previous count (p = 0): nothing to wait for.
            match ((limit - 1 - c) * w).checked_div(p) {
                Some(allowed_overlap) => (w - e).saturating_sub(allowed_overlap),
                None => 0,
            }
        } else {
            // In the next window, where the current count becomes the
            // previous one: need c · (W − e2) ≤ (limit − 1) · W.
            let e2 = w.saturating_sub((limit - 1) * w / c);
            (w - e) + e2
        };
        u64::try_from(wait).unwrap_or(u64::MAX)
    }

    /// Milliseconds until the current fixed window ends.
    pub fn window_end_ms(&self) -> u64 {
        self.window_ms.saturating_sub(self.elapsed_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(previous: u64, current: u64, elapsed_ms: u64) -> Counts {
        Counts {
            limit: 10,
            window_ms: 1000,
            previous,
            current,
            elapsed_ms,
        }
    }

    #[test]
    fn slot_splits_time_into_fixed_windows() {
        assert_eq!(
            Slot::at(12_345, 1000),
            Slot {
                index: 12,
                elapsed_ms: 345
            }
        );
        assert_eq!(Slot::at(5, 0).index, 5, "a zero window counts as 1 ms");
    }

    #[test]
    fn without_history_it_is_a_fixed_window() {
        assert!(counts(0, 10, 999).within_limit());
        assert!(!counts(0, 11, 0).within_limit());
        assert_eq!(counts(0, 4, 0).remaining(), 6);
        assert_eq!(counts(0, 11, 0).remaining(), 0);
    }

    #[test]
    fn the_previous_window_weighs_by_its_overlap() {
        // 10 last window, 25% into this one: 7.5 still count.
        assert!(counts(10, 2, 250).within_limit());
        assert!(!counts(10, 3, 250).within_limit());
        assert_eq!(counts(10, 2, 250).remaining(), 0, "⌊10 − 9.5⌋");
        assert_eq!(counts(10, 0, 500).remaining(), 5);
        // At the very end of the window the previous one no longer counts.
        assert!(counts(10, 10, 1000).within_limit());
    }

    #[test]
    fn wait_is_zero_when_a_request_would_pass() {
        assert_eq!(counts(0, 9, 100).wait_ms(), 0);
        assert_eq!(counts(4, 5, 600).wait_ms(), 0, "4 · 0.4 + 5 + 1 ≤ 10");
    }

    #[test]
    fn wait_within_the_window_lets_the_previous_count_slide_out() {
        // p = 10, c = 5, e = 0: need 10 · (1000 − d) ≤ 4 · 1000 → d ≥ 600.
        let c = counts(10, 5, 0);
        assert_eq!(c.wait_ms(), 600);
        let later = Counts {
            current: 6,
            elapsed_ms: 600,
            ..c
        };
        assert!(later.within_limit(), "one more fits after the wait");
        let earlier = Counts {
            current: 6,
            elapsed_ms: 599,
            ..c
        };
        assert!(!earlier.within_limit(), "and not a millisecond before");
    }

    #[test]
    fn wait_past_the_window_when_the_current_one_is_full() {
        // c = 10 at e = 300: 700 ms to the next window, then need
        // 10 · (1000 − e2) ≤ 9 · 1000 → e2 ≥ 100.
        assert_eq!(counts(0, 10, 300).wait_ms(), 800);
        assert_eq!(counts(3, 12, 0).wait_ms(), 1000 + 250, "12 · 0.75 = 9");
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let c = Counts {
            limit: u64::MAX,
            window_ms: u64::MAX,
            previous: u64::MAX,
            current: u64::MAX,
            elapsed_ms: 1,
        };
        assert!(!c.within_limit());
        assert_eq!(c.remaining(), 0);
        let _ = c.wait_ms();
    }
}
