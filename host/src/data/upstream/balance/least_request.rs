//! Least outstanding requests with the power of two choices: two usable
//! backends are drawn at random (by weight) and the one with fewer
//! outstanding requests per unit of weight wins.

use std::sync::Arc;

use super::BackendSelection;
use super::random::pick;
use crate::data::upstream::backend::Backend;

/// Power-of-two-choices least request over one tier.
pub struct LeastRequest {
    backends: Vec<Arc<Backend>>,
}

impl LeastRequest {
    /// Least request over `backends`.
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        LeastRequest { backends }
    }
}

impl BackendSelection for LeastRequest {
    fn select(&self, _key: Option<u64>, usable: &dyn Fn(&Backend) -> bool) -> Option<Arc<Backend>> {
        let first = pick(&self.backends, usable)?;
        let other = |b: &Backend| usable(b) && !std::ptr::eq(b, &*first);
        let Some(second) = pick(&self.backends, &other) else {
            return Some(first);
        };
        // Compare (in_flight + 1) / weight without dividing.
        let load = |b: &Backend| u64::from(b.in_flight()) + 1;
        let first_load = load(&first) * u64::from(second.target.weight);
        let second_load = load(&second) * u64::from(first.target.weight);
        Some(if second_load < first_load {
            second
        } else {
            first
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::upstream::balance::testing::backends;

    #[test]
    fn the_idle_backend_wins() {
        let all = backends(&[1, 1]);
        let busy: Vec<_> = (0..5).map(|_| all[0].begin()).collect();
        let lr = LeastRequest::new(all);
        for _ in 0..50 {
            assert_eq!(lr.select(None, &|_| true).unwrap().target.addr, "t1:80");
        }
        drop(busy);
    }
}
