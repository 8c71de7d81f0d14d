//! Balancing: choosing a backend for a request among the usable ones.
//!
//! Each algorithm is a [`BackendSelection`] built over one tier of a target
//! set; a new target set builds new selections, so the algorithms keep no
//! locks across updates.

mod consistent_hash;
pub mod key;
mod least_request;
mod random;
mod round_robin;

use std::sync::Arc;

pub use consistent_hash::ConsistentHash;
pub use least_request::LeastRequest;
pub use random::WeightedRandom;
pub use round_robin::SmoothRoundRobin;

use super::backend::Backend;
use crate::config::Balance;

/// Chooses a backend among those `usable` accepts.
pub trait BackendSelection: Send + Sync {
    /// The chosen backend, or `None` when none is usable. `key` is the
    /// request's hash key (consistent hashing only).
    fn select(&self, key: Option<u64>, usable: &dyn Fn(&Backend) -> bool) -> Option<Arc<Backend>>;
}

/// Builds the selection for `balance` over `backends`.
pub fn build(balance: Balance, backends: Vec<Arc<Backend>>) -> Box<dyn BackendSelection> {
    match balance {
        Balance::RoundRobin => Box::new(SmoothRoundRobin::new(backends)),
        Balance::LeastRequest => Box::new(LeastRequest::new(backends)),
        Balance::ConsistentHash => Box::new(ConsistentHash::new(backends)),
        Balance::Random => Box::new(WeightedRandom::new(backends)),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::data::upstream::Target;

    /// Backends `t0:80`, `t1:80`, … with the given weights.
    pub fn backends(weights: &[u32]) -> Vec<Arc<Backend>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                Backend::new(Target {
                    weight: *w,
                    ..Target::new(format!("t{i}:80"))
                })
            })
            .collect()
    }

    /// How many of `n` selections each backend got.
    pub fn tally(
        selection: &dyn BackendSelection,
        n: usize,
        key: impl Fn(usize) -> Option<u64>,
    ) -> Vec<usize> {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for i in 0..n {
            let chosen = selection.select(key(i), &|_| true).expect("a backend");
            *counts.entry(chosen.target.addr.clone()).or_default() += 1;
        }
        counts.into_values().collect()
    }
}
