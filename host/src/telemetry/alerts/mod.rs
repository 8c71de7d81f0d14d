//! Alerts: `[[alerts]]` rules evaluated every second from the live stats.
//! Each rule fires when its condition has held for `for_s` seconds and
//! resolves when it has been false as long (hysteresis). Every transition is
//! logged, POSTed as JSON to the `[alerting]` webhooks ([`webhook`]) and kept
//! in a recent-alerts list for the dashboard and the admin API.

pub mod rule;
pub mod webhook;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::config::{AlertKind, AlertRule, AlertingConfig};
use crate::telemetry::live::{LiveStats, unix_now};
pub use rule::{Observation, RuleState, Transition};
pub use webhook::Webhooks;

/// One transition of one rule: the webhook payload and a history entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertEvent {
    /// The rule's name.
    pub alert: String,
    /// The rule's kind.
    pub kind: &'static str,
    /// `firing` or `resolved`.
    pub state: Transition,
    /// Unix time, s.
    pub at: u64,
    /// What the rule watches, e.g. route `checkout`.
    pub subject: String,
    /// The measured value (percent, ms, upstreams without targets, traps).
    pub value: f64,
    /// The rule's threshold in the same unit.
    pub threshold: f64,
    /// A sentence for people.
    pub message: String,
}

/// The rules, their states and the recent transitions.
pub struct Alerts {
    rules: Mutex<Vec<RuleState>>,
    history: Mutex<VecDeque<AlertEvent>>,
    keep: usize,
    webhooks: Webhooks,
}

/// A rule's current state, for the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStatus {
    /// Rule name.
    pub alert: String,
    /// Rule kind.
    pub kind: &'static str,
    /// Whether it is firing.
    pub firing: bool,
}

impl Alerts {
    /// The rules of `rules`, delivering to `alerting`'s webhooks (their
    /// tasks start on the current runtime).
    pub fn new(rules: &[AlertRule], alerting: &AlertingConfig) -> Self {
        Alerts {
            rules: Mutex::new(rules.iter().cloned().map(RuleState::new).collect()),
            history: Mutex::new(VecDeque::new()),
            keep: alerting.history.max(1),
            webhooks: Webhooks::start(alerting),
        }
    }

    /// Evaluates every rule at `now` (Unix s); returns the transitions.
    pub fn evaluate(&self, live: &LiveStats, now: u64) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        for state in self.rules.lock().iter_mut() {
            let observed = state.observe(live, now);
            if let Some(transition) = state.step(observed.holds, now) {
                events.push(event(state, transition, observed, now));
            }
        }
        for event in &events {
            self.publish(event);
        }
        events
    }

    fn publish(&self, event: &AlertEvent) {
        match event.state {
            Transition::Firing => tracing::warn!(
                target: "portico::telemetry::alerts",
                alert = %event.alert, kind = event.kind, value = event.value,
                threshold = event.threshold, "alert firing: {}", event.message
            ),
            Transition::Resolved => tracing::info!(
                target: "portico::telemetry::alerts",
                alert = %event.alert, kind = event.kind, value = event.value,
                "alert resolved: {}", event.message
            ),
        }
        if let Ok(json) = serde_json::to_vec(event) {
            self.webhooks.send(Bytes::from(json));
        }
        let mut history = self.history.lock();
        if history.len() == self.keep {
            history.pop_front();
        }
        history.push_back(event.clone());
    }

    /// The recent transitions, newest first.
    pub fn recent(&self) -> Vec<AlertEvent> {
        self.history.lock().iter().rev().cloned().collect()
    }

    /// Every rule and whether it fires.
    pub fn rules(&self) -> Vec<RuleStatus> {
        self.rules
            .lock()
            .iter()
            .map(|s| RuleStatus {
                alert: s.rule.name.clone(),
                kind: s.rule.kind.name(),
                firing: s.is_firing(),
            })
            .collect()
    }

    /// Evaluates every second until the task is aborted.
    pub fn spawn(self: &Arc<Self>, live: Arc<LiveStats>) -> JoinHandle<()> {
        let alerts = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                alerts.evaluate(&live, unix_now());
            }
        })
    }
}

fn event(state: &RuleState, transition: Transition, seen: Observation, now: u64) -> AlertEvent {
    let rule = &state.rule;
    let threshold = state.threshold();
    let window = rule.window_s;
    let measured = match rule.kind {
        AlertKind::ErrorRate => format!(
            "5xx share of {} was {:.1}% over {window}s (threshold {threshold}%)",
            seen.subject, seen.value
        ),
        AlertKind::P99Latency => format!(
            "p99 latency of {} was {:.1} ms over {window}s (threshold {threshold} ms)",
            seen.subject, seen.value
        ),
        AlertKind::NoHealthyTarget => match transition {
            Transition::Firing => format!("{} has no healthy target", seen.subject),
            Transition::Resolved => format!("{} has healthy targets again", seen.subject),
        },
        AlertKind::PluginTraps => format!(
            "{} trapped {} times in {window}s (threshold {threshold})",
            seen.subject, seen.value
        ),
    };
    AlertEvent {
        alert: rule.name.clone(),
        kind: rule.kind.name(),
        state: transition,
        at: now,
        subject: seen.subject,
        value: seen.value,
        threshold,
        message: format!("{}: {measured}", rule.name),
    }
}
