//! The mock host's controllable clock.

use std::time::Duration;

/// Wall clock at a new mock host: 2023-11-14T22:13:20Z.
const START_MS: u64 = 1_700_000_000_000;

/// A monotonic clock that only moves when told to, and a wall clock that
/// follows it unless set back.
#[derive(Debug, Clone)]
pub(crate) struct MockClock {
    monotonic_ns: u64,
    /// Wall clock minus monotonic clock, in milliseconds.
    wall_offset_ms: i128,
}

impl Default for MockClock {
    fn default() -> Self {
        MockClock {
            monotonic_ns: 0,
            wall_offset_ms: i128::from(START_MS),
        }
    }
}

impl MockClock {
    pub(crate) fn monotonic_ns(&self) -> u64 {
        self.monotonic_ns
    }

    fn monotonic_ms(&self) -> i128 {
        i128::from(self.monotonic_ns / 1_000_000)
    }

    pub(crate) fn now_ms(&self) -> u64 {
        let ms = (self.monotonic_ms() + self.wall_offset_ms).max(0);
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    /// Both clocks move on by `by`.
    pub(crate) fn advance(&mut self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.monotonic_ns = self.monotonic_ns.saturating_add(ns);
    }

    /// Sets the wall clock. Forward, time passes (the monotonic clock moves
    /// too, so TTLs run out); backward, only the wall clock jumps.
    pub(crate) fn set_now_ms(&mut self, ms: u64) {
        let now = self.now_ms();
        if ms >= now {
            self.advance(Duration::from_millis(ms - now));
        } else {
            self.wall_offset_ms = i128::from(ms) - self.monotonic_ms();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_moves_both_clocks_backward_only_the_wall() {
        let mut clock = MockClock::default();
        assert_eq!(clock.now_ms(), START_MS);
        clock.set_now_ms(1_000);
        assert_eq!((clock.now_ms(), clock.monotonic_ns()), (1_000, 0));
        clock.set_now_ms(3_500);
        assert_eq!(
            (clock.now_ms(), clock.monotonic_ns()),
            (3_500, 2_500_000_000)
        );
        clock.advance(Duration::from_nanos(1_500_000));
        assert_eq!(
            (clock.now_ms(), clock.monotonic_ns()),
            (3_501, 2_501_500_000)
        );
        clock.set_now_ms(0);
        assert_eq!((clock.now_ms(), clock.monotonic_ns()), (0, 2_501_500_000));
    }
}
