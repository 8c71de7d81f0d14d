//! Capability `metrics`: counters the plugin reports. The gateway exports
//! each as `plugin_<plugin>_<name>_total` in its Prometheus metrics, with
//! the route as label `route` besides the labels given here.
//!
//! ```
//! # let host = portico_sdk::testing::MockHost::with_grants(&["metrics"]);
//! use portico_sdk::metrics;
//!
//! metrics::increment("lookups", &[("result", "hit")])?;
//! metrics::add("lookups", &[("result", "miss")], 2)?;
//! assert_eq!(host.counter("lookups", &[("result", "miss")]), 2);
//! # Ok::<(), portico_sdk::metrics::MetricsError>(())
//! ```
//!
//! The host bounds what a plugin can report: names are `[a-z][a-z0-9_]*`
//! (at most 48 bytes), at most 4 labels named like metrics (not `route`),
//! label values of at most 64 bytes, and at most 256 distinct series per
//! plugin. Take label values from a small fixed set (`hit`/`miss`, a policy
//! name from the config), never from request data.

use std::fmt;

use crate::imports::metrics as host;

/// Why the host refused a report; the counter is unchanged. Reports are
/// best-effort: most plugins ignore this (`let _ = metrics::increment(...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsError {
    /// The metric name breaks the rules.
    InvalidName(String),
    /// A label name or value breaks the rules.
    InvalidLabel(String),
    /// The plugin already reports the most series allowed.
    TooManySeries,
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsError::InvalidName(why) => write!(f, "invalid metric name: {why}"),
            MetricsError::InvalidLabel(why) => write!(f, "invalid metric label: {why}"),
            MetricsError::TooManySeries => f.write_str("too many metric series"),
        }
    }
}

impl std::error::Error for MetricsError {}

impl From<host::MetricsError> for MetricsError {
    fn from(err: host::MetricsError) -> Self {
        match err {
            host::MetricsError::InvalidName(why) => MetricsError::InvalidName(why),
            host::MetricsError::InvalidLabel(why) => MetricsError::InvalidLabel(why),
            host::MetricsError::TooManySeries => MetricsError::TooManySeries,
        }
    }
}

/// Adds 1 to the counter `name` with `labels`.
pub fn increment(name: &str, labels: &[(&str, &str)]) -> Result<(), MetricsError> {
    add(name, labels, 1)
}

/// Adds `value` to the counter `name` with `labels`.
pub fn add(name: &str, labels: &[(&str, &str)], value: u64) -> Result<(), MetricsError> {
    let labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    host::counter_add(name, &labels, value).map_err(MetricsError::from)
}
