//! Portico's integration tests: one test crate, one module per concern.
//!
//! Every test drives the real gateway (in process through `portico::app`,
//! or the real `portico` binary as a child process), real plugin components
//! built from this repository by `cargo xtask plugins`, and real clients and
//! upstreams over sockets on 127.0.0.1 with ephemeral ports. `support` holds
//! the harness: the typed config builder, the gateway wrapper, echo and
//! killable upstreams, a DNS server, a PKI, the monitor and live-change
//! helpers.
//!
//! Run one concern with `cargo test --test integration <module>::`, for
//! example `cargo test --test integration routing::`.

mod support;

// Routing and the chain.
mod chain;
mod hot_swap;
mod load_errors;
mod plugin_tools;
mod routing;
mod sandbox;

// Listeners.
mod connections;
mod edge_limits;
mod signals;
mod smuggling;
mod tls;
mod upgrade;

// Protocols.
mod grpc;

// Upstreams.
mod balancing;
mod cluster;
mod discovery;
mod failover;
mod upstream_tls;

// Plugins.
mod access;
mod admin_auth;
mod cache;
mod identity;
mod jwt;
mod oidc;
mod other_languages;
mod rate_limit;
mod redaction;
mod secrets;
mod shared_state;
mod signatures;
mod transform;

// Telemetry.
mod access_log;
mod alerts;
mod analytics;
mod dashboard;
mod encryption;
mod metrics;
mod trace_context;
