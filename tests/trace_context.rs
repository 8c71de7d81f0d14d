//! W3C trace context through the real gateway, as the echo upstream saw it,
//! and spans exported over OTLP/HTTP JSON to an in-process collector.

use crate::support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use support::TestGateway;
use support::builder::{Cap, Gateway, plugin};
use tokio::sync::mpsc;

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

fn client_traceparent(flags: &str) -> String {
    format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-{flags}")
}

/// `(trace id, parent id, flags)` of a valid version-00 `traceparent`.
fn parts(traceparent: &str) -> (String, String, String) {
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "{traceparent}");
    assert_eq!(fields[0], "00");
    assert!(fields[1].len() == 32 && fields[2].len() == 16 && fields[3].len() == 2);
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    assert!(
        hex(fields[1]) && hex(fields[2]) && hex(fields[3]),
        "{traceparent}"
    );
    (fields[1].into(), fields[2].into(), fields[3].into())
}

/// Route `route` (every path) to an echo upstream, with these top-level
/// tables (`[observability.tracing]`, ...) and, with `probe`, one `probe`
/// plugin tagged `p` in its chain.
async fn traced_gateway(route: &str, tables: &str, probe: bool) -> TestGateway {
    Gateway::builder()
        .table(tables)
        .echo("origin")
        .route(route, |r| {
            if probe {
                r.plugin(
                    plugin("probe")
                        .grant([Cap::Log, Cap::Clock, Cap::Kv, Cap::Cache, Cap::Context])
                        .config("tag", "p"),
                )
            } else {
                r
            }
        })
        .start()
        .await
}

#[tokio::test]
async fn a_valid_traceparent_continues_upstream_with_the_gateways_span() {
    let gw = traced_gateway("traced", "", false).await;
    let headers = [
        ("traceparent", &*client_traceparent("00")),
        ("tracestate", "vendor=opaque"),
    ];
    let response = gw.send(Method::GET, "/", &headers, "").await;
    let seen = response.upstream_saw("traceparent");
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (trace, parent, flags) = parts(&seen[0]);
    assert_eq!(trace, CLIENT_TRACE, "same trace");
    assert_ne!(parent, CLIENT_SPAN, "the gateway's span is the parent");
    assert_ne!(parent, "0000000000000000");
    assert_eq!(flags, "00", "the client's sampling decision is kept");
    assert_eq!(response.upstream_saw("tracestate"), ["vendor=opaque"]);
}

#[tokio::test]
async fn a_missing_or_invalid_traceparent_starts_a_new_trace() {
    let gw = traced_gateway("traced", "", false).await;
    let absent = gw.get("/").await.upstream_saw("traceparent");
    let (first, _, flags) = parts(&absent[0]);
    assert_eq!(flags, "01");
    let again = gw.get("/").await.upstream_saw("traceparent");
    assert_ne!(parts(&again[0]).0, first, "a new trace per request");

    let invalid = [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "garbage",
    ];
    for value in invalid {
        let headers = [("traceparent", value), ("tracestate", "vendor=opaque")];
        let response = gw.send(Method::GET, "/", &headers, "").await;
        let seen = response.upstream_saw("traceparent");
        let (trace, _, _) = parts(&seen[0]);
        assert_ne!(trace, CLIENT_TRACE, "{value}");
        assert_ne!(trace, "00000000000000000000000000000000");
        assert!(
            response.upstream_saw("tracestate").is_empty(),
            "tracestate belongs to the rejected trace"
        );
    }
}

#[tokio::test]
async fn propagation_can_be_turned_off() {
    let gw = traced_gateway(
        "untraced",
        "[observability.tracing]\npropagate = false",
        false,
    )
    .await;
    let sent = client_traceparent("01");
    let response = gw
        .send(Method::GET, "/", &[("traceparent", &sent)], "")
        .await;
    assert_eq!(response.upstream_saw("traceparent"), [sent]);
    assert!(gw.get("/").await.upstream_saw("traceparent").is_empty());
}

/// An OTLP/HTTP collector on an ephemeral port: every POSTed body, parsed.
async fn collector() -> (SocketAddr, mpsc::UnboundedReceiver<(String, Value)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (found, bodies) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let found = found.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let found = found.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        let body = request.into_body().collect().await.map(|b| b.to_bytes());
                        let json = body
                            .ok()
                            .and_then(|b| serde_json::from_slice(&b).ok())
                            .unwrap_or(Value::Null);
                        let _ = found.send((path, json));
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, bodies)
}

/// Every span received until `count` arrived (or 5 s passed).
async fn spans(bodies: &mut mpsc::UnboundedReceiver<(String, Value)>, count: usize) -> Vec<Value> {
    let mut spans = Vec::new();
    while spans.len() < count {
        let received = tokio::time::timeout(Duration::from_secs(5), bodies.recv()).await;
        let Ok(Some((path, body))) = received else {
            panic!("expected {count} spans, got {spans:#?}");
        };
        assert_eq!(path, "/v1/traces");
        let resource = &body["resourceSpans"][0];
        assert_eq!(
            resource["resource"]["attributes"][0],
            serde_json::json!({ "key": "service.name", "value": { "stringValue": "edge" } })
        );
        for span in resource["scopeSpans"][0]["spans"]
            .as_array()
            .expect("spans")
        {
            spans.push(span.clone());
        }
    }
    spans
}

fn attribute<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| &kv["value"])
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn spans_for_the_request_and_each_plugin_call_reach_the_collector() {
    let (collector, mut bodies) = collector().await;
    let otlp = format!(
        r#"[observability.tracing.otlp]
endpoint = "http://{collector}/v1/traces"
service_name = "edge"
flush_interval_ms = 50"#
    );
    let gw = traced_gateway("exported", &otlp, true).await;
    let traceparent = client_traceparent("01");
    let response = gw
        .send(Method::GET, "/x", &[("traceparent", &traceparent)], "")
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let (_, gateway_span, _) = parts(&response.upstream_saw("traceparent")[0]);

    let spans = spans(&mut bodies, 3).await;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server = spans.iter().find(|s| s["kind"] == 2).expect("server span");
    assert_eq!(server["traceId"], CLIENT_TRACE);
    assert_eq!(
        server["spanId"], gateway_span,
        "the span the upstream was told"
    );
    assert_eq!(server["parentSpanId"], CLIENT_SPAN);
    assert_eq!(server["name"], "GET exported");
    assert_eq!(attribute(server, "http.route")["stringValue"], "exported");
    assert_eq!(
        attribute(server, "http.response.status_code")["intValue"],
        "200"
    );
    let start: u64 = server["startTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let end: u64 = server["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert!(start > 1_600_000_000_000_000_000 && end >= start);

    let mut plugin_spans: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 1).collect();
    plugin_spans.sort_by_key(|s| {
        s["startTimeUnixNano"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    });
    let names: Vec<&str> = plugin_spans
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["plugin probe on_request", "plugin probe on_response"]
    );
    for span in plugin_spans {
        assert_eq!(span["traceId"], CLIENT_TRACE);
        assert_eq!(span["parentSpanId"], gateway_span);
        assert_eq!(attribute(span, "portico.plugin")["stringValue"], "probe");
    }
}

#[tokio::test]
async fn unsampled_traces_are_not_exported() {
    let (collector, mut bodies) = collector().await;
    let otlp = format!(
        "[observability.tracing.otlp]\nendpoint = \"http://{collector}/v1/traces\"\nservice_name = \"edge\"\nflush_interval_ms = 20"
    );
    let gw = traced_gateway("quiet", &otlp, false).await;
    gw.send(
        Method::GET,
        "/",
        &[("traceparent", &client_traceparent("00"))],
        "",
    )
    .await;
    gw.get("/sampled").await;
    let spans = spans(&mut bodies, 1).await;
    assert_eq!(spans.len(), 1);
    assert_ne!(
        spans[0]["traceId"], CLIENT_TRACE,
        "only the sampled request"
    );
}

#[tokio::test]
async fn a_full_export_queue_drops_spans_and_counts_them() {
    let (collector, mut bodies) = collector().await;
    let otlp = format!(
        "[observability.tracing.otlp]\nendpoint = \"http://{collector}/v1/traces\"\nservice_name = \"edge\"\nqueue_size = 1\nflush_interval_ms = 20"
    );
    let gw = traced_gateway("flooded", &otlp, true).await;
    // On this single-threaded test runtime the exporter cannot run while a
    // request's three spans are queued: two of them find the queue full.
    assert_eq!(gw.get("/").await.status, StatusCode::OK);
    let received = spans(&mut bodies, 1).await;
    assert_eq!(received.len(), 1);
    let text = portico::data::observe::metrics::render();
    let dropped = text
        .lines()
        .find(|l| l.starts_with("portico_otlp_spans_dropped_total"))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse::<f64>().ok());
    assert_eq!(dropped, Some(2.0), "{text}");
}

#[test]
fn an_otlp_endpoint_that_is_not_http_is_refused() {
    for (endpoint, reason) in [
        ("https://collector:4318/v1/traces", "not supported"),
        ("collector:4318", "scheme"),
    ] {
        let (_dir, config) = support::parse_config(
            &Gateway::builder()
                .table(&format!(
                    "[observability.tracing.otlp]\nendpoint = \"{endpoint}\""
                ))
                .toml(&[]),
        );
        let errors = config.expect_err(endpoint).to_string();
        assert!(
            errors.contains("`observability.tracing.otlp.endpoint`"),
            "{errors}"
        );
        assert!(errors.contains(reason), "{endpoint}: {errors}");
    }
}
