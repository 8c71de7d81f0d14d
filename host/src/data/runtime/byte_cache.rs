//! The bounded cache behind the `cache` capability: weighted by bytes, each
//! entry with its own TTL, evicting the least useful entries when full
//! (moka's TinyLFU admission with LRU eviction).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// A byte cache bounded by total size.
pub struct ByteCache {
    entries: Cache<String, Entry>,
    max_entry: usize,
}

impl ByteCache {
    /// A cache of at most `capacity` bytes; one entry may use an eighth.
    pub fn new(capacity: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(capacity)
            .weigher(|key: &String, entry: &Entry| {
                u32::try_from(key.len() + entry.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        ByteCache {
            entries,
            max_entry: usize::try_from(capacity / 8).unwrap_or(usize::MAX),
        }
    }

    /// The cached bytes under `key`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.get(key).map(|e| e.value.to_vec())
    }

    /// Caches `value` for `ttl`; values over the per-entry limit are dropped.
    pub fn set(&self, key: String, value: Vec<u8>, ttl: Duration) {
        if value.len() > self.max_entry {
            return;
        }
        let ttl = ttl.max(Duration::from_millis(1));
        self.entries.insert(
            key,
            Entry {
                value: value.into(),
                ttl,
            },
        );
    }

    /// Removes `key`.
    pub(crate) fn delete(&self, key: &str) {
        self.entries.invalidate(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_size_is_bounded() {
        let cache = ByteCache::new(64 * 1024);
        cache.set("a".into(), vec![1; 10], Duration::from_millis(20));
        assert_eq!(cache.get("a"), Some(vec![1; 10]));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get("a"), None);

        cache.set("big".into(), vec![0; 9 * 1024], Duration::from_secs(60));
        assert_eq!(cache.get("big"), None, "over the per-entry limit");

        for i in 0..100 {
            cache.set(format!("k{i}"), vec![0; 4096], Duration::from_secs(60));
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.weighted_size() <= 64 * 1024);
    }
}
