//! One rule: its condition read from the live stats, and its state machine
//! with hysteresis (the condition must hold `for_s` seconds to fire and be
//! false `for_s` seconds to resolve).

use serde::Serialize;

use crate::config::{AlertKind, AlertRule};
use crate::telemetry::live::LiveStats;

/// The condition at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Whether the condition holds.
    pub holds: bool,
    /// The measured value (percent, ms, targets, traps).
    pub value: f64,
    /// What was measured, for people.
    pub subject: String,
}

/// A rule's transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The condition held for `for_s`.
    Firing,
    /// The condition was false for `for_s`.
    Resolved,
}

/// A rule and its state.
#[derive(Debug)]
pub struct RuleState {
    /// The rule.
    pub rule: AlertRule,
    firing: bool,
    /// Since when (Unix s) the condition disagrees with `firing`.
    changing_since: Option<u64>,
}

impl RuleState {
    /// A rule, not firing.
    pub fn new(rule: AlertRule) -> Self {
        RuleState {
            rule,
            firing: false,
            changing_since: None,
        }
    }

    /// Whether the rule is firing.
    pub fn is_firing(&self) -> bool {
        self.firing
    }

    /// Feeds one observation at `now`; returns the transition, if any.
    pub fn step(&mut self, holds: bool, now: u64) -> Option<Transition> {
        if holds == self.firing {
            self.changing_since = None;
            return None;
        }
        let since = *self.changing_since.get_or_insert(now);
        if now.saturating_sub(since) < self.rule.for_s {
            return None;
        }
        self.firing = holds;
        self.changing_since = None;
        Some(if holds {
            Transition::Firing
        } else {
            Transition::Resolved
        })
    }

    /// The threshold the value is compared with.
    pub fn threshold(&self) -> f64 {
        let rule = &self.rule;
        match rule.kind {
            AlertKind::ErrorRate => rule.above_percent.unwrap_or_default(),
            AlertKind::P99Latency => rule.above_ms.unwrap_or_default(),
            AlertKind::NoHealthyTarget => 0.0,
            AlertKind::PluginTraps => rule.traps.unwrap_or_default() as f64,
        }
    }

    /// Reads the condition from `live` over the completed seconds
    /// `[now - window_s, now)`.
    pub fn observe(&self, live: &LiveStats, now: u64) -> Observation {
        let rule = &self.rule;
        let from = now.saturating_sub(rule.window_s);
        let scope = |name: &Option<String>, what: &str| match name {
            Some(name) => format!("{what} `{name}`"),
            None => format!("every {what}"),
        };
        match rule.kind {
            AlertKind::ErrorRate | AlertKind::P99Latency => {
                let totals = live.route_totals(rule.route.as_deref(), from, now);
                let enough = totals.requests >= rule.min_requests.max(1);
                let value = if rule.kind == AlertKind::ErrorRate {
                    if totals.requests == 0 {
                        0.0
                    } else {
                        totals.errors as f64 * 100.0 / totals.requests as f64
                    }
                } else {
                    totals.latency.quantile_ms(0.99)
                };
                Observation {
                    holds: enough && value > self.threshold(),
                    value,
                    subject: scope(&rule.route, "route"),
                }
            }
            AlertKind::NoHealthyTarget => {
                let empty: Vec<String> = live
                    .upstream_health()
                    .into_iter()
                    .filter(|u| {
                        rule.upstream
                            .as_ref()
                            .is_none_or(|name| name == &u.upstream)
                    })
                    .filter(|u| u.available == 0)
                    .map(|u| u.upstream)
                    .collect();
                Observation {
                    holds: !empty.is_empty(),
                    value: empty.len() as f64,
                    subject: if empty.is_empty() {
                        scope(&rule.upstream, "upstream")
                    } else {
                        format!("upstream `{}`", empty.join("`, `"))
                    },
                }
            }
            AlertKind::PluginTraps => {
                let traps = live.plugin_traps(rule.plugin.as_deref(), from, now);
                Observation {
                    holds: traps >= rule.traps.unwrap_or(1),
                    value: traps as f64,
                    subject: scope(&rule.plugin, "plugin"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(for_s: u64) -> RuleState {
        let toml =
            format!("name = \"r\"\nkind = \"error_rate\"\nabove_percent = 10.0\nfor_s = {for_s}");
        RuleState::new(toml::from_str(&toml).unwrap())
    }

    #[test]
    fn fires_and_resolves_only_after_the_for_duration() {
        let mut state = rule(3);
        assert_eq!(state.step(true, 100), None);
        assert_eq!(state.step(true, 102), None);
        assert_eq!(state.step(false, 103), None, "a dip restarts the count");
        assert_eq!(state.step(true, 104), None);
        assert_eq!(state.step(true, 107), Some(Transition::Firing));
        assert_eq!(state.step(false, 108), None);
        assert_eq!(state.step(true, 109), None, "flapping does not resolve");
        assert_eq!(state.step(false, 110), None);
        assert_eq!(state.step(false, 113), Some(Transition::Resolved));
        assert!(!state.is_firing());
    }

    #[test]
    fn for_zero_fires_at_once() {
        let mut state = rule(0);
        assert_eq!(state.step(true, 5), Some(Transition::Firing));
        assert_eq!(state.step(false, 6), Some(Transition::Resolved));
    }
}
