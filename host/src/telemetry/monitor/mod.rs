//! The monitor ties the second half of "analytics and monitoring" together:
//! it receives every finished request (it is the gateway's
//! [`Recorder`]), feeds the `LiveStats` and the `Analytics` store, runs
//! the `Alerts` evaluation, and answers the dashboard's and admin API's
//! endpoints ([`http`]). One monitor lives as long as the process; each
//! gateway built (first and on reload) is `watch`ed.

pub mod http;

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::data::gateway::Gateway;
use crate::data::runtime::redis::RedisStore;
use crate::telemetry::alerts::Alerts;
use crate::telemetry::analytics::Analytics;
use crate::telemetry::live::{LiveStats, Recorder, RequestSample};

/// Where the dashboard reads the last config reloads from (set by the
/// admin listener, which owns reloading); any JSON value.
pub(crate) type ReloadSource = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The monitor could not start.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The analytics writer thread could not be spawned.
    #[error("cannot start the analytics writer: {0}")]
    Analytics(std::io::Error),
    /// `[encryption]`'s keys could not be read.
    #[error(transparent)]
    Keys(#[from] crate::config::ConfigErrors),
}

/// Live stats, alerts and analytics of one gateway process.
pub struct Monitor {
    /// Per-second series and target health.
    pub live: Arc<LiveStats>,
    /// Rules and recent transitions.
    pub alerts: Arc<Alerts>,
    /// The rollup store; `None` with `[analytics] enabled = false`.
    pub analytics: Option<Arc<Analytics>>,
    evaluation: Mutex<Option<JoinHandle<()>>>,
    reloads: Mutex<Option<ReloadSource>>,
    shared_state: Mutex<Option<Arc<RedisStore>>>,
}

impl Monitor {
    /// Starts the analytics writer and the alert evaluation for `config`
    /// (on the current tokio runtime).
    pub fn start(config: &Config) -> Result<Arc<Self>, MonitorError> {
        let live = Arc::new(LiveStats::default());
        let alerts = Arc::new(Alerts::new(&config.alerts, &config.alerting));
        let analytics = if config.analytics.enabled {
            let keyring = Arc::new(crate::config::keyring(config)?);
            let analytics =
                Analytics::start(&config.analytics, keyring).map_err(MonitorError::Analytics)?;
            Some(Arc::new(analytics))
        } else {
            None
        };
        let evaluation = alerts.spawn(live.clone());
        Ok(Arc::new(Monitor {
            live,
            alerts,
            analytics,
            evaluation: Mutex::new(Some(evaluation)),
            reloads: Mutex::new(None),
            shared_state: Mutex::new(None),
        }))
    }

    /// Reports `gateway`'s upstreams' health from now on (every snapshot
    /// swapped in). Requests reach the monitor through the observer it
    /// was installed in (`Observer::set_recorder`), shared by all
    /// snapshots.
    pub(crate) fn watch(&self, gateway: &Gateway) {
        self.live.watch_upstreams(gateway);
    }

    /// Lets the dashboard show the last reloads (the admin listener's).
    pub(crate) fn set_reload_source(&self, source: ReloadSource) {
        *self.reloads.lock() = Some(source);
    }

    /// Lets the dashboard show the shared state backend (`None`: memory).
    pub(crate) fn set_shared_state(&self, shared: Option<Arc<RedisStore>>) {
        *self.shared_state.lock() = shared;
    }

    /// Where `kv` and `cache` live and, for Redis, whether it serves.
    pub fn state(&self) -> serde_json::Value {
        match self.shared_state.lock().as_ref() {
            None => serde_json::json!({ "backend": "memory" }),
            Some(redis) => serde_json::json!({
                "backend": "redis",
                "target": redis.target(),
                "up": redis.is_up(),
            }),
        }
    }

    /// The last reloads, when a source is set.
    pub fn reloads(&self) -> Option<serde_json::Value> {
        self.reloads.lock().as_ref().map(|source| source())
    }

    /// Stops the alert evaluation and writes pending analytics.
    pub async fn shutdown(&self) {
        if let Some(task) = self.evaluation.lock().take() {
            task.abort();
        }
        if let Some(analytics) = &self.analytics {
            analytics.shutdown().await;
        }
    }
}

impl Recorder for Monitor {
    fn record(&self, sample: RequestSample) {
        self.live.record(&sample);
        if let Some(analytics) = &self.analytics {
            analytics.record(&sample);
        }
    }
}
