//! Observability: the access log, metrics and tracing of every request.
//!
//! One [`Observer`] per gateway, built from `[observability]`, and one
//! `Observation` per request: begun when the request head arrives, filled
//! in by the proxy (route, upstream, plugin calls, consumer), and finished
//! when the response body has been sent (or dropped), so byte counts and
//! durations cover the whole exchange.
//!
//! - [`trace`]: W3C `traceparent`, continued or started, propagated upstream;
//! - [`access_log`] and `access_layer`: one JSON line per request through
//!   `tracing` (target `portico::access`) to stdout or a file, non-blocking;
//! - `redact`: what a log line may show of paths, queries and headers;
//! - [`metrics`]: the Prometheus recorder and [`metrics::render`];
//!   `plugin_stats` and `plugin_counters`: per-plugin metrics and the
//!   counters plugins report through the `metrics` capability;
//! - [`otlp`]: spans exported over OTLP/HTTP JSON, batched off the request
//!   path;
//! - [`request`] and [`body`]: the per-request record and the body wrappers
//!   that count bytes and finish it;
//! - [`sample`]: what a finished request reports to the [`Recorder`] the
//!   monitor installs (live stats, alerts, analytics).

pub(crate) mod access_layer;
pub mod access_log;
pub(crate) mod batch_writer;
pub mod body;
pub mod client_address;
pub mod metrics;
pub mod otlp;
pub(crate) mod plugin_counters;
pub(crate) mod plugin_stats;
pub(crate) mod redact;
pub mod request;
pub(crate) mod route_metrics;
pub mod sample;
mod time;
pub mod trace;

use std::sync::{Arc, OnceLock};

use crate::config::ObservabilityConfig;
use crate::net::Peer;
pub use access_log::AccessLog;
pub use otlp::OtlpExporter;
pub(crate) use request::Observation;
pub use route_metrics::RouteMetrics;
use sample::Recorder;

/// What the gateway records about requests, from `[observability]`.
pub struct Observer {
    access_log: Option<AccessLog>,
    client_address: client_address::ClientAddress,
    metrics: bool,
    propagate: bool,
    otlp: Option<OtlpExporter>,
    /// The live stats and analytics (`crate::telemetry::monitor`), set once.
    recorder: OnceLock<Arc<dyn Recorder>>,
}

/// The observability config could not be put to work.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The access log file cannot be opened for appending.
    #[error("cannot open the access log {path}: {error}")]
    AccessLogFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The access log's writer thread could not be started.
    #[error("cannot start the access log writer: {0}")]
    Writer(std::io::Error),
    /// `observability.client_address_key` could not be read.
    #[error("observability.client_address_key: {0}")]
    ClientAddressKey(String),
}

impl Observer {
    /// Opens the access log, installs the metrics recorder and starts the
    /// OTLP exporter as configured. Must run inside a tokio runtime when
    /// OTLP export is on.
    pub fn new(config: &ObservabilityConfig) -> Result<Self, ObserveError> {
        let access_log = if config.access_log.enabled {
            Some(AccessLog::open(&config.access_log)?)
        } else {
            None
        };
        let metrics = config.metrics.enabled && metrics::install();
        let otlp = config.tracing.otlp.as_ref().map(OtlpExporter::start);
        let client_address =
            client_address::ClientAddress::new(config).map_err(ObserveError::ClientAddressKey)?;
        Ok(Observer {
            access_log,
            client_address,
            metrics,
            propagate: config.tracing.propagate,
            otlp,
            recorder: OnceLock::new(),
        })
    }

    /// Records nothing; `traceparent` is still propagated.
    pub fn off() -> Self {
        Observer {
            access_log: None,
            client_address: client_address::ClientAddress::Full,
            metrics: false,
            propagate: true,
            otlp: None,
            recorder: OnceLock::new(),
        }
    }

    /// Starts the record of one request from its head.
    pub(crate) fn begin<B>(
        self: &Arc<Self>,
        request: &http::Request<B>,
        peer: &Peer,
    ) -> Observation {
        Observation::begin(self.clone(), request, peer)
    }

    /// Whether anything is recorded per request (else the response body is
    /// not wrapped at all).
    pub fn records(&self) -> bool {
        self.access_log.is_some()
            || self.metrics
            || self.otlp.is_some()
            || self.recorder.get().is_some()
    }

    /// Hands every finished request to `recorder` from now on (the live
    /// stats and analytics); a second call is ignored.
    pub(crate) fn set_recorder(&self, recorder: Arc<dyn Recorder>) {
        let _ = self.recorder.set(recorder);
    }

    /// Where finished requests are reported, if anywhere.
    pub fn recorder(&self) -> Option<&Arc<dyn Recorder>> {
        self.recorder.get()
    }

    /// Whether `traceparent` is set on requests sent upstream.
    pub(crate) fn propagates(&self) -> bool {
        self.propagate
    }

    /// Whether metrics are recorded.
    pub(crate) fn metrics_enabled(&self) -> bool {
        self.metrics
    }

    /// The access log, when enabled.
    pub fn access_log(&self) -> Option<&AccessLog> {
        self.access_log.as_ref()
    }

    /// The span exporter, when enabled.
    pub fn otlp(&self) -> Option<&OtlpExporter> {
        self.otlp.as_ref()
    }
}
