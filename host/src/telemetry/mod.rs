//! Telemetry over finished requests, above the data plane.
//!
//! `live` (per-second live stats: the `Recorder` the data plane reports
//! to), `alerts` (rules over the live stats, webhooks), `analytics` (the
//! per-minute store) and [`monitor`] (all three tied to a gateway, with
//! their admin endpoints and the dashboard). The request path's own
//! recording (access log, metrics, traces) is [`crate::data::observe`],
//! below the plugins it measures.

pub(crate) mod alerts;
pub(crate) mod analytics;
pub(crate) mod live;
pub mod monitor;
