//! Per-second buckets over a sliding window of the last few minutes.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::RequestSample;
use crate::data::observe::sample::NO_ROUTE;
use crate::histogram::Histogram;

/// One route's requests within one second.
#[derive(Debug, Clone, Default)]
pub struct RouteBucket {
    /// Requests finished.
    pub requests: u64,
    /// Of which answered 5xx.
    pub errors: u64,
    /// Their total latencies.
    pub latency: Histogram,
}

/// One plugin's calls within one second.
#[derive(Debug, Clone, Default)]
pub struct PluginBucket {
    /// Phase calls.
    pub calls: u64,
    /// Of which trapped.
    pub traps: u64,
    /// Their latencies.
    pub latency: Histogram,
}

/// A plugin as the stats group it: name and version.
pub type PluginKey = (Arc<str>, Arc<str>);

/// Everything recorded in one second.
#[derive(Debug, Clone, Default)]
pub struct Second {
    /// Unix time of the second.
    pub at: u64,
    /// By route name (`-`: no route matched).
    pub routes: HashMap<Arc<str>, RouteBucket>,
    /// By plugin.
    pub plugins: HashMap<PluginKey, PluginBucket>,
}

/// The last `capacity` seconds, oldest first.
#[derive(Debug)]
pub struct Window {
    capacity: usize,
    seconds: VecDeque<Second>,
}

impl Window {
    /// An empty window of `capacity` seconds.
    pub fn new(capacity: usize) -> Self {
        Window {
            capacity: capacity.max(1),
            seconds: VecDeque::with_capacity(capacity.max(1)),
        }
    }

    /// Counts `sample` in second `at`. A later second opens a new bucket
    /// (dropping the oldest when full); an earlier one (the clock stepped
    /// back) counts in the latest kept second not after it, or the newest.
    pub fn record(&mut self, sample: &RequestSample, at: u64) {
        let second = self.second_mut(at);
        let route: Arc<str> = sample.route.clone().unwrap_or_else(|| NO_ROUTE.into());
        let bucket = second.routes.entry(route).or_default();
        bucket.requests += 1;
        bucket.errors += u64::from(sample.is_error());
        bucket.latency.record(sample.latency);
        for call in &sample.plugins {
            let key = (call.name.clone(), call.version.clone());
            let bucket = second.plugins.entry(key).or_default();
            bucket.calls += 1;
            bucket.traps += u64::from(call.trapped);
            bucket.latency.record(call.latency);
        }
    }

    fn second_mut(&mut self, at: u64) -> &mut Second {
        let newest = self.seconds.back().map(|s| s.at);
        if newest.is_none_or(|newest| at > newest) {
            if self.seconds.len() == self.capacity {
                self.seconds.pop_front();
            }
            self.seconds.push_back(Second {
                at,
                ..Second::default()
            });
        }
        let index = self
            .seconds
            .iter()
            .rposition(|s| s.at <= at)
            .unwrap_or(self.seconds.len() - 1);
        &mut self.seconds[index]
    }

    /// The seconds in `[from, to)`, oldest first.
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = &Second> + Clone {
        self.seconds
            .iter()
            .filter(move |s| s.at >= from && s.at < to)
    }

    /// Seconds kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}
