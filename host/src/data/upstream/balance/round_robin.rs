//! Smooth weighted round robin (nginx's): every pick adds each backend's
//! weight to its score and takes the highest, which then pays the total
//! back. Weights 5,1,1 give `a a b a c a a`, not `a a a a a b c`.

use std::sync::Arc;

use parking_lot::Mutex;

use super::BackendSelection;
use crate::data::upstream::backend::Backend;

/// Smooth weighted round robin over one tier.
pub struct SmoothRoundRobin {
    backends: Vec<Arc<Backend>>,
    scores: Mutex<Vec<i64>>,
}

impl SmoothRoundRobin {
    /// Round robin over `backends`.
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        let scores = Mutex::new(vec![0; backends.len()]);
        SmoothRoundRobin { backends, scores }
    }
}

impl BackendSelection for SmoothRoundRobin {
    fn select(&self, _key: Option<u64>, usable: &dyn Fn(&Backend) -> bool) -> Option<Arc<Backend>> {
        if let [only] = self.backends.as_slice() {
            // One target: nothing to balance, no lock to take.
            return usable(only).then(|| only.clone());
        }
        let mut scores = self.scores.lock();
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for (i, backend) in self.backends.iter().enumerate() {
            if !usable(backend) {
                continue;
            }
            let weight = i64::from(backend.target.weight);
            scores[i] += weight;
            total += weight;
            if best.is_none_or(|b| scores[i] > scores[b]) {
                best = Some(i);
            }
        }
        let best = best?;
        scores[best] -= total;
        Some(self.backends[best].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::upstream::balance::testing::{backends, tally};

    #[test]
    fn weights_are_respected_and_interleaved() {
        let rr = SmoothRoundRobin::new(backends(&[5, 1, 1]));
        let order: Vec<String> = (0..7)
            .map(|_| rr.select(None, &|_| true).unwrap().target.addr.clone())
            .collect();
        assert_eq!(
            order,
            [
                "t0:80", "t0:80", "t1:80", "t0:80", "t2:80", "t0:80", "t0:80"
            ]
        );
        assert_eq!(tally(&rr, 700, |_| None), [500, 100, 100]);
    }

    #[test]
    fn unusable_backends_are_skipped() {
        let rr = SmoothRoundRobin::new(backends(&[1, 1, 1]));
        let picks = (0..6)
            .map(|_| rr.select(None, &|b| b.target.addr != "t1:80").unwrap())
            .filter(|b| b.target.addr == "t1:80")
            .count();
        assert_eq!(picks, 0);
        assert!(rr.select(None, &|_| false).is_none());
    }
}
