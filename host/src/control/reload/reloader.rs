//! Builds, checks and swaps snapshots, one reload at a time.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use super::report::{PluginChange, ReloadOutcome, ReloadReport, ReloadTrigger};
use super::source::ConfigSource;
use crate::audit::{Actor, AuditLog};
use crate::config::{Config, ConfigErrors};
use crate::data::gateway::LiveGateway;
use crate::data::gateway::{Gateway, GatewayRuntime};
use crate::data::observe::metrics::{CONFIG_RELOADS, CONFIG_REVISION};
use crate::data::runtime::{LoadedComponent, PluginCatalog};
use crate::etcd::document::Document;
use crate::telemetry::monitor::Monitor;

/// Reports kept for the admin API.
const HISTORY: usize = 32;

/// A rollback that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// No route uses a plugin of that name.
    #[error("no loaded plugin is named `{0}`")]
    Unknown(String),
    /// The plugin has had one version only.
    #[error("plugin `{0}` has no previous version to roll back to")]
    NoPrevious(String),
}

/// One version of a plugin, as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginVersion {
    /// The version the component reports (`metadata`).
    pub version: String,
    /// SHA-256 of its `.wasm`.
    pub sha256: String,
    /// When it was read, milliseconds since the Unix epoch.
    pub read_at_unix_ms: u64,
}

/// A loaded plugin, as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// Plugin name (its file stem).
    pub name: String,
    /// The version serving now.
    pub active: PluginVersion,
    /// The version a rollback returns to.
    pub previous: Option<PluginVersion>,
    /// Routes whose chain uses it.
    pub routes: Vec<String>,
}

struct State {
    config: Config,
    runtime: GatewayRuntime,
    catalog: PluginCatalog,
}

/// Owns the serving snapshot and everything needed to build the next one.
pub struct Reloader {
    live: Arc<LiveGateway>,
    state: tokio::sync::Mutex<State>,
    /// The config the process started with: listeners, `[runtime]` and the
    /// rest that only a restart changes are compared against it.
    startup: Config,
    history: parking_lot::Mutex<VecDeque<ReloadReport>>,
    next_id: AtomicU64,
    /// Live stats and analytics: every snapshot reports its requests here.
    monitor: Option<Arc<Monitor>>,
    /// Where reloads read the config.
    source: ConfigSource,
    /// The etcd revision of the config serving (0 for a file); watched by
    /// the cluster registration.
    revision: tokio::sync::watch::Sender<i64>,
    applied: AtomicI64,
    /// Where every reload not asked for through the admin API is recorded
    /// (the admin API records its own, with who asked).
    audit: std::sync::OnceLock<Arc<AuditLog>>,
}

impl Reloader {
    /// Builds the first snapshot from `config`.
    pub async fn start(config: Config) -> Result<Arc<Self>, ConfigErrors> {
        Reloader::start_monitored(config, None).await
    }

    /// Builds the first snapshot from `config`; this and every later
    /// snapshot report their requests and upstreams to `monitor`.
    pub async fn start_monitored(
        config: Config,
        monitor: Option<Arc<Monitor>>,
    ) -> Result<Arc<Self>, ConfigErrors> {
        let source = ConfigSource::File(config.source.clone());
        Reloader::start_sourced(config, source, 0, monitor).await
    }

    /// Builds the first snapshot from `config`, read from `source` at
    /// `revision` (0 for a file); reloads read `source` again.
    pub async fn start_sourced(
        config: Config,
        source: ConfigSource,
        revision: i64,
        monitor: Option<Arc<Monitor>>,
    ) -> Result<Arc<Self>, ConfigErrors> {
        let started = Instant::now();
        let runtime = GatewayRuntime::new(&config)?;
        let mut catalog = runtime.catalog(&config);
        let mut candidate = catalog.candidate();
        let gateway = Gateway::build_with(&config, &runtime, &mut candidate, None).await?;
        if let Some(monitor) = &monitor {
            runtime.observer.set_recorder(monitor.clone());
            monitor.watch(&gateway);
            monitor.set_shared_state(runtime.services.shared.clone());
        }
        let used = candidate.into_used();
        let mut report = ReloadReport::new(1, ReloadTrigger::Startup);
        report.plugins = changes(&catalog, &used);
        report.outcome = ReloadOutcome::Applied;
        report.config_revision = (revision > 0).then_some(revision);
        report.finish(started);
        catalog.commit(used);
        if revision > 0 {
            metrics::gauge!(CONFIG_REVISION).set(revision as f64);
        }
        Ok(Arc::new(Reloader {
            live: Arc::new(LiveGateway::new(Arc::new(gateway))),
            startup: config.clone(),
            state: tokio::sync::Mutex::new(State {
                config,
                runtime,
                catalog,
            }),
            history: parking_lot::Mutex::new(VecDeque::from([report])),
            next_id: AtomicU64::new(2),
            monitor,
            source,
            revision: tokio::sync::watch::Sender::new(revision),
            applied: AtomicI64::new(revision),
            audit: std::sync::OnceLock::new(),
        }))
    }

    /// Where reloads read the config.
    pub fn source(&self) -> &ConfigSource {
        &self.source
    }

    /// The etcd revision of the config document serving (0 for a file).
    pub fn applied_revision(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Follows [`Reloader::applied_revision`].
    pub fn watch_revision(&self) -> tokio::sync::watch::Receiver<i64> {
        self.revision.subscribe()
    }

    /// The serving snapshot.
    pub fn live(&self) -> &Arc<LiveGateway> {
        &self.live
    }

    /// The config file reloads read (for etcd, the document's name).
    pub fn config_path(&self) -> &Path {
        &self.startup.source
    }

    /// The plugin directory.
    pub fn plugin_dir(&self) -> &Path {
        &self.startup.plugin_dir
    }

    /// Names of the plugins some route uses now.
    pub(crate) async fn plugin_names(&self) -> Vec<String> {
        let state = self.state.lock().await;
        state
            .catalog
            .entries()
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// Re-reads the config file and swaps in the snapshot it describes,
    /// or refuses it and keeps serving the current one.
    pub async fn reload_config(&self, trigger: ReloadTrigger) -> ReloadReport {
        let started = Instant::now();
        let mut state = self.state.lock().await;
        let (config, revision) = match self.source.read().await {
            Ok(read) => read,
            Err(errors) => {
                let mut report = self.report(trigger);
                report.refuse(&errors);
                return self.record(report, started);
            }
        };
        self.rebuild_revision(&mut state, config, revision, trigger, started)
            .await
    }

    /// Applies a revision of the etcd config document (from the watch),
    /// or refuses it and keeps serving the current one. `None` when that
    /// revision is serving already.
    pub(crate) async fn apply_document(&self, document: &Document) -> Option<ReloadReport> {
        let started = Instant::now();
        let mut state = self.state.lock().await;
        if document.revision <= self.applied_revision() {
            return None;
        }
        let ConfigSource::Etcd(source) = &self.source else {
            return None;
        };
        let trigger = ReloadTrigger::Etcd {
            revision: document.revision,
        };
        let config = match source.parse(document) {
            Ok(config) => config,
            Err(errors) => {
                let mut report = self.report(trigger);
                report.config_revision = Some(document.revision);
                report.refuse(&errors);
                return Some(self.record(report, started));
            }
        };
        Some(
            self.rebuild_revision(&mut state, config, document.revision, trigger, started)
                .await,
        )
    }

    /// Refuses the deletion of the etcd config document: the running
    /// config keeps serving.
    pub(crate) async fn document_deleted(&self, key: &str, revision: i64) -> ReloadReport {
        let started = Instant::now();
        let _state = self.state.lock().await;
        let mut report = self.report(ReloadTrigger::Etcd { revision });
        report.config_revision = Some(revision);
        report.refuse_file(
            key.to_owned(),
            format!(
                "the config document was deleted; revision {} keeps serving until a new one is pushed",
                self.applied_revision()
            ),
        );
        self.record(report, started)
    }

    /// [`Reloader::rebuild`] for a config read at `revision` (0: a file),
    /// which becomes the applied revision unless the config is refused.
    async fn rebuild_revision(
        &self,
        state: &mut State,
        config: Config,
        revision: i64,
        trigger: ReloadTrigger,
        started: Instant,
    ) -> ReloadReport {
        let mut report = self.rebuild(state, config, None, trigger, started).await;
        if revision > 0 {
            report.config_revision = Some(revision);
            if report.outcome != ReloadOutcome::Refused {
                self.applied.store(revision, Ordering::Release);
                self.revision.send_replace(revision);
                metrics::gauge!(CONFIG_REVISION).set(revision as f64);
            }
            // The report was recorded before its revision was known.
            if let Some(last) = self
                .history
                .lock()
                .iter_mut()
                .rev()
                .find(|r| r.id == report.id)
            {
                last.config_revision = Some(revision);
            }
        }
        report
    }

    /// Swaps in the version of plugin `name` now on disk for the routes
    /// that use it, once it compiled and every such route's `init`
    /// accepted it. `None` when no route uses the plugin or the file holds
    /// the version already serving.
    pub(crate) async fn plugin_changed(&self, name: &str) -> Option<ReloadReport> {
        let started = Instant::now();
        let mut state = self.state.lock().await;
        let active = state.catalog.get(name)?.active.sha256.clone();
        let trigger = ReloadTrigger::PluginFile {
            plugin: name.to_owned(),
        };
        let component = match state.catalog.read(name).await {
            Ok(component) => component,
            Err(error) => {
                let mut report = self.report(trigger);
                let file = state.catalog.path_of(name).display().to_string();
                report.refuse_file(file, error.to_string());
                return Some(self.record(report, started));
            }
        };
        if component.sha256 == active {
            return None;
        }
        let config = state.config.clone();
        Some(
            self.rebuild(&mut state, config, Some(component), trigger, started)
                .await,
        )
    }

    /// Refuses the removal of plugin `name` from the plugin directory while
    /// routes use it: the loaded version keeps serving. `None` when no
    /// route uses it.
    pub(crate) async fn plugin_removed(&self, name: &str) -> Option<ReloadReport> {
        let started = Instant::now();
        let state = self.state.lock().await;
        let entry = state.catalog.get(name)?;
        let routes = self.live.load().routes_using(name).join("`, `");
        let mut report = self.report(ReloadTrigger::PluginRemoved {
            plugin: name.to_owned(),
        });
        report.refuse_file(
            state.catalog.path_of(name).display().to_string(),
            format!(
                "removed, but routes `{routes}` use plugin `{name}`; its loaded version \
                 (sha256 {}) keeps serving until no route uses it",
                entry.active.sha256
            ),
        );
        Some(self.record(report, started))
    }

    /// Makes the previous version of plugin `name` active again (after the
    /// same checks as any change); the version it replaces becomes the
    /// previous one.
    pub async fn rollback(&self, name: &str) -> Result<ReloadReport, RollbackError> {
        let started = Instant::now();
        let mut state = self.state.lock().await;
        let entry = state
            .catalog
            .get(name)
            .ok_or_else(|| RollbackError::Unknown(name.to_owned()))?;
        let previous = entry
            .previous
            .clone()
            .ok_or_else(|| RollbackError::NoPrevious(name.to_owned()))?;
        let config = state.config.clone();
        let trigger = ReloadTrigger::Rollback {
            plugin: name.to_owned(),
        };
        Ok(self
            .rebuild(&mut state, config, Some(previous), trigger, started)
            .await)
    }

    /// Every loaded plugin with its versions and the routes using it.
    pub async fn plugins(&self) -> Vec<PluginInfo> {
        let state = self.state.lock().await;
        let gateway = self.live.load();
        let mut plugins: Vec<PluginInfo> = state
            .catalog
            .entries()
            .map(|(name, entry)| PluginInfo {
                name: name.to_owned(),
                active: version_of(&entry.active),
                previous: entry.previous.as_deref().map(version_of),
                routes: gateway
                    .routes_using(name)
                    .iter()
                    .map(|r| r.to_string())
                    .collect(),
            })
            .collect();
        plugins.sort_by(|a, b| a.name.cmp(&b.name));
        plugins
    }

    /// The reports of recent reloads, oldest first.
    pub fn history(&self) -> Vec<ReloadReport> {
        self.history.lock().iter().cloned().collect()
    }

    /// The most recent reload's report.
    pub fn last(&self) -> Option<ReloadReport> {
        self.history.lock().back().cloned()
    }

    async fn rebuild(
        &self,
        state: &mut State,
        config: Config,
        changed: Option<Arc<LoadedComponent>>,
        trigger: ReloadTrigger,
        started: Instant,
    ) -> ReloadReport {
        let mut report = self.report(trigger);
        let previous = self.live.load();
        let mut candidate = state.catalog.candidate();
        if let Some(component) = changed {
            candidate = candidate.with_override(component);
        }
        let built =
            Gateway::build_with(&config, &state.runtime, &mut candidate, Some(&previous)).await;
        let gateway = match built {
            Ok(gateway) => gateway,
            Err(errors) => {
                report.refuse(&errors);
                return self.record(report, started);
            }
        };
        let used = candidate.into_used();
        report.plugins = changes(&state.catalog, &used);
        report.warnings = restart_only_changes(&self.startup, &config);
        if config == state.config && gateway.same_as(&previous) {
            return self.record(report, started);
        }
        if let Some(monitor) = &self.monitor {
            monitor.watch(&gateway);
        }
        self.live.store(Arc::new(gateway));
        state.catalog.commit(used);
        state.config = config;
        report.outcome = ReloadOutcome::Applied;
        self.record(report, started)
    }

    fn report(&self, trigger: ReloadTrigger) -> ReloadReport {
        ReloadReport::new(self.next_id.fetch_add(1, Ordering::Relaxed), trigger)
    }

    fn record(&self, mut report: ReloadReport, started: Instant) -> ReloadReport {
        report.finish(started);
        log(&report);
        let outcome = match report.outcome {
            ReloadOutcome::Applied => "applied",
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Refused => "refused",
        };
        metrics::counter!(CONFIG_RELOADS, "outcome" => outcome).increment(1);
        let mut history = self.history.lock();
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(report.clone());
        drop(history);
        if let Some(audit) = self.audit.get()
            && !matches!(
                report.trigger,
                ReloadTrigger::Admin | ReloadTrigger::Rollback { .. }
            )
        {
            audit.record(report.audit_entry(
                Actor::System {
                    trigger: report.trigger_kind(),
                },
                &report.trigger_kind(),
            ));
        }
        report
    }

    /// Starts recording reloads in `audit`, beginning with the startup
    /// snapshot's report. Once per process; later calls are ignored.
    pub fn set_audit(&self, audit: Arc<AuditLog>) {
        if let Some(startup) = self.history().into_iter().next()
            && startup.trigger == ReloadTrigger::Startup
        {
            audit.record(startup.audit_entry(
                Actor::System {
                    trigger: "startup".into(),
                },
                "startup",
            ));
        }
        let _ = self.audit.set(audit);
    }

    /// The audit log, when `[admin.audit]` is configured.
    pub fn audit(&self) -> Option<&Arc<AuditLog>> {
        self.audit.get()
    }
}

fn log(report: &ReloadReport) {
    let trigger = serde_json::to_string(&report.trigger).unwrap_or_default();
    match report.outcome {
        ReloadOutcome::Applied => {
            let plugins = report
                .plugins
                .iter()
                .map(|c| format!("{}@{} ({})", c.plugin, c.to_version, c.to_sha256))
                .collect::<Vec<_>>()
                .join(", ");
            tracing::info!(id = report.id, %trigger, %plugins, ms = report.duration_ms, "reload applied");
        }
        ReloadOutcome::Unchanged => {
            tracing::debug!(id = report.id, %trigger, "reload: nothing changed")
        }
        ReloadOutcome::Refused => {
            for problem in &report.errors {
                tracing::error!(
                    id = report.id,
                    %trigger,
                    file = %problem.file,
                    key = %problem.key,
                    message = %problem.message,
                    "reload refused; the running gateway keeps serving"
                );
            }
        }
    }
    for warning in &report.warnings {
        tracing::warn!(id = report.id, "{warning}");
    }
}

fn version_of(component: &LoadedComponent) -> PluginVersion {
    PluginVersion {
        version: component.version().to_owned(),
        sha256: component.sha256.clone(),
        read_at_unix_ms: component
            .read_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    }
}

/// The plugins whose version `used` changes against the catalog.
fn changes(
    catalog: &PluginCatalog,
    used: &HashMap<String, Arc<LoadedComponent>>,
) -> Vec<PluginChange> {
    let mut changes: Vec<PluginChange> = used
        .iter()
        .filter_map(|(name, component)| {
            let from = catalog.get(name).map(|e| e.active.sha256.clone());
            (from.as_deref() != Some(component.sha256.as_str())).then(|| PluginChange {
                plugin: name.clone(),
                from_sha256: from,
                to_sha256: component.sha256.clone(),
                to_version: component.version().to_owned(),
            })
        })
        .collect();
    changes.sort_by(|a, b| a.plugin.cmp(&b.plugin));
    changes
}

/// Parts of the config a reload cannot apply to a running process.
fn restart_only_changes(startup: &Config, new: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut check = |changed: bool, what: &str| {
        if changed {
            warnings.push(format!(
                "`{what}` changed in {}; it takes effect after a restart",
                new.source.display()
            ));
        }
    };
    check(startup.listeners != new.listeners, "listeners");
    check(startup.limits != new.limits, "limits");
    check(startup.runtime != new.runtime, "runtime");
    check(startup.plugin_dir != new.plugin_dir, "plugin_dir");
    check(startup.admin != new.admin, "admin");
    check(startup.reload != new.reload, "reload");
    check(startup.analytics != new.analytics, "analytics");
    check(startup.alerting != new.alerting, "alerting");
    check(startup.alerts != new.alerts, "alerts");
    check(startup.observability != new.observability, "observability");
    check(startup.state != new.state, "state");
    check(startup.etcd != new.etcd, "etcd");
    check(startup.encryption != new.encryption, "encryption");
    warnings
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("config", &self.startup.source)
            .finish_non_exhaustive()
    }
}
