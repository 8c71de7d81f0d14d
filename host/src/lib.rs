//! Portico: a programmable API gateway whose policy runs as WebAssembly
//! components.
//!
//! The source tree shows the three planes over a shared foundation:
//!
//! - the foundation: [`config`] (the parsed, validated config), [`etcd`]
//!   (the etcd cluster: config documents, watched keys, leases) and the
//!   leaves ([`body`], `histogram`, `net`, [`seal`] (encryption at rest),
//!   `shutdown`, `worker`, [`scaffold`] (`portico plugin new`)), and the
//!   [`audit`] log;
//! - [`data`], the data plane: listeners ([`data::server`], with `tls`
//!   termination and edge `limits`), routing ([`data::router`]), the
//!   plugins ([`data::runtime`]), upstreams (`upstream`), the proxy itself
//!   (`proxy`) and what it records ([`data::observe`]: access log,
//!   metrics, traces). A [`data::gateway::Gateway`] is one consistent
//!   snapshot built from a [`config::Config`]; every error a client can
//!   see is an `error::ProxyError`;
//! - [`telemetry`]: live stats, alerts and analytics over finished
//!   requests, tied to a gateway by [`telemetry::monitor`];
//! - [`control`], the control plane: [`control::reload`] swaps in a new
//!   snapshot, checked first, when the config or a plugin changes; the
//!   admin listener (`admin`) serves operators apart from traffic;
//! - [`app::App`] runs all of it.
//!
//! Each plane imports only the ones listed before it, and inside a plane a
//! module only the modules below it (`cargo xtask lint` checks both). The
//! public modules are what the `portico` binary, the tests, the benches
//! and the fuzz targets use; the others are crate-private.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = portico::config::load("examples/portico.toml".as_ref())?;
//! let gateway = std::sync::Arc::new(portico::data::gateway::Gateway::build(&config).await?);
//! let running = portico::data::server::RunningGateway::start(&config, gateway).await?;
//! println!("serving on {}", running.addr());
//! # Ok(()) }
//! ```

pub mod app;
pub mod audit;
pub mod body;
pub mod config;
pub mod control;
pub mod data;
pub mod etcd;
pub(crate) mod histogram;
pub(crate) mod net;
pub mod scaffold;
pub mod seal;
pub(crate) mod shutdown;
pub mod telemetry;
pub(crate) mod worker;
