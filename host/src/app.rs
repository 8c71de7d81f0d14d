//! A whole gateway process: the first snapshot, the traffic listeners, the
//! admin listener, the file watcher and, for a config from etcd, the
//! document's watch and the cluster registration. `portico run` starts
//! one; the end-to-end tests start one in process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{self, Config, ConfigErrors, EtcdLocation};
use crate::control::admin::AdminServer;
use crate::control::cluster::{Cluster, ClusterSlot, InstanceRecord, ListenerRecord};
use crate::control::reload::{
    ConfigSource, EtcdSource, Reloader, spawn_etcd_watcher, spawn_watcher,
};
use crate::data::limits::Limits;
use crate::data::server::{ListenerError, RunningGateway};
use crate::etcd::EtcdError;
use crate::telemetry::monitor::{Monitor, MonitorError, ReloadSource};

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config (or a plugin's `init` with it) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// A listener could not be started.
    #[error(transparent)]
    Listener(#[from] ListenerError),
    /// The monitor (analytics writer) could not be started.
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    /// etcd could not be reached for the config.
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    /// The audit log could not be opened.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// A running gateway with live reload.
pub struct App {
    reloader: Arc<Reloader>,
    monitor: Arc<Monitor>,
    running: RunningGateway,
    admin: Option<AdminServer>,
    watcher: Option<JoinHandle<()>>,
    etcd_watcher: Option<JoinHandle<()>>,
    cluster: ClusterSlot,
    stop: watch::Sender<bool>,
}

impl App {
    /// Loads the config file at `path` and starts serving it.
    pub async fn start(path: &Path) -> Result<App, StartError> {
        App::start_with(config::load(path)?).await
    }

    /// Starts serving `config` (read from `config.source`, which reloads
    /// re-read).
    pub async fn start_with(config: Config) -> Result<App, StartError> {
        let source = ConfigSource::File(config.source.clone());
        App::start_sourced(config, source, 0, None).await
    }

    /// Reads the config document at `location` (relative paths in it
    /// resolved against `base`), serves it, applies each revision written
    /// later, and registers this instance as `instance_id` (hostname and
    /// pid when `None`) in the location's cluster registry.
    pub async fn start_etcd(
        location: EtcdLocation,
        base: PathBuf,
        instance_id: Option<String>,
    ) -> Result<App, StartError> {
        let source = EtcdSource::connect(location, base).await?;
        let (config, revision) = source.read().await?;
        App::start_sourced(config, ConfigSource::Etcd(source), revision, instance_id).await
    }

    async fn start_sourced(
        config: Config,
        source: ConfigSource,
        revision: i64,
        instance_id: Option<String>,
    ) -> Result<App, StartError> {
        // Live stats, alerts and analytics outlive every snapshot.
        let monitor = Monitor::start(&config)?;
        let reloader =
            Reloader::start_sourced(config.clone(), source, revision, Some(monitor.clone()))
                .await?;
        monitor.set_reload_source(reload_source(&reloader));
        if let Some(audit) = config.admin.as_ref().and_then(|a| a.audit.as_ref()) {
            let keyring = Arc::new(crate::config::keyring(&config)?);
            reloader.set_audit(Arc::new(crate::audit::AuditLog::open(audit, keyring)?));
        }
        let running = RunningGateway::start_live(&config, reloader.live().clone()).await?;
        let (stop, _) = watch::channel(false);
        let cluster = ClusterSlot::default();
        let admin = match &config.admin {
            Some(admin) => {
                let monitor = Some(monitor.clone());
                Some(
                    AdminServer::start(
                        admin,
                        &Limits::resolve(&config.limits, None),
                        reloader.clone(),
                        monitor,
                        cluster.clone(),
                        stop.subscribe(),
                    )
                    .await?,
                )
            }
            None => None,
        };
        let watcher = config.reload.watch.then(|| {
            let interval = Duration::from_millis(config.reload.interval_ms);
            spawn_watcher(reloader.clone(), interval, stop.subscribe())
        });
        let mut etcd_watcher = None;
        if let ConfigSource::Etcd(source) = reloader.source() {
            let source = source.clone();
            etcd_watcher = Some(spawn_etcd_watcher(
                reloader.clone(),
                source.clone(),
                stop.subscribe(),
            ));
            let mut record = InstanceRecord::this_process(instance_id, revision);
            record.listeners = running
                .addrs()
                .iter()
                .map(|(name, addr)| ListenerRecord {
                    name: name.clone(),
                    addr: *addr,
                })
                .collect();
            record.admin = admin.as_ref().map(AdminServer::addr);
            let _ = cluster.set(Cluster::join(&source, &reloader, record));
        }
        Ok(App {
            reloader,
            monitor,
            running,
            admin,
            watcher,
            etcd_watcher,
            cluster,
            stop,
        })
    }

    /// This instance's place in the cluster registry, for a gateway
    /// configured from etcd.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.get()
    }

    /// The first traffic listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr()
    }

    /// Every traffic listener's name and address.
    pub fn addrs(&self) -> &[(String, SocketAddr)] {
        self.running.addrs()
    }

    /// Every traffic listener's connection counts, in the order of
    /// [`App::addrs`].
    pub fn connection_stats(&self) -> Vec<crate::data::server::ConnectionStats> {
        self.running.connection_stats()
    }

    /// The admin listener's address, when `[admin]` is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminServer::addr)
    }

    /// Reloads, rollbacks and the serving snapshot.
    pub fn reloader(&self) -> &Arc<Reloader> {
        &self.reloader
    }

    /// Live stats, alerts and analytics.
    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    /// Stops watching and accepting, waits for in-flight requests, then
    /// writes pending analytics.
    pub async fn shutdown(self) {
        // Leave the registry first: other instances stop listing this one.
        if let Some(cluster) = self.cluster.get() {
            cluster.leave().await;
        }
        let _ = self.stop.send(true);
        self.running.shutdown().await;
        self.monitor.shutdown().await;
        if let Some(admin) = self.admin {
            admin.stopped().await;
        }
        if let Some(watcher) = self.watcher {
            let _ = watcher.await;
        }
        if let Some(watcher) = self.etcd_watcher {
            let _ = watcher.await;
        }
    }
}

/// The dashboard's view of the reloads: the reloader's recent reports,
/// oldest first (held weakly: the monitor must not keep the reloader alive).
fn reload_source(reloader: &Arc<Reloader>) -> ReloadSource {
    let reloader = Arc::downgrade(reloader);
    Arc::new(move || match reloader.upgrade() {
        Some(reloader) => serde_json::to_value(reloader.history()).unwrap_or_default(),
        None => serde_json::Value::Null,
    })
}
