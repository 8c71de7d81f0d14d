//! Host-side state behind the `kv`, `cache` and `metrics` capabilities, shared by every
//! instance in the gateway and namespaced per plugin.

use super::byte_cache::ByteCache;
use super::kv::KvStore;
use crate::data::observe::plugin_counters::PluginCounters;

/// The stores plugins reach through capabilities.
pub struct HostServices {
    /// Backs the `kv` capability.
    pub kv: KvStore,
    /// Backs the `cache` capability.
    pub cache: ByteCache,
    /// Backs the `metrics` capability.
    pub counters: PluginCounters,
}

impl HostServices {
    /// Empty stores; the cache holds at most `cache_bytes`.
    pub fn new(cache_bytes: u64) -> Self {
        HostServices {
            kv: KvStore::new(),
            cache: ByteCache::new(cache_bytes),
            counters: PluginCounters::default(),
        }
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
