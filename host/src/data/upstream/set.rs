//! The current target set of an upstream, swapped atomically when discovery
//! reports a change. A request holds the backend it was given, so swapping
//! never disturbs a request in flight.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::backend::Backend;
use super::balance::{self, BackendSelection};
use super::target::Target;
use crate::config::Balance;

/// Backends of one priority and their selection.
struct Tier {
    backends: Vec<Arc<Backend>>,
    selection: Box<dyn BackendSelection>,
}

/// One immutable set of backends, grouped into tiers by priority.
pub struct TargetSet {
    tiers: Vec<Tier>,
}

impl TargetSet {
    /// Every backend, lowest priority first.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.tiers.iter().flat_map(|tier| tier.backends.iter())
    }

    /// A usable backend from the most preferred tier that has one.
    pub fn select(
        &self,
        key: Option<u64>,
        usable: &dyn Fn(&Backend) -> bool,
    ) -> Option<Arc<Backend>> {
        self.tiers
            .iter()
            .find_map(|tier| tier.selection.select(key, usable))
    }
}

/// An upstream's targets: the current [`TargetSet`], replaced as a whole.
pub struct Targets {
    balance: Balance,
    current: ArcSwap<TargetSet>,
}

impl Targets {
    /// No targets yet.
    pub fn new(balance: Balance) -> Self {
        Targets {
            balance,
            current: ArcSwap::from_pointee(TargetSet { tiers: Vec::new() }),
        }
    }

    /// The current set.
    pub fn load(&self) -> Arc<TargetSet> {
        self.current.load_full()
    }

    /// Replaces the set with `targets`. Backends whose target is unchanged
    /// are kept, with their health and outstanding requests. Returns whether
    /// anything changed.
    pub fn update(&self, mut targets: Vec<Target>) -> bool {
        targets.sort_by(|a, b| (a.priority, &a.addr).cmp(&(b.priority, &b.addr)));
        targets.dedup_by(|a, b| a.addr == b.addr);
        let old = self.current.load();
        let unchanged = old.backends().map(|b| &b.target).eq(targets.iter());
        if unchanged {
            return false;
        }
        let mut known: HashMap<&Target, &Arc<Backend>> =
            old.backends().map(|b| (&b.target, b)).collect();
        let mut tiers: Vec<Tier> = Vec::new();
        let mut current: Vec<Arc<Backend>> = Vec::new();
        let mut priority = None;
        for target in &targets {
            if priority.is_some_and(|p| p != target.priority) {
                tiers.push(self.tier(std::mem::take(&mut current)));
            }
            priority = Some(target.priority);
            let backend = match known.remove(target) {
                Some(backend) => backend.clone(),
                None => Backend::new(target.clone()),
            };
            current.push(backend);
        }
        if !current.is_empty() {
            tiers.push(self.tier(current));
        }
        self.current.store(Arc::new(TargetSet { tiers }));
        true
    }

    fn tier(&self, backends: Vec<Arc<Backend>>) -> Tier {
        Tier {
            selection: balance::build(self.balance, backends.clone()),
            backends,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_keep_known_backends_and_prefer_low_priorities() {
        let targets = Targets::new(Balance::RoundRobin);
        assert!(targets.load().select(None, &|_| true).is_none());
        let primary = Target {
            priority: 0,
            ..Target::new("a:1")
        };
        let backup = Target {
            priority: 5,
            ..Target::new("b:1")
        };
        assert!(targets.update(vec![backup.clone(), primary.clone()]));
        let first = targets.load();
        let a = first.select(None, &|_| true).unwrap();
        assert_eq!(a.target.addr, "a:1");
        let fallback = first.select(None, &|b| b.target.addr != "a:1").unwrap();
        assert_eq!(fallback.target.addr, "b:1");

        assert!(!targets.update(vec![primary.clone(), backup.clone()]));
        assert!(targets.update(vec![primary, Target::new("c:1")]));
        let kept = targets
            .load()
            .select(None, &|b| b.target.addr == "a:1")
            .unwrap();
        assert!(Arc::ptr_eq(&a, &kept), "a:1 keeps its state");
    }
}
