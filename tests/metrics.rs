//! Metrics after known traffic through the real gateway: exact counts by
//! route, method and status class, upstream connection reuse and health,
//! plugin calls, failures and instances, counters plugins report, and
//! `promtool check metrics` on the real exposition.
//!
//! The recorder is per process, so every test uses its own route, upstream
//! and plugin-route names.

use crate::support;
use crate::support::origin;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use support::builder::{Cap, Gateway, plugin};
use support::upstream;

/// The current exposition text, scraped from the admin listener.
async fn scrape(gw: &support::TestGateway) -> String {
    let response = gw.admin_get("/metrics").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    String::from_utf8(response.body.to_vec()).expect("UTF-8 exposition")
}

/// One sample: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("sample value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once("=\"").expect("label");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("number"),
            }
        })
        .collect()
}

/// The sum of `name`'s samples whose labels include `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// Scrapes until `name{labels}` is `expected` (the record of a request is
/// finished just after its body was sent) or 5 s pass; returns the text.
async fn eventually(
    gw: &support::TestGateway,
    name: &str,
    labels: &[(&str, &str)],
    expected: f64,
) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(gw).await;
        if value(&text, name, labels) == expected {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name}{labels:?} is {}, expected {expected}:\n{text}",
        value(&text, name, labels)
    );
}

#[tokio::test]
async fn requests_are_counted_by_route_method_and_status_class() {
    let origin = upstream("m-origin").await;
    let closed: SocketAddr = "127.0.0.1:1".parse().expect("an address");
    let gw = Gateway::builder()
        .upstream("m-up", &[origin])
        .upstream("m-closed", &[closed])
        .route("m-counted", |r| r)
        .route("m-down", |r| r.prefix("/down").upstream("m-closed"))
        .start()
        .await;
    for _ in 0..5 {
        assert_eq!(gw.get("/a").await.status, StatusCode::OK);
    }
    for _ in 0..2 {
        gw.send(Method::POST, "/b", &[], "12345").await;
    }
    assert_eq!(gw.get("/down").await.status, StatusCode::BAD_GATEWAY);

    let route = [("route", "m-counted")];
    let get = [
        ("route", "m-counted"),
        ("method", "GET"),
        ("status_class", "2xx"),
    ];
    let text = eventually(&gw, "portico_requests_total", &get, 5.0).await;
    let post = [
        ("route", "m-counted"),
        ("method", "POST"),
        ("status_class", "2xx"),
    ];
    assert_eq!(value(&text, "portico_requests_total", &post), 2.0);
    let down = [("route", "m-down"), ("status_class", "5xx")];
    let text = eventually(&gw, "portico_requests_total", &down, 1.0).await;
    assert_eq!(
        value(&text, "portico_request_duration_seconds_count", &route),
        7.0
    );
    assert_eq!(value(&text, "portico_request_bytes_total", &route), 10.0);
    assert!(value(&text, "portico_response_bytes_total", &route) > 0.0);

    // Upstream: 7 responses, on new or reused connections; one target, up.
    let up = [("upstream", "m-up")];
    assert_eq!(value(&text, "portico_upstream_requests_total", &up), 7.0);
    assert!(value(&text, "portico_upstream_connections_opened_total", &up) >= 1.0);
    assert_eq!(
        value(
            &text,
            "portico_upstream_response_duration_seconds_count",
            &up
        ),
        7.0
    );
    let target = [("upstream", "m-up"), ("target", &*origin.to_string())];
    assert_eq!(
        value(&text, "portico_upstream_target_healthy", &target),
        1.0
    );
    // Label values are route names, never raw paths.
    assert!(!text.contains("/down") && !text.contains("\"/a\""));
}

#[tokio::test]
async fn plugin_calls_failures_and_instances_are_counted_per_plugin_and_version() {
    let origin = upstream("p-origin").await;
    let gw = Gateway::builder()
        .upstream("p-up", &[origin])
        .route("p-probe", |r| {
            r.prefix("/probe").plugin(
                plugin("probe")
                    .grant([Cap::Log, Cap::Clock, Cap::Kv, Cap::Cache, Cap::Context])
                    .config("tag", "p"),
            )
        })
        .route("p-panic", |r| {
            r.prefix("/panic").plugin(
                plugin("hostile")
                    .config("mode", "panic")
                    .config("only_with_header", "x-boom"),
            )
        })
        .route("p-spin", |r| {
            r.prefix("/spin")
                .plugin(plugin("hostile").config("mode", "spin"))
        })
        .start()
        .await;
    for _ in 0..4 {
        assert_eq!(gw.get("/probe").await.status, StatusCode::OK);
    }
    assert_eq!(gw.get("/panic").await.status, StatusCode::OK);
    let boom = gw.send(Method::GET, "/panic", &[("x-boom", "1")], "").await;
    assert_eq!(boom.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        gw.get("/spin").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let probe = [("plugin", "probe"), ("route", "p-probe")];
    let on_request = [
        ("plugin", "probe"),
        ("route", "p-probe"),
        ("phase", "on_request"),
    ];
    let text = eventually(
        &gw,
        "portico_plugin_call_duration_seconds_count",
        &on_request,
        4.0,
    )
    .await;
    let on_response = [
        ("plugin", "probe"),
        ("route", "p-probe"),
        ("phase", "on_response"),
    ];
    assert_eq!(
        value(
            &text,
            "portico_plugin_call_duration_seconds_count",
            &on_response
        ),
        4.0
    );
    // The instance `init` ran on at load, then 4 requests: each got a new
    // or an idle one.
    let created = value(&text, "portico_plugin_instances_created_total", &probe);
    let reused = value(&text, "portico_plugin_instances_reused_total", &probe);
    assert!(
        created >= 1.0 && created + reused == 5.0,
        "{created} + {reused}"
    );
    assert!(value(&text, "portico_plugin_memory_peak_bytes", &probe) > 0.0);
    let version = samples(&text)
        .into_iter()
        .find(|s| {
            s.name == "portico_plugin_instances_created_total" && s.labels["plugin"] == "probe"
        })
        .map(|s| s.labels["version"].clone())
        .expect("probe series");
    assert_eq!(
        version, "0.1.0",
        "the version its `metadata` export reports"
    );

    let trap = [
        ("plugin", "hostile"),
        ("route", "p-panic"),
        ("kind", "trap"),
    ];
    let text = eventually(&gw, "portico_plugin_failures_total", &trap, 1.0).await;
    let deadline = [
        ("plugin", "hostile"),
        ("route", "p-spin"),
        ("kind", "deadline"),
    ];
    assert_eq!(
        value(&text, "portico_plugin_failures_total", &deadline),
        1.0
    );
    let spin = [("plugin", "hostile"), ("route", "p-spin")];
    assert_eq!(
        value(&text, "portico_plugin_deadline_overruns_total", &spin),
        1.0
    );
}

#[tokio::test]
async fn an_instance_whose_response_phase_needs_nothing_serves_other_requests_meanwhile() {
    // Eight requests at once wait 1 s for the upstream. A plugin that
    // keeps its instance for the response phase needs eight instances; one
    // that said its response phase needs none of them is done with its
    // instance when `on-request` returns, so a few serve them all.
    let slow = support::backends::EchoServer::slow("i-slow", Duration::from_millis(1000)).await;
    let probe = |phase: &str| {
        plugin("probe")
            .grant([Cap::Kv, Cap::Context])
            .config("tag", "i")
            .config("response_phase", phase)
    };
    let gw = Gateway::builder()
        .upstream("i-up", &[slow.addr])
        .route("i-held", |r| {
            r.prefix("/held")
                .upstream("i-up")
                .plugin(probe("same-instance"))
        })
        .route("i-freed", |r| {
            r.prefix("/freed")
                .upstream("i-up")
                .plugin(probe("any-instance"))
        })
        .start()
        .await;
    let gw = &gw;
    for path in ["/held", "/freed"] {
        // Started 25 ms apart: each request phase is long over before the
        // next request comes.
        let requests = (0..8u64).map(|i| async move {
            tokio::time::sleep(Duration::from_millis(25 * i)).await;
            gw.get(path).await
        });
        for response in futures::future::join_all(requests).await {
            assert_eq!(response.status, StatusCode::OK, "{path}");
            assert_eq!(response.header("x-chain-response"), Some("i"), "{path}");
        }
    }
    let held = [("plugin", "probe"), ("route", "i-held")];
    let freed = [("plugin", "probe"), ("route", "i-freed")];
    let text = eventually(
        gw,
        "portico_plugin_call_duration_seconds_count",
        &[
            ("plugin", "probe"),
            ("route", "i-freed"),
            ("phase", "on_response"),
        ],
        8.0,
    )
    .await;
    assert_eq!(
        value(&text, "portico_plugin_instances_created_total", &held),
        8.0,
        "one instance per request in flight (the first made at load)"
    );
    let created = value(&text, "portico_plugin_instances_created_total", &freed);
    assert!(
        created <= 2.0,
        "the freed instance served the next requests ({created} created)"
    );
}

#[tokio::test]
async fn plugins_report_their_own_counters_through_the_metrics_capability() {
    let origin = origin::origin(|_| async {
        Response::builder()
            .header("cache-control", "max-age=60")
            .body(Full::new(Bytes::from_static(b"cacheable")))
            .unwrap()
    })
    .await;
    let gw = Gateway::builder()
        .upstream("c-up", &[origin])
        .route("c-limited", |r| {
            r.prefix("/limited").plugin(
                plugin("rate-limit")
                    .grant([Cap::Kv, Cap::Clock, Cap::Context, Cap::Metrics])
                    .config("key", "route")
                    .config_toml(
                        "policies",
                        r#"[{ limit = 2, window = "1h", name = "hourly" }]"#,
                    ),
            )
        })
        .route("c-cached", |r| {
            r.prefix("/cached").plugin(plugin("cache").grant([
                Cap::Cache,
                Cap::Clock,
                Cap::Metrics,
            ]))
        })
        .start()
        .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(gw.get("/limited").await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429, 429]);
    for _ in 0..3 {
        assert_eq!(gw.get("/cached/page").await.body, "cacheable");
    }

    let rejected = [("route", "c-limited"), ("policy", "hourly")];
    let text = eventually(&gw, "plugin_rate_limit_rejections_total", &rejected, 3.0).await;
    let hits = [("route", "c-cached"), ("result", "hit")];
    let misses = [("route", "c-cached"), ("result", "miss")];
    assert_eq!(value(&text, "plugin_cache_lookups_total", &misses), 1.0);
    assert_eq!(value(&text, "plugin_cache_lookups_total", &hits), 2.0);
}

#[tokio::test]
async fn a_plugin_without_the_metrics_grant_is_refused_at_load() {
    let origin = upstream("g-origin").await;
    let error = Gateway::builder()
        .upstream("g-up", &[origin])
        .route("g-route", |r| {
            r.plugin(
                plugin("rate-limit")
                    .grant([Cap::Kv, Cap::Clock, Cap::Context])
                    .config_toml("policies", r#"[{ limit = 2, window = "1h" }]"#),
            )
        })
        .try_start()
        .await
        .err()
        .expect("refused");
    assert!(error.contains("capability `metrics`"), "{error}");
    assert!(
        error.contains("routes[0].plugins[0].capabilities"),
        "{error}"
    );
}

#[tokio::test]
async fn the_exposition_passes_promtool() {
    let origin = upstream("t-origin").await;
    let gw = Gateway::builder()
        .upstream("t-up", &[origin])
        .route("t-route", |r| {
            r.plugin(
                plugin("rate-limit")
                    .grant([Cap::Kv, Cap::Clock, Cap::Context, Cap::Metrics])
                    .config("key", "route")
                    .config_toml("policies", r#"[{ limit = 1, window = "1h" }]"#),
            )
        })
        .start()
        .await;
    gw.get("/").await;
    gw.get("/").await;
    let text = eventually(
        &gw,
        "plugin_rate_limit_rejections_total",
        &[("route", "t-route")],
        1.0,
    )
    .await;

    let Some(promtool) = promtool() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool is required in CI (Debian package `prometheus`)"
        );
        eprintln!("skipped: promtool is not installed (apt-get install prometheus)");
        return;
    };
    use std::io::Write;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write metrics");
    let output = child.wait_with_output().expect("promtool output");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn promtool() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("promtool"))
        .find(|candidate| candidate.is_file())
}
