//! Span export over OTLP/HTTP with JSON bodies (`POST /v1/traces`), written
//! by hand rather than with the OpenTelemetry SDK: spans go into a bounded
//! queue without waiting (a full queue drops them and counts
//! `portico_otlp_spans_dropped_total`), and one background task sends them
//! in batches of up to `batch_size`, at least every `flush_interval_ms`.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::metrics as names;
use super::trace::hex;
use crate::config::OtlpConfig;

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// `stringValue`.
    Str(String),
    /// `intValue`.
    Int(i64),
}

impl From<String> for AttrValue {
    fn from(value: String) -> Self {
        AttrValue::Str(value)
    }
}

impl From<i64> for AttrValue {
    fn from(value: i64) -> Self {
        AttrValue::Int(value)
    }
}

/// OTLP span kinds used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside the gateway (a plugin call).
    Internal,
    /// The request the gateway served.
    Server,
}

/// One finished span.
#[derive(Debug, Clone)]
pub struct Span {
    /// The trace.
    pub trace_id: [u8; 16],
    /// This span.
    pub span_id: [u8; 8],
    /// The parent span, if any.
    pub parent_id: Option<[u8; 8]>,
    /// The span name.
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// Start, ns since the Unix epoch.
    pub start_unix_nanos: u64,
    /// End, ns since the Unix epoch.
    pub end_unix_nanos: u64,
    /// Attributes.
    pub attributes: Vec<(&'static str, AttrValue)>,
    /// Status `ERROR` when set, else unset.
    pub error: bool,
}

impl Span {
    /// The span as an OTLP JSON object (ids in hex, times as decimal
    /// strings, per the OTLP/JSON mapping).
    fn to_json(&self) -> Value {
        let attributes: Vec<Value> = self
            .attributes
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    AttrValue::Str(s) => json!({ "stringValue": s }),
                    AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
                };
                json!({ "key": key, "value": value })
            })
            .collect();
        let mut span = json!({
            "traceId": hex(&self.trace_id),
            "spanId": hex(&self.span_id),
            "name": self.name,
            "kind": match self.kind { SpanKind::Internal => 1, SpanKind::Server => 2 },
            "startTimeUnixNano": self.start_unix_nanos.to_string(),
            "endTimeUnixNano": self.end_unix_nanos.to_string(),
            "attributes": attributes,
            "status": { "code": if self.error { 2 } else { 0 } },
        });
        if let Some(parent) = &self.parent_id {
            span["parentSpanId"] = Value::String(hex(parent));
        }
        span
    }
}

/// The body of one export request.
pub(crate) fn export_body(service_name: &str, spans: &[Span]) -> Value {
    json!({
        "resourceSpans": [{
            "resource": { "attributes": [
                { "key": "service.name", "value": { "stringValue": service_name } }
            ]},
            "scopeSpans": [{
                "scope": { "name": "portico", "version": env!("CARGO_PKG_VERSION") },
                "spans": spans.iter().map(Span::to_json).collect::<Vec<_>>(),
            }],
        }],
    })
}

/// The queue to the export task; dropping it lets the task send what is
/// queued and stop.
pub struct OtlpExporter {
    queue: mpsc::Sender<Span>,
    dropped: metrics::Counter,
}

impl OtlpExporter {
    /// Starts the export task on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(config: &OtlpConfig) -> Self {
        let (queue, spans) = mpsc::channel(config.queue_size.max(1));
        tokio::spawn(run(config.clone(), spans));
        OtlpExporter {
            queue,
            dropped: metrics::counter!(names::OTLP_SPANS_DROPPED),
        }
    }

    /// Queues spans for export without waiting; drops what does not fit.
    pub fn export(&self, spans: Vec<Span>) {
        // Room is judged once per request, before its first span is queued:
        // the export task may drain the queue meanwhile (on another
        // thread), and a request's spans stand or fall by the queue's state
        // when it finished, not by how the two threads interleave.
        let room = self.queue.capacity();
        for (i, span) in spans.into_iter().enumerate() {
            if i >= room || self.queue.try_send(span).is_err() {
                self.dropped.increment(1);
            }
        }
    }
}

async fn run(config: OtlpConfig, mut spans: mpsc::Receiver<Span>) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let flush = Duration::from_millis(config.flush_interval_ms);
    let mut batch = Vec::with_capacity(config.batch_size);
    loop {
        let Some(first) = spans.recv().await else {
            return;
        };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + flush;
        let mut closed = false;
        while batch.len() < config.batch_size {
            match tokio::time::timeout_at(deadline, spans.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        send(&client, &config, &batch).await;
        batch.clear();
        if closed {
            return;
        }
    }
}

async fn send(client: &Client<HttpConnector, Full<Bytes>>, config: &OtlpConfig, batch: &[Span]) {
    let body = export_body(&config.service_name, batch).to_string();
    let request = Request::post(&config.endpoint)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)));
    let request = match request {
        Ok(request) => request,
        Err(error) => return failed(batch.len(), &error.to_string()),
    };
    let timeout = Duration::from_millis(config.timeout_ms);
    match tokio::time::timeout(timeout, client.request(request)).await {
        Ok(Ok(response)) if response.status().is_success() => {
            metrics::counter!(names::OTLP_SPANS_EXPORTED).increment(batch.len() as u64);
        }
        Ok(Ok(response)) => failed(
            batch.len(),
            &format!("collector answered {}", response.status()),
        ),
        Ok(Err(error)) => failed(batch.len(), &error.to_string()),
        Err(_) => failed(batch.len(), &format!("no answer within {timeout:?}")),
    }
}

fn failed(spans: usize, reason: &str) {
    metrics::counter!(names::OTLP_EXPORT_FAILURES).increment(1);
    metrics::counter!(names::OTLP_SPANS_DROPPED).increment(spans as u64);
    tracing::warn!(spans, reason, "OTLP export failed; spans dropped");
}
