//! The `rate-limit` plugin through the real gateway: over-admission under
//! 50 concurrent clients, the 429 reply and its fields, and limits per
//! consumer in a chain `auth → rate-limit → transform`.

use crate::support;

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::builder::{Cap, Gateway, PluginBuilder, RouteBuilder, auth_probe, plugin};

/// Route `limited` (every path) to an echo upstream through `chain`. The
/// phase deadline is 2 s, not the harness's 50 ms, so that it survives a
/// loaded 2-core machine (50 clients, the upstream and the gateway share it
/// with compilers); the tests are about counting, not speed.
async fn limited_gateway(chain: Vec<PluginBuilder>) -> support::TestGateway {
    Gateway::builder()
        .runtime("deadline_ms = 2000")
        .echo("origin")
        .route("limited", |r| {
            chain.into_iter().fold(r, RouteBuilder::plugin)
        })
        .start()
        .await
}

/// `rate-limit` keyed by `key` with these `policies` (a TOML array).
fn rate_limit(key: &str, policies: &str) -> PluginBuilder {
    plugin("rate-limit")
        .grant([Cap::Kv, Cap::Clock, Cap::Context, Cap::Metrics])
        .config("key", key)
        .config_toml("policies", policies)
}

/// `transform` sending the context's consumer upstream as `x-consumer`.
fn consumer_header() -> PluginBuilder {
    plugin("transform").grant([Cap::Context]).config_toml(
        "request.headers.set",
        r#"{ "x-consumer" = "{ctx.consumer}" }"#,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_clients_are_not_over_admitted() {
    // One counter for the route. The window is an hour so the sliding
    // window's previous-window weight (limit · elapsed / window) cannot let
    // in more than a fraction of a request while the test runs, even if it
    // straddles a window boundary: what is measured is the race alone.
    const LIMIT: usize = 200;
    const CLIENTS: usize = 50;
    const PER_CLIENT: usize = 8;
    let gw = limited_gateway(vec![rate_limit(
        "route",
        &format!(r#"[{{ limit = {LIMIT}, window = "1h" }}]"#),
    )])
    .await;
    let url = format!("http://{}/hammer", gw.addr);
    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let clients = (0..CLIENTS).map(|_| {
        let (url, start) = (url.clone(), Arc::clone(&start));
        tokio::spawn(async move {
            // Each client has its own connection pool: real concurrency.
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            start.wait().await;
            let mut statuses = Vec::with_capacity(PER_CLIENT);
            for _ in 0..PER_CLIENT {
                let request = http::Request::get(&url)
                    .body(Full::new(Bytes::new()))
                    .expect("request");
                let response = client.request(request).await.expect("gateway answered");
                let status = response.status();
                response.into_body().collect().await.expect("body");
                statuses.push(status);
            }
            statuses
        })
    });
    let mut admitted = 0;
    let mut limited = 0;
    for client in futures::future::join_all(clients).await {
        for status in client.expect("client task") {
            match status {
                StatusCode::OK => admitted += 1,
                StatusCode::TOO_MANY_REQUESTS => limited += 1,
                other => panic!("unexpected status {other}"),
            }
        }
    }
    assert_eq!(admitted + limited, CLIENTS * PER_CLIENT);
    let over = admitted.saturating_sub(LIMIT);
    println!(
        "{CLIENTS} clients × {PER_CLIENT} requests against {LIMIT}: {admitted} admitted, \
         {limited} limited, over-admission {over} ({:.1}%)",
        100.0 * over as f64 / LIMIT as f64
    );
    assert!(
        over * 100 <= LIMIT * 2,
        "over-admission {over} is more than 2% of {LIMIT}"
    );
    assert!(
        admitted >= LIMIT * 95 / 100,
        "under-admission: only {admitted} of {LIMIT} admitted"
    );

    let after = gw.get("/hammer").await;
    assert_eq!(after.status, StatusCode::TOO_MANY_REQUESTS, "still limited");
}

#[tokio::test]
async fn the_429_is_problem_json_with_retry_after_and_ratelimit_fields() {
    let gw = limited_gateway(vec![rate_limit(
        "client_addr",
        r#"[{ limit = 2, window = "1m", name = "per-minute" }, { limit = 100, window = "1h" }]"#,
    )])
    .await;
    for remaining in ["1", "0"] {
        let ok = gw.get("/x").await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(
            ok.header("ratelimit-policy"),
            Some(r#""per-minute";q=2;w=60, "100-per-1h";q=100;w=3600"#)
        );
        let fields = ok
            .header("ratelimit")
            .expect("RateLimit on allowed responses");
        assert!(
            fields.starts_with(&format!(r#""per-minute";r={remaining};t="#)),
            "{fields}"
        );
    }

    let limited = gw.get("/x").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.header("x-upstream"),
        None,
        "the upstream was not called"
    );
    assert_eq!(
        limited.header("content-type"),
        Some("application/problem+json")
    );
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=120).contains(&retry_after), "{retry_after}");
    let problem = limited.json();
    assert_eq!(problem["type"], "urn:portico:problem:rate-limited");
    assert_eq!(problem["status"], 429);
    assert_eq!(problem["policy"], "per-minute");
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some(r#""per-minute";q=2;w=60, "100-per-1h";q=100;w=3600"#)
    );
    let fields = limited.header("ratelimit").expect("RateLimit on the 429");
    assert!(
        fields.starts_with(&format!(
            r#""per-minute";r=0;t={retry_after}, "100-per-1h";r=98;t="#
        )),
        "{fields}"
    );
}

#[tokio::test]
async fn limits_are_per_consumer_in_an_auth_rate_limit_transform_chain() {
    // `probe` stands in for an auth plugin: it sets the context's
    // `consumer` from `x-user`, as api-key or jwt do.
    let chain = vec![
        auth_probe(),
        rate_limit("consumer", r#"[{ limit = 2, window = "1m" }]"#),
        consumer_header(),
    ];
    let gw = limited_gateway(chain).await;
    let send = |user: &'static str| {
        let gw = &gw;
        async move {
            gw.send(Method::GET, "/orders", &[("x-user", user)], "")
                .await
        }
    };
    for _ in 0..2 {
        let ok = send("alice").await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.upstream_saw("x-consumer"), ["alice"]);
    }
    let limited = send("alice").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.header("x-chain-response"),
        Some("auth"),
        "the 429 passes back through the auth plugin"
    );

    let bob = send("bob").await;
    assert_eq!(bob.status, StatusCode::OK, "bob has his own counter");
    assert_eq!(bob.upstream_saw("x-consumer"), ["bob"]);
    let fields = bob.header("ratelimit").expect("RateLimit");
    assert!(fields.contains(";r=1;"), "{fields}");

    // Without a consumer the client address is the key: its own counter.
    let anonymous = gw.get("/orders").await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(anonymous.upstream_saw("x-consumer").is_empty());
}

/// `printf %s key-alice | sha256sum` and the same for `key-bob`.
const ALICE_KEY_SHA256: &str = "87844ec0b0d738e89628640588acaa48537b814a5c4f9697e3b352d11ffedaef";
const BOB_KEY_SHA256: &str = "f031fc74d10cf0c1284dc15f679c18b1e8e05f9d1966adefba6c6463cdcef658";

#[tokio::test]
async fn api_key_rate_limit_transform_chain_limits_each_consumer() {
    let chain = vec![
        plugin("api-key").grant([Cap::Context]).config_toml(
            "keys",
            &format!(
                r#"[{{ sha256 = "{ALICE_KEY_SHA256}", consumer = "alice" }}, {{ sha256 = "{BOB_KEY_SHA256}", consumer = "bob" }}]"#
            ),
        ),
        rate_limit("consumer", r#"[{ limit = 3, window = "1h" }]"#),
        consumer_header(),
    ];
    let gw = limited_gateway(chain).await;
    let send = |key: &'static str| {
        let gw = &gw;
        async move {
            gw.send(Method::GET, "/orders", &[("x-api-key", key)], "")
                .await
        }
    };
    for _ in 0..3 {
        let ok = send("key-alice").await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.upstream_saw("x-consumer"), ["alice"]);
        assert!(
            ok.upstream_saw("x-api-key").is_empty(),
            "the key never reaches the upstream"
        );
    }
    let limited = send("key-alice").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").is_some());

    let bob = send("key-bob").await;
    assert_eq!(bob.status, StatusCode::OK, "bob's limit is his own");
    assert_eq!(bob.upstream_saw("x-consumer"), ["bob"]);

    let stranger = send("key-mallory").await;
    assert_eq!(
        stranger.status,
        StatusCode::UNAUTHORIZED,
        "auth runs before the limit"
    );
}
