//! The mock host's `kv` store and `cache`: maps with TTLs on the mock clock.

use std::collections::HashMap;

use super::errors::KvError;

/// Largest cache entry kept, bytes (the gateway's default: 1/8 of 64 MiB).
const CACHE_MAX_ENTRY: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    /// Monotonic nanoseconds after which the entry is gone.
    expires_ns: Option<u64>,
}

impl Entry {
    fn live(&self, now_ns: u64) -> bool {
        self.expires_ns.is_none_or(|at| at > now_ns)
    }
}

/// When an entry set at `now_ns` for `ttl_ms` (0: never) expires.
fn expiry(now_ns: u64, ttl_ms: u64) -> Option<u64> {
    (ttl_ms > 0).then(|| now_ns.saturating_add(ttl_ms.saturating_mul(1_000_000)))
}

/// A map of byte values with expiry, for either capability.
#[derive(Debug, Default)]
pub(crate) struct Store {
    entries: HashMap<String, Entry>,
}

impl Store {
    pub(crate) fn get(&self, key: &str, now_ns: u64) -> Option<Vec<u8>> {
        self.entries
            .get(key)
            .filter(|e| e.live(now_ns))
            .map(|e| e.value.clone())
    }

    /// Stores unconditionally (limits are the callers').
    pub(crate) fn put(&mut self, key: &str, value: &[u8], ttl_ms: u64, now_ns: u64) {
        let entry = Entry {
            value: value.to_vec(),
            expires_ns: expiry(now_ns, ttl_ms),
        };
        self.entries.insert(key.to_owned(), entry);
    }

    /// Removes `key`; whether a live value was there.
    pub(crate) fn delete(&mut self, key: &str, now_ns: u64) -> bool {
        self.entries.remove(key).is_some_and(|e| e.live(now_ns))
    }

    /// `kv.set`, with the gateway's limits.
    pub(crate) fn kv_set(
        &mut self,
        key: &str,
        value: &[u8],
        ttl_ms: u64,
        now_ns: u64,
    ) -> Result<(), KvError> {
        if !portico_contract::limits::kv_fits(key, value) {
            return Err(KvError::TooLarge);
        }
        self.put(key, value, ttl_ms, now_ns);
        Ok(())
    }

    /// `kv.increment`, as the gateway: a live key keeps its expiry, a new or
    /// expired one starts at 0 with `ttl_ms`; the sum saturates.
    pub(crate) fn kv_increment(
        &mut self,
        key: &str,
        delta: i64,
        ttl_ms: u64,
        now_ns: u64,
    ) -> Result<i64, KvError> {
        if key.len() > portico_contract::limits::KV_MAX_KEY {
            return Err(KvError::TooLarge);
        }
        let (value, expires_ns) = match self.entries.get(key).filter(|e| e.live(now_ns)) {
            Some(entry) => {
                let current = std::str::from_utf8(&entry.value)
                    .ok()
                    .and_then(|text| text.parse::<i64>().ok())
                    .ok_or(KvError::NotANumber)?;
                (current.saturating_add(delta), entry.expires_ns)
            }
            None => (delta, expiry(now_ns, ttl_ms)),
        };
        let entry = Entry {
            value: value.to_string().into_bytes(),
            expires_ns,
        };
        self.entries.insert(key.to_owned(), entry);
        Ok(value)
    }

    /// `cache.set`: entries over the per-entry limit are dropped.
    pub(crate) fn cache_set(&mut self, key: &str, value: &[u8], ttl_ms: u64, now_ns: u64) {
        if key.len() + value.len() <= CACHE_MAX_ENTRY {
            self.put(key, value, ttl_ms.max(1), now_ns);
        }
    }
}
