//! Write plugins for the Portico API gateway in Rust.
//!
//! A plugin is a WebAssembly component (built for `wasm32-wasip2`) that the
//! gateway runs for the requests of the routes that list it. With this crate a
//! plugin is a type implementing [`Plugin`], exported with [`export_plugin!`]:
//!
//! * [`Plugin::Config`] is the route's `config` table, deserialized with serde
//!   once when the plugin is loaded. Errors name the offending key, and the
//!   gateway refuses the route.
//! * [`Plugin::new`] makes a fresh value for every request, so fields hold
//!   per-request state that [`Plugin::on_response`] can read. A plugin whose
//!   response phase needs none says so with [`ResponsePhase`], and the
//!   gateway frees its instance while the upstream answers.
//! * [`Request`] and [`Response`] read and change the message in flight; an
//!   [`Action`] says whether to go on or to answer with a [`Reply`].
//! * Host capabilities are free functions in [`log`], [`kv`], [`cache`],
//!   [`clock`], [`context`] and [`metrics`]. The route must grant each one the plugin
//!   calls.
//! * [`testing`] runs the same plugin code natively against an in-memory
//!   [`MockHost`](testing::MockHost), so `cargo test` works without a gateway.
//!
//! # Example
//!
//! `Cargo.toml` of the plugin (`cdylib` for the component, `rlib` so native
//! unit tests link):
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! portico-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use portico_sdk::config::{HeaderName, HeaderValue};
//! use portico_sdk::http::StatusCode;
//! use portico_sdk::{Action, Capability, Error, Plugin, Reply, Request, Response, export_plugin, log};
//! use serde::Deserialize;
//!
//! /// `config = { header = "x-api-key", key = "secret" }`
//! #[derive(Debug, Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct Config {
//!     header: HeaderName,
//!     key: HeaderValue,
//! }
//!
//! /// Answers 401 unless the request carries the configured key.
//! pub struct ApiKey {
//!     config: &'static Config,
//!     /// Per-request state: whether this request was let through.
//!     allowed: bool,
//! }
//!
//! impl Plugin for ApiKey {
//!     type Config = Config;
//!     /// What it calls on the host: its route grants `capabilities = ["log"]`.
//!     const CAPABILITIES: &'static [Capability] = &[Capability::Log];
//!
//!     fn new(config: &'static Config) -> Self {
//!         ApiKey { config, allowed: false }
//!     }
//!
//!     fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
//!         if req.header(&self.config.header).as_deref() != Some(self.config.key.as_str()) {
//!             log::warn(format!("rejected a request to {}", req.path()));
//!             return Ok(Action::Respond(
//!                 Reply::new(StatusCode::UNAUTHORIZED).json(&serde_json::json!({ "error": "bad key" }))?,
//!             ));
//!         }
//!         // The upstream has no business seeing the key.
//!         req.remove_header(&self.config.header);
//!         self.allowed = true;
//!         Ok(Action::Continue)
//!     }
//!
//!     fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
//!         if self.allowed {
//!             res.set_header("x-authenticated", "true")?;
//!         }
//!         Ok(Action::Continue)
//!     }
//! }
//!
//! export_plugin!(ApiKey);
//!
//! // Native unit test (normally in `#[cfg(test)] mod tests`):
//! use portico_sdk::testing::{MockHost, MockRequest, MockResponse};
//!
//! let host = MockHost::with_grants(&["log"]);
//! let mut plugin = host.load::<ApiKey>(serde_json::json!({ "header": "x-api-key", "key": "s3cret" }))?;
//!
//! let action = plugin.on_request(&mut MockRequest::get("/orders"))?;
//! assert_eq!(action.reply().map(|r| r.status()), Some(StatusCode::UNAUTHORIZED));
//! assert_eq!(host.logs()[0].message, "rejected a request to /orders");
//!
//! let mut req = MockRequest::get("/orders").header("x-api-key", "s3cret");
//! assert!(plugin.on_request(&mut req)?.is_continue());
//! assert_eq!(req.header_value("x-api-key"), None);
//! let mut res = MockResponse::new(200);
//! plugin.on_response(&mut res)?;
//! assert_eq!(res.header_value("x-authenticated"), Some("true"));
//!
//! // Config errors name the key, as the gateway reports them.
//! let err = host.load::<ApiKey>(serde_json::json!({ "header": "bad name", "key": "k" })).err();
//! assert_eq!(err.map(|e| e.key().to_owned()), Some("header".to_owned()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Build the component with
//! `cargo build --target wasm32-wasip2 --release` and point a route's plugin
//! entry at `target/wasm32-wasip2/release/<crate>.wasm`.
//!
//! # Native and wasm
//!
//! The plugin's code is the same on both targets. On `wasm32` the request,
//! response and capability calls go to the gateway through the component's
//! imports; natively they go to the [`testing::MockHost`] installed on the
//! current thread, and [`export_plugin!`] expands to nothing.

#![warn(missing_docs)]

mod action;
mod capabilities;
pub mod config;
mod error;
mod export;
mod imports;
mod instance;
mod message;
mod phase;
mod plugin;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
#[cfg(target_arch = "wasm32")]
mod wit;

pub use action::{Action, Reply};
#[doc(inline)]
pub use capabilities::{cache, clock, context, kv, log, metrics, outbound};
pub use config::ConfigError;
pub use error::Error;
pub use message::{Request, Response};
pub use phase::ResponsePhase;
pub use plugin::{NoConfig, Plugin};

/// A host capability a route grants (`capabilities = [...]`), as the
/// gateway names it; see [`Plugin::CAPABILITIES`].
pub use portico_contract::Capability;

/// The [`http`](https://docs.rs/http) crate, re-exported for [`http::Method`],
/// [`http::StatusCode`] and friends.
pub use http;

/// Plumbing for [`export_plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::export::glue::{init, on_request, on_response};
    #[cfg(target_arch = "wasm32")]
    pub use crate::wit::bindings;
    pub use portico_contract::capability::declared_mask;
}
