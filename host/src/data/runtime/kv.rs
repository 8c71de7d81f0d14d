//! The in-memory store behind the `kv` capability: sharded, with TTLs and an
//! atomic increment.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

const SHARDS: usize = 16;
pub(crate) use portico_contract::limits::{KV_MAX_KEY as MAX_KEY, KV_MAX_VALUE as MAX_VALUE};
/// Writes to a shard between two sweeps of its expired entries.
const SWEEP_EVERY: u32 = 1024;
/// Bytes (keys and values) one shard holds at most; the store holds
/// `SHARDS` times this (256 MiB). A write past it is refused as too large.
const SHARD_BYTES: usize = 16 * 1024 * 1024;

/// Why a kv operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// `increment` on a value that is not a decimal integer.
    #[error("value is not an integer")]
    NotANumber,
    /// Key or value too large.
    #[error("key or value too large")]
    TooLarge,
}

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

#[derive(Default)]
struct Shard {
    entries: HashMap<String, Entry>,
    bytes: usize,
    writes: u32,
}

impl Shard {
    /// Stores an entry, keeping the byte count; refuses to grow past
    /// [`SHARD_BYTES`] (after sweeping expired entries once).
    fn put(&mut self, key: String, entry: Entry, now: Instant) -> Result<(), KvError> {
        let added = key.len() + entry.value.len();
        let replaced = self
            .entries
            .get(&key)
            .map_or(0, |old| key.len() + old.value.len());
        if self.bytes - replaced + added > SHARD_BYTES {
            self.sweep(now);
            if self.bytes - replaced + added > SHARD_BYTES {
                return Err(KvError::TooLarge);
            }
        }
        self.bytes = self.bytes - replaced + added;
        self.entries.insert(key, entry);
        self.writes += 1;
        if self.writes >= SWEEP_EVERY {
            self.sweep(now);
        }
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.bytes -= key.len() + entry.value.len();
        Some(entry)
    }

    fn sweep(&mut self, now: Instant) {
        self.writes = 0;
        let mut freed = 0;
        self.entries.retain(|key, entry| {
            let live = entry.live(now);
            if !live {
                freed += key.len() + entry.value.len();
            }
            live
        });
        self.bytes -= freed;
    }
}

/// A sharded map of byte values with optional expiry.
pub struct KvStore {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
}

impl Default for KvStore {
    fn default() -> Self {
        KvStore::new()
    }
}

impl KvStore {
    /// An empty store.
    pub fn new() -> Self {
        KvStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// The live value under `key`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let now = Instant::now();
        let shard = self.shard(key).lock();
        shard
            .entries
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone())
    }

    /// Stores `value` under `key` for `ttl` (forever when `None`).
    pub fn set(&self, key: String, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), KvError> {
        if key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return Err(KvError::TooLarge);
        }
        let now = Instant::now();
        let mut shard = self.shard(&key).lock();
        let entry = Entry {
            value,
            expires: ttl.map(|ttl| now + ttl),
        };
        shard.put(key, entry, now)
    }

    /// Deletes `key`; whether a live value was there.
    pub(crate) fn delete(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut shard = self.shard(key).lock();
        shard.remove(key).is_some_and(|e| e.live(now))
    }

    /// Adds `delta` to the integer under `key` atomically. A new (or expired)
    /// key starts at 0 and expires after `ttl`; a live key keeps its expiry.
    pub fn increment(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
        if key.len() > MAX_KEY {
            return Err(KvError::TooLarge);
        }
        let now = Instant::now();
        let mut shard = self.shard(key).lock();
        let current = match shard.entries.get(key).filter(|e| e.live(now)) {
            Some(entry) => {
                let text = std::str::from_utf8(&entry.value).map_err(|_| KvError::NotANumber)?;
                let value: i64 = text.parse().map_err(|_| KvError::NotANumber)?;
                Some((value, entry.expires))
            }
            None => None,
        };
        let (value, expires) = match current {
            Some((value, expires)) => (value.saturating_add(delta), expires),
            None => (delta, ttl.map(|ttl| now + ttl)),
        };
        let entry = Entry {
            value: value.to_string().into_bytes(),
            expires,
        };
        shard.put(key.to_owned(), entry, now)?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_after_their_ttl() {
        let kv = KvStore::new();
        kv.set("a".into(), b"1".to_vec(), Some(Duration::from_millis(20)))
            .unwrap();
        kv.set("b".into(), b"2".to_vec(), None).unwrap();
        assert_eq!(kv.get("a"), Some(b"1".to_vec()));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(kv.get("a"), None);
        assert_eq!(kv.get("b"), Some(b"2".to_vec()));
    }

    #[test]
    fn increment_is_atomic_under_contention() {
        let kv = std::sync::Arc::new(KvStore::new());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let kv = kv.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        kv.increment("n", 1, None).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(kv.get("n"), Some(b"8000".to_vec()));
    }

    #[test]
    fn the_store_is_bounded_in_bytes() {
        let kv = KvStore::new();
        let value = vec![0u8; MAX_VALUE];
        let mut stored = 0;
        for i in 0..(SHARDS * SHARD_BYTES / MAX_VALUE + SHARDS) {
            if kv.set(format!("k{i}"), value.clone(), None).is_ok() {
                stored += 1;
            }
        }
        assert!(
            stored * MAX_VALUE <= SHARDS * SHARD_BYTES,
            "stored {stored} values"
        );
        assert!(stored > 0);
        // Deleting frees room again.
        let key = (0..)
            .map(|i| format!("k{i}"))
            .find(|k| kv.get(k).is_some())
            .unwrap();
        assert!(kv.delete(&key));
        assert_eq!(kv.set(key, vec![1], None), Ok(()));
    }

    #[test]
    fn increment_keeps_expiry_and_rejects_text() {
        let kv = KvStore::new();
        assert_eq!(kv.increment("w", 5, Some(Duration::from_millis(20))), Ok(5));
        assert_eq!(kv.increment("w", 1, Some(Duration::from_secs(60))), Ok(6));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            kv.increment("w", 1, None),
            Ok(1),
            "the first TTL still applied"
        );
        kv.set("t".into(), b"abc".to_vec(), None).unwrap();
        assert_eq!(kv.increment("t", 1, None), Err(KvError::NotANumber));
    }
}
