//! Consistent hashing on a ring with virtual nodes (Ketama style): each
//! backend owns `VNODES × weight` points; a key goes to the first point at
//! or after its hash. Adding or removing a backend moves only the keys of
//! its own points (about 1/N of them). When the owner is unusable the walk
//! goes on to the next usable backend on the ring, so only its keys move.

use std::sync::Arc;

use super::BackendSelection;
use super::key::hash;
use super::random::pick;
use crate::data::upstream::backend::Backend;

/// Ring points per unit of weight.
const VNODES: u32 = 160;
/// Cap on points per backend, whatever its weight.
const MAX_POINTS: u32 = 16_000;

/// A hash ring over one tier.
pub struct ConsistentHash {
    backends: Vec<Arc<Backend>>,
    /// (point, index into `backends`), sorted by point.
    ring: Vec<(u64, u32)>,
}

impl ConsistentHash {
    /// The ring of `backends`; points depend only on each target's address
    /// and weight, so the same targets always make the same ring.
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        let mut ring = Vec::new();
        for (index, backend) in backends.iter().enumerate() {
            let points = (VNODES * backend.target.weight).min(MAX_POINTS);
            for vnode in 0..points {
                let label = format!("{}#{vnode}", backend.target.addr);
                ring.push((hash(label.as_bytes()), index as u32));
            }
        }
        ring.sort_unstable();
        ConsistentHash { backends, ring }
    }
}

impl BackendSelection for ConsistentHash {
    fn select(&self, key: Option<u64>, usable: &dyn Fn(&Backend) -> bool) -> Option<Arc<Backend>> {
        let Some(key) = key else {
            return pick(&self.backends, usable);
        };
        let start = self.ring.partition_point(|(point, _)| *point < key);
        let len = self.ring.len();
        (0..len)
            .map(|step| &self.backends[self.ring[(start + step) % len].1 as usize])
            .find(|backend| usable(backend))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::upstream::balance::testing::{backends, tally};

    fn owner(ring: &ConsistentHash, key: u64) -> String {
        ring.select(Some(key), &|_| true)
            .unwrap()
            .target
            .addr
            .clone()
    }

    #[test]
    fn keys_spread_by_weight_and_stay_put_when_a_backend_leaves() {
        let four = backends(&[1, 1, 1, 1]);
        let ring = ConsistentHash::new(four.clone());
        let counts = tally(&ring, 4000, |i| Some(hash(format!("user-{i}").as_bytes())));
        assert!(counts.iter().all(|c| (700..1300).contains(c)), "{counts:?}");

        let three = ConsistentHash::new(four[..3].to_vec());
        let mut moved = 0;
        for i in 0..4000 {
            let key = hash(format!("user-{i}").as_bytes());
            let before = owner(&ring, key);
            let after = owner(&three, key);
            if before == "t3:80" {
                moved += 1;
            } else {
                assert_eq!(before, after, "key {i} moved without its owner leaving");
            }
        }
        assert!((700..1300).contains(&moved), "{moved}");
    }
}
