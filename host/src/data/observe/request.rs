//! One request's record: begun with the request head, filled in by the
//! proxy, finished when the response body is done. Finishing writes the
//! access log line, records the request metrics and exports the spans.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use http::{Method, Response, Uri};

use super::Observer;
use super::access_log::Entry;
use super::body::{CountingBody, FinishingBody, OnFinish};
use super::otlp::{Span, SpanKind};
use super::plugin_stats::PluginCall;
use super::route_metrics::{RouteMetrics, UNROUTED};
use super::sample::{NO_ROUTE, PluginSample, RequestSample};
use super::time::{rfc3339, unix_nanos};
use super::trace::{TraceContext, new_span_id};
use crate::body::Body;
use crate::net::Peer;

/// The upstream part of a request.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamVisit {
    /// The upstream's name.
    pub upstream: String,
    /// The target that answered, when one did.
    pub addr: Option<String>,
    /// Until the response head (or the failure), retries included.
    pub elapsed: Duration,
}

/// What is known about one request so far.
pub(crate) struct Observation {
    observer: Arc<Observer>,
    start: Instant,
    start_time: SystemTime,
    trace: TraceContext,
    method: Method,
    uri: Uri,
    client: SocketAddr,
    request_headers: Option<String>,
    request_bytes: Arc<AtomicU64>,
    route: Option<Arc<RouteMetrics>>,
    upstream: Option<UpstreamVisit>,
    calls: Vec<PluginCall>,
    consumer: Option<String>,
}

impl Observation {
    pub(super) fn begin<B>(
        observer: Arc<Observer>,
        request: &http::Request<B>,
        peer: &Peer,
    ) -> Self {
        let request_headers = observer
            .access_log()
            .and_then(|log| log.request_headers(request.headers()));
        Observation {
            start: Instant::now(),
            start_time: SystemTime::now(),
            trace: TraceContext::from_headers(request.headers()),
            method: request.method().clone(),
            uri: request.uri().clone(),
            client: peer.addr,
            request_headers,
            request_bytes: Arc::default(),
            route: None,
            upstream: None,
            calls: Vec::new(),
            consumer: None,
            observer,
        }
    }

    /// The request's trace.
    pub fn trace(&self) -> &TraceContext {
        &self.trace
    }

    /// Whether `traceparent` is to be set on the upstream request.
    pub(crate) fn propagates(&self) -> bool {
        self.observer.propagates()
    }

    /// The request body, counted when anything is recorded.
    pub(crate) fn count_request(&self, body: Body) -> Body {
        if self.observer.records() {
            http_body_util::BodyExt::boxed(CountingBody::new(body, self.request_bytes.clone()))
        } else {
            body
        }
    }

    /// The route that matched.
    pub fn routed(&mut self, route: &Arc<RouteMetrics>) {
        self.route = Some(route.clone());
    }

    /// The upstream exchange.
    pub fn upstream(&mut self, visit: UpstreamVisit) {
        self.upstream = Some(visit);
    }

    /// The chain's plugin calls and the `consumer` a plugin named.
    pub fn chain(&mut self, calls: &[PluginCall], consumer: Option<&String>) {
        self.calls.extend_from_slice(calls);
        if let Some(consumer) = consumer {
            self.consumer = Some(consumer.clone());
        }
    }

    /// Hands the response back with a body that finishes this record when
    /// it is done (unchanged when nothing is recorded).
    pub fn finish(self, response: Response<Body>) -> Response<Body> {
        if !self.observer.records() {
            return response;
        }
        let status = response.status().as_u16();
        let response_headers = self
            .observer
            .access_log()
            .and_then(|log| log.response_headers(response.headers()));
        response.map(|body| {
            let done = Box::new(Done {
                observation: self,
                status,
                response_headers,
            });
            http_body_util::BodyExt::boxed(FinishingBody::new(body, done))
        })
    }
}

/// What is needed when the response body is done.
struct Done {
    observation: Observation,
    status: u16,
    response_headers: Option<String>,
}

impl OnFinish for Done {
    fn finish(self: Box<Self>, bytes: u64, complete: bool) {
        let obs = &self.observation;
        let total = obs.start.elapsed();
        let request_bytes = obs.request_bytes.load(Ordering::Relaxed);
        if obs.observer.metrics_enabled() {
            let metrics = obs.route.as_ref().unwrap_or(&UNROUTED);
            metrics.record(&obs.method, self.status, total, request_bytes, bytes);
            if let Some(upstream) = &obs.upstream {
                metrics.record_upstream(&upstream.upstream, upstream.elapsed);
            }
        }
        if let Some(log) = obs.observer.access_log()
            && (log.wants(self.status) || !complete)
        {
            let path = log.redactor().path(&obs.uri);
            let timestamp = rfc3339(obs.start_time);
            let client = obs.observer.client_address.socket_text(obs.client);
            let plugins = plugin_times(&obs.calls);
            log.write(&Entry {
                timestamp: &timestamp,
                route: obs.route.as_ref().map(|r| &**r.name()),
                method: obs.method.as_str(),
                path: &path,
                status: self.status,
                request_bytes,
                response_bytes: bytes,
                duration_us: micros(total),
                upstream_us: obs.upstream.as_ref().map(|u| micros(u.elapsed)),
                upstream_addr: obs.upstream.as_ref().and_then(|u| u.addr.as_deref()),
                plugins: Some(&plugins),
                consumer: obs.consumer.as_deref(),
                client: &client,
                trace_id: &obs.trace.trace_id_hex(),
                request_headers: obs.request_headers.as_deref(),
                response_headers: self.response_headers.as_deref(),
            });
        }
        if let Some(exporter) = obs.observer.otlp()
            && obs.trace.sampled()
        {
            exporter.export(spans(obs, self.status, total));
        }
        if let Some(recorder) = obs.observer.recorder() {
            recorder.record(sample(obs, self.status, total, request_bytes, bytes));
        }
    }
}

/// The live stats' and analytics' view of a finished request.
fn sample(
    obs: &Observation,
    status: u16,
    total: Duration,
    bytes_in: u64,
    bytes_out: u64,
) -> RequestSample {
    RequestSample {
        route: obs.route.as_ref().map(|r| r.name().clone()),
        method: obs.method.clone(),
        status,
        latency: total,
        upstream: obs.upstream.as_ref().map(|u| u.upstream.as_str().into()),
        target: obs
            .upstream
            .as_ref()
            .and_then(|u| u.addr.as_deref())
            .map(Into::into),
        consumer: obs.consumer.clone(),
        bytes_in,
        bytes_out,
        plugins: obs
            .calls
            .iter()
            .map(|call| PluginSample {
                name: call.plugin.clone(),
                version: call.version.clone(),
                latency: call.elapsed,
                trapped: call.trapped,
            })
            .collect(),
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// `{"name": µs, ...}`: both phases of each plugin added up, in chain order.
fn plugin_times(calls: &[PluginCall]) -> String {
    let mut totals: Vec<(&str, Duration)> = Vec::new();
    for call in calls {
        match totals.iter_mut().find(|(name, _)| *name == &*call.plugin) {
            Some((_, total)) => *total += call.elapsed,
            None => totals.push((&call.plugin, call.elapsed)),
        }
    }
    let mut json = String::from("{");
    for (i, (name, total)) in totals.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            "{}:{}",
            serde_json::Value::String((*name).to_owned()),
            micros(*total)
        );
    }
    json.push('}');
    json
}

/// The request's span and one per plugin call.
fn spans(obs: &Observation, status: u16, total: Duration) -> Vec<Span> {
    let start = unix_nanos(obs.start_time);
    let at = |instant: Instant| start + micros(instant.duration_since(obs.start)) * 1000;
    let route = obs.route.as_ref().map_or(NO_ROUTE, |r| &**r.name());
    let mut attributes = vec![
        ("http.request.method", obs.method.as_str().to_owned().into()),
        ("http.route", route.to_owned().into()),
        ("http.response.status_code", i64::from(status).into()),
        (
            "client.address",
            obs.observer.client_address.ip_text(obs.client.ip()).into(),
        ),
    ];
    if let Some(upstream) = &obs.upstream {
        attributes.push(("portico.upstream", upstream.upstream.clone().into()));
        if let Some(addr) = &upstream.addr {
            attributes.push(("server.address", addr.clone().into()));
        }
    }
    let mut spans = vec![Span {
        trace_id: obs.trace.trace_id,
        span_id: obs.trace.span_id,
        parent_id: obs.trace.parent_id,
        name: format!("{} {route}", obs.method),
        kind: SpanKind::Server,
        start_unix_nanos: start,
        end_unix_nanos: start + micros(total) * 1000,
        attributes,
        error: status >= 500,
    }];
    for call in &obs.calls {
        let begin = at(call.start);
        spans.push(Span {
            trace_id: obs.trace.trace_id,
            span_id: new_span_id(),
            parent_id: Some(obs.trace.span_id),
            name: format!("plugin {} {}", call.plugin, call.phase.name()),
            kind: SpanKind::Internal,
            start_unix_nanos: begin,
            end_unix_nanos: begin + micros(call.elapsed) * 1000,
            attributes: vec![
                ("portico.plugin", call.plugin.to_string().into()),
                ("portico.phase", call.phase.name().to_owned().into()),
            ],
            error: call.failed,
        });
    }
    spans
}
