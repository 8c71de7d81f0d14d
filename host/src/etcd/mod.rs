//! The etcd cluster, through the `etcd-client` crate (etcd's v3 gRPC API):
//! connecting with the config's endpoints, credentials and per-call
//! timeout, and the three things the gateway does with it.
//!
//! - [`document`]: the config document under one key, read with its
//!   revision and written with a compare-and-swap on it.
//! - [`watch`]: the keys under a prefix (or one key), read once and then
//!   kept current by a watch that survives etcd restarts: it resumes from
//!   the last revision seen, and reads everything again when that revision
//!   was compacted away.
//! - [`lease`]: a key kept alive under a lease (the cluster registry),
//!   granted again after an outage outlived it.
//!
//! Calls return typed errors and log nothing; the callers (discovery, the
//! reloader, the cluster view) decide what an error means to them. The one
//! background task here, a registration's, logs when it loses and regains
//! its key.

pub mod document;
pub mod lease;
pub mod watch;

use std::time::Duration;

use etcd_client::{Client, ConnectOptions};

use crate::config::EtcdConfig;

/// An etcd call failed.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// The credentials could not be read.
    #[error("etcd credentials: {0}")]
    Credentials(String),
    /// The cluster could not be reached, or refused or failed the call.
    #[error("etcd {op}: {error}")]
    Call {
        /// What was being done (`get /portico/config`, `watch ...`).
        op: String,
        /// The client's error (in the message, not a separate cause, so a
        /// printed chain does not repeat it).
        error: etcd_client::Error,
    },
    /// The call took longer than the configured timeout.
    #[error("etcd {op}: no answer within {timeout_ms} ms")]
    Timeout {
        /// What was being done.
        op: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// A watch stream ended or was cancelled by the server.
    #[error("etcd watch on `{key}` ended: {reason}")]
    WatchEnded {
        /// The watched key or prefix.
        key: String,
        /// Why, as far as it is known.
        reason: String,
    },
    /// A lease ran out before it was kept alive (etcd was unreachable
    /// longer than its TTL, or the lease was revoked elsewhere).
    #[error("etcd lease for `{key}` expired")]
    LeaseExpired {
        /// The key written under the lease.
        key: String,
    },
}

/// A client for one etcd cluster, with the per-call timeout. Cheap to
/// clone: clones share the connection.
#[derive(Clone)]
pub struct Etcd {
    /// Boxed: the client is several KiB, and holders of an `Etcd` should
    /// not be.
    client: Box<Client>,
    timeout: Duration,
}

impl Etcd {
    /// A client for `config`'s cluster. The connection is made lazily: an
    /// unreachable cluster fails the first call, not this one (except with
    /// credentials, which are exchanged for a token here).
    pub async fn connect(config: &EtcdConfig) -> Result<Etcd, EtcdError> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let mut options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_timeout(timeout)
            // HTTP/2 pings find a silently dead member; the balanced
            // channel then moves to another endpoint.
            .with_keep_alive(Duration::from_secs(5), timeout)
            .with_keep_alive_while_idle(true);
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            let password = password.read().map_err(EtcdError::Credentials)?;
            options = options.with_user(user.clone(), password);
        }
        let endpoints: Vec<String> = config
            .endpoints
            .iter()
            .map(|e| {
                if e.starts_with("http://") {
                    e.clone()
                } else {
                    format!("http://{e}")
                }
            })
            .collect();
        let op = format!("connect {}", config.endpoints.join(","));
        let connect = Client::connect(endpoints, Some(options));
        let client = bounded(&op, timeout, connect).await?;
        Ok(Etcd {
            client: Box::new(client),
            timeout,
        })
    }

    /// The underlying client (its clones share the connection).
    pub(crate) fn client(&self) -> Client {
        (*self.client).clone()
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs one call with the timeout, naming it `op` in errors.
    pub(crate) async fn call<T>(
        &self,
        op: impl Into<String>,
        call: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, EtcdError> {
        bounded(&op.into(), self.timeout, call).await
    }
}

async fn bounded<T>(
    op: &str,
    timeout: Duration,
    call: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, EtcdError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(EtcdError::Call {
            op: op.to_owned(),
            error,
        }),
        Err(_) => Err(EtcdError::Timeout {
            op: op.to_owned(),
            timeout_ms: timeout.as_millis() as u64,
        }),
    }
}

impl std::fmt::Debug for Etcd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Etcd")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
