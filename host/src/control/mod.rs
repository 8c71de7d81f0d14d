//! The control plane: changing and operating a running gateway.
//!
//! [`reload`] (a new config or plugin checked, then swapped in or refused;
//! rollback; a config file or an etcd document), [`cluster`] (instances
//! registered in etcd, and the view of them) and `admin` (the admin
//! listener and its JSON API). Above the data plane and the telemetry,
//! which it drives.

pub(crate) mod admin;
pub mod cluster;
pub mod reload;
