//! The plugin runtime: wasmtime hosting Portico plugin components.
//!
//! - [`engine`]: the one place wasmtime is configured (pooling allocator,
//!   epoch deadlines, memory limits).
//! - `bindings`: host bindings generated from `wit/plugin.wit`.
//! - [`catalog`] and `component_cache`: reading and compiling plugins
//!   (the active and previous version of each), with compiled code cached on
//!   disk.
//! - [`capabilities`]: deny-by-default host imports (log, clock, kv, cache,
//!   context, metrics, http) and the per-plugin linker; `outbound`: the
//!   `http` capability's client, per plugin entry.
//! - `slot` and [`instance`]: a plugin on a route, its instances and how
//!   they are pooled or made fresh per request.
//! - [`inspect`]: what a built component is and needs (`portico plugin
//!   inspect`).
//! - [`chain`]: running a route's plugins over a request and its response.

pub(crate) mod bindings;
pub(crate) mod byte_cache;
pub mod capabilities;
pub mod catalog;
pub mod chain;
pub(crate) mod component_cache;
pub mod engine;
pub mod error;
mod guest_log;
mod host_messages;
mod identity;
pub mod inspect;
pub mod instance;
pub mod kv;
pub mod message;
mod outbound;
pub mod redis;
pub(crate) mod services;
pub(crate) mod slot;
pub mod state;

pub use catalog::LoadedComponent;

pub(crate) use catalog::{Candidate, PluginCatalog};
pub use chain::RequestOutcome;
pub use chain::{Chain, ChainRun};
pub use engine::PluginEngine;
pub use error::{ChainError, LoadError, PluginFailure};
pub use message::{MessageBody, ProxyRequest, ProxyResponse, RequestInfo};
pub use services::HostServices;
pub use slot::PluginSlot;
