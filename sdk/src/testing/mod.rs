//! Native unit tests for plugins: an in-memory gateway.
//!
//! Natively (any target but `wasm32`) the SDK's [`Request`](crate::Request),
//! [`Response`](crate::Response) and capability functions talk to the
//! [`MockHost`] installed on the current thread instead of the gateway, so a
//! plugin's own code runs unchanged under `cargo test`:
//!
//! ```
//! use portico_sdk::testing::{MockHost, MockRequest, MockResponse};
//! use portico_sdk::{Action, Capability, Error, NoConfig, Plugin, Request, Response, context, kv};
//!
//! /// Counts requests per user and reports the count on the response.
//! struct Counter {
//!     count: i64,
//! }
//!
//! impl Plugin for Counter {
//!     type Config = NoConfig;
//!     const CAPABILITIES: &'static [Capability] = &[Capability::Kv, Capability::Context];
//!     fn new(_: &'static NoConfig) -> Self {
//!         Counter { count: 0 }
//!     }
//!     fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
//!         let user = req.header("x-user").unwrap_or_default();
//!         context::set("consumer", &user);
//!         self.count = kv::increment(&format!("count:{user}"), 1, None)?;
//!         Ok(Action::Continue)
//!     }
//!     fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
//!         res.set_header("x-count", &self.count.to_string())?;
//!         Ok(Action::Continue)
//!     }
//! }
//!
//! let host = MockHost::with_grants(&["kv", "context"]);
//! let mut plugin = host.load::<Counter>(serde_json::json!({}))?;
//! for expected in ["1", "2"] {
//!     let mut req = MockRequest::get("/").header("x-user", "alice");
//!     assert_eq!(plugin.on_request(&mut req)?, Action::Continue);
//!     let mut res = MockResponse::new(200);
//!     plugin.on_response(&mut res)?;
//!     assert_eq!(res.header_value("x-count"), Some(expected));
//! }
//! assert_eq!(host.context("consumer").as_deref(), Some("alice"));
//! assert_eq!(host.kv_get::<Counter>("count:alice").as_deref(), Some(&b"2"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The host grants nothing unless told ([`MockHost::with_grants`]), and
//! [`MockHost::load`] checks the plugin's [`Plugin::CAPABILITIES`](crate::Plugin::CAPABILITIES) against
//! the grants as the gateway checks a component's imports. A call to a
//! capability the plugin does not list panics with a message naming it, as
//! does any capability call on a thread without a [`MockHost`].
//! [`MockChain`] runs a route's chain of plugins on one request.
//!
//! The mock applies the gateway's own rules, from the `portico-contract`
//! crate they share: header validation, path normalization (in
//! [`MockRequest::new`] and `set_path`), the `kv`, `context` and `log`
//! bounds, and metric names and labels.

mod chain;
mod clock;
mod counters;
mod errors;
mod harness;
mod host;
mod http_stubs;
pub(crate) mod imports;
mod message;
pub(crate) mod resources;
mod store;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faithful;

pub use chain::{ChainError, Exchange, MockChain};
pub use harness::{LoadError, MockPlugin};
pub use host::{LogRecord, MockHost};
pub use http_stubs::SentRequest;
pub use message::{MockRequest, MockResponse};
