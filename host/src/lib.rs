//! Portico: a programmable API gateway whose policy runs as WebAssembly
//! components.
//!
//! The host owns the data path — listeners ([`server`], with `tls`
//! termination and edge `limits`), routing
//! ([`router`]), upstreams (`upstream`) and the proxy itself (`proxy`) —
//! and runs each route's chain of plugins through the [`runtime`]. A
//! [`gateway::Gateway`] is one consistent snapshot built from a
//! [`config::Config`]; [`reload`] swaps in a new one, checked first, when the
//! config or a plugin changes; the admin listener (`admin`) serves operators
//! apart from traffic; [`app::App`] runs all of it. Every error a client can
//! see is an `error::ProxyError`. [`observe`] records each request: access
//! log, metrics, traces.
//!
//! The public modules are what the `portico` binary, the tests, the benches
//! and the fuzz targets use; the others (`admin`, `alerts`, `analytics`,
//! `error`, `histogram`, `limits`, `live`, `net`, `proxy`, `shutdown`,
//! `tls`, `upstream`, `worker`) are crate-private.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = portico::config::load("examples/portico.toml".as_ref())?;
//! let gateway = std::sync::Arc::new(portico::gateway::Gateway::build(&config).await?);
//! let running = portico::server::RunningGateway::start(&config, gateway).await?;
//! println!("serving on {}", running.addr());
//! # Ok(()) }
//! ```

pub(crate) mod admin;
pub(crate) mod alerts;
pub(crate) mod analytics;
pub mod app;
pub mod body;
pub mod config;
pub(crate) mod error;
pub mod gateway;
pub(crate) mod histogram;
pub(crate) mod limits;
pub(crate) mod live;
pub mod monitor;
pub(crate) mod net;
pub mod observe;
pub(crate) mod proxy;
pub mod reload;
pub mod router;
pub mod runtime;
pub mod server;
pub(crate) mod shutdown;
pub(crate) mod tls;
pub(crate) mod upstream;
pub(crate) mod worker;
