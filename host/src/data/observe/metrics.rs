//! Metrics: the process's one Prometheus recorder (the `metrics` crate's
//! global recorder, without an HTTP listener of its own) and [`render`],
//! which the admin listener serves as `GET /metrics`.
//!
//! Label values are bounded by the config: route, upstream, target and
//! plugin names, status classes, a fixed set of methods; never raw paths or
//! anything else a client sends.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `route`, `method` and `status_class` (`2xx`...).
pub(crate) const REQUESTS: &str = "portico_requests_total";
/// Requests refused at once by load shedding, by listener.
pub(crate) const REQUESTS_SHED: &str = "portico_requests_shed_total";
/// Requests an upstream's circuit breaker refused, by `upstream` and `limit`.
pub(crate) const UPSTREAM_REFUSED: &str = "portico_upstream_requests_refused_total";
/// Seconds from the request head to the end of the response body, by `route`.
pub(crate) const REQUEST_DURATION: &str = "portico_request_duration_seconds";
/// Request body bytes read from clients, by `route`.
pub(crate) const REQUEST_BYTES: &str = "portico_request_bytes_total";
/// Response body bytes sent to clients, by `route`.
pub(crate) const RESPONSE_BYTES: &str = "portico_response_bytes_total";
/// Seconds until the upstream's response head (retries included), by `upstream`.
pub(crate) const UPSTREAM_DURATION: &str = "portico_upstream_response_duration_seconds";
/// 1 when a target is available (healthy, not ejected), by `upstream`, `target`.
pub(crate) const TARGET_HEALTHY: &str = "portico_upstream_target_healthy";
/// Connections opened to targets, by `upstream`.
pub(crate) const UPSTREAM_CONNECTIONS: &str = "portico_upstream_connections_opened_total";
/// Upstream responses by `upstream` and `connection` (`new` or `reused`).
pub(crate) const UPSTREAM_REQUESTS: &str = "portico_upstream_requests_total";
/// Attempts after a failed one, by `upstream`.
pub(crate) const UPSTREAM_RETRIES: &str = "portico_upstream_retries_total";
/// Retries the budget refused, by `upstream`.
pub(crate) const UPSTREAM_RETRIES_DENIED: &str = "portico_upstream_retries_denied_total";
/// Targets ejected by outlier detection, by `upstream`.
pub(crate) const UPSTREAM_EJECTIONS: &str = "portico_upstream_ejections_total";
/// Seconds per plugin phase call, by `plugin`, `version`, `route`, `phase`.
pub(crate) const PLUGIN_CALL_DURATION: &str = "portico_plugin_call_duration_seconds";
/// Plugin failures by `plugin`, `version`, `route`, `kind` (`trap`,
/// `deadline`, `memory`, `error`, `capacity`).
pub(crate) const PLUGIN_FAILURES: &str = "portico_plugin_failures_total";
/// Phase calls stopped at the deadline, by `plugin`, `version`, `route`.
pub(crate) const PLUGIN_DEADLINE_OVERRUNS: &str = "portico_plugin_deadline_overruns_total";
/// The largest linear memory an instance reached, by `plugin`, `version`, `route`.
pub(crate) const PLUGIN_MEMORY_PEAK: &str = "portico_plugin_memory_peak_bytes";
/// Instances started, by `plugin`, `version`, `route`.
pub(crate) const PLUGIN_INSTANCES_CREATED: &str = "portico_plugin_instances_created_total";
/// Requests served by an idle (reused) instance, by `plugin`, `version`, `route`.
pub(crate) const PLUGIN_INSTANCES_REUSED: &str = "portico_plugin_instances_reused_total";
/// Plugin-reported series refused by the per-plugin bound, by `plugin`.
pub(crate) const PLUGIN_SERIES_DROPPED: &str = "portico_plugin_metric_series_dropped_total";
/// Spans handed to the OTLP exporter.
pub(crate) const OTLP_SPANS_EXPORTED: &str = "portico_otlp_spans_exported_total";
/// Spans dropped because the export queue was full or an export failed.
pub(crate) const OTLP_SPANS_DROPPED: &str = "portico_otlp_spans_dropped_total";
/// 1 while the shared state backend (Redis) serves, 0 during an outage.
pub(crate) const STATE_BACKEND_UP: &str = "portico_state_backend_up";
/// Shared state calls that failed (unreachable, error, timeout), by `op`.
pub(crate) const STATE_ERRORS: &str = "portico_state_errors_total";
/// `kv`/`cache` calls served from this instance's memory because the shared
/// backend was unavailable (`on_state_error = "local"`).
pub(crate) const STATE_FALLBACKS: &str = "portico_state_local_fallbacks_total";
/// Outbound requests of the `http` capability, by `plugin`, `destination`
/// (`scheme://host:port`, `-` when refused before one was known) and
/// `outcome` (`2xx`.., `denied`, `invalid`, `timeout`, `connect`, `tls`,
/// `too_large`, `error`).
pub(crate) const PLUGIN_HTTP_REQUESTS: &str = "portico_plugin_http_requests_total";
/// Seconds per outbound request sent, by `plugin`, `destination`.
pub(crate) const PLUGIN_HTTP_DURATION: &str = "portico_plugin_http_duration_seconds";
/// Config reloads by `outcome` (`applied`, `unchanged`, `refused`).
pub(crate) const CONFIG_RELOADS: &str = "portico_config_reloads_total";
/// The etcd revision of the config document serving (configs from etcd).
pub(crate) const CONFIG_REVISION: &str = "portico_config_revision";
/// 1 while the etcd watch on the config document runs, 0 while etcd is
/// unreachable (the last applied config keeps serving).
pub(crate) const ETCD_UP: &str = "portico_etcd_up";
/// Access-log lines dropped because the writer's buffer was full.
pub(crate) const ACCESS_LOG_LINES_DROPPED: &str = "portico_access_log_lines_dropped_total";
/// Export requests that failed.
pub(crate) const OTLP_EXPORT_FAILURES: &str = "portico_otlp_export_failures_total";

/// Request and upstream latency buckets, seconds.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Plugin call buckets, seconds (1 µs to 50 ms, the default deadline).
const PLUGIN_SECONDS: &[f64] = &[
    0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
    0.0025, 0.005, 0.01, 0.025, 0.05,
];
/// How often histograms are drained when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static GAUGES: Mutex<Vec<Weak<dyn ScrapeGauges>>> = Mutex::new(Vec::new());

/// Something that sets its own gauges just before each scrape (an
/// upstream: the health of its targets), registered with [`watch_gauges`].
pub(crate) trait ScrapeGauges: Send + Sync {
    /// Sets the gauges to the values now.
    fn refresh_gauges(&self);
}

/// Installs the Prometheus recorder as the process's metrics recorder (once;
/// later calls do nothing) and describes every metric. Returns `false` when
/// another recorder was installed first: metrics then go there, and
/// [`render`] is empty.
pub fn install() -> bool {
    HANDLE
        .get_or_init(|| match build() {
            Ok(handle) => {
                describe();
                let upkeep = handle.clone();
                let spawned = std::thread::Builder::new()
                    .name("portico-metrics".into())
                    .spawn(move || {
                        loop {
                            std::thread::sleep(UPKEEP);
                            upkeep.run_upkeep();
                        }
                    });
                if let Err(error) = spawned {
                    tracing::warn!(%error, "cannot start the metrics upkeep thread");
                }
                Some(handle)
            }
            Err(error) => {
                tracing::warn!(%error, "metrics recorder not installed");
                None
            }
        })
        .is_some()
}

fn build() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets(SECONDS)?
        .set_buckets_for_metric(Matcher::Full(PLUGIN_CALL_DURATION.into()), PLUGIN_SECONDS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)?;
    Ok(handle)
}

/// The metrics in the Prometheus text exposition format (version 0.0.4);
/// empty when the recorder is not installed.
pub fn render() -> String {
    let Some(Some(handle)) = HANDLE.get() else {
        return String::new();
    };
    refresh_gauges();
    handle.render()
}

/// Lets [`render`] refresh `source`'s gauges while it lives.
pub(crate) fn watch_gauges(source: Weak<dyn ScrapeGauges>) {
    if let Ok(mut sources) = GAUGES.lock() {
        sources.retain(|s| s.strong_count() > 0);
        sources.push(source);
    }
}

fn refresh_gauges() {
    let live: Vec<Arc<dyn ScrapeGauges>> = match GAUGES.lock() {
        Ok(sources) => sources.iter().filter_map(Weak::upgrade).collect(),
        Err(_) => return,
    };
    for source in live {
        source.refresh_gauges();
    }
}

/// `2xx`, `4xx`... for a status code.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The method as a label value: the standard ones, else `OTHER`.
pub(crate) fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        REQUESTS,
        "Requests answered, by route, method and status class."
    );
    describe_counter!(
        UPSTREAM_REFUSED,
        "Requests refused at once by an upstream's circuit breaker (max_requests or max_pending)."
    );
    describe_counter!(
        REQUESTS_SHED,
        "Requests refused at once because the listener had max_requests_in_flight in flight."
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "From the request head to the end of the response body."
    );
    describe_counter!(
        REQUEST_BYTES,
        Unit::Bytes,
        "Request body bytes read from clients."
    );
    describe_counter!(
        RESPONSE_BYTES,
        Unit::Bytes,
        "Response body bytes sent to clients."
    );
    describe_histogram!(
        UPSTREAM_DURATION,
        Unit::Seconds,
        "Until the upstream's response head, retries included."
    );
    describe_gauge!(
        TARGET_HEALTHY,
        "1 when the target is healthy and not ejected."
    );
    describe_counter!(
        UPSTREAM_CONNECTIONS,
        "Connections opened to upstream targets."
    );
    describe_counter!(
        UPSTREAM_REQUESTS,
        "Upstream responses, by whether their connection was new or reused."
    );
    describe_counter!(UPSTREAM_RETRIES, "Upstream attempts after a failed one.");
    describe_counter!(
        UPSTREAM_RETRIES_DENIED,
        "Retries refused by the retry budget."
    );
    describe_counter!(UPSTREAM_EJECTIONS, "Targets ejected by outlier detection.");
    describe_histogram!(
        PLUGIN_CALL_DURATION,
        Unit::Seconds,
        "Time per plugin phase call."
    );
    describe_counter!(PLUGIN_FAILURES, "Plugin failures, by kind.");
    describe_counter!(
        PLUGIN_DEADLINE_OVERRUNS,
        "Plugin phase calls stopped at their deadline."
    );
    describe_gauge!(
        PLUGIN_MEMORY_PEAK,
        Unit::Bytes,
        "Largest linear memory a plugin instance reached."
    );
    describe_counter!(PLUGIN_INSTANCES_CREATED, "Plugin instances started.");
    describe_counter!(
        PLUGIN_INSTANCES_REUSED,
        "Requests served by a reused (pooled) plugin instance."
    );
    describe_counter!(
        PLUGIN_SERIES_DROPPED,
        "Plugin-reported counter updates refused by the series bound."
    );
    describe_counter!(OTLP_SPANS_EXPORTED, "Spans sent to the OTLP collector.");
    describe_counter!(
        OTLP_SPANS_DROPPED,
        "Spans dropped: export queue full or export failed."
    );
    describe_counter!(OTLP_EXPORT_FAILURES, "OTLP export requests that failed.");
    describe_gauge!(
        STATE_BACKEND_UP,
        "1 while the shared state backend (Redis) serves, 0 during an outage."
    );
    describe_counter!(
        STATE_ERRORS,
        "Shared state calls that failed: unreachable, error or timeout."
    );
    describe_counter!(
        STATE_FALLBACKS,
        "kv and cache calls served from this instance's memory during a shared state outage."
    );
    describe_counter!(
        PLUGIN_HTTP_REQUESTS,
        "Outbound requests of plugins' http capability, by plugin, destination and outcome."
    );
    describe_histogram!(
        PLUGIN_HTTP_DURATION,
        Unit::Seconds,
        "Outbound requests of plugins' http capability, sent to answered in full."
    );
    describe_counter!(
        CONFIG_RELOADS,
        "Config reloads, by outcome (applied, unchanged, refused)."
    );
    describe_gauge!(
        CONFIG_REVISION,
        "The etcd revision of the config document serving."
    );
    describe_gauge!(
        ETCD_UP,
        "1 while the etcd watch on the config document runs, 0 while etcd is unreachable."
    );
    describe_counter!(
        ACCESS_LOG_LINES_DROPPED,
        "Access-log lines dropped: the writer's buffer was full (the disk is behind)."
    );
}
