//! Host capabilities: free functions that call the gateway (natively, the
//! [`MockHost`](crate::testing::MockHost)).
//!
//! Each capability must be granted to the plugin in the route's
//! configuration. The gateway refuses to load a plugin on a route that does
//! not grant every capability the component imports, and a component imports
//! only the capabilities its code can call.

pub mod cache;
pub mod clock;
pub mod context;
pub mod kv;
pub mod log;
pub mod metrics;
pub mod outbound;

use std::time::Duration;

/// `ttl` in whole milliseconds, rounded up (so a non-zero TTL never becomes
/// 0) and saturating.
pub(crate) fn ttl_ms(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_and_saturates() {
        assert_eq!(ttl_ms(Duration::ZERO), 0);
        assert_eq!(ttl_ms(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_ms(Duration::from_millis(1500)), 1500);
        assert_eq!(ttl_ms(Duration::MAX), u64::MAX);
    }
}
