//! Live changes: the serving snapshot, swapped atomically.
//!
//! - [`LiveGateway`]: the snapshot new requests take; in-flight requests
//!   keep the one they started with until they end.
//! - [`Reloader`]: builds and checks a whole new snapshot (a changed config,
//!   a changed plugin, a rollback) and swaps it in only when every check
//!   passed; otherwise nothing changes and the report says why.
//! - `watch`: polls the config file and the plugin directory.
//! - [`ReloadReport`]: what one reload did, kept for the admin API.

mod reloader;
mod report;
mod watch;

/// The serving snapshot belongs to the gateway layer, below the servers.
pub use crate::data::gateway::LiveGateway;
pub use reloader::{Reloader, RollbackError};
pub use report::ReloadTrigger;
pub use report::{ReloadOutcome, ReloadReport};
pub(crate) use watch::spawn_watcher;
