//! Live changes: the serving snapshot, swapped atomically.
//!
//! - [`LiveGateway`]: the snapshot new requests take; in-flight requests
//!   keep the one they started with until they end.
//! - [`Reloader`]: builds and checks a whole new snapshot (a changed config,
//!   a changed plugin, a rollback) and swaps it in only when every check
//!   passed; otherwise nothing changes and the report says why.
//! - `watch`: polls the config file and the plugin directory.
//! - [`ConfigSource`]: a config file or an etcd document; `etcd_watch`
//!   applies each new revision of the document as it is written.
//! - [`ReloadReport`]: what one reload did, kept for the admin API.

mod etcd_watch;
mod reloader;
mod report;
mod source;
mod watch;

/// The serving snapshot belongs to the gateway layer, below the servers.
pub use crate::data::gateway::LiveGateway;
pub(crate) use etcd_watch::spawn_etcd_watcher;
pub use reloader::{Reloader, RollbackError};
pub use report::ReloadTrigger;
pub use report::{ReloadOutcome, ReloadReport};
pub use source::{ConfigSource, EtcdSource, Pushed};
pub(crate) use watch::spawn_watcher;
