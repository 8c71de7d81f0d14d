//! A fixed list of targets from the config.

use super::{DiscoverFuture, Discovered, ServiceDiscovery};
use crate::data::upstream::target::Target;

/// The `targets = [...]` of an upstream.
pub struct StaticList(pub Vec<Target>);

impl ServiceDiscovery for StaticList {
    fn discover(&self) -> DiscoverFuture<'_> {
        let targets = self.0.clone();
        Box::pin(async move {
            Ok(Discovered {
                targets: Some(targets),
                next: None,
            })
        })
    }
}
