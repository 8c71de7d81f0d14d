//! Capability `cache`: a bounded byte cache shared by every instance of this
//! plugin in the gateway (all routes), namespaced per plugin. Entries may be
//! evicted before their TTL when the cache is full.

use std::time::Duration;

use crate::imports::cache as host;

/// The bytes cached under `key`, unless absent, expired or evicted.
pub fn get(key: &str) -> Option<Vec<u8>> {
    host::get(key)
}

/// Caches `value` under `key` for `ttl` (rounded up to whole milliseconds, at
/// least 1). Values larger than the cache's per-entry limit are silently
/// dropped.
pub fn set(key: &str, value: impl AsRef<[u8]>, ttl: Duration) {
    host::set(key, value.as_ref(), super::ttl_ms(ttl).max(1));
}

/// Removes `key`.
pub fn delete(key: &str) {
    host::delete(key);
}
