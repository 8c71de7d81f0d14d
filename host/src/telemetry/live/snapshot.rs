//! The live stats as the dashboard and the admin API show them (JSON).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::window::{PluginBucket, RouteBucket, Second};
use crate::data::upstream::Upstream;
use crate::data::upstream::breaker::BreakerState;
use crate::data::upstream::health::TargetHealth;
use crate::histogram::Histogram;

/// Everything the dashboard polls for, at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct LiveSnapshot {
    /// Unix time (s) the series end at (exclusive).
    pub now: u64,
    /// Seconds covered by the series.
    pub seconds: u64,
    /// Per route, by name (`-`: requests no route matched).
    pub routes: Vec<RouteLive>,
    /// Per plugin and version.
    pub plugins: Vec<PluginLive>,
    /// Every upstream's targets and their health.
    pub upstreams: Vec<UpstreamHealth>,
}

/// One route's series and totals.
#[derive(Debug, Clone, Serialize)]
pub struct RouteLive {
    /// Route name.
    pub route: String,
    /// Requests since the gateway started.
    pub total_requests: u64,
    /// Of which 5xx, since start.
    pub total_errors: u64,
    /// Requests in the series' window.
    pub requests: u64,
    /// Requests per second over the window.
    pub rps: f64,
    /// 5xx share over the window, 0 to 1.
    pub error_rate: f64,
    /// Median latency over the window, ms.
    pub p50_ms: f64,
    /// 99th percentile latency over the window, ms.
    pub p99_ms: f64,
    /// One point per second, oldest first (seconds without requests too).
    pub series: Vec<Point>,
}

/// One second of a route.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Point {
    /// Unix time, s.
    pub t: u64,
    /// Requests finished in that second (= requests per second).
    pub requests: u64,
    /// 5xx share, 0 to 1.
    pub error_rate: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

/// One plugin's calls over the window.
#[derive(Debug, Clone, Serialize)]
pub struct PluginLive {
    /// Plugin name.
    pub plugin: String,
    /// The version it reports.
    pub version: String,
    /// Phase calls in the window.
    pub calls: u64,
    /// Calls that trapped (trap, deadline, memory limit).
    pub traps: u64,
    /// Median call latency, ms.
    pub p50_ms: f64,
    /// 99th percentile call latency, ms.
    pub p99_ms: f64,
    /// One point per second: `requests` is calls, `error_rate` the share
    /// that trapped.
    pub series: Vec<Point>,
}

/// An upstream's targets.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamHealth {
    /// Upstream name.
    pub upstream: String,
    /// Targets requests may be sent to now.
    pub available: usize,
    /// Each target.
    pub targets: Vec<TargetHealth>,
    /// The circuit breaker: requests in flight and waiting, the bounds,
    /// and the requests it refused.
    pub breaker: BreakerState,
}

impl UpstreamHealth {
    /// The health of `upstream` now.
    pub fn of(upstream: &Upstream) -> Self {
        let targets = upstream.target_states();
        UpstreamHealth {
            upstream: upstream.name().to_owned(),
            available: targets.iter().filter(|t| t.available).count(),
            targets,
            breaker: upstream.breaker_state(),
        }
    }
}

/// Counts for one series: calls, failures, latencies.
trait Counted {
    fn counts(&self) -> (u64, u64, &Histogram);
}

impl Counted for RouteBucket {
    fn counts(&self) -> (u64, u64, &Histogram) {
        (self.requests, self.errors, &self.latency)
    }
}

impl Counted for PluginBucket {
    fn counts(&self) -> (u64, u64, &Histogram) {
        (self.calls, self.traps, &self.latency)
    }
}

/// Dense per-second series over `[from, to)` and the window's aggregate.
struct Series {
    points: Vec<Point>,
    count: u64,
    failed: u64,
    latency: Histogram,
}

fn series<'a, B: Counted + 'a>(
    from: u64,
    to: u64,
    buckets: impl Iterator<Item = (u64, &'a B)>,
) -> Series {
    let mut points: Vec<Point> = (from..to).map(|t| point(t, 0, 0, None)).collect();
    let mut all = Series {
        points: Vec::new(),
        count: 0,
        failed: 0,
        latency: Histogram::default(),
    };
    for (at, bucket) in buckets {
        let (count, failed, latency) = bucket.counts();
        if let Some(slot) = points.get_mut((at - from) as usize) {
            *slot = point(at, count, failed, Some(latency));
        }
        all.count += count;
        all.failed += failed;
        all.latency.merge(latency);
    }
    all.points = points;
    all
}

fn point(t: u64, count: u64, failed: u64, latency: Option<&Histogram>) -> Point {
    Point {
        t,
        requests: count,
        error_rate: share(failed, count),
        p50_ms: latency.map_or(0.0, |h| h.quantile_ms(0.5)),
        p99_ms: latency.map_or(0.0, |h| h.quantile_ms(0.99)),
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Builds the snapshot from the seconds in `[from, to)`.
pub(super) fn build<'a>(
    seconds: impl Iterator<Item = &'a Second> + Clone,
    from: u64,
    to: u64,
    totals: &HashMap<Arc<str>, (u64, u64)>,
) -> LiveSnapshot {
    let window = (to - from).max(1);
    let mut route_names: BTreeMap<&str, (u64, u64)> =
        totals.iter().map(|(k, v)| (&**k, *v)).collect();
    let mut plugin_keys: BTreeMap<(&str, &str), ()> = BTreeMap::new();
    for second in seconds.clone() {
        for name in second.routes.keys() {
            route_names.entry(name).or_default();
        }
        for (name, version) in second.plugins.keys() {
            plugin_keys.insert((name, version), ());
        }
    }
    let routes = route_names
        .into_iter()
        .map(|(name, (total_requests, total_errors))| {
            let found = series(
                from,
                to,
                seconds
                    .clone()
                    .filter_map(|s| s.routes.get(name).map(|b| (s.at, b))),
            );
            RouteLive {
                route: name.to_owned(),
                total_requests,
                total_errors,
                requests: found.count,
                rps: found.count as f64 / window as f64,
                error_rate: share(found.failed, found.count),
                p50_ms: found.latency.quantile_ms(0.5),
                p99_ms: found.latency.quantile_ms(0.99),
                series: found.points,
            }
        })
        .collect();
    let plugins = plugin_keys
        .into_keys()
        .map(|(name, version)| {
            let found = series(
                from,
                to,
                seconds.clone().filter_map(|s| {
                    s.plugins
                        .iter()
                        .find(|((n, v), _)| &**n == name && &**v == version)
                        .map(|(_, b)| (s.at, b))
                }),
            );
            PluginLive {
                plugin: name.to_owned(),
                version: version.to_owned(),
                calls: found.count,
                traps: found.failed,
                p50_ms: found.latency.quantile_ms(0.5),
                p99_ms: found.latency.quantile_ms(0.99),
                series: found.points,
            }
        })
        .collect();
    LiveSnapshot {
        now: to,
        seconds: to - from,
        routes,
        plugins,
        upstreams: Vec::new(),
    }
}
