//! A small fixed-bucket latency histogram, shared by the live stats and the
//! analytics rollups.
//!
//! Buckets grow geometrically by a factor of 2^(1/4) (≈ 1.19) from 0.1 ms
//! to about 1 200 s, so any quantile is reported within ±9.1% of the true
//! value (the bucket's geometric midpoint is returned) for latencies in
//! that range; below 0.1 ms everything counts as 0.1 ms. 96 `u32` counters:
//! merging two histograms is adding their counters.

use std::time::Duration;

/// Number of buckets.
pub const BUCKETS: usize = 96;
/// Lower bound of bucket 1, in microseconds; bucket 0 holds everything below.
const FIRST_US: f64 = 100.0;
/// Buckets per doubling.
const PER_OCTAVE: f64 = 4.0;

/// Counts of latencies by bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u32; BUCKETS],
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: [0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    /// Counts one latency.
    pub fn record(&mut self, latency: Duration) {
        let index = bucket_of(latency.as_secs_f64() * 1e6);
        self.counts[index] = self.counts[index].saturating_add(1);
        self.total += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        self.total += other.total;
    }

    /// Latencies counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0 to 1) in milliseconds; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return midpoint_us(index) / 1000.0;
            }
        }
        midpoint_us(BUCKETS - 1) / 1000.0
    }

    /// The counters as little-endian bytes, for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.counts.iter().flat_map(|c| c.to_le_bytes()).collect()
    }

    /// A histogram from [`to_bytes`](Self::to_bytes) output; `None` when the
    /// length is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Option<Histogram> {
        if bytes.len() != BUCKETS * 4 {
            return None;
        }
        let mut histogram = Histogram::default();
        for (slot, chunk) in histogram.counts.iter_mut().zip(bytes.chunks_exact(4)) {
            let count = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            *slot = count;
            histogram.total += u64::from(count);
        }
        Some(histogram)
    }
}

fn bucket_of(us: f64) -> usize {
    if us < FIRST_US {
        return 0;
    }
    let index = ((us / FIRST_US).log2() * PER_OCTAVE).floor() as usize + 1;
    index.min(BUCKETS - 1)
}

/// Geometric midpoint of a bucket, µs.
fn midpoint_us(index: usize) -> f64 {
    if index == 0 {
        return FIRST_US;
    }
    let low = FIRST_US * 2f64.powf((index - 1) as f64 / PER_OCTAVE);
    low * 2f64.powf(0.5 / PER_OCTAVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_documented_error() {
        for ms in [0.2, 1.0, 3.7, 42.0, 250.0, 9_000.0] {
            let mut h = Histogram::default();
            h.record(Duration::from_secs_f64(ms / 1000.0));
            let got = h.quantile_ms(0.5);
            assert!((got - ms).abs() / ms <= 0.091, "{ms} ms read back as {got}");
        }
    }

    #[test]
    fn p99_sees_the_tail_and_merging_adds_counts() {
        let mut fast = Histogram::default();
        for _ in 0..98 {
            fast.record(Duration::from_millis(1));
        }
        let mut slow = Histogram::default();
        slow.record(Duration::from_millis(500));
        slow.record(Duration::from_millis(500));
        fast.merge(&slow);
        assert_eq!(fast.count(), 100);
        assert!(fast.quantile_ms(0.5) < 1.2);
        assert!(fast.quantile_ms(0.99) > 450.0);
        let back = Histogram::from_bytes(&fast.to_bytes()).unwrap();
        assert_eq!(back, fast);
        assert_eq!(Histogram::from_bytes(&[1, 2, 3]), None);
    }
}
