//! The `[observability]` table: access log, metrics and tracing. Every key
//! is optional; the defaults are documented on each field and in the README.

use std::path::{Path, PathBuf};

use http::HeaderName;
use serde::Deserialize;

use super::checked::Checked;

/// `[observability]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ObservabilityConfig {
    /// One JSON line per request.
    pub access_log: AccessLogConfig,
    /// Prometheus metrics, served by the admin listener.
    pub metrics: MetricsConfig,
    /// W3C trace context and optional OTLP span export.
    pub tracing: TracingConfig,
    /// How client addresses appear in access logs and trace spans.
    pub client_address: ClientAddressMode,
    /// The key of `client_address = "hashed"`, by reference.
    pub client_address_key: Option<super::SecretRef>,
}

/// `client_address`: what of a client's address is written down.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientAddressMode {
    /// The address and port, as they are.
    #[default]
    Full,
    /// IPv4 to its /24 (`203.0.113.0`), IPv6 to its /48 (`2001:db8:1::`),
    /// no port.
    Truncated,
    /// An HMAC-SHA256 of the address under `client_address_key`: the same
    /// client gives the same value, which does not reveal the address.
    Hashed,
}

/// `[observability.access_log]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogConfig {
    /// Write access log lines (default `false`).
    pub enabled: bool,
    /// Append to this file (relative to the config file); stdout when unset.
    pub file: Option<PathBuf>,
    /// Share of successful requests logged, 0 to 1 (default 1). Responses
    /// with status 500 and above are always logged.
    pub sample_rate: f64,
    /// The fields written (in the fixed order of `AccessField::ALL`);
    /// every field when unset.
    pub fields: Option<Vec<AccessField>>,
    /// How the query string appears in `path` (default `redact`).
    pub query: QueryMode,
    /// Request headers logged under `request_headers` (default none).
    pub request_headers: Vec<Checked<HeaderName>>,
    /// Response headers logged under `response_headers` (default none).
    pub response_headers: Vec<Checked<HeaderName>>,
    /// Headers whose values are always redacted, besides `authorization`,
    /// `proxy-authorization`, `cookie`, `set-cookie` and `x-api-key`.
    pub redact_headers: Vec<Checked<HeaderName>>,
    /// Query parameters whose values are redacted even with `query = "keep"`.
    pub redact_query_params: Vec<String>,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        AccessLogConfig {
            enabled: false,
            file: None,
            sample_rate: 1.0,
            fields: None,
            query: QueryMode::Redact,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            redact_headers: Vec::new(),
            redact_query_params: Vec::new(),
        }
    }
}

/// A field of the access log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessField {
    /// When the request arrived, RFC 3339 UTC with milliseconds.
    Timestamp,
    /// The matched route's name (absent when none matched).
    Route,
    /// The request method.
    Method,
    /// The normalized path, with the query as `query` says.
    Path,
    /// The response status sent.
    Status,
    /// Request body bytes read from the client.
    RequestBytes,
    /// Response body bytes sent to the client, counted when the body ended.
    ResponseBytes,
    /// From the request head to the end of the response body, µs.
    DurationUs,
    /// From sending upstream to the upstream's response head, µs.
    UpstreamUs,
    /// The upstream target that answered, `host:port`.
    UpstreamAddr,
    /// Time in each plugin, name to µs (both phases).
    Plugins,
    /// The context value `consumer` a plugin set (api-key, jwt).
    Consumer,
    /// The client's address, `ip:port`.
    Client,
    /// The W3C trace id (32 hex digits).
    TraceId,
    /// The configured `request_headers`, redacted.
    RequestHeaders,
    /// The configured `response_headers`, redacted.
    ResponseHeaders,
}

impl AccessField {
    /// Every field, in the default order.
    pub(crate) const ALL: [AccessField; 16] = [
        AccessField::Timestamp,
        AccessField::Route,
        AccessField::Method,
        AccessField::Path,
        AccessField::Status,
        AccessField::RequestBytes,
        AccessField::ResponseBytes,
        AccessField::DurationUs,
        AccessField::UpstreamUs,
        AccessField::UpstreamAddr,
        AccessField::Plugins,
        AccessField::Consumer,
        AccessField::Client,
        AccessField::TraceId,
        AccessField::RequestHeaders,
        AccessField::ResponseHeaders,
    ];
}

/// How the query string is logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryMode {
    /// Parameter names kept, every value replaced by `[redacted]`.
    #[default]
    Redact,
    /// As sent, except `redact_query_params`.
    Keep,
    /// Not logged.
    Drop,
}

/// `[observability.metrics]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Record metrics (default `true`); off, every metric call is skipped.
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { enabled: true }
    }
}

/// `[observability.tracing]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// Send `traceparent` upstream with the gateway's span id (default
    /// `true`); off, the client's header passes through untouched.
    pub propagate: bool,
    /// Export spans over OTLP/HTTP JSON; off when unset.
    pub otlp: Option<OtlpConfig>,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            propagate: true,
            otlp: None,
        }
    }
}

/// `[observability.tracing.otlp]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// The collector's traces URL, `http://host:port/v1/traces` (required).
    pub endpoint: String,
    /// `service.name` of the spans (default `portico`).
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Spans per export request at most (default 512).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Longest wait before a partial batch is sent, ms (default 1000).
    #[serde(default = "default_flush_interval")]
    pub flush_interval_ms: u64,
    /// Spans waiting for export at most; more are dropped (default 4096).
    #[serde(default = "default_queue_size")]
    pub queue_size: usize,
    /// Time allowed for one export request, ms (default 5000).
    #[serde(default = "default_export_timeout")]
    pub timeout_ms: u64,
}

fn default_service_name() -> String {
    "portico".into()
}
fn default_batch_size() -> usize {
    512
}
fn default_flush_interval() -> u64 {
    1000
}
fn default_queue_size() -> usize {
    4096
}
fn default_export_timeout() -> u64 {
    5000
}

impl ObservabilityConfig {
    /// Resolves the access log file against the config file's directory.
    pub(super) fn resolve_paths(&mut self, base: &Path) {
        if let Some(key) = &mut self.client_address_key {
            key.resolve(base);
        }
        if let Some(file) = &self.access_log.file
            && file.is_relative()
        {
            self.access_log.file = Some(base.join(file));
        }
    }
}

/// Checks values types cannot express; `add(key, message)` per problem.
pub(super) fn check(config: &ObservabilityConfig, add: &mut dyn FnMut(String, String)) {
    match (config.client_address, &config.client_address_key) {
        (ClientAddressMode::Hashed, None) => add(
            "observability.client_address_key".into(),
            "required by `client_address = \"hashed\"` ({ env = \"NAME\" } or { file = \"path\" })"
                .into(),
        ),
        (ClientAddressMode::Full | ClientAddressMode::Truncated, Some(_)) => add(
            "observability.client_address_key".into(),
            "only used with `client_address = \"hashed\"`".into(),
        ),
        _ => {}
    }
    let log = &config.access_log;
    let key = "observability.access_log";
    if !(0.0..=1.0).contains(&log.sample_rate) {
        add(
            format!("{key}.sample_rate"),
            format!("{} is not between 0 and 1", log.sample_rate),
        );
    }
    let lists = [
        ("request_headers", &log.request_headers),
        ("response_headers", &log.response_headers),
        ("redact_headers", &log.redact_headers),
    ];
    for (list, names) in lists {
        for (i, name) in names.iter().enumerate() {
            if let Some(problem) = name.problem() {
                add(format!("{key}.{list}[{i}]"), problem.to_owned());
            }
        }
    }
    if let Some(fields) = &log.fields {
        if fields.is_empty() {
            add(
                format!("{key}.fields"),
                "at least one field is required".into(),
            );
        }
        for (i, field) in fields.iter().enumerate() {
            if fields[..i].contains(field) {
                add(
                    format!("{key}.fields[{i}]"),
                    format!("{field:?} is listed twice"),
                );
            }
        }
    }
    if let Some(otlp) = &config.tracing.otlp {
        let key = "observability.tracing.otlp";
        if let Err(message) = check_endpoint(&otlp.endpoint) {
            add(format!("{key}.endpoint"), message);
        }
        let positive = [
            ("batch_size", otlp.batch_size as u64),
            ("flush_interval_ms", otlp.flush_interval_ms),
            ("queue_size", otlp.queue_size as u64),
            ("timeout_ms", otlp.timeout_ms),
        ];
        for (name, value) in positive {
            if value == 0 {
                add(format!("{key}.{name}"), "must be at least 1".into());
            }
        }
        if otlp.service_name.is_empty() {
            add(format!("{key}.service_name"), "must not be empty".into());
        }
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("`{endpoint}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "scheme `{other}` is not supported; use http:// (a local collector or agent)"
            ));
        }
        None => {
            return Err(format!(
                "`{endpoint}` has no scheme; use http://host:port/v1/traces"
            ));
        }
    }
    if uri.authority().is_none() {
        return Err(format!("`{endpoint}` has no host"));
    }
    Ok(())
}
