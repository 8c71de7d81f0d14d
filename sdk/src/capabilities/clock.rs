//! Capability `clock`: time, without WASI.

use std::time::{Duration, SystemTime};

use crate::imports::clock as host;

/// Milliseconds since the Unix epoch (wall clock, may jump).
pub fn now_ms() -> u64 {
    host::now_ms()
}

/// The wall clock as a [`SystemTime`] (millisecond precision).
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms())
}

/// Nanoseconds from an arbitrary fixed point (monotonic): subtract two
/// readings to measure a duration.
pub fn monotonic_ns() -> u64 {
    host::monotonic_ns()
}
