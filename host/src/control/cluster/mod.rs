//! The cluster view: every gateway configured from the same etcd location
//! registers itself there, and any of them can list the others.
//!
//! An instance writes `PREFIX/instances/<id>` under a lease (10 s TTL,
//! kept alive every few seconds; revoked on shutdown, so a stopped
//! instance leaves at once and a killed one within the TTL). The value is
//! an [`InstanceRecord`]: id, version, listeners, the admin address and
//! the config revision it applied, rewritten whenever that revision
//! changes. `GET /cluster` on the admin listener reads every record and
//! the document's latest revision, and marks each instance current or
//! not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::task::AbortHandle;

use crate::config::EtcdLocation;
use crate::control::reload::{EtcdSource, Reloader};
use crate::etcd::lease::Registration;
use crate::etcd::{Etcd, EtcdError};

/// Where the admin listener finds the cluster view, set once the instance
/// has registered (after its listeners are bound); empty for a gateway
/// configured from a file.
pub type ClusterSlot = Arc<std::sync::OnceLock<Cluster>>;

/// How long a registration outlives its instance.
pub const LEASE_TTL: Duration = Duration::from_secs(10);

/// One instance's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The instance id (`--instance-id`; hostname and pid by default).
    pub id: String,
    /// The gateway's version.
    pub version: String,
    /// The host it runs on.
    pub hostname: String,
    /// Its process id.
    pub pid: u32,
    /// Its traffic listeners: name and bound address.
    pub listeners: Vec<ListenerRecord>,
    /// Its admin listener, if any.
    pub admin: Option<SocketAddr>,
    /// The config revision it serves.
    pub config_revision: i64,
    /// When it started, milliseconds since the Unix epoch.
    pub started_at_unix_ms: u64,
}

/// A traffic listener in an [`InstanceRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerRecord {
    /// The listener's name.
    pub name: String,
    /// Its bound address.
    pub addr: SocketAddr,
}

/// An instance as `GET /cluster` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    /// What it registered.
    #[serde(flatten)]
    pub record: InstanceRecord,
    /// Whether it serves the latest revision of the config document.
    pub current: bool,
}

/// `GET /cluster`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    /// Where the config and the registry live.
    pub location: String,
    /// The config document's latest revision (0: no document).
    pub latest_revision: i64,
    /// This instance's id.
    pub this_instance: String,
    /// Every registered instance, by id.
    pub instances: Vec<InstanceView>,
    /// Values under the registry prefix that are not instance records.
    pub unreadable: Vec<String>,
}

/// This instance's registration and the registry's reader.
pub struct Cluster {
    etcd: Etcd,
    location: EtcdLocation,
    id: String,
    registration: Registration,
    follower: AbortHandle,
}

impl Cluster {
    /// Registers this instance (`record`, whose revision then follows the
    /// reloader's) in `source`'s registry.
    pub fn join(source: &EtcdSource, reloader: &Arc<Reloader>, record: InstanceRecord) -> Self {
        let key = format!("{}{}", source.location.instances_prefix(), record.id);
        let id = record.id.clone();
        let registration =
            Registration::start(source.etcd.clone(), key, LEASE_TTL, encode(&record));
        let mut revisions = reloader.watch_revision();
        let updates = registration.updater();
        let follower = tokio::spawn(async move {
            let mut record = record;
            while revisions.changed().await.is_ok() {
                record.config_revision = *revisions.borrow_and_update();
                updates.send_replace(encode(&record));
            }
        })
        .abort_handle();
        Cluster {
            etcd: source.etcd.clone(),
            location: source.location.clone(),
            id,
            registration,
            follower,
        }
    }

    /// Every registered instance, and whether each serves the latest
    /// revision.
    pub async fn report(&self) -> Result<ClusterReport, EtcdError> {
        let mut client = self.etcd.client();
        let config_key = self.location.config_key();
        let latest = self
            .etcd
            .call(
                format!("get {config_key}"),
                client.get(config_key.as_str(), None),
            )
            .await?
            .kvs()
            .first()
            .map_or(0, |kv| kv.mod_revision());
        let prefix = self.location.instances_prefix();
        let options = etcd_client::GetOptions::new().with_prefix();
        let listed = self
            .etcd
            .call(
                format!("get {prefix}"),
                client.get(prefix.as_str(), Some(options)),
            )
            .await?;
        let mut instances = Vec::new();
        let mut unreadable = Vec::new();
        for kv in listed.kvs() {
            match serde_json::from_slice::<InstanceRecord>(kv.value()) {
                Ok(record) => instances.push(InstanceView {
                    current: record.config_revision == latest,
                    record,
                }),
                Err(_) => unreadable.push(String::from_utf8_lossy(kv.key()).into_owned()),
            }
        }
        instances.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        Ok(ClusterReport {
            location: self.location.to_string(),
            latest_revision: latest,
            this_instance: self.id.clone(),
            instances,
            unreadable,
        })
    }

    /// Leaves the registry (the lease is revoked).
    pub async fn leave(&self) {
        self.follower.abort();
        self.registration.stop().await;
    }
}

impl InstanceRecord {
    /// This process's record, before its listeners are known.
    pub fn this_process(id: Option<String>, config_revision: i64) -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let pid = std::process::id();
        InstanceRecord {
            id: id.unwrap_or_else(|| format!("{hostname}-{pid}")),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            hostname,
            pid,
            listeners: Vec::new(),
            admin: None,
            config_revision,
            started_at_unix_ms: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }
}

fn encode(record: &InstanceRecord) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("location", &self.location)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
