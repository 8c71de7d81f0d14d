//! The access log: one JSON line per request, emitted as a `tracing` event
//! with target `portico::access` into the log's own dispatcher (so the
//! lines go only to the configured output, never to the gateway's stderr
//! log), batched in memory and written by a background thread every 50 ms
//! (`batch_writer`: the request path never waits for the disk nor wakes a
//! thread; when 16 MiB are waiting, new lines are dropped).

use std::fs::OpenOptions;

use http::{HeaderMap, HeaderName};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use super::ObserveError;
use super::access_layer::{AccessLayer, TARGET};
use super::batch_writer::{BatchWriter, FlushGuard};
use super::redact::Redactor;
use crate::config::checked::Checked;
use crate::config::{AccessField, AccessLogConfig};

/// An open access log.
pub struct AccessLog {
    dispatch: Dispatch,
    _flush_on_drop: FlushGuard,
    fields: [bool; AccessField::ALL.len()],
    sample_rate: f64,
    redactor: Redactor,
    request_headers: Vec<HeaderName>,
    response_headers: Vec<HeaderName>,
}

/// One request's line, before field selection.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    /// RFC 3339 arrival time.
    pub timestamp: &'a str,
    /// The matched route.
    pub route: Option<&'a str>,
    /// The method.
    pub method: &'a str,
    /// The path as `Redactor::path` renders it.
    pub path: &'a str,
    /// The status sent.
    pub status: u16,
    /// Request body bytes read.
    pub request_bytes: u64,
    /// Response body bytes sent.
    pub response_bytes: u64,
    /// Total µs.
    pub duration_us: u64,
    /// µs until the upstream's response head.
    pub upstream_us: Option<u64>,
    /// The target that answered.
    pub upstream_addr: Option<&'a str>,
    /// Plugin name → µs, as a JSON object.
    pub plugins: Option<&'a str>,
    /// Context `consumer`.
    pub consumer: Option<&'a str>,
    /// Client `ip:port`.
    pub client: &'a str,
    /// The trace id.
    pub trace_id: &'a str,
    /// Logged request headers, a JSON object.
    pub request_headers: Option<&'a str>,
    /// Logged response headers, a JSON object.
    pub response_headers: Option<&'a str>,
}

impl AccessLog {
    /// Opens the output (the file for appending, or stdout) and starts its
    /// writer thread.
    pub fn open(config: &AccessLogConfig) -> Result<Self, ObserveError> {
        let (writer, guard) = match &config.file {
            Some(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|error| ObserveError::AccessLogFile {
                        path: path.clone(),
                        error,
                    })?;
                BatchWriter::spawn(file)
            }
            None => BatchWriter::spawn(std::io::stdout()),
        }
        .map_err(ObserveError::Writer)?;
        let subscriber = tracing_subscriber::registry().with(AccessLayer::new(writer));
        let mut fields = [false; AccessField::ALL.len()];
        let selected = config.fields.as_deref().unwrap_or(&AccessField::ALL);
        for field in selected {
            fields[*field as usize] = true;
        }
        // Names the config refused never get this far (validation).
        let names = |list: &[Checked<HeaderName>]| {
            list.iter()
                .filter_map(|n| n.value().ok().cloned())
                .collect::<Vec<_>>()
        };
        Ok(AccessLog {
            dispatch: Dispatch::new(subscriber),
            _flush_on_drop: guard,
            fields,
            sample_rate: config.sample_rate,
            redactor: Redactor::new(config),
            request_headers: names(&config.request_headers),
            response_headers: names(&config.response_headers),
        })
    }

    /// Whether a request answered with `status` is logged: always from 500
    /// up, else with probability `sample_rate`.
    pub(crate) fn wants(&self, status: u16) -> bool {
        status >= 500 || self.sample_rate >= 1.0 || fastrand::f64() < self.sample_rate
    }

    /// The redaction rules.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Whether `field` is written.
    pub fn has(&self, field: AccessField) -> bool {
        self.fields[field as usize]
    }

    /// The request headers to log, as a JSON object; `None` when none are
    /// configured or the field is not selected.
    pub fn request_headers(&self, headers: &HeaderMap) -> Option<String> {
        (self.has(AccessField::RequestHeaders) && !self.request_headers.is_empty()).then(|| {
            self.redactor
                .headers(headers, &self.request_headers)
                .to_string()
        })
    }

    /// The response headers to log, like [`Self::request_headers`].
    pub fn response_headers(&self, headers: &HeaderMap) -> Option<String> {
        (self.has(AccessField::ResponseHeaders) && !self.response_headers.is_empty()).then(|| {
            self.redactor
                .headers(headers, &self.response_headers)
                .to_string()
        })
    }

    /// Emits one line with the selected fields.
    pub fn write(&self, entry: &Entry<'_>) {
        use AccessField as F;
        let pick = |field: F| self.has(field);
        let opt = |field: F, value| if pick(field) { Some(value) } else { None };
        tracing::dispatcher::with_default(&self.dispatch, || {
            tracing::info!(
                target: TARGET,
                timestamp = opt(F::Timestamp, entry.timestamp),
                route = entry.route.filter(|_| pick(F::Route)),
                method = opt(F::Method, entry.method),
                path = opt(F::Path, entry.path),
                status = pick(F::Status).then_some(entry.status as u64),
                request_bytes = pick(F::RequestBytes).then_some(entry.request_bytes),
                response_bytes = pick(F::ResponseBytes).then_some(entry.response_bytes),
                duration_us = pick(F::DurationUs).then_some(entry.duration_us),
                upstream_us = entry.upstream_us.filter(|_| pick(F::UpstreamUs)),
                upstream_addr = entry.upstream_addr.filter(|_| pick(F::UpstreamAddr)),
                plugins = entry.plugins.filter(|_| pick(F::Plugins)),
                consumer = entry.consumer.filter(|_| pick(F::Consumer)),
                client = opt(F::Client, entry.client),
                trace_id = opt(F::TraceId, entry.trace_id),
                request_headers = entry.request_headers,
                response_headers = entry.response_headers,
            );
        });
    }
}
