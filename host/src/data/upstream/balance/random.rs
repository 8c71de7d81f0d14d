//! Weighted random: each usable backend is chosen with probability
//! weight / total weight.

use std::sync::Arc;

use super::BackendSelection;
use crate::data::upstream::backend::Backend;

/// Weighted random over one tier.
pub struct WeightedRandom {
    backends: Vec<Arc<Backend>>,
}

impl WeightedRandom {
    /// Random choice over `backends`.
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        WeightedRandom { backends }
    }
}

impl BackendSelection for WeightedRandom {
    fn select(&self, _key: Option<u64>, usable: &dyn Fn(&Backend) -> bool) -> Option<Arc<Backend>> {
        pick(&self.backends, usable)
    }
}

/// A weighted random choice among the usable `backends`.
pub fn pick(backends: &[Arc<Backend>], usable: &dyn Fn(&Backend) -> bool) -> Option<Arc<Backend>> {
    let total: u64 = backends
        .iter()
        .filter(|b| usable(b))
        .map(|b| u64::from(b.target.weight))
        .sum();
    if total == 0 {
        return None;
    }
    let mut point = fastrand::u64(..total);
    for backend in backends.iter().filter(|b| usable(b)) {
        let weight = u64::from(backend.target.weight);
        if point < weight {
            return Some(backend.clone());
        }
        point -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::upstream::balance::testing::{backends, tally};

    #[test]
    fn weights_are_respected_within_a_tolerance() {
        let random = WeightedRandom::new(backends(&[3, 1]));
        let counts = tally(&random, 8000, |_| None);
        assert!((5400..6600).contains(&counts[0]), "{counts:?}");
    }
}
