//! A plugin in one route's chain: its compiled component linked with the
//! route's grants, its config, and its instances.
//!
//! Two instance models, per plugin in config:
//! - `pooled` (default): an instance serves one request at a time and goes back
//!   to an idle list afterwards; it is discarded after any failure, after
//!   `max_uses` requests, or when its memory grew past `recycle_memory_mb`.
//! - `fresh`: every request gets a new instance (and a new `init`), dropped at
//!   the end of the request.

use std::sync::Arc;

use parking_lot::Mutex;

use super::bindings::PluginPre;
use super::bindings::types::PluginMetadata as Metadata;
use super::capabilities::{self, Grants};
use super::catalog::LoadedComponent;
use super::engine::{PluginEngine, SlotTicket};
use super::error::{LoadError, PluginFailure};
use super::identity::PluginIdentity;
use super::instance::{InitOutcome, PluginInstance};
use super::outbound::OutboundHttp;
use super::services::HostServices;
use super::state::HostState;
use crate::config::{Capability, FailureMode, InstanceMode, PluginRef};
use crate::data::observe::plugin_stats::PluginStats;

/// Idle instances kept per slot at most; more are created under load and
/// dropped when they come back to a full list. Each idle instance holds a
/// pooling-allocator slot, so a slot also keeps at most a sixteenth of
/// `runtime.max_instances` idle: one busy route cannot starve the others.
const MAX_IDLE: usize = 128;

/// One plugin of one route's chain.
pub struct PluginSlot {
    identity: Arc<PluginIdentity>,
    pre: PluginPre<HostState>,
    engine: PluginEngine,
    services: Arc<HostServices>,
    config_json: String,
    mode: InstanceMode,
    on_failure: FailureMode,
    max_uses: u32,
    recycle_bytes: usize,
    idle: Mutex<Vec<PluginInstance>>,
    max_idle: usize,
    metadata: Metadata,
    /// `metadata.version`, shared with every call record.
    version: Arc<str>,
    sha256: String,
    stats: PluginStats,
    /// Keeps the epoch ticker running while the slot exists.
    _ticket: SlotTicket,
}

impl PluginSlot {
    /// Links `component` with the route's grants and starts one instance,
    /// whose `init` checks the route's config for the plugin.
    pub async fn load(
        component: &LoadedComponent,
        plugin: &PluginRef,
        route: &str,
        engine: &PluginEngine,
        services: Arc<HostServices>,
    ) -> Result<Self, LoadError> {
        // Before the first call: `init` runs under the deadline too.
        let ticket = engine.ticket();
        let name = component.name.to_string();
        let grants: Grants = plugin.capabilities.iter().copied().collect();
        capabilities::check_imports(engine.engine(), &component.component, &name, route, &grants)?;
        let contract = |e: wasmtime::Error| LoadError::Contract {
            plugin: name.clone(),
            message: format!("{e:#}"),
        };
        let linker = capabilities::linker(engine.engine(), &grants).map_err(contract)?;
        let pre = linker
            .instantiate_pre(&component.component)
            .map_err(contract)?;
        let pre = PluginPre::new(pre).map_err(contract)?;
        let config_json = serde_json::to_string(&plugin.config).map_err(|e| LoadError::Config {
            plugin: name.clone(),
            route: route.to_owned(),
            key: String::new(),
            message: e.to_string(),
        })?;
        let outbound = match &plugin.http {
            Some(grant) if grants.contains(&Capability::Http) => Some(Arc::new(
                OutboundHttp::new(component.name.clone(), grant).map_err(|message| {
                    LoadError::Http {
                        plugin: name.clone(),
                        route: route.to_owned(),
                        message,
                    }
                })?,
            )),
            _ => None,
        };
        let identity = Arc::new(PluginIdentity {
            plugin: component.name.clone(),
            route: route.into(),
            on_state_error: plugin.on_state_error,
            outbound,
        });
        let start_error = |failure| LoadError::Start {
            plugin: name.clone(),
            route: route.to_owned(),
            failure,
        };
        let outcome = PluginInstance::start(
            &pre,
            engine,
            identity.clone(),
            services.clone(),
            &config_json,
        )
        .await
        .map_err(start_error)?;
        let mut first = match outcome {
            InitOutcome::Ready(instance) => instance,
            InitOutcome::Rejected(rejection) => {
                return Err(LoadError::Config {
                    plugin: name.clone(),
                    route: route.to_owned(),
                    key: rejection.key,
                    message: rejection.message,
                });
            }
        };
        let metadata = first.metadata().await.map_err(start_error)?;
        let _ = component.metadata.set(metadata.clone());
        let stats = PluginStats::new(&name, &metadata.version, route);
        stats.instance_created();
        let slot = PluginSlot {
            identity,
            pre,
            engine: engine.clone(),
            services,
            config_json,
            mode: plugin.instance,
            on_failure: plugin.on_failure,
            max_uses: plugin.max_uses,
            recycle_bytes: plugin.recycle_memory_mb as usize * 1024 * 1024,
            idle: Mutex::new(Vec::new()),
            max_idle: MAX_IDLE.min((engine.max_instances() as usize / 16).max(1)),
            version: metadata.version.as_str().into(),
            metadata,
            sha256: component.sha256.clone(),
            stats,
            _ticket: ticket,
        };
        slot.checkin(first);
        Ok(slot)
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.identity.plugin
    }

    /// The plugin's name, shared.
    pub(crate) fn identity_name(&self) -> Arc<str> {
        self.identity.plugin.clone()
    }

    /// The route this slot serves.
    pub fn route(&self) -> &str {
        &self.identity.route
    }

    /// Whether a failure skips the plugin instead of failing the request.
    pub(crate) fn fails_open(&self) -> bool {
        self.on_failure == FailureMode::Open
    }

    /// Whether every request gets a new instance (`instance = "fresh"`).
    pub(crate) fn is_fresh(&self) -> bool {
        self.mode == InstanceMode::Fresh
    }

    /// The plugin's self-reported name and version.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The plugin's version, shared.
    pub fn version(&self) -> &Arc<str> {
        &self.version
    }

    /// The slot's metrics (calls, failures, instances, memory).
    pub fn stats(&self) -> &PluginStats {
        &self.stats
    }

    /// SHA-256 of the plugin's `.wasm`.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// An instance for one request: an idle one, or a new one.
    pub(crate) async fn checkout(&self) -> Result<PluginInstance, PluginFailure> {
        if self.mode == InstanceMode::Pooled
            && let Some(instance) = self.idle.lock().pop()
        {
            self.stats.instance_reused();
            return Ok(instance);
        }
        self.stats.instance_created();
        // Boxed: a new instance is the rare path, and its future is large.
        let outcome = Box::pin(PluginInstance::start(
            &self.pre,
            &self.engine,
            self.identity.clone(),
            self.services.clone(),
            &self.config_json,
        ))
        .await?;
        match outcome {
            InitOutcome::Ready(instance) => Ok(instance),
            InitOutcome::Rejected(rejection) => Err(PluginFailure::Guest(format!(
                "init rejected its config at `{}`: {}",
                rejection.key, rejection.message
            ))),
        }
    }

    /// Returns an instance after a request that did not fail it.
    pub(crate) fn checkin(&self, instance: PluginInstance) {
        self.stats.memory(instance.memory_peak());
        if self.mode == InstanceMode::Fresh
            || instance.uses() >= self.max_uses
            || instance.memory_peak() > self.recycle_bytes
        {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < self.max_idle {
            idle.push(instance);
        }
    }
}
