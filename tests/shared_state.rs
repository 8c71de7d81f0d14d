//! Shared state on a real `redis-server`: two real gateway processes count
//! one rate limit together and share one cache; a Redis killed between
//! requests, and again under eight concurrent clients, leaves each route
//! to its `on_state_error` (counting locally, or 503), no request waits
//! past the timeout, and counting goes back to Redis once it is up again;
//! a hung Redis (stopped, its socket open) times out into the same policy,
//! never into the plugin's phase deadline.

use crate::support;
use crate::support::origin;
use crate::support::process;
use crate::support::redis::RedisServer;

use std::net::SocketAddr;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::builder::{Cap, Gateway, GatewayBuilder, auth_probe, plugin};

/// A `portico run` child process, killed when dropped.
struct Instance {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Instance {
    /// Runs the real binary on `config`'s text.
    fn run(config: &GatewayBuilder) -> Instance {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("portico.toml");
        std::fs::write(&path, config.toml(&[])).expect("write config");
        let (child, addr) = process::spawn_portico(&path);
        Instance {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url` with `headers`: the status and the `cache-status` header.
async fn get(url: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("answered");
    let status = response.status();
    let cache = response
        .headers()
        .get("cache-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    response.into_body().collect().await.expect("body");
    (status, cache)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_on_one_redis_admit_one_limit_together() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = support::upstream("origin").await;
    let config = Gateway::builder()
        .runtime("deadline_ms = 2000")
        .table(&redis.state_table())
        .upstream("origin", &[origin])
        .route("limited", |r| {
            r.plugin(auth_probe()).plugin(
                plugin("rate-limit")
                    .grant([Cap::Kv, Cap::Clock, Cap::Context, Cap::Metrics])
                    .config("key", "consumer")
                    .config_toml("policies", r#"[{ limit = 100, window = "1m" }]"#),
            )
        });
    let (a, b) = (Instance::run(&config), Instance::run(&config));

    // 20 clients, 400 requests, every other client on the other gateway.
    let admitted = Arc::new(AtomicUsize::new(0));
    let clients = (0..20).map(|client| {
        let target = if client % 2 == 0 { a.addr } else { b.addr };
        let admitted = admitted.clone();
        tokio::spawn(async move {
            let url = format!("http://{target}/orders");
            for _ in 0..20 {
                let (status, _) = get(&url, &[("x-user", "alice")]).await;
                match status {
                    StatusCode::OK => {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                    StatusCode::TOO_MANY_REQUESTS => {}
                    other => panic!("unexpected {other}"),
                }
            }
        })
    });
    for client in clients {
        client.await.expect("client");
    }
    let admitted = admitted.load(Ordering::SeqCst);
    eprintln!("admitted {admitted} of 400 across two gateways (limit 100)");
    assert!(
        (98..=102).contains(&admitted),
        "one limit for both gateways: admitted {admitted}, expected 100 ± 2%"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cached_through_one_gateway_is_a_hit_on_the_other() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let origin = origin::origin(move |_request| {
        let counter = counter.clone();
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Response::builder()
                .header("cache-control", "public, max-age=60")
                .body(Full::new(Bytes::from(format!("answer {n}"))))
                .expect("response")
        }
    })
    .await;
    let config = Gateway::builder()
        .table(&redis.state_table())
        .upstream("origin", &[origin])
        .route("cached", |r| {
            r.plugin(plugin("cache").grant([Cap::Cache, Cap::Clock, Cap::Metrics]))
        });
    let (a, b) = (Instance::run(&config), Instance::run(&config));

    // Behind one load balancer, both gateways see the same Host.
    let host = [("host", "api.example.com")];
    let (status, first) = get(&format!("http://{}/catalog", a.addr), &host).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, "portico; fwd=miss; stored");
    let (status, second) = get(&format!("http://{}/catalog", b.addr), &host).await;
    assert_eq!(status, StatusCode::OK);
    assert!(second.starts_with("portico; hit"), "{second}");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the origin was asked once");
}

/// A gateway on `redis` with `/open`, whose rate limit counts locally while
/// Redis is down (fails open), and `/closed`, whose limit answers 503 then
/// (fails closed); both `limit` requests a minute per consumer.
async fn open_and_closed(redis: &RedisServer, limit: u32) -> support::TestGateway {
    open_and_closed_within(redis, limit, 2000).await
}

/// [`open_and_closed`] with a phase deadline of `deadline_ms`.
async fn open_and_closed_within(
    redis: &RedisServer,
    limit: u32,
    deadline_ms: u64,
) -> support::TestGateway {
    let rate_limit = |on_state_error: &str| {
        plugin("rate-limit")
            .grant([Cap::Kv, Cap::Clock, Cap::Context, Cap::Metrics])
            .key(&format!("on_state_error = \"{on_state_error}\""))
            .config("key", "consumer")
            .config_toml(
                "policies",
                &format!("[{{ limit = {limit}, window = \"1m\" }}]"),
            )
    };
    Gateway::builder()
        .runtime(&format!("deadline_ms = {deadline_ms}"))
        .table(&redis.state_table())
        .echo("origin")
        .route("open", |r| {
            r.prefix("/open")
                .plugin(auth_probe())
                .plugin(rate_limit("local"))
        })
        .route("closed", |r| {
            r.prefix("/closed")
                .plugin(auth_probe())
                .plugin(rate_limit("fail"))
        })
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_between_requests_follows_each_routes_policy_and_recovers() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    // Both: 3 requests a minute per consumer.
    let gw = open_and_closed(&redis, 3).await;
    let send = |path: &'static str, user: &'static str| {
        let gw = &gw;
        async move {
            let started = Instant::now();
            let response = gw.send(Method::GET, path, &[("x-user", user)], "").await;
            (response, started.elapsed())
        }
    };
    assert_eq!(send("/closed", "carol").await.0.status, StatusCode::OK);

    redis.kill();
    // The timeout is 100 ms; a request never waits much past it.
    let bound = Duration::from_millis(100 + 400);
    let mut open = Vec::new();
    for _ in 0..5 {
        let (response, took) = send("/open", "dave").await;
        assert!(took < bound, "a request waited {took:?} on a dead Redis");
        open.push(response.status.as_u16());
    }
    assert_eq!(
        open,
        [200, 200, 200, 429, 429],
        "counted locally while Redis is down"
    );
    let (refused, took) = send("/closed", "carol").await;
    assert!(took < bound, "a request waited {took:?} on a dead Redis");
    let problem = refused.problem(StatusCode::SERVICE_UNAVAILABLE, "rate-limit-unavailable");
    assert_eq!(problem["status"], 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    let live = gw.admin_get("/api/live").await.json();
    assert_eq!(live["state"]["backend"], "redis");
    assert_eq!(live["state"]["up"], false);
    let metrics = String::from_utf8_lossy(&gw.admin_get("/metrics").await.body).into_owned();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("portico_state_backend_up") && l.ends_with(" 0")),
        "{metrics}"
    );

    // Back up (empty: no persistence): the first probe after the backoff
    // finds it, and counting is in Redis again.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (response, _) = send("/closed", "erin").await;
        if response.status == StatusCode::OK {
            break;
        }
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "Redis was not used again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(send("/closed", "erin").await.0.status.as_u16());
        }
        statuses
    };
    assert_eq!(statuses, [200, 200, 429], "erin's count is in Redis again");
    assert_eq!(gw.admin_get("/api/live").await.json()["state"]["up"], true);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_ends_in_each_routes_policy_not_in_a_deadline_kill() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // A phase deadline (30 ms) shorter than the Redis timeout (100 ms): the
    // wait for Redis is not the guest's time, so the call times out and
    // the route's on_state_error decides, not the deadline.
    let gw = open_and_closed_within(&redis, 3, 30).await;
    let send = |path: &'static str, user: &'static str| {
        let gw = &gw;
        async move {
            let started = Instant::now();
            let response = gw.send(Method::GET, path, &[("x-user", user)], "").await;
            (response, started.elapsed())
        }
    };
    assert_eq!(send("/open", "frank").await.0.status, StatusCode::OK);

    redis.pause();
    let bound = Duration::from_millis(100 + 400);
    let (counted, took) = send("/open", "frank").await;
    assert!(took < bound, "a request waited {took:?} on a hung Redis");
    assert_eq!(
        counted.status,
        StatusCode::OK,
        "counted locally, not killed"
    );
    let (refused, took) = send("/closed", "grace").await;
    assert!(took < bound, "a request waited {took:?} on a hung Redis");
    refused.problem(StatusCode::SERVICE_UNAVAILABLE, "rate-limit-unavailable");
    // A deadline kill would have answered both with 503 `plugin-failed`
    // (the metrics registry is the test process's, shared with every other
    // test, so the statuses are the check, not an overrun counter).

    redis.resume();
    let deadline = Instant::now() + Duration::from_secs(15);
    while send("/closed", "grace").await.0.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "Redis was not used again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_under_concurrent_load_fails_open_and_closed_as_configured() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    // A limit no client reaches: every refusal below is the outage's.
    let gw = open_and_closed(&redis, 1_000_000).await;
    let addr = gw.addr;

    // Eight clients, each alternating /open and /closed back to back,
    // record every answer with when it started and how long it took.
    let began = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
                while !stop.load(Ordering::Relaxed) {
                    for path in ["/open", "/closed"] {
                        let started = began.elapsed();
                        let request = Request::get(format!("http://{addr}{path}"))
                            .header("x-user", "load")
                            .body(Full::new(Bytes::new()))
                            .expect("request");
                        let response = client.request(request).await.expect("answered");
                        let status = response.status();
                        response.into_body().collect().await.expect("body");
                        answers.push((path, started, began.elapsed() - started, status));
                    }
                }
                answers
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = began.elapsed();
    redis.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let restarted = began.elapsed();
    redis.restart();
    // Recovered once /closed is admitted again.
    let recovered = {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let response = gw
                .send(Method::GET, "/closed", &[("x-user", "probe")], "")
                .await;
            if response.status == StatusCode::OK {
                break began.elapsed();
            }
            assert!(Instant::now() < deadline, "Redis was not used again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.expect("client"));
    }

    // The timeout is 100 ms: no request waited much longer, outage or not.
    let slowest = answers.iter().map(|a| a.2).max().expect("answers");
    eprintln!(
        "{} requests; slowest {slowest:?}; Redis down from {killed:?} to {restarted:?}, used again at {recovered:?}",
        answers.len()
    );
    assert!(
        slowest < Duration::from_millis(100 + 500),
        "a request waited {slowest:?}"
    );
    let count = |path: &str, from: Duration, to: Duration, status: StatusCode| {
        answers
            .iter()
            .filter(|a| a.0 == path && a.1 >= from && a.1 + a.2 <= to && a.3 == status)
            .count()
    };
    let all = |path: &str, from: Duration, to: Duration| {
        answers
            .iter()
            .filter(|a| a.0 == path && a.1 >= from && a.1 + a.2 <= to)
            .count()
    };
    let end = began.elapsed();
    // Fail open: every /open request admitted, before, during and after.
    assert_eq!(
        count("/open", Duration::ZERO, end, StatusCode::OK),
        all("/open", Duration::ZERO, end),
        "/open admitted everything"
    );
    // Fail closed: admitted before the kill, 503 once the outage is known
    // (after one timeout) until the restart, admitted again after recovery.
    let before = all("/closed", Duration::ZERO, killed);
    assert!(before > 20, "{before} requests before the kill");
    assert_eq!(
        count("/closed", Duration::ZERO, killed, StatusCode::OK),
        before
    );
    let known = killed + Duration::from_millis(200);
    let during = all("/closed", known, restarted);
    assert!(during > 20, "{during} requests during the outage");
    assert_eq!(
        count("/closed", known, restarted, StatusCode::SERVICE_UNAVAILABLE),
        during,
        "/closed refused everything while Redis was down"
    );
    let after = all("/closed", recovered, end);
    assert!(after > 20, "{after} requests after recovery");
    assert_eq!(count("/closed", recovered, end, StatusCode::OK), after);
    // And those were counted in the restarted (empty) Redis.
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let keys: i64 = redis::cmd("DBSIZE")
        .query_async(&mut connection)
        .await
        .expect("DBSIZE");
    assert!(keys > 0, "counters are in Redis again");
    gw.shutdown().await;
}
