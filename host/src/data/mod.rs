//! The data plane: everything a request goes through, bottom to top.
//!
//! [`router`] and `tls` (matching a request, terminating TLS), [`observe`]
//! (what the request path records: access log, metrics, traces, the
//! request samples), [`runtime`] (the plugins), `upstream` (targets,
//! pools, balancing, health), `error` (every error as a client's
//! response), `limits` (edge limits), [`gateway`] (a config's snapshot and
//! the one serving), `proxy` (the request path) and [`server`] (listeners
//! and connections). A module here imports only the ones before it in this
//! list, the shared foundation (`config` and the leaves) and nothing of
//! the telemetry or the control plane, which sit above it.

pub(crate) mod error;
pub mod gateway;
pub(crate) mod limits;
pub mod observe;
pub(crate) mod proxy;
pub mod router;
pub mod runtime;
pub mod server;
pub(crate) mod tls;
pub(crate) mod upstream;
