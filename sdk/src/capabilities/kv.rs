//! Capability `kv`: a key-value store shared by every instance of this plugin
//! in the gateway (all routes), namespaced per plugin. In the gateway's
//! memory, or in Redis shared by every gateway instance (`[state]`); then a
//! call can fail with [`KvError::Unavailable`] while Redis is unreachable.
//!
//! ```
//! # let _host = portico_sdk::testing::MockHost::with_grants(&["kv"]);
//! use std::time::Duration;
//! use portico_sdk::kv;
//!
//! let hits = kv::increment("hits:alice", 1, Some(Duration::from_secs(60)))?;
//! assert_eq!(hits, 1);
//! kv::set("greeting", "hello", None)?;
//! assert_eq!(kv::get("greeting").as_deref(), Some(&b"hello"[..]));
//! # Ok::<(), portico_sdk::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use crate::imports::kv as host;

/// The store refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KvError {
    /// `increment` on a value that is not a decimal integer.
    NotANumber,
    /// The key or value exceeds the store's limits.
    TooLarge,
    /// The shared state backend cannot be reached and the route's plugin
    /// entry says `on_state_error = "fail"`; nothing was stored.
    Unavailable,
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KvError::NotANumber => "kv value is not a decimal integer",
            KvError::TooLarge => "kv key or value too large",
            KvError::Unavailable => "the shared state backend is unavailable",
        })
    }
}

impl std::error::Error for KvError {}

impl From<host::KvError> for KvError {
    fn from(err: host::KvError) -> Self {
        match err {
            host::KvError::NotANumber => KvError::NotANumber,
            host::KvError::TooLarge => KvError::TooLarge,
            host::KvError::Unavailable => KvError::Unavailable,
        }
    }
}

/// `None` (never) is 0 on the wire.
fn ttl_ms(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |ttl| super::ttl_ms(ttl).max(1))
}

/// The value stored under `key`, unless absent or expired.
pub fn get(key: &str) -> Option<Vec<u8>> {
    host::get(key)
}

/// Stores `value` under `key`, expiring after `ttl` (`None`: never).
pub fn set(key: &str, value: impl AsRef<[u8]>, ttl: Option<Duration>) -> Result<(), KvError> {
    host::set(key, value.as_ref(), ttl_ms(ttl)).map_err(KvError::from)
}

/// Deletes `key`; returns whether it existed.
pub fn delete(key: &str) -> bool {
    host::delete(key)
}

/// Atomically adds `delta` to the integer under `key` (absent counts as 0)
/// and returns the new value. A new key expires after `ttl` (`None`: never);
/// an existing key keeps its expiry.
pub fn increment(key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
    host::increment(key, delta, ttl_ms(ttl)).map_err(KvError::from)
}
