//! Who a plugin instance belongs to, for its logs and its kv and cache
//! namespaces.

use std::sync::Arc;

use super::outbound::OutboundHttp;
use crate::config::StateErrorPolicy;

/// Who an instance belongs to: used to tag logs and namespace kv and cache;
/// and what its entry's grants carry (the `http` client).
pub(crate) struct PluginIdentity {
    /// Plugin name.
    pub plugin: Arc<str>,
    /// Route the instance serves.
    pub route: Arc<str>,
    /// What its `kv` and `cache` calls do while the shared backend is down.
    pub on_state_error: StateErrorPolicy,
    /// The `http` capability's client, when the entry grants it.
    pub outbound: Option<Arc<OutboundHttp>>,
}

impl std::fmt::Debug for PluginIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginIdentity")
            .field("plugin", &self.plugin)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}
