//! The `[analytics]`, `[alerting]` and `[[alerts]]` tables: the analytics
//! store, alert delivery and alert rules. Checked by [`check`].

use std::path::PathBuf;

use serde::Deserialize;

use super::Config;

/// The `[analytics]` table: per-minute rollups in a SQLite file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// Record analytics at all.
    pub enabled: bool,
    /// Directory of `analytics.sqlite3`; `.portico/analytics` beside the
    /// config file when unset (relative paths are from the config file).
    pub dir: Option<PathBuf>,
    /// Rollups older than this many days are deleted (hourly).
    pub retention_days: u32,
    /// Finished requests waiting for the writer; more are dropped and
    /// counted.
    pub queue: usize,
    /// Seconds between writes of the rollups (and on shutdown).
    pub flush_interval_s: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            enabled: true,
            dir: None,
            retention_days: 30,
            queue: 10_000,
            flush_interval_s: 60,
        }
    }
}

impl AnalyticsConfig {
    /// The SQLite file (after the loader resolved `dir`).
    pub fn file(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_default()
            .join("analytics.sqlite3")
    }
}

/// The `[alerting]` table: where alert transitions are sent.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// URLs (`http://`) each transition is POSTed to as JSON.
    pub webhooks: Vec<String>,
    /// Time allowed for one POST, ms.
    pub timeout_ms: u64,
    /// Further attempts after a failed POST.
    pub retries: u32,
    /// Wait before the first retry, ms; doubles with each retry.
    pub backoff_ms: u64,
    /// Transitions kept for the dashboard and `GET /api/alerts`.
    pub history: usize,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            webhooks: Vec::new(),
            timeout_ms: 2_000,
            retries: 3,
            backoff_ms: 500,
            history: 100,
        }
    }
}

/// What an alert rule watches.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The 5xx share of a route (or all routes) over `above_percent`.
    ErrorRate,
    /// The p99 latency of a route (or all routes) over `above_ms`.
    P99Latency,
    /// An upstream (or any upstream) with no available target.
    NoHealthyTarget,
    /// At least `traps` traps of a plugin (or any plugin) within `window_s`.
    PluginTraps,
}

impl AlertKind {
    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::ErrorRate => "error_rate",
            AlertKind::P99Latency => "p99_latency",
            AlertKind::NoHealthyTarget => "no_healthy_target",
            AlertKind::PluginTraps => "plugin_traps",
        }
    }
}

/// A `[[alerts]]` rule.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Unique name, in logs and webhook payloads.
    pub name: String,
    /// What it watches.
    pub kind: AlertKind,
    /// `error_rate`, `p99_latency`: the route; every route when unset.
    pub route: Option<String>,
    /// `no_healthy_target`: the upstream; any upstream when unset.
    pub upstream: Option<String>,
    /// `plugin_traps`: the plugin; any plugin when unset.
    pub plugin: Option<String>,
    /// `error_rate`: threshold, percent of requests answered 5xx.
    pub above_percent: Option<f64>,
    /// `p99_latency`: threshold, ms.
    pub above_ms: Option<f64>,
    /// `plugin_traps`: traps within `window_s` that make the condition true.
    pub traps: Option<u64>,
    /// Seconds of traffic each evaluation looks at (completed seconds).
    #[serde(default = "default_window")]
    pub window_s: u64,
    /// The condition must hold this long to fire, and be false this long to
    /// resolve (hysteresis), seconds.
    #[serde(default = "default_for")]
    pub for_s: u64,
    /// `error_rate`, `p99_latency`: fewer requests in the window never fire.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
}

fn default_window() -> u64 {
    10
}
fn default_for() -> u64 {
    10
}
fn default_min_requests() -> u64 {
    1
}

/// Checks the three tables, reporting `(key, message)` pairs.
pub fn check(config: &Config, add: &mut dyn FnMut(String, String)) {
    let analytics = &config.analytics;
    if analytics.retention_days == 0 {
        add(
            "analytics.retention_days".into(),
            "must be at least 1".into(),
        );
    }
    if analytics.queue == 0 {
        add("analytics.queue".into(), "must be at least 1".into());
    }
    if analytics.flush_interval_s == 0 {
        add(
            "analytics.flush_interval_s".into(),
            "must be at least 1".into(),
        );
    }
    let alerting = &config.alerting;
    for (i, url) in alerting.webhooks.iter().enumerate() {
        if let Err(message) = check_webhook(url) {
            add(format!("alerting.webhooks[{i}]"), message);
        }
    }
    if alerting.timeout_ms == 0 {
        add("alerting.timeout_ms".into(), "must be at least 1".into());
    }
    let mut names = std::collections::HashSet::new();
    for (i, rule) in config.alerts.iter().enumerate() {
        let mut error = |key: &str, message: String| add(format!("alerts[{i}].{key}"), message);
        if !names.insert(rule.name.as_str()) {
            error("name", format!("duplicate alert `{}`", rule.name));
        }
        check_rule(config, rule, &mut error);
    }
}

fn check_rule(config: &Config, rule: &AlertRule, error: &mut dyn FnMut(&str, String)) {
    let kind = rule.kind.name();
    let required = || format!("required for kind `{kind}`");
    let unused = |key: &str| format!("`{key}` does not apply to kind `{kind}`");
    let (needs, allowed): (&str, &[&str]) = match rule.kind {
        AlertKind::ErrorRate => ("above_percent", &["route", "above_percent"]),
        AlertKind::P99Latency => ("above_ms", &["route", "above_ms"]),
        AlertKind::NoHealthyTarget => ("", &["upstream"]),
        AlertKind::PluginTraps => ("traps", &["plugin", "traps"]),
    };
    let set = [
        ("route", rule.route.is_some()),
        ("upstream", rule.upstream.is_some()),
        ("plugin", rule.plugin.is_some()),
        ("above_percent", rule.above_percent.is_some()),
        ("above_ms", rule.above_ms.is_some()),
        ("traps", rule.traps.is_some()),
    ];
    for (key, present) in set {
        if key == needs && !present {
            error(key, required());
        }
        if present && !allowed.contains(&key) {
            error(key, unused(key));
        }
    }
    if let Some(percent) = rule.above_percent
        && !(0.0..100.0).contains(&percent)
    {
        error("above_percent", "must be from 0 to below 100".into());
    }
    if let Some(ms) = rule.above_ms
        && !(ms > 0.0 && ms.is_finite())
    {
        error("above_ms", "must be above 0".into());
    }
    if rule.traps == Some(0) {
        error("traps", "must be at least 1".into());
    }
    if rule.window_s == 0 || rule.window_s > 300 {
        error(
            "window_s",
            "must be from 1 to 300 (the live stats keep 5 minutes)".into(),
        );
    }
    if let Some(route) = &rule.route
        && !config.routes.iter().any(|r| &r.name == route)
    {
        error("route", format!("no route named `{route}`"));
    }
    if let Some(upstream) = &rule.upstream
        && !config.upstreams.contains_key(upstream)
    {
        error("upstream", format!("no upstream named `{upstream}`"));
    }
    if let Some(plugin) = &rule.plugin
        && !config
            .routes
            .iter()
            .flat_map(|r| &r.plugins)
            .any(|p| &p.name == plugin)
    {
        error("plugin", format!("no route uses a plugin named `{plugin}`"));
    }
}

/// A webhook URL must be absolute `http://` with a host.
fn check_webhook(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(_)) => Ok(()),
        (Some("https"), _) => Err(format!(
            "`{url}`: https webhooks are not supported yet; use http (e.g. a local relay)"
        )),
        _ => Err(format!("`{url}` must be an absolute http:// URL")),
    }
}
