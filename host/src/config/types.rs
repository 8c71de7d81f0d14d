//! The config file's schema. Every table rejects unknown keys.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::UpstreamConfig;
use super::checked::{Checked, HostMatch, PathRegex};
use super::limits::LimitsConfig;
use super::monitor::{AlertRule, AlertingConfig, AnalyticsConfig};
use super::observability::ObservabilityConfig;
use super::state::StateConfig;
use super::tls::TlsConfig;

/// The whole config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; must be `1`.
    pub version: u32,
    /// Directory holding plugin components (`<name>.wasm`).
    #[serde(default = "default_plugin_dir")]
    pub plugin_dir: PathBuf,
    /// Plugin runtime limits.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// What clients may send (sizes, counts, timeouts), for every listener
    /// unless the listener sets its own; see `config::limits`.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Where the gateway accepts traffic.
    pub listeners: Vec<ListenerConfig>,
    /// Named sets of upstream targets.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// Routes, matched by the precedence rule in the README.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// The analytics store (per-minute rollups in SQLite).
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    /// Where alert transitions are delivered.
    #[serde(default)]
    pub alerting: AlertingConfig,
    /// Alert rules, evaluated every second from the live stats.
    #[serde(default)]
    pub alerts: Vec<AlertRule>,
    /// The admin listener (loaded plugins, active chains, reloads); none
    /// when the table is absent.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// Watching the config file and plugin directory for changes.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// Access log, metrics and tracing.
    #[serde(default)]
    pub observability: ObservabilityConfig,
    /// `[state]`: where `kv` and `cache` keep their data (this process,
    /// or Redis shared by every instance).
    #[serde(default)]
    pub state: StateConfig,
    /// `[etcd]`: the etcd cluster that `etcd` discovery reads; for a config
    /// read from `etcd://`, that location's cluster when absent.
    #[serde(default)]
    pub etcd: Option<super::etcd::EtcdConfig>,
    /// `[encryption]`: the keys sealing personal data at rest (analytics
    /// consumers, audit addresses, cache values in Redis); nothing is
    /// sealed when absent.
    #[serde(default)]
    pub encryption: Option<super::encryption::EncryptionConfig>,
    /// The file this config was read from (set by the loader).
    #[serde(skip)]
    pub source: PathBuf,
}

fn default_plugin_dir() -> PathBuf {
    PathBuf::from("plugins")
}

/// The `[admin]` table: a listener for operators, separate from traffic.
/// Without credentials (tokens, or client certificates over its own TLS)
/// it binds loopback unless told otherwise.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address to bind; `127.0.0.1:9901` when unset.
    #[serde(default = "default_admin_addr")]
    pub addr: SocketAddr,
    /// Must be `true` to bind a non-loopback address: anyone who reaches
    /// the admin listener can reload the gateway and roll plugins back.
    #[serde(default)]
    pub allow_non_loopback: bool,
    /// Most admin connections open at once; more are closed as soon as
    /// they are accepted.
    #[serde(default = "default_admin_max_connections")]
    pub max_connections: usize,
    /// Bearer tokens; with any, every endpoint but `/healthz` needs one.
    #[serde(default)]
    pub tokens: Vec<crate::config::admin::AdminToken>,
    /// TLS on the admin listener; with `client_ca`, client certificates
    /// (mTLS) are verified and matched against `clients`.
    pub tls: Option<super::TlsConfig>,
    /// Client certificates that may use the admin API, each with a role.
    #[serde(default)]
    pub clients: Vec<crate::config::admin::AdminClient>,
    /// The hash-chained audit log of admin actions and config changes.
    pub audit: Option<crate::config::admin::AuditConfig>,
}

fn default_admin_max_connections() -> usize {
    64
}

fn default_admin_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9901))
}

/// The `[reload]` table: what is watched for live changes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReloadConfig {
    /// Watch the config file and the plugin directory (`SIGHUP` and the
    /// admin `POST /reload` work either way).
    pub watch: bool,
    /// How often the files are checked, ms.
    pub interval_ms: u64,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        ReloadConfig {
            watch: true,
            interval_ms: 250,
        }
    }
}

/// The `[runtime]` table: bounds on every plugin instance.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Live instances the gateway may hold at once, across plugins.
    pub max_instances: u32,
    /// Linear memory limit per instance, MiB.
    pub memory_limit_mb: u32,
    /// Guest execution time allowed per phase call, ms.
    pub deadline_ms: u64,
    /// Time allowed to make a new instance and run its `init` (the config
    /// check), ms: an interpreter-based guest pages in a large heap snapshot
    /// first, so this bound is looser than `deadline_ms`.
    pub init_deadline_ms: u64,
    /// Directory for compiled components; `.portico/cache` beside the config
    /// when unset.
    pub cache_dir: Option<PathBuf>,
    /// Worker threads serving traffic, each with its own listener sockets
    /// (`SO_REUSEPORT`), event loop, upstream connections and plugin
    /// instances; 0 (the default) means one per CPU the process may run on.
    pub workers: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_instances: 1000,
            memory_limit_mb: 64,
            deadline_ms: 50,
            init_deadline_ms: 1000,
            cache_dir: None,
            workers: 0,
        }
    }
}

/// A `[[listeners]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Listener name, for logs.
    pub name: String,
    /// Address to bind, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Terminate TLS on this listener (HTTPS); plain HTTP when unset.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Limits for this listener; each key set here wins over `[limits]`.
    #[serde(default)]
    pub limits: Option<LimitsConfig>,
}

/// A `[[routes]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Unique route name (logs, errors, metrics).
    pub name: String,
    /// Hosts matched: exact (`api.example.com`) or wildcard
    /// (`*.example.com`, one or more labels). Empty: any host.
    #[serde(default)]
    pub hosts: Vec<Checked<HostMatch>>,
    /// Path match; a prefix of `/` when unset.
    #[serde(default)]
    pub path: PathMatchConfig,
    /// Methods matched; empty: any.
    #[serde(default)]
    pub methods: Vec<Checked<http::Method>>,
    /// Headers that must be present with exactly these values, by name.
    #[serde(default, deserialize_with = "header_conditions")]
    pub headers: Vec<HeaderCondition>,
    /// The upstream requests are forwarded to.
    pub upstream: String,
    /// The plugin chain, run in this order on requests.
    #[serde(default)]
    pub plugins: Vec<PluginRef>,
    /// Largest body a plugin may read, bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    /// Time allowed for the whole upstream exchange (every attempt, until
    /// response headers), ms; unbounded beyond the upstream's own timeouts
    /// when unset. On expiry the client gets 504.
    pub timeout_ms: Option<u64>,
}

fn default_max_body() -> u64 {
    1024 * 1024
}

/// A header a route requires, with the value it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderCondition {
    /// The header's name.
    pub name: Checked<http::HeaderName>,
    /// The value one of its fields must have.
    pub value: Checked<http::HeaderValue>,
}

/// `headers = { name = value, .. }`, in name order.
fn header_conditions<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<HeaderCondition>, D::Error> {
    let map = BTreeMap::<String, String>::deserialize(deserializer)?;
    Ok(map
        .into_iter()
        .map(|(name, value)| HeaderCondition {
            name: Checked::parse(name),
            value: Checked::parse(value),
        })
        .collect())
}

/// How a route matches the request path: a table with exactly one of
/// `exact`, `prefix` or `regex`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatchConfig {
    /// The whole path equals this.
    Exact(String),
    /// The path starts with these segments: `/api` matches `/api` and
    /// `/api/x`, not `/apix`.
    Prefix(String),
    /// The whole path matches this regex; named groups become route params.
    Regex(Checked<PathRegex>),
}

impl<'de> Deserialize<'de> for PathMatchConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};

        const ONE_OF: &str = "set exactly one of `exact`, `prefix` or `regex`";

        /// An unknown key's value: refused inside the value, so the error's
        /// path names the key itself.
        struct UnknownKey;
        impl<'de> Deserialize<'de> for UnknownKey {
            fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                Err(de::Error::custom(
                    "unknown key: a path matches by `exact`, `prefix` or `regex`",
                ))
            }
        }

        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = PathMatchConfig;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table with one of `exact`, `prefix` or `regex`")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    let kind: fn(String) -> PathMatchConfig = match key.as_str() {
                        "exact" => PathMatchConfig::Exact,
                        "prefix" => PathMatchConfig::Prefix,
                        "regex" => |pattern| PathMatchConfig::Regex(Checked::parse(pattern)),
                        _ => {
                            map.next_value::<UnknownKey>()?;
                            continue;
                        }
                    };
                    let value: String = map.next_value()?;
                    if found.replace(kind(value)).is_some() {
                        return Err(de::Error::custom(ONE_OF));
                    }
                }
                found.ok_or_else(|| de::Error::custom(ONE_OF))
            }
        }

        deserializer.deserialize_map(Table)
    }
}

impl Default for PathMatchConfig {
    fn default() -> Self {
        PathMatchConfig::Prefix("/".into())
    }
}

/// One plugin in a route's chain.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    /// Plugin name: the file `<plugin_dir>/<name>.wasm`.
    pub name: String,
    /// Host capabilities granted to the plugin on this route.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Instance model.
    #[serde(default)]
    pub instance: InstanceMode,
    /// What happens to the request when the plugin fails.
    #[serde(default)]
    pub on_failure: FailureMode,
    /// What the plugin's `kv` and `cache` calls do while a shared state
    /// backend (`[state] backend = "redis"`) cannot be reached.
    #[serde(default)]
    pub on_state_error: StateErrorPolicy,
    /// The grant of the `http` capability: where the plugin may send
    /// requests, with their timeout and size bounds.
    pub http: Option<super::outbound::HttpGrantConfig>,
    /// Pooled instances are discarded after this many requests.
    #[serde(default = "default_max_uses")]
    pub max_uses: u32,
    /// Pooled instances whose memory grew past this many MiB are discarded
    /// after their request.
    #[serde(default = "default_recycle_memory")]
    pub recycle_memory_mb: u32,
    /// The plugin's own config, handed to its `init` as JSON.
    #[serde(default)]
    pub config: toml::Table,
    /// Files whose text is inserted into `config` when the plugin loads, by
    /// key: `config_files = { jwks = "keys/jwks.json" }` gives the plugin a
    /// `jwks` string holding that file (plugins cannot read files). Paths
    /// are relative to the config file; a key may not also be in `config`.
    #[serde(default)]
    pub config_files: BTreeMap<String, PathBuf>,
}

fn default_max_uses() -> u32 {
    10_000
}
fn default_recycle_memory() -> u32 {
    16
}

pub use portico_contract::Capability;

/// Instance model of a plugin on a route.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InstanceMode {
    /// Instances are reused across requests (one request at a time each) and
    /// discarded after a failure, `max_uses` requests, or memory growth past
    /// `recycle_memory_mb`. The default: see the README for the measurements.
    #[default]
    Pooled,
    /// A fresh instance for every request, `init` included: nothing survives
    /// from one request to the next.
    Fresh,
}

/// What a plugin's `kv` and `cache` calls do while the shared state backend
/// is unreachable or slower than its timeout.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StateErrorPolicy {
    /// Fall back to this instance's own memory until the backend is back
    /// (a rate limit counts locally: fail open).
    #[default]
    Local,
    /// `kv` calls fail with `unavailable` (`get` reads as absent), `cache`
    /// is a miss (a rate limit answers 503: fail closed).
    Fail,
}

/// What a plugin failure does to its request.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// The request fails with 500/503 naming the plugin.
    #[default]
    Closed,
    /// The plugin is skipped and the request goes on (logged).
    Open,
}
