//! Per-minute rollups: requests grouped by (minute, route, consumer,
//! status class, upstream), with byte counts and a latency histogram.

use std::collections::HashMap;

use crate::histogram::Histogram;
use crate::telemetry::live::RequestSample;

/// What a rollup is grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    /// Unix time (s) of the minute's start.
    pub minute: i64,
    /// Route name; `-` when no route matched.
    pub route: String,
    /// The context's `consumer`; empty when none.
    pub consumer: String,
    /// The status's first digit (2 for 2xx).
    pub status_class: u8,
    /// Upstream name; empty when no route matched.
    pub upstream: String,
}

/// The requests of one key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollup {
    /// Requests.
    pub requests: u64,
    /// Request body bytes.
    pub bytes_in: u64,
    /// Response body bytes.
    pub bytes_out: u64,
    /// Total latencies.
    pub latency: Histogram,
}

impl Rollup {
    /// Adds `other`'s requests.
    pub fn merge(&mut self, other: &Rollup) {
        self.requests += other.requests;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.latency.merge(&other.latency);
    }
}

/// What the writer keeps of a finished request (no plugin calls).
#[derive(Debug, Clone)]
pub struct Event {
    /// Unix time (s) it finished.
    pub at: i64,
    /// Its grouping.
    pub key_route: String,
    /// Consumer or empty.
    pub consumer: String,
    /// Status code.
    pub status: u16,
    /// Upstream or empty.
    pub upstream: String,
    /// Body bytes in.
    pub bytes_in: u64,
    /// Body bytes out.
    pub bytes_out: u64,
    /// Total latency.
    pub latency: std::time::Duration,
}

impl Event {
    /// The event for `sample`, finished at Unix second `at`.
    pub fn of(sample: &RequestSample, at: i64) -> Self {
        Event {
            at,
            key_route: sample.route_name().to_owned(),
            consumer: sample.consumer.clone().unwrap_or_default(),
            status: sample.status,
            upstream: sample.upstream.as_deref().unwrap_or_default().to_owned(),
            bytes_in: sample.bytes_in,
            bytes_out: sample.bytes_out,
            latency: sample.latency,
        }
    }
}

/// Rollups not yet written.
#[derive(Debug, Default)]
pub struct Pending {
    /// By key.
    pub rollups: HashMap<RollupKey, Rollup>,
}

impl Pending {
    /// Counts `event` in its minute's rollup.
    pub fn add(&mut self, event: Event) {
        let key = RollupKey {
            minute: event.at - event.at.rem_euclid(60),
            route: event.key_route,
            consumer: event.consumer,
            status_class: (event.status / 100).min(9) as u8,
            upstream: event.upstream,
        };
        let rollup = self.rollups.entry(key).or_default();
        rollup.requests += 1;
        rollup.bytes_in += event.bytes_in;
        rollup.bytes_out += event.bytes_out;
        rollup.latency.record(event.latency);
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.rollups.is_empty()
    }
}
