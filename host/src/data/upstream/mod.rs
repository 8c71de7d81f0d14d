//! Upstreams: named sets of targets, kept current by service discovery,
//! balanced, health-checked, and reached through a pooled client with
//! timeouts, retries and optional TLS.
//!
//! One concern per module, after Pingora's load-balancing crate:
//! - [`target`] and [`backend`]: an address with weight and priority, and
//!   its live state;
//! - [`discovery`]: the [`ServiceDiscovery`](discovery::ServiceDiscovery)
//!   trait and its providers (static, watched file, DNS A/AAAA and SRV);
//! - [`set`]: the current target set, swapped atomically;
//! - [`balance`]: the algorithms (round robin, least request, consistent
//!   hash, random);
//! - [`health`]: active checks and passive outlier ejection;
//! - [`exchange`]: one request with its attempts, retries and [`budget`];
//! - [`connector`], [`client`], [`tls`]: connections, pool and upstream TLS;
//! - [`stats`]: counters, also exported as metrics.

pub mod backend;
pub mod balance;
pub mod breaker;
pub mod budget;
pub mod client;
pub mod connector;
pub mod discovery;
pub mod exchange;
pub mod health;
mod idle;
pub mod pool;
pub mod replay;
pub mod set;
pub mod stats;
pub mod tls;

use breaker::Breaker;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;

/// Targets are parsed with the config (`config::target`).
pub use crate::config::target::{self, Target};
pub use stats::{StatsSnapshot, UpstreamStats};

use crate::config::{HashOn, UpstreamConfig, UpstreamProtocol};
use crate::etcd::Etcd;
use budget::RetryBudget;
use client::UpstreamClient;
use connector::Connector;
use discovery::{
    DiscoveryError, DnsDiscovery, EtcdDiscovery, FileDiscovery, ServiceDiscovery, StaticList,
};
use health::{HealthChecker, OutlierDetector};
use pool::Http1Pool;
use set::Targets;
use tls::TlsError;

/// Retry delay for DNS discovery that failed, when no interval is set.
const DNS_RETRY: Duration = Duration::from_secs(5);
/// Retry delay for an etcd watch that failed (etcd down or restarting).
const ETCD_RETRY: Duration = Duration::from_secs(1);

/// An upstream could not be built from its config.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Its TLS files or settings are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Its targets file or DNS name cannot be read.
    #[error(transparent)]
    Discovery(DiscoveryError),
    /// A static target the config refused (validation reports it first).
    #[error("`targets[{index}]`: {problem}")]
    Target {
        /// Its index in `targets`.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
}

impl UpstreamError {
    /// The config key under `upstreams.<name>` the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            UpstreamError::Tls(error) => error.key(),
            UpstreamError::Discovery(DiscoveryError::Dns { .. }) => "dns",
            UpstreamError::Discovery(_) => "file.path",
            UpstreamError::Target { .. } => "targets",
        }
    }
}

/// Why a request to an upstream got no response; the proxy turns it into
/// the client's (see `error::ProxyError`).
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No connection to a target could be made, or it failed mid-request.
    #[error("upstream `{upstream}` unreachable: {reason}")]
    Unreachable {
        /// Upstream name.
        upstream: String,
        /// What failed.
        reason: String,
    },
    /// Every target is unhealthy or ejected (or discovery found none).
    #[error("upstream `{upstream}` has no healthy target")]
    NoHealthyTarget {
        /// Upstream name.
        upstream: String,
    },
    /// No response headers within the response timeout.
    #[error("upstream `{upstream}` sent no response within {after:?}")]
    Timeout {
        /// Upstream name.
        upstream: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The circuit breaker refused the request.
    #[error("upstream `{upstream}` at its circuit breaker's {bound} ({limit})")]
    Overloaded {
        /// Upstream name.
        upstream: String,
        /// `max_requests` or `max_pending`.
        bound: &'static str,
        /// The bound's value.
        limit: usize,
    },
    /// A target address could not be made into a request URI.
    #[error("cannot build an upstream URI for `{0}`")]
    Uri(String),
}

/// How an upstream's requests reach its targets.
enum Transport {
    /// HTTP/1.1 (plain or TLS): the gateway's own keep-alive pool.
    Http1(Arc<Http1Pool>),
    /// HTTP/2: hyper-util's pooled client (one multiplexed connection per
    /// target).
    Legacy(Box<UpstreamClient>),
}

/// A named upstream.
pub struct Upstream {
    name: Arc<str>,
    targets: Arc<Targets>,
    transport: Transport,
    scheme: &'static str,
    hash_on: Option<HashOn>,
    response_timeout: Duration,
    retries: u32,
    budget: RetryBudget,
    outlier: OutlierDetector,
    stats: Arc<UpstreamStats>,
    breaker: Arc<Breaker>,
    tasks: Vec<AbortHandle>,
}

impl Upstream {
    /// Builds an upstream: its pool, its first target set, and the tasks
    /// that keep the set current and check health (stopped when the
    /// upstream is dropped). A DNS upstream whose first lookup fails starts
    /// with no targets and keeps trying, and so does an etcd upstream whose
    /// cluster (`etcd`, the config's `[etcd]`) does not answer.
    pub async fn build(
        name: &str,
        config: &UpstreamConfig,
        etcd: Option<&Etcd>,
    ) -> Result<Self, UpstreamError> {
        let name: Arc<str> = name.into();
        let dns_name = config.dns.as_ref().map(|dns| dns.name.as_str());
        let tls = config
            .tls
            .as_ref()
            .map(|tls| tls::load(tls, config.protocol, dns_name))
            .transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let stats = Arc::new(UpstreamStats::new(&name));
        let breaker = Breaker::new(&name, &config.circuit_breaker);
        let transport = match config.protocol {
            UpstreamProtocol::Http1 => Transport::Http1(Arc::new(Http1Pool::new(
                Connector::new(
                    tls.clone(),
                    Duration::from_millis(config.connect_timeout_ms),
                    Some(stats.clone()),
                ),
                Duration::from_millis(config.idle_timeout_ms),
                config.max_idle_per_target,
                stats.clone(),
                breaker.clone(),
            ))),
            UpstreamProtocol::H2 => Transport::Legacy(Box::new(client::build(
                config,
                tls.clone(),
                Some(stats.clone()),
            ))),
        };
        let targets = Arc::new(Targets::new(config.balance));

        let (provider, retry): (Arc<dyn ServiceDiscovery>, Duration) =
            if let Some(file) = &config.file {
                let interval = Duration::from_millis(file.interval_ms);
                (
                    Arc::new(FileDiscovery::new(file.path.clone(), interval)),
                    interval,
                )
            } else if let Some(discovery) = &config.etcd {
                let cluster = etcd.ok_or_else(|| {
                    UpstreamError::Discovery(DiscoveryError::Etcd {
                        prefix: discovery.prefix.clone(),
                        reason: "no `[etcd]` cluster is configured".into(),
                    })
                })?;
                let provider = EtcdDiscovery::new(&name, cluster.clone(), &discovery.prefix);
                (Arc::new(provider), ETCD_RETRY)
            } else if let Some(dns) = &config.dns {
                let provider = DnsDiscovery::new(dns).map_err(UpstreamError::Discovery)?;
                let retry = dns.interval_ms.map_or(DNS_RETRY, Duration::from_millis);
                (Arc::new(provider), retry)
            } else {
                let list = config
                    .targets
                    .iter()
                    .enumerate()
                    .map(|(index, target)| {
                        target
                            .value()
                            .cloned()
                            .map_err(|problem| UpstreamError::Target {
                                index,
                                problem: problem.to_owned(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (Arc::new(StaticList(list)), Duration::MAX)
            };
        let next = match provider.discover().await {
            Ok(found) => {
                targets.update(found.targets.unwrap_or_default());
                found.next
            }
            Err(error @ (DiscoveryError::Dns { .. } | DiscoveryError::Etcd { .. })) => {
                tracing::warn!(upstream = %name, %error, "target discovery failed; starting with no targets");
                Some(retry)
            }
            Err(error) => return Err(UpstreamError::Discovery(error)),
        };
        let mut tasks = Vec::new();
        if let Some(first) = next {
            let watch = discovery::watch(name.clone(), provider, targets.clone(), first, retry);
            tasks.push(tokio::spawn(watch).abort_handle());
        }
        if let Some(health) = &config.health {
            let check_client = client::build(config, tls, None);
            let checker = HealthChecker::new(name.clone(), check_client, scheme, health);
            tasks.push(tokio::spawn(checker.run(targets.clone())).abort_handle());
        }
        Ok(Upstream {
            name,
            targets,
            transport,
            scheme,
            hash_on: config.hash_on.clone(),
            response_timeout: Duration::from_millis(config.response_timeout_ms),
            retries: config.retries,
            budget: RetryBudget::new(&config.retry_budget),
            outlier: OutlierDetector::new(&config.outlier),
            stats,
            breaker,
            tasks,
        })
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current targets, lowest priority first.
    pub fn targets(&self) -> Vec<Target> {
        self.targets
            .load()
            .backends()
            .map(|b| b.target.clone())
            .collect()
    }

    /// The circuit breaker's counts now.
    pub fn breaker_state(&self) -> breaker::BreakerState {
        self.breaker.state()
    }

    /// Every current target with its health, lowest priority first.
    pub fn target_states(&self) -> Vec<health::TargetHealth> {
        let now = health::now_ms();
        self.targets
            .load()
            .backends()
            .map(|b| health::TargetHealth {
                addr: b.target.addr.clone(),
                weight: b.target.weight,
                priority: b.target.priority,
                healthy: b.health.is_healthy(),
                ejected: b.health.outlier.is_ejected(now),
                available: b.is_available(),
                in_flight: b.in_flight(),
            })
            .collect()
    }

    /// Each current target's address and whether it is available (healthy
    /// by the active checks and not ejected).
    pub fn target_health(&self) -> Vec<(String, bool)> {
        self.targets
            .load()
            .backends()
            .map(|b| (b.target.addr.to_string(), b.is_available()))
            .collect()
    }

    /// The upstream's counters (connections, reuse, retries, ejections).
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
