//! What one reload did.

use std::time::SystemTime;

use serde::Serialize;

use crate::config::ConfigErrors;

/// What started a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReloadTrigger {
    /// The first snapshot, at startup.
    Startup,
    /// The watched config file changed.
    ConfigFile,
    /// `SIGHUP`.
    Signal,
    /// A new revision of the config document in etcd.
    Etcd {
        /// The document's revision.
        revision: i64,
    },
    /// The admin API's `POST /reload`.
    Admin,
    /// A plugin's `.wasm` changed in the plugin directory.
    PluginFile {
        /// The plugin.
        plugin: String,
    },
    /// A plugin's `.wasm` was removed from the plugin directory.
    PluginRemoved {
        /// The plugin.
        plugin: String,
    },
    /// The admin API's `POST /plugins/<name>/rollback`.
    Rollback {
        /// The plugin.
        plugin: String,
    },
}

/// Whether the reload changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// A new snapshot serves new requests.
    Applied,
    /// Nothing differed; the snapshot was kept.
    Unchanged,
    /// A check failed; the running snapshot keeps serving.
    Refused,
}

/// One problem that refused a reload.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadProblem {
    /// The file at fault (config or plugin).
    pub file: String,
    /// Key path in the config, empty when the file as a whole is at fault.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// A plugin whose active version a reload changed.
#[derive(Debug, Clone, Serialize)]
pub struct PluginChange {
    /// Plugin name.
    pub plugin: String,
    /// SHA-256 of the version serving before, if any.
    pub from_sha256: Option<String>,
    /// SHA-256 of the version serving now.
    pub to_sha256: String,
    /// The new version as the component reports it.
    pub to_version: String,
}

/// The result of one reload, kept for `GET /reloads`.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    /// Increasing per gateway process.
    pub id: u64,
    /// What started it.
    pub trigger: ReloadTrigger,
    /// When it finished, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// What happened.
    pub outcome: ReloadOutcome,
    /// Why it was refused.
    pub errors: Vec<ReloadProblem>,
    /// Changes that were seen but need a restart to take effect.
    pub warnings: Vec<String>,
    /// Plugins whose version changed.
    pub plugins: Vec<PluginChange>,
    /// Time taken to build and check the new snapshot, ms.
    pub duration_ms: f64,
    /// The etcd revision of the config document read; `None` for a file
    /// and for plugin changes.
    pub config_revision: Option<i64>,
}

impl ReloadReport {
    pub(super) fn new(id: u64, trigger: ReloadTrigger) -> Self {
        ReloadReport {
            id,
            trigger,
            at_unix_ms: 0,
            outcome: ReloadOutcome::Unchanged,
            errors: Vec::new(),
            warnings: Vec::new(),
            plugins: Vec::new(),
            duration_ms: 0.0,
            config_revision: None,
        }
    }

    /// Marks the report refused by `errors`.
    pub(super) fn refuse(&mut self, errors: &ConfigErrors) {
        self.outcome = ReloadOutcome::Refused;
        self.errors = errors
            .0
            .iter()
            .map(|e| ReloadProblem {
                file: e.file.display().to_string(),
                key: e.key.clone(),
                message: e.message.clone(),
            })
            .collect();
    }

    /// Marks the report refused by one problem with a file.
    pub(super) fn refuse_file(&mut self, file: String, message: String) {
        self.outcome = ReloadOutcome::Refused;
        self.errors.push(ReloadProblem {
            file,
            key: String::new(),
            message,
        });
    }

    pub(super) fn finish(&mut self, started: std::time::Instant) {
        self.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.at_unix_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
    }
}

impl ReloadReport {
    /// The audit record of this reload, done by `actor` as `action`.
    pub fn audit_entry(&self, actor: crate::audit::Actor, action: &str) -> crate::audit::Entry {
        let outcome = match self.outcome {
            ReloadOutcome::Applied => "applied",
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Refused => "refused",
        };
        crate::audit::Entry {
            actor,
            action: action.to_owned(),
            outcome: outcome.to_owned(),
            detail: serde_json::json!({
                "reload_id": self.id,
                "trigger": self.trigger,
                "plugins": self.plugins,
                "config_revision": self.config_revision,
                "errors": self.errors,
                "warnings": self.warnings,
            }),
        }
    }

    /// The trigger's kind (`config_file`, `signal`, ...), as in its JSON.
    pub fn trigger_kind(&self) -> String {
        serde_json::to_value(&self.trigger)
            .ok()
            .and_then(|v| v["kind"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}
