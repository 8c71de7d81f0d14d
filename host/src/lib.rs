//! Portico: a programmable API gateway whose policy runs as WebAssembly
//! components.
//!
//! The host owns the data path — listeners ([`server`], with [`tls`]
//! termination and edge [`limits`]), routing
//! ([`router`]), upstreams ([`upstream`]) and the proxy itself ([`proxy`]) —
//! and runs each route's chain of plugins through the [`runtime`]. A
//! [`gateway::Gateway`] is one consistent snapshot built from a
//! [`config::Config`]; [`reload`] swaps in a new one, checked first, when the
//! config or a plugin changes; [`admin`] serves operators on a separate
//! listener; [`app::App`] runs all of it. Every error a client can see is a
//! [`error::ProxyError`].
//! [`observe`] records each request: access log, metrics, traces.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = portico::config::load("examples/portico.toml".as_ref())?;
//! let gateway = std::sync::Arc::new(portico::gateway::Gateway::build(&config).await?);
//! let running = portico::server::RunningGateway::start(&config, gateway).await?;
//! println!("serving on {}", running.addr());
//! # Ok(()) }
//! ```

pub mod admin;
pub mod alerts;
pub mod analytics;
pub mod app;
pub mod body;
pub mod config;
pub mod error;
pub mod gateway;
pub mod histogram;
pub mod limits;
pub mod live;
pub mod monitor;
pub mod net;
pub mod observe;
pub mod proxy;
pub mod reload;
pub mod router;
pub mod runtime;
pub mod server;
pub mod shutdown;
pub mod tls;
pub mod upstream;
pub mod worker;
