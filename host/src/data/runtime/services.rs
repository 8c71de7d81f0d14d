//! Host-side state behind the `kv`, `cache` and `metrics` capabilities, shared by every
//! instance in the gateway and namespaced per plugin.

use std::sync::Arc;

use super::byte_cache::ByteCache;
use super::kv::KvStore;
use super::redis::RedisStore;
use crate::data::observe::plugin_counters::PluginCounters;

/// The stores plugins reach through capabilities.
pub struct HostServices {
    /// Backs the `kv` capability in memory (and, with a shared backend,
    /// while it is unreachable, for `on_state_error = "local"`).
    pub kv: KvStore,
    /// Backs the `cache` capability in memory (idem).
    pub cache: ByteCache,
    /// Backs the `metrics` capability.
    pub counters: PluginCounters,
    /// The shared backend of `kv` and `cache`, when `[state]` names one.
    pub shared: Option<Arc<RedisStore>>,
    cache_entry_max: usize,
}

impl HostServices {
    /// Empty stores; the cache holds at most `cache_bytes`.
    pub fn new(cache_bytes: u64) -> Self {
        HostServices::with_shared(cache_bytes, None)
    }

    /// Empty memory stores and `shared` as the backend of `kv` and `cache`.
    pub fn with_shared(cache_bytes: u64, shared: Option<RedisStore>) -> Self {
        HostServices {
            kv: KvStore::new(),
            cache: ByteCache::new(cache_bytes),
            counters: PluginCounters::default(),
            shared: shared.map(Arc::new),
            cache_entry_max: usize::try_from(cache_bytes / 8).unwrap_or(usize::MAX),
        }
    }

    /// The largest value `cache.set` keeps, bytes (an eighth of the cache).
    pub fn cache_entry_max(&self) -> usize {
        self.cache_entry_max
    }
}

impl Default for HostServices {
    fn default() -> Self {
        HostServices::new(64 * 1024 * 1024)
    }
}

/// The key a plugin's `key` is stored under: plugins never see each other's.
pub(crate) fn namespaced(plugin: &str, key: &str) -> String {
    let mut full = String::with_capacity(plugin.len() + 1 + key.len());
    full.push_str(plugin);
    full.push('\u{0}');
    full.push_str(key);
    full
}
