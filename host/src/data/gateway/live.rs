//! The serving snapshot.

use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use super::Gateway;

/// The snapshot new requests use. A request takes it once, when it starts,
/// and holds it to the end: it never sees half of one snapshot and half of
/// another.
pub struct LiveGateway {
    current: ArcSwap<Gateway>,
    retired: Mutex<Vec<Weak<Gateway>>>,
}

impl LiveGateway {
    /// Serves `gateway`.
    pub fn new(gateway: Arc<Gateway>) -> Self {
        LiveGateway {
            current: ArcSwap::new(gateway),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// The snapshot serving now.
    pub fn load(&self) -> Arc<Gateway> {
        self.current.load_full()
    }

    /// Makes `gateway` the snapshot for new requests. The old one is freed
    /// (with its plugin instances) when its last request ends.
    pub fn store(&self, gateway: Arc<Gateway>) {
        let old = self.current.swap(gateway);
        let mut retired = self.retired.lock();
        retired.retain(|weak| weak.strong_count() > 0);
        retired.push(Arc::downgrade(&old));
    }

    /// Replaced snapshots that requests still hold.
    pub(crate) fn retired_alive(&self) -> usize {
        let mut retired = self.retired.lock();
        retired.retain(|weak| weak.strong_count() > 0);
        retired.len()
    }
}
