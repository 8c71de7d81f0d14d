//! The shared state backend: `kv` and `cache` in Redis, for every gateway
//! instance that points at the same server (`[state] backend = "redis"`).
//!
//! Each worker thread has its own `pool_size` multiplexed connections
//! (redis-rs' `ConnectionManager`, which reconnects by itself), used in
//! turn. A connection is opened on first use by the worker that uses it,
//! so its driver task runs on that worker's event loop: a call crosses no
//! thread, and the calls a worker makes in one turn of its loop go out in
//! one write (a pipeline). A gateway starts while Redis is down. Every call is bounded by
//! `timeout_ms`, connecting included. `increment` is one round trip: a
//! Lua script that adds and, when it created the key, sets its expiry, so
//! racing gateways each see a distinct count.
//!
//! An outage is tracked here (`Health`): the first failed call logs once
//! and sets `portico_state_backend_up` to 0; while it lasts, calls fail at
//! once (no request waits for a dead server) except one probe per backoff
//! period (100 ms doubling to 5 s); the first call that succeeds again
//! logs the recovery. What a failed call means to a plugin (fall back to
//! this instance's memory, or fail) is the caller's policy
//! (`capabilities.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::kv::{KvError, MAX_KEY, MAX_VALUE};
use crate::config::RedisConfig;
use crate::data::observe::metrics::{STATE_BACKEND_UP, STATE_ERRORS};
use crate::seal::Keyring;

/// The backend could not serve a call (unreachable, failing or too slow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// The Redis config could not be turned into a client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RedisSetupError(String);

/// Adds `ARGV[1]` to the integer at `KEYS[1]` and, when the key did not
/// exist, expires it after `ARGV[2]` ms (0: never). Not-a-number: nil.
const INCREMENT: &str = r"
local existed = redis.call('EXISTS', KEYS[1]) == 1
local ok, value = pcall(redis.call, 'INCRBY', KEYS[1], ARGV[1])
if not ok then return false end
local ttl = tonumber(ARGV[2])
if not existed and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return value
";

/// The `kv` and `cache` data of every plugin, in Redis.
pub struct RedisStore {
    client: redis::Client,
    manager: ConnectionManagerConfig,
    /// `pool_size` slots per worker shard, shard after shard.
    slots: Box<[Slot]>,
    pool_size: usize,
    next: AtomicUsize,
    timeout: Duration,
    prefix: String,
    increment: Script,
    health: Health,
    /// Where the store points, for logs (no credentials).
    target: String,
    /// Seals cache values (`[encryption]`); off: stored as they are.
    keyring: Arc<Keyring>,
}

/// One multiplexed connection, opened on first use.
struct Slot {
    connection: ArcSwapOption<ConnectionManager>,
    opening: tokio::sync::Mutex<()>,
}

impl RedisStore {
    /// A store for `config`, reading its password reference now, sealing
    /// cache values with `keyring` when it is on. Nothing is connected yet.
    pub fn new(config: &RedisConfig, keyring: Arc<Keyring>) -> Result<Self, RedisSetupError> {
        // rediss:// builds its TLS config from the process's provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut info: redis::ConnectionInfo = config
            .url
            .parse()
            .map_err(|e| RedisSetupError(format!("`{}`: {e}", config.url)))?;
        if let Some(username) = &config.username {
            info.redis.username = Some(username.clone());
        }
        if let Some(password) = &config.password {
            info.redis.password = Some(password.read().map_err(RedisSetupError)?);
        }
        let target = info.addr.to_string();
        let client = redis::Client::open(info).map_err(|e| RedisSetupError(e.to_string()))?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let pool_size = config.pool_size.max(1);
        let slots = (0..pool_size * crate::worker::shards())
            .map(|_| Slot {
                connection: ArcSwapOption::empty(),
                opening: tokio::sync::Mutex::new(()),
            })
            .collect();
        metrics::gauge!(STATE_BACKEND_UP).set(1.0);
        Ok(RedisStore {
            client,
            manager,
            slots,
            pool_size,
            next: AtomicUsize::new(0),
            timeout,
            prefix: config.key_prefix.clone(),
            increment: Script::new(INCREMENT),
            health: Health::default(),
            target,
            keyring,
        })
    }

    /// Whether the backend is serving (no outage being tracked).
    pub fn is_up(&self) -> bool {
        self.health.outage.lock().is_none()
    }

    /// Where the store points (`host:port`), for the admin API.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn key(&self, area: &str, plugin: &str, key: &str) -> String {
        let mut full =
            String::with_capacity(self.prefix.len() + area.len() + plugin.len() + key.len() + 2);
        full.push_str(&self.prefix);
        full.push_str(area);
        full.push(':');
        full.push_str(plugin);
        full.push(':');
        full.push_str(key);
        full
    }

    /// The next slot of this worker's share of the pool.
    fn slot(&self) -> &Slot {
        let shards = self.slots.len() / self.pool_size;
        let shard = crate::worker::current() % shards;
        let turn = if self.pool_size == 1 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % self.pool_size
        };
        &self.slots[shard * self.pool_size + turn]
    }

    /// `slot`'s connection, opened if it is not yet.
    async fn connection(&self, slot: &Slot) -> redis::RedisResult<ConnectionManager> {
        if let Some(open) = slot.connection.load_full() {
            return Ok((*open).clone());
        }
        let _opening = slot.opening.lock().await;
        if let Some(open) = slot.connection.load_full() {
            return Ok((*open).clone());
        }
        let open =
            ConnectionManager::new_with_config(self.client.clone(), self.manager.clone()).await?;
        slot.connection.store(Some(Arc::new(open.clone())));
        Ok(open)
    }

    /// Runs `call` on a connection within the timeout, tracking outages.
    async fn call<T, F>(
        &self,
        op: &'static str,
        call: impl FnOnce(ConnectionManager) -> F,
    ) -> Result<T, Unavailable>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let Some(probe) = self.health.may_try() else {
            return Err(Unavailable);
        };
        let slot = self.slot();
        let outcome = tokio::time::timeout(self.timeout, async {
            let connection = self.connection(slot).await?;
            call(connection).await
        })
        .await;
        let problem = match outcome {
            Ok(Ok(value)) => {
                self.health.succeeded(&self.target);
                return Ok(value);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
        };
        // A connection that failed is not trusted again: the manager's own
        // reconnect answers its first call after a break with the error,
        // so a probe through it would fail even with Redis back. The next
        // call on this slot opens a new one within the timeout. An outage
        // that starts drops every slot's, for the same reason.
        slot.connection.store(None);
        if self.health.failed(&self.target, op, &problem, probe) {
            for slot in &self.slots {
                slot.connection.store(None);
            }
        }
        Err(Unavailable)
    }

    /// `kv.get`.
    pub async fn kv_get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, Unavailable> {
        let key = self.key("kv", plugin, key);
        self.call("kv_get", |mut c| async move { c.get(key).await })
            .await
    }

    /// `kv.set`.
    pub async fn kv_set(
        &self,
        plugin: &str,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<Result<(), KvError>, Unavailable> {
        if key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return Ok(Err(KvError::TooLarge));
        }
        let key = self.key("kv", plugin, key);
        self.call("kv_set", |mut c| async move {
            match ttl {
                Some(ttl) => c.pset_ex(key, value, millis(ttl)).await,
                None => c.set(key, value).await,
            }
        })
        .await
        .map(Ok)
    }

    /// `kv.delete`.
    pub async fn kv_delete(&self, plugin: &str, key: &str) -> Result<bool, Unavailable> {
        let key = self.key("kv", plugin, key);
        self.call("kv_delete", |mut c| async move {
            c.del::<_, u64>(key).await.map(|n| n > 0)
        })
        .await
    }

    /// `kv.increment`: one round trip, atomic across gateways.
    pub async fn kv_increment(
        &self,
        plugin: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<Result<i64, KvError>, Unavailable> {
        if key.len() > MAX_KEY {
            return Ok(Err(KvError::TooLarge));
        }
        let key = self.key("kv", plugin, key);
        let ttl_ms = ttl.map_or(0, millis);
        let script = &self.increment;
        let value: Option<i64> = self
            .call("kv_increment", |mut c| async move {
                script
                    .key(key)
                    .arg(delta)
                    .arg(ttl_ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(value.ok_or(KvError::NotANumber))
    }

    /// `cache.get`. With encryption on, a value that does not open (sealed
    /// under a key no longer configured, written before encryption was
    /// turned on, or altered in Redis) is a miss.
    pub async fn cache_get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, Unavailable> {
        let key = self.key("cache", plugin, key);
        // The key is the sealed value's context; copied only when sealing.
        let context = self.keyring.is_on().then(|| key.clone());
        let value: Option<Vec<u8>> = self
            .call("cache_get", |mut c| async move { c.get(key).await })
            .await?;
        let Some(context) = context else {
            return Ok(value);
        };
        Ok(value.and_then(
            |sealed| match self.keyring.open(context.as_bytes(), &sealed) {
                Ok(plain) => Some(plain),
                Err(error) => {
                    tracing::debug!(%error, "shared cache: a value that does not open is a miss");
                    None
                }
            },
        ))
    }

    /// `cache.set`: `ttl` at least 1 ms; values over `max_entry` bytes are
    /// dropped, as the memory cache does.
    pub async fn cache_set(
        &self,
        plugin: &str,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
        max_entry: usize,
    ) -> Result<(), Unavailable> {
        if value.len() > max_entry {
            return Ok(());
        }
        let key = self.key("cache", plugin, key);
        // Bound to its key: a value copied under another key does not open.
        let value = self.keyring.seal(key.as_bytes(), &value).unwrap_or(value);
        let ttl = millis(ttl).max(1);
        self.call("cache_set", |mut c| async move {
            c.pset_ex(key, value, ttl).await
        })
        .await
    }

    /// `cache.delete`.
    pub async fn cache_delete(&self, plugin: &str, key: &str) -> Result<(), Unavailable> {
        let key = self.key("cache", plugin, key);
        self.call("cache_delete", |mut c| async move {
            c.del::<_, u64>(key).await.map(|_| ())
        })
        .await
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// First backoff after a failure; doubled per failed probe up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two probes of a backend that is down.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The backend's outage, if one is going on.
#[derive(Default)]
struct Health {
    outage: Mutex<Option<Outage>>,
}

struct Outage {
    since: Instant,
    next_probe: Instant,
    backoff: Duration,
}

impl Health {
    /// Whether a call may go to the backend now: always while it is up
    /// (`Some(false)`); during an outage, one call per backoff period, the
    /// probe (`Some(true)`).
    fn may_try(&self) -> Option<bool> {
        let mut outage = self.outage.lock();
        match outage.as_mut() {
            None => Some(false),
            Some(outage) => {
                let now = Instant::now();
                if now < outage.next_probe {
                    return None;
                }
                outage.next_probe = now + outage.backoff;
                Some(true)
            }
        }
    }

    fn succeeded(&self, target: &str) {
        let mut outage = self.outage.lock();
        if let Some(ended) = outage.take() {
            metrics::gauge!(STATE_BACKEND_UP).set(1.0);
            tracing::info!(
                target_addr = target,
                down_ms = ended.since.elapsed().as_millis() as u64,
                "shared state backend reachable again"
            );
        }
    }

    /// Records a failed call (`probe`: the one call of a backoff period);
    /// true when it starts an outage. Only a failed probe lengthens the
    /// backoff: calls that were in flight when the backend went away fail
    /// together and say nothing more.
    fn failed(&self, target: &str, op: &'static str, error: &str, probe: bool) -> bool {
        metrics::counter!(STATE_ERRORS, "op" => op).increment(1);
        let mut outage = self.outage.lock();
        let now = Instant::now();
        match outage.as_mut() {
            Some(outage) => {
                if probe {
                    outage.backoff = (outage.backoff * 2).min(MAX_BACKOFF);
                    outage.next_probe = now + outage.backoff;
                }
                false
            }
            None => {
                metrics::gauge!(STATE_BACKEND_UP).set(0.0);
                tracing::error!(
                    target_addr = target,
                    op,
                    error,
                    "shared state backend unreachable: kv and cache calls follow each plugin's on_state_error until it is back"
                );
                *outage = Some(Outage {
                    since: now,
                    next_probe: now + FIRST_BACKOFF,
                    backoff: FIRST_BACKOFF,
                });
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_probed_once_per_backoff_and_ends_on_success() {
        let health = Health::default();
        assert_eq!(health.may_try(), Some(false));
        assert!(
            health.failed("t", "kv_get", "refused", false),
            "starts an outage"
        );
        // Calls that were in flight fail too, without lengthening the wait.
        assert!(!health.failed("t", "kv_get", "refused", false));
        assert_eq!(
            health.outage.lock().as_ref().map(|o| o.backoff),
            Some(FIRST_BACKOFF)
        );
        assert_eq!(
            health.may_try(),
            None,
            "within the first backoff: fail fast"
        );
        {
            let mut outage = health.outage.lock();
            outage.as_mut().expect("down").next_probe = Instant::now();
        }
        assert_eq!(health.may_try(), Some(true), "the probe");
        assert_eq!(health.may_try(), None, "one probe per period");
        assert!(!health.failed("t", "kv_get", "refused", true));
        assert_eq!(
            health.outage.lock().as_ref().map(|o| o.backoff),
            Some(FIRST_BACKOFF * 2)
        );
        health.succeeded("t");
        assert_eq!(health.may_try(), Some(false));
        assert!(health.outage.lock().is_none());
    }

    #[test]
    fn credentials_come_from_the_reference_not_the_url() {
        let config = RedisConfig {
            url: "redis://127.0.0.1:1/2".into(),
            username: Some("portico".into()),
            password: Some(crate::config::SecretRef::Env(
                "PORTICO_TEST_UNSET_VAR".into(),
            )),
            pool_size: 1,
            timeout_ms: 10,
            key_prefix: "p:".into(),
        };
        let error = RedisStore::new(&config, Arc::default())
            .err()
            .expect("unset variable");
        assert!(
            error.to_string().contains("PORTICO_TEST_UNSET_VAR"),
            "{error}"
        );
    }
}
