//! A plugin slot's metrics, labelled by plugin, version (from the
//! component's `metadata` export) and route; handles are registered once
//! when the slot loads, so a call costs an atomic add or a histogram record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, Label};

use super::metrics as names;

/// The phase a plugin call ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `on-request`.
    Request,
    /// `on-response`.
    Response,
}

impl Phase {
    /// `on_request` or `on_response`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Request => "on_request",
            Phase::Response => "on_response",
        }
    }
}

/// One plugin phase call of a request, for the access log and spans.
#[derive(Debug, Clone)]
pub struct PluginCall {
    /// The plugin's name.
    pub plugin: std::sync::Arc<str>,
    /// Which phase.
    pub phase: Phase,
    /// When the call started.
    pub start: Instant,
    /// How long it ran.
    pub elapsed: Duration,
    /// Whether it failed (trap, deadline, error...).
    pub failed: bool,
    /// The plugin's version (its `metadata`), for the live stats.
    pub version: std::sync::Arc<str>,
    /// Whether the call killed its instance (trap, deadline, memory limit).
    pub trapped: bool,
}

/// Metric handles of one plugin on one route.
pub struct PluginStats {
    labels: Vec<Label>,
    created: Counter,
    reused: Counter,
    on_request: Histogram,
    on_response: Histogram,
    deadline_overruns: Counter,
    memory_peak: Gauge,
    peak: AtomicU64,
}

impl PluginStats {
    /// Registers the handles with the recorder installed now (if any).
    pub fn new(plugin: &str, version: &str, route: &str) -> Self {
        let labels = vec![
            Label::new("plugin", plugin.to_owned()),
            Label::new("version", version.to_owned()),
            Label::new("route", route.to_owned()),
        ];
        let phase = |phase: Phase| {
            let mut labels = labels.clone();
            labels.push(Label::new("phase", phase.name()));
            metrics::histogram!(names::PLUGIN_CALL_DURATION, labels)
        };
        PluginStats {
            created: metrics::counter!(names::PLUGIN_INSTANCES_CREATED, labels.clone()),
            reused: metrics::counter!(names::PLUGIN_INSTANCES_REUSED, labels.clone()),
            on_request: phase(Phase::Request),
            on_response: phase(Phase::Response),
            deadline_overruns: metrics::counter!(names::PLUGIN_DEADLINE_OVERRUNS, labels.clone()),
            memory_peak: metrics::gauge!(names::PLUGIN_MEMORY_PEAK, labels.clone()),
            peak: AtomicU64::new(0),
            labels,
        }
    }

    /// An instance was started.
    pub(crate) fn instance_created(&self) {
        self.created.increment(1);
    }

    /// A request got an idle instance.
    pub(crate) fn instance_reused(&self) {
        self.reused.increment(1);
    }

    /// A phase call ran for `elapsed`.
    pub fn call(&self, phase: Phase, elapsed: Duration) {
        match phase {
            Phase::Request => self.on_request.record(elapsed.as_secs_f64()),
            Phase::Response => self.on_response.record(elapsed.as_secs_f64()),
        }
    }

    /// A call (or instance start) failed; `kind` as `PluginFailure::kind`.
    pub fn failed(&self, kind: &'static str) {
        let mut labels = self.labels.clone();
        labels.push(Label::new("kind", kind));
        metrics::counter!(names::PLUGIN_FAILURES, labels).increment(1);
        if kind == "deadline" {
            self.deadline_overruns.increment(1);
        }
    }

    /// An instance's linear memory reached `bytes`; the gauge keeps the
    /// highest value seen.
    pub fn memory(&self, bytes: usize) {
        let bytes = bytes as u64;
        if self.peak.fetch_max(bytes, Ordering::Relaxed) < bytes {
            self.memory_peak.set(bytes as f64);
        }
    }
}
