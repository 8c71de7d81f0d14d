//! Who a plugin instance belongs to, for its logs and its kv and cache
//! namespaces.

use std::sync::Arc;

use crate::config::StateErrorPolicy;

/// Who an instance belongs to: used to tag logs and namespace kv and cache.
#[derive(Debug)]
pub(crate) struct PluginIdentity {
    /// Plugin name.
    pub plugin: Arc<str>,
    /// Route the instance serves.
    pub route: Arc<str>,
    /// What its `kv` and `cache` calls do while the shared backend is down.
    pub on_state_error: StateErrorPolicy,
}
