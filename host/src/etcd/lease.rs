//! A key that exists while its owner runs: written under a lease that a
//! task keeps alive, rewritten when its value changes, granted again when
//! an outage outlived the lease, and revoked (so the key goes at once) on
//! [`Registration::stop`]. A process that dies without stopping loses its
//! key when the lease's TTL runs out.

use std::time::Duration;

use etcd_client::PutOptions;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Etcd, EtcdError};

/// Retry delays after a failed registration, growing to the last.
const BACKOFF: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// A key kept alive under a lease by a background task.
pub struct Registration {
    value: watch::Sender<String>,
    stop: watch::Sender<bool>,
    task: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

impl Registration {
    /// Writes `value` at `key` under a lease of `ttl` and keeps both alive
    /// until [`Registration::stop`].
    pub fn start(etcd: Etcd, key: String, ttl: Duration, value: String) -> Registration {
        let (value, values) = watch::channel(value);
        let (stop, stopped) = watch::channel(false);
        let ttl_secs = ttl.as_secs().max(2) as i64;
        let task = tokio::spawn(keep(etcd, key, ttl_secs, values, stopped));
        Registration {
            value,
            stop,
            task: parking_lot::Mutex::new(Some(task)),
        }
    }

    /// A handle that replaces the value (written at once when etcd is
    /// reachable), for another task.
    pub fn updater(&self) -> watch::Sender<String> {
        self.value.clone()
    }

    /// Revokes the lease, which deletes the key, and ends the task (once;
    /// later calls return at once).
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Registers, and registers again after each failure, until stopped.
async fn keep(
    etcd: Etcd,
    key: String,
    ttl: i64,
    mut values: watch::Receiver<String>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut failures = 0usize;
    loop {
        match hold(&etcd, &key, ttl, &mut values, &mut stopped, &mut failures).await {
            Ok(()) => return,
            Err(error) => {
                if failures == 0 {
                    tracing::warn!(%key, %error, "cluster registration lost; registering again when etcd answers");
                }
                let delay = BACKOFF[failures.min(BACKOFF.len() - 1)];
                failures += 1;
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stopped.changed() => return,
                }
            }
        }
    }
}

/// One lease: granted, the key written under it, kept alive; `Ok` once
/// stopped (the lease revoked), an error when etcd failed.
async fn hold(
    etcd: &Etcd,
    key: &str,
    ttl: i64,
    values: &mut watch::Receiver<String>,
    stopped: &mut watch::Receiver<bool>,
    failures: &mut usize,
) -> Result<(), EtcdError> {
    let mut client = etcd.client();
    let lease = etcd
        .call("lease grant", client.lease_grant(ttl, None))
        .await?
        .id();
    let put = |client: &mut etcd_client::Client, value: String| {
        let options = PutOptions::new().with_lease(lease);
        let mut client = client.clone();
        let key = key.to_owned();
        async move { client.put(key, value, Some(options)).await }
    };
    let value = values.borrow_and_update().clone();
    etcd.call(format!("put {key}"), put(&mut client, value))
        .await?;
    let (mut keeper, mut answers) = etcd
        .call("lease keep-alive", client.lease_keep_alive(lease))
        .await?;
    if *failures > 0 {
        tracing::info!(%key, "cluster registration restored");
    }
    *failures = 0;
    let mut tick = tokio::time::interval(Duration::from_secs((ttl as u64 / 3).max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                etcd.call("lease keep-alive", keeper.keep_alive()).await?;
                let answer = etcd.call("lease keep-alive", answers.message()).await?;
                if answer.is_none_or(|a| a.ttl() <= 0) {
                    return Err(EtcdError::LeaseExpired {
                        key: key.to_owned(),
                    });
                }
            }
            changed = values.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let value = values.borrow_and_update().clone();
                etcd.call(format!("put {key}"), put(&mut client, value)).await?;
            }
            _ = stopped.changed() => {
                let _ = etcd.call("lease revoke", client.lease_revoke(lease)).await;
                return Ok(());
            }
        }
    }
}
