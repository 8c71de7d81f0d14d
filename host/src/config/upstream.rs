//! The `[upstreams.<name>]` table: where targets come from, how one is
//! chosen, how health is judged, timeouts, retries and upstream TLS.
//!
//! Every key has a documented default; targets and the hash header are
//! parsed as they are read ([`Checked`]); `upstream_check.rs` reports their
//! problems and validates what the types cannot express, called by
//! `validate`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::checked::Checked;
use super::target::Target;

/// An `[upstreams.<name>]` table. Exactly one of `targets`, `file`, `dns` and `etcd`
/// names the targets.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Static targets: `"host:port"` or `"host:port weight"` (weight 1 when
    /// omitted).
    #[serde(default)]
    pub targets: Vec<Checked<Target>>,
    /// Targets read from a file that is watched for changes.
    pub file: Option<FileDiscoveryConfig>,
    /// Targets resolved from DNS (A/AAAA or SRV).
    pub dns: Option<DnsDiscoveryConfig>,
    /// Targets read from an etcd key prefix and kept current by a watch.
    pub etcd: Option<super::etcd::EtcdDiscoveryConfig>,
    /// Balancing algorithm; `round_robin` by default.
    #[serde(default)]
    pub balance: Balance,
    /// What `consistent_hash` hashes; required by it, refused otherwise.
    pub hash_on: Option<HashOn>,
    /// Active health checks; off when absent.
    pub health: Option<HealthCheckConfig>,
    /// Passive outlier ejection; on by default.
    #[serde(default)]
    pub outlier: OutlierConfig,
    /// Time allowed to open a connection (TLS handshake included), ms.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Time allowed from sending the request to receiving response headers,
    /// per attempt, ms.
    #[serde(default = "default_response_timeout")]
    pub response_timeout_ms: u64,
    /// Idle keep-alive connections are closed after this long, ms.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_ms: u64,
    /// Idle keep-alive connections kept per target.
    #[serde(default = "default_idle_per_target")]
    pub max_idle_per_target: usize,
    /// Further attempts after a failed one, each to a different target.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Bounds retries to a share of the requests.
    #[serde(default)]
    pub retry_budget: RetryBudgetConfig,
    /// TLS to the targets; plain TCP when absent.
    pub tls: Option<UpstreamTlsConfig>,
    /// HTTP version spoken to the targets.
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    /// Bounds on requests in flight to the upstream.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
}

/// `circuit_breaker = { max_requests = 10000, max_pending = 1000 }`: past
/// either bound a request is refused at once (503 `upstream-overloaded`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Requests in flight to the upstream at once, from the first attempt
    /// to the end of the response body.
    #[serde(default = "default_breaker_requests")]
    pub max_requests: usize,
    /// Requests waiting at once for a new connection to a target (HTTP/1.1
    /// upstreams).
    #[serde(default = "default_breaker_pending")]
    pub max_pending: usize,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            max_requests: default_breaker_requests(),
            max_pending: default_breaker_pending(),
        }
    }
}

fn default_breaker_requests() -> usize {
    10_000
}
fn default_breaker_pending() -> usize {
    1_000
}

fn default_connect_timeout() -> u64 {
    2_000
}
fn default_response_timeout() -> u64 {
    30_000
}
fn default_idle_timeout() -> u64 {
    90_000
}
fn default_idle_per_target() -> usize {
    64
}
fn default_retries() -> u32 {
    1
}

/// `file = { path = "...", interval_ms = 1000 }`: a watched file of targets.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileDiscoveryConfig {
    /// The file; relative to the config file. `.json`: an array of
    /// `"host:port weight"` strings; otherwise one such target per line,
    /// `#` starts a comment.
    pub path: PathBuf,
    /// How often the file's modification time is polled, ms.
    #[serde(default = "default_file_interval")]
    pub interval_ms: u64,
}

fn default_file_interval() -> u64 {
    1_000
}

/// `dns = { name = "...", type = "a", port = 8080 }`: targets from DNS.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsDiscoveryConfig {
    /// The name resolved, e.g. `users.svc.example.` or `_http._tcp.users.example.`.
    pub name: String,
    /// Record type: `a` (A and AAAA) or `srv`.
    #[serde(default, rename = "type")]
    pub kind: DnsRecordKind,
    /// Port of every target, for `a` (SRV records carry their own).
    pub port: Option<u16>,
    /// Nameserver (`ip:port`, UDP then TCP); the system's resolver
    /// configuration when unset.
    pub server: Option<SocketAddr>,
    /// Re-resolve this often, ms; when unset, when the records' TTL expires
    /// (at least every second, at most every 5 minutes).
    pub interval_ms: Option<u64>,
}

/// The DNS record type a `dns` upstream resolves.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DnsRecordKind {
    /// A and AAAA records, with the configured port.
    #[default]
    A,
    /// SRV records: priority, weight, port and target name.
    Srv,
}

/// How a target is chosen for a request.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Smooth weighted round robin.
    #[default]
    RoundRobin,
    /// Fewest outstanding requests (per weight) of two random targets.
    LeastRequest,
    /// A hash ring on `hash_on`: the same key reaches the same target.
    ConsistentHash,
    /// Weighted random.
    Random,
}

/// What `consistent_hash` hashes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum HashOn {
    /// `{ header = "x-user" }`: a request header's value.
    Header(Checked<http::HeaderName>),
    /// `{ cookie = "session" }`: a cookie's value.
    Cookie(String),
    /// `"client_address"`: the client's IP address.
    ClientAddress,
}

/// `[upstreams.<name>.health]`: active HTTP health checks.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Path requested with `GET`.
    #[serde(default = "default_health_path")]
    pub path: String,
    /// Time between checks of a target, ms.
    #[serde(default = "default_health_interval")]
    pub interval_ms: u64,
    /// Time allowed for a check's response headers, ms.
    #[serde(default = "default_health_timeout")]
    pub timeout_ms: u64,
    /// Statuses that pass; any 2xx when empty.
    #[serde(default)]
    pub expected_status: Vec<u16>,
    /// Passing checks in a row that make an unhealthy target healthy.
    #[serde(default = "default_healthy_threshold")]
    pub healthy_threshold: u32,
    /// Failing checks in a row that make a healthy target unhealthy.
    #[serde(default = "default_unhealthy_threshold")]
    pub unhealthy_threshold: u32,
}

fn default_health_path() -> String {
    "/".into()
}
fn default_health_interval() -> u64 {
    5_000
}
fn default_health_timeout() -> u64 {
    1_000
}
fn default_healthy_threshold() -> u32 {
    2
}
fn default_unhealthy_threshold() -> u32 {
    3
}

/// `[upstreams.<name>.outlier]`: passive ejection of failing targets.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutlierConfig {
    /// Failures in a row (connect errors, resets, timeouts) that eject a
    /// target; `0` turns ejection off.
    pub consecutive_failures: u32,
    /// First ejection period, ms; doubled on each repeated ejection.
    pub ejection_ms: u64,
    /// Longest ejection period, ms.
    pub max_ejection_ms: u64,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            consecutive_failures: 5,
            ejection_ms: 10_000,
            max_ejection_ms: 300_000,
        }
    }
}

/// `retry_budget = { ratio = 0.2, min_per_sec = 10, window_ms = 10000 }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryBudgetConfig {
    /// Retries allowed per request over the window.
    pub ratio: f64,
    /// Retries always allowed per second, whatever the traffic.
    pub min_per_sec: u32,
    /// Length of the sliding window, ms.
    pub window_ms: u64,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.2,
            min_per_sec: 10,
            window_ms: 10_000,
        }
    }
}

/// `tls = { ... }`: TLS to the targets. `tls = {}` verifies against the
/// system's root certificates.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsConfig {
    /// PEM file of the CA certificates trusted instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Name sent as SNI and verified in the certificate; by default the
    /// `dns.name` of a DNS upstream, else the target's host.
    pub server_name: Option<String>,
    /// PEM client certificate chain, presented when the target asks.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// The HTTP version spoken to the targets.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    /// HTTP/1.1 with keep-alive.
    #[default]
    Http1,
    /// HTTP/2: negotiated by ALPN over TLS, prior knowledge without.
    H2,
}

impl UpstreamConfig {
    /// Resolves relative file paths against the config file's directory.
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        if let Some(file) = &mut self.file {
            resolve(&mut file.path);
        }
        if let Some(tls) = &mut self.tls {
            for path in [&mut tls.ca_file, &mut tls.client_cert, &mut tls.client_key]
                .into_iter()
                .flatten()
            {
                resolve(path);
            }
        }
    }
}
