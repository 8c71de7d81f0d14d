//! Service discovery: where an upstream's targets come from.
//!
//! Every provider implements [`ServiceDiscovery`]; [`watch`] asks it again
//! whenever it says to and swaps the new target set in atomically.
//! Providers: [`StaticList`], [`FileDiscovery`] (a watched file),
//! [`DnsDiscovery`] (A/AAAA or SRV) and [`EtcdDiscovery`] (an etcd key
//! prefix, watched).

mod dns;
mod etcd;
mod file;
mod static_list;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use dns::DnsDiscovery;
pub use etcd::EtcdDiscovery;
pub use file::FileDiscovery;
pub use static_list::StaticList;

use super::set::Targets;
use super::target::{Target, TargetError};

/// What one discovery round found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// The targets; `None` when nothing changed since the last round.
    pub targets: Option<Vec<Target>>,
    /// When to ask again; `None`: never (the list cannot change).
    pub next: Option<Duration>,
}

/// A discovery round failed; the last known targets stay in use.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The targets file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A target in the file does not parse.
    #[error("{path}:{line}: {error}")]
    Target {
        /// The file.
        path: PathBuf,
        /// 1-based line (or array index for JSON).
        line: usize,
        /// What is wrong.
        error: TargetError,
    },
    /// The JSON targets file is malformed.
    #[error("{path}: {reason}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// etcd could not be reached, or its watch ended.
    #[error("etcd `{prefix}`: {reason}")]
    Etcd {
        /// The watched prefix.
        prefix: String,
        /// What failed.
        reason: String,
    },
    /// The resolver could not be set up, or a lookup failed.
    #[error("DNS `{name}`: {reason}")]
    Dns {
        /// The name looked up.
        name: String,
        /// The resolver's message.
        reason: String,
    },
}

/// The future [`ServiceDiscovery::discover`] returns.
pub type DiscoverFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Discovered, DiscoveryError>> + Send + 'a>>;

/// A source of targets.
pub trait ServiceDiscovery: Send + Sync {
    /// The current targets (or that they did not change) and when to ask
    /// again.
    fn discover(&self) -> DiscoverFuture<'_>;
}

/// Keeps `targets` up to date with `provider`: asks again when the provider
/// says, or after `retry` when a round failed (keeping the last targets).
/// Runs until the provider says the list cannot change. An outage is
/// logged when it starts and when it ends, not at every retry.
pub async fn watch(
    upstream: Arc<str>,
    provider: Arc<dyn ServiceDiscovery>,
    targets: Arc<Targets>,
    first_delay: Duration,
    retry: Duration,
) {
    let mut delay = first_delay;
    let mut failing = false;
    loop {
        tokio::time::sleep(delay).await;
        match provider.discover().await {
            Ok(found) => {
                if std::mem::take(&mut failing) {
                    tracing::info!(%upstream, "target discovery answers again");
                }
                if let Some(list) = found.targets {
                    let count = list.len();
                    if targets.update(list) {
                        tracing::info!(%upstream, targets = count, "upstream targets changed");
                    }
                }
                match found.next {
                    Some(next) => delay = next,
                    None => return,
                }
            }
            Err(error) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(%upstream, %error, "target discovery failed; keeping the last targets and retrying");
                } else {
                    tracing::debug!(%upstream, %error, "target discovery still failing");
                }
                delay = retry;
            }
        }
    }
}
