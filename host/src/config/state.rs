//! The `[state]` table: where the `kv` and `cache` capabilities keep their
//! data, and the secret references its credentials are read from.
//!
//! ```toml
//! [state]
//! backend = "redis"                         # "memory" (the default): this process only
//!
//! [state.redis]
//! url = "redis://10.0.0.7:6379/0"           # rediss:// for TLS
//! username = "portico"                      # ACL user (optional)
//! password = { env = "PORTICO_REDIS_PASSWORD" }   # or { file = "secrets/redis-password" }
//! pool_size = 1                             # multiplexed connections per worker thread
//! timeout_ms = 50                           # per call; beyond it the call fails
//! key_prefix = "portico:"                   # every key starts with it
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[state]`: the backend of `kv` and `cache`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Where the data lives.
    #[serde(default)]
    pub backend: StateBackend,
    /// The Redis server, for `backend = "redis"`.
    pub redis: Option<RedisConfig>,
}

/// Where `kv` and `cache` keep their data.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StateBackend {
    /// In this process: every gateway instance has its own.
    #[default]
    Memory,
    /// In a Redis server shared by every instance.
    Redis,
}

/// `[state.redis]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db` or `rediss://` (TLS, verified against the
    /// system's roots); credentials do not belong here.
    pub url: String,
    /// The ACL user (`AUTH username password`).
    pub username: Option<String>,
    /// The password, by reference.
    pub password: Option<SecretRef>,
    /// Multiplexed connections per worker thread, used in turn.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Time allowed for one call (connecting included), ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Prepended to every key.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

fn default_pool_size() -> usize {
    1
}

fn default_timeout_ms() -> u64 {
    50
}

fn default_key_prefix() -> String {
    "portico:".to_owned()
}

/// A secret named, not written, in the config: an environment variable or
/// a file (relative to the config's directory), read when the gateway
/// starts.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SecretRef {
    /// `{ env = "NAME" }`.
    Env(String),
    /// `{ file = "path" }`: the file's contents, without a trailing newline.
    File(PathBuf),
    /// `{ secret = "env:NAME" }` or `{ secret = "file:path" }`: the form
    /// plugin configs use (see `config::secrets`).
    Secret(String),
}

impl SecretRef {
    /// The secret's value.
    pub fn read(&self) -> Result<String, String> {
        match self {
            SecretRef::Env(name) => std::env::var(name)
                .map_err(|_| format!("environment variable `{name}` is not set (or not UTF-8)")),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|text| text.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
            SecretRef::Secret(reference) => super::secrets::read_reference(reference),
        }
    }

    /// A file reference made absolute against `base`.
    pub(crate) fn resolve(&mut self, base: &Path) {
        match self {
            SecretRef::File(path) if path.is_relative() => *path = base.join(&*path),
            SecretRef::Secret(reference) => {
                *reference = super::secrets::resolve_reference(reference, base);
            }
            _ => {}
        }
    }
}

/// Problems of `[state]`: a key under `state` and a message.
pub(crate) fn check(state: &StateConfig) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut add = |key: &str, message: String| found.push((format!("state{key}"), message));
    match (state.backend, &state.redis) {
        (StateBackend::Redis, None) => add(
            ".redis",
            "required by `backend = \"redis\"` (at least `url`)".into(),
        ),
        (StateBackend::Memory, Some(_)) => {
            add(".redis", "only used with `backend = \"redis\"`".into())
        }
        _ => {}
    }
    if let Some(redis) = &state.redis {
        let scheme = redis.url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("redis" | "rediss")) {
            add(
                ".redis.url",
                format!("`{}` is not a redis:// or rediss:// URL", redis.url),
            );
        } else if redis.url.contains('@') {
            add(
                ".redis.url",
                "credentials do not belong in the URL: use `username` and `password = { env = .. }`"
                    .into(),
            );
        }
        if redis.pool_size == 0 || redis.pool_size > 64 {
            add(".redis.pool_size", "must be between 1 and 64".into());
        }
        if redis.timeout_ms == 0 {
            add(".redis.timeout_ms", "must be at least 1".into());
        }
        if let Some(password) = &redis.password
            && let Err(problem) = password.read()
        {
            add(".redis.password", problem);
        }
    }
    found
}
