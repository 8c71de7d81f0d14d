//! Live stats: an in-memory aggregator fed once per finished request (by
//! `observe::request`, through the [`Recorder`] the monitor installs),
//! answering with per-second series over the last few minutes — requests
//! per second, p50/p99 latency and error rate (5xx share) per route,
//! latency and traps per plugin — and the health of every upstream target.
//!
//! Recording takes one `parking_lot` mutex for a hash lookup and a few
//! counter increments (the histogram is a fixed array); snapshots are
//! computed from the buckets under the same lock, once per dashboard poll
//! or alert evaluation, never per request.

mod snapshot;
mod window;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

/// The samples and the recorder trait live with the request path that
/// reports them (`observe`); the live stats implement it.
pub(crate) use crate::data::observe::sample::{Recorder, RequestSample};
pub use snapshot::{LiveSnapshot, UpstreamHealth};
pub use window::RouteBucket;

use crate::data::gateway::Gateway;
use crate::data::upstream::Upstream;
use window::Window;

/// Seconds of history kept by default (five minutes).
pub const DEFAULT_WINDOW_S: usize = 300;

/// The live stats of one gateway process; survives config reloads.
pub struct LiveStats {
    inner: Mutex<Inner>,
    upstreams: RwLock<Vec<Weak<Upstream>>>,
}

struct Inner {
    window: Window,
    /// Requests and 5xx since start, by route.
    totals: HashMap<Arc<str>, (u64, u64)>,
}

impl Default for LiveStats {
    fn default() -> Self {
        LiveStats::new(DEFAULT_WINDOW_S)
    }
}

impl LiveStats {
    /// Stats keeping the last `seconds` seconds.
    pub fn new(seconds: usize) -> Self {
        LiveStats {
            inner: Mutex::new(Inner {
                window: Window::new(seconds),
                totals: HashMap::new(),
            }),
            upstreams: RwLock::new(Vec::new()),
        }
    }

    /// Counts one finished request in the current second.
    pub fn record(&self, sample: &RequestSample) {
        self.record_at(sample, unix_now());
    }

    /// Counts one finished request in second `at` (Unix time).
    pub fn record_at(&self, sample: &RequestSample, at: u64) {
        let mut inner = self.inner.lock();
        inner.window.record(sample, at);
        let route: Arc<str> = sample
            .route
            .clone()
            .unwrap_or_else(|| crate::data::observe::sample::NO_ROUTE.into());
        let total = inner.totals.entry(route).or_default();
        total.0 += 1;
        total.1 += u64::from(sample.is_error());
    }

    /// Reports the health of `gateway`'s upstreams from now on (called for
    /// every gateway built, the first and each reload). Held weakly: an
    /// upstream dropped by a reload stops its checks as before.
    pub fn watch_upstreams(&self, gateway: &Gateway) {
        let mut seen: Vec<Weak<Upstream>> = Vec::new();
        for route in &gateway.routes {
            let weak = Arc::downgrade(&route.upstream);
            if !seen.iter().any(|w| w.ptr_eq(&weak)) {
                seen.push(weak);
            }
        }
        *self.upstreams.write() = seen;
    }

    /// Requests of `route` (every route when `None`) merged over the
    /// seconds `[from, to)`.
    pub fn route_totals(&self, route: Option<&str>, from: u64, to: u64) -> RouteBucket {
        let inner = self.inner.lock();
        let mut merged = RouteBucket::default();
        for second in inner.window.range(from, to) {
            for (name, bucket) in &second.routes {
                if route.is_none_or(|r| r == &**name) {
                    merged.requests += bucket.requests;
                    merged.errors += bucket.errors;
                    merged.latency.merge(&bucket.latency);
                }
            }
        }
        merged
    }

    /// Traps of `plugin` (every plugin when `None`) over `[from, to)`.
    pub fn plugin_traps(&self, plugin: Option<&str>, from: u64, to: u64) -> u64 {
        let inner = self.inner.lock();
        inner
            .window
            .range(from, to)
            .flat_map(|second| second.plugins.iter())
            .filter(|((name, _), _)| plugin.is_none_or(|p| p == &**name))
            .map(|(_, bucket)| bucket.traps)
            .sum()
    }

    /// Every watched upstream's targets and their health.
    pub fn upstream_health(&self) -> Vec<UpstreamHealth> {
        let upstreams = self.upstreams.read();
        let mut health: Vec<UpstreamHealth> = upstreams
            .iter()
            .filter_map(Weak::upgrade)
            .map(|upstream| UpstreamHealth::of(&upstream))
            .collect();
        health.sort_by(|a, b| a.upstream.cmp(&b.upstream));
        health
    }

    /// The series of the last `seconds` completed seconds before `now`,
    /// with totals since start and upstream health.
    pub fn snapshot(&self, now: u64, seconds: usize) -> LiveSnapshot {
        let inner = self.inner.lock();
        let seconds = seconds.clamp(1, inner.window.capacity());
        let from = now.saturating_sub(seconds as u64);
        let mut snapshot = snapshot::build(inner.window.range(from, now), from, now, &inner.totals);
        drop(inner);
        snapshot.upstreams = self.upstream_health();
        snapshot
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::data::observe::sample::PluginSample;

    fn sample(route: &str, status: u16, ms: u64, trapped: bool) -> RequestSample {
        RequestSample {
            route: Some(route.into()),
            method: http::Method::GET,
            status,
            latency: Duration::from_millis(ms),
            upstream: Some("u".into()),
            target: None,
            consumer: None,
            bytes_in: 0,
            bytes_out: 0,
            plugins: vec![PluginSample {
                name: "p".into(),
                version: "1.0.0".into(),
                latency: Duration::from_micros(300),
                trapped,
            }],
        }
    }

    #[test]
    fn series_rates_and_percentiles_per_second() {
        let live = LiveStats::new(60);
        for _ in 0..9 {
            live.record_at(&sample("a", 200, 10, false), 1000);
        }
        live.record_at(&sample("a", 503, 400, true), 1000);
        live.record_at(&sample("a", 200, 10, false), 1002);
        let snapshot = live.snapshot(1003, 4);
        let a = &snapshot.routes[0];
        assert_eq!(
            (a.route.as_str(), a.total_requests, a.requests),
            ("a", 11, 11)
        );
        let counts: Vec<u64> = a.series.iter().map(|p| p.requests).collect();
        assert_eq!(counts, [0, 10, 0, 1], "one point per second, gaps included");
        assert_eq!(a.series[1].error_rate, 0.1);
        assert!((a.series[1].p50_ms - 10.0).abs() < 1.0);
        assert!(a.series[1].p99_ms > 350.0);
        let p = &snapshot.plugins[0];
        assert_eq!((p.calls, p.traps), (11, 1));
        let totals = live.route_totals(Some("a"), 1000, 1001);
        assert_eq!((totals.requests, totals.errors), (10, 1));
        assert_eq!(live.plugin_traps(Some("p"), 1000, 1003), 1);
        assert_eq!(live.plugin_traps(Some("other"), 1000, 1003), 0);
    }

    #[test]
    fn old_seconds_leave_the_window() {
        let live = LiveStats::new(3);
        live.record_at(&sample("a", 200, 1, false), 10);
        live.record_at(&sample("a", 200, 1, false), 20);
        assert_eq!(live.route_totals(None, 0, 100).requests, 2);
        for t in 21..24 {
            live.record_at(&sample("a", 200, 1, false), t);
        }
        assert_eq!(
            live.route_totals(None, 0, 21).requests,
            0,
            "seconds 10 and 20 dropped"
        );
        assert_eq!(live.snapshot(24, 300).routes[0].total_requests, 5);
    }
}
