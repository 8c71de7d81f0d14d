//! Failures of upstream targets through the real gateway: a target dying
//! under steady traffic (retries, ejection, re-admission by the active
//! health check), every target down (503 at once), which requests may be
//! retried, the retry budget, the per-route total timeout, and the circuit
//! breaker (`max_requests` in flight, `max_pending` waiting to connect).

use crate::support;
use crate::support::backends;
use crate::support::origin;

use std::time::{Duration, Instant};

use backends::{EchoServer, dead_addr, hangup};
use http::{Method, StatusCode};
use std::net::SocketAddr;

use support::TestGateway;
use support::builder::Gateway;

/// Upstream `pool` with `targets` and more `upstream` keys, and route `r`
/// to it with more `route` keys.
async fn routed(targets: &[SocketAddr], upstream: &str, route: &str) -> TestGateway {
    Gateway::builder()
        .upstream_with("pool", targets, upstream)
        .route("r", |r| r.key(route))
        .start()
        .await
}

#[tokio::test]
async fn a_target_dying_under_steady_traffic_fails_no_request_and_comes_back() {
    let a = EchoServer::start("a").await;
    let mut b = EchoServer::start("b").await;
    let c = EchoServer::start("c").await;
    let gw = routed(
        &[a.addr, b.addr, c.addr],
        r#"retries = 2
outlier = { consecutive_failures = 1, ejection_ms = 60000 }
health = { path = "/healthz", interval_ms = 100, timeout_ms = 500, healthy_threshold = 2, unhealthy_threshold = 2 }"#,
        "",
    )
    .await;
    let mut failed = Vec::new();
    let mut answered_by_b_while_down = 0;
    for i in 0..300 {
        if i == 100 {
            b.kill();
        }
        if i == 200 {
            b.restart().await;
        }
        let response = gw.get(&format!("/steady/{i}")).await;
        if response.status != StatusCode::OK {
            failed.push((
                i,
                response.status,
                String::from_utf8_lossy(&response.body).into_owned(),
            ));
        } else if (100..200).contains(&i) && response.header("x-upstream") == Some("b") {
            answered_by_b_while_down += 1;
        }
    }
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert_eq!(answered_by_b_while_down, 0);

    // Ejected for a minute, `b` is re-admitted by the active health check.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = gw.get("/after").await;
        assert_eq!(response.status, StatusCode::OK);
        if response.header("x-upstream") == Some("b") {
            break;
        }
        assert!(Instant::now() < deadline, "b was not re-admitted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_target_down_is_a_503_problem_at_once() {
    // Passive: one failure ejects; the next request tries no target.
    let gw = routed(
        &[dead_addr(), dead_addr()],
        "outlier = { consecutive_failures = 1 }",
        "",
    )
    .await;
    assert_eq!(gw.get("/").await.status, StatusCode::BAD_GATEWAY);
    let problem = gw
        .get("/")
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE, "no-healthy-upstream");
    assert_eq!(problem["source"], "upstream");

    // Active: the checks mark both down without any client traffic.
    let gw = routed(
        &[dead_addr(), dead_addr()],
        "health = { interval_ms = 50, unhealthy_threshold = 1 }",
        "",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.get("/").await.status != StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            Instant::now() < deadline,
            "no 503 while every target is down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn only_safe_requests_are_retried_on_another_target() {
    // Connection refused: nothing was sent, so even a POST is retried.
    let live = EchoServer::start("live").await;
    let gw = routed(
        &[dead_addr(), live.addr],
        "outlier = { consecutive_failures = 0 }",
        "",
    )
    .await;
    for i in 0..4 {
        let body = format!("order {i}");
        let response = gw.send(Method::POST, "/orders", &[], &body).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(
            response.json()["body"],
            body.as_str(),
            "the streamed body arrives whole"
        );
    }

    // The request was sent and the target hung up: a GET is retried, a POST
    // is not (it may have taken effect).
    let (hangup, _task) = hangup().await;
    let gw = routed(
        &[hangup, live.addr],
        "outlier = { consecutive_failures = 0 }",
        "",
    )
    .await;
    for _ in 0..4 {
        assert_eq!(gw.get("/").await.status, StatusCode::OK);
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(gw.send(Method::POST, "/", &[], "pay").await.status.as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 502, 502]);
}

#[tokio::test]
async fn the_retry_budget_bounds_retries() {
    let live = EchoServer::start("live").await;
    let gw = routed(
        &[dead_addr(), live.addr],
        "outlier = { consecutive_failures = 0 }\nretry_budget = { ratio = 0.0, min_per_sec = 0 }",
        "",
    )
    .await;
    let mut failed = 0;
    for _ in 0..10 {
        if gw.get("/").await.status == StatusCode::BAD_GATEWAY {
            failed += 1;
        }
    }
    assert_eq!(
        failed, 5,
        "no retry is left in the budget: every other request fails"
    );
}

#[tokio::test]
async fn the_route_timeout_bounds_the_whole_exchange() {
    let slow = EchoServer::slow("slow", Duration::from_secs(5)).await;
    let gw = routed(&[slow.addr], "", "timeout_ms = 200").await;
    let response = gw.get("/").await;
    assert_eq!(response.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        response.json()["type"],
        "urn:portico:problem:upstream-timeout"
    );
}

/// An upstream that answers every request after `delay`.
async fn slow_origin(delay: Duration) -> std::net::SocketAddr {
    origin::origin(
        move |_request: http::Request<hyper::body::Incoming>| async move {
            tokio::time::sleep(delay).await;
            http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
                b"slow",
            )))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_bounds_requests_in_flight_to_a_slow_upstream() {
    let slow = slow_origin(Duration::from_secs(1)).await;
    let fast = EchoServer::start("fast").await;
    let gw = Gateway::builder()
        .upstream_with("slow", &[slow], "circuit_breaker = { max_requests = 3 }")
        .upstream("fast", &[fast.addr])
        .route("slow", |r| r.prefix("/slow").upstream("slow"))
        .route("fast", |r| r.prefix("/fast").upstream("fast"))
        .start()
        .await;
    let flood = (0..10).map(|_| async {
        let started = Instant::now();
        (gw.get("/slow").await, started.elapsed())
    });
    // While the slow upstream is full, its neighbour is served as usual.
    let neighbour = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        gw.get("/fast").await
    };
    let (answers, neighbour) = tokio::join!(futures::future::join_all(flood), neighbour);
    assert_eq!(neighbour.status, StatusCode::OK);
    let (ok, refused): (Vec<_>, Vec<_>) = answers
        .into_iter()
        .partition(|(response, _)| response.status == StatusCode::OK);
    assert_eq!(ok.len(), 3, "as many as max_requests");
    for (response, took) in &refused {
        let problem = response.problem(StatusCode::SERVICE_UNAVAILABLE, "upstream-overloaded");
        assert_eq!(problem["source"], "upstream");
        assert!(problem["detail"].as_str().unwrap_or("").contains("`slow`"));
        assert_eq!(response.header("retry-after"), Some("1"));
        assert!(*took < Duration::from_millis(900), "refused late: {took:?}");
    }
    // The dashboard's data shows the refusals and the bound.
    let live = gw.admin_get("/api/live").await.json();
    let upstreams = live["live"]["upstreams"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let slow_state = upstreams
        .iter()
        .find(|u| u["upstream"] == "slow")
        .unwrap_or_else(|| panic!("no `slow` upstream in {live:#}"));
    assert_eq!(
        slow_state["breaker"]["refused_requests"], 7,
        "{slow_state:#}"
    );
    assert_eq!(slow_state["breaker"]["max_requests"], 3);
    assert_eq!(gw.get("/slow").await.status, StatusCode::OK, "open again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_bounds_requests_waiting_for_a_connection() {
    // A target that accepts TCP but never answers the TLS ClientHello: each
    // new connection waits until connect_timeout_ms.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let gw = Gateway::builder()
        .upstream_with(
            "stuck",
            &[addr],
            "connect_timeout_ms = 1500\nretries = 0\n\
             tls = { server_name = \"stuck.test\" }\ncircuit_breaker = { max_pending = 2 }",
        )
        .route("r", |r| r)
        .start()
        .await;
    let calls = (0..6).map(|_| async {
        let started = Instant::now();
        (gw.get("/").await, started.elapsed())
    });
    let answers = futures::future::join_all(calls).await;
    let refused: Vec<_> = answers
        .iter()
        .filter(|(r, _)| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let waited: Vec<_> = answers
        .iter()
        .filter(|(r, _)| r.status == StatusCode::BAD_GATEWAY)
        .collect();
    assert_eq!(
        waited.len(),
        2,
        "max_pending waited for the connect timeout"
    );
    assert_eq!(refused.len(), 4);
    for (response, took) in refused {
        let problem = response.problem(StatusCode::SERVICE_UNAVAILABLE, "upstream-overloaded");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or("")
                .contains("waiting for a connection"),
            "{problem}"
        );
        assert!(
            *took < Duration::from_millis(1000),
            "refused late: {took:?}"
        );
    }
    drop(silent);
}

/// An origin that answers one request per connection with keep-alive
/// (no `Connection: close`), then closes the connection 50 ms later, as
/// an upstream with a short keep-alive timeout does. Counts connections.
async fn short_keepalive_origin() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connections = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, connections)
}

#[tokio::test]
async fn a_kept_alive_connection_the_target_closed_while_idle_is_not_used() {
    // No retries: a request sent on the dead connection would be a 502.
    let (origin, connections) = short_keepalive_origin().await;
    let gw = routed(&[origin], "retries = 0", "").await;
    for round in 0..3 {
        let answer = gw.send(Method::POST, "/orders", &[], "{}").await;
        assert_eq!(answer.status, StatusCode::OK, "round {round}");
        assert_eq!(&answer.body[..], b"ok");
        // The origin closes the pooled connection meanwhile.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "a new connection each time the pooled one was closed"
    );
}
