//! Load balancing through the real gateway: each algorithm's distribution
//! over many requests, and consistent hashing's stability when a target
//! leaves.

use crate::support;
use crate::support::backends;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use backends::EchoServer;
use futures::StreamExt;
use http::Method;
use support::TestGateway;
use support::builder::Gateway;

/// A gateway with one route to an upstream made of `upstream` (TOML keys).
async fn balanced(upstream: &str) -> TestGateway {
    Gateway::builder()
        .upstream_toml("pool", upstream)
        .route("r", |r| r)
        .start()
        .await
}

/// Which upstream answered `n` GETs, with `headers`.
async fn tally(gw: &TestGateway, n: usize, headers: &[(&str, &str)]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let response = gw.send(Method::GET, "/", headers, "").await;
        assert_eq!(response.status, 200);
        *counts
            .entry(response.header("x-upstream").unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

fn share(counts: &HashMap<String, usize>, name: &str) -> f64 {
    let total: usize = counts.values().sum();
    counts.get(name).copied().unwrap_or(0) as f64 / total as f64
}

#[tokio::test]
async fn round_robin_follows_the_weights() {
    let (a, b, c) = (
        EchoServer::start("a").await,
        EchoServer::start("b").await,
        EchoServer::start("c").await,
    );
    let gw = balanced(&format!(
        "targets = [\"{} 3\", \"{}\", \"{} 1\"]",
        a.addr, b.addr, c.addr
    ))
    .await;
    let counts = tally(&gw, 500, &[]).await;
    assert_eq!(counts["a"], 300, "{counts:?}");
    assert_eq!(counts["b"], 100, "{counts:?}");
    assert_eq!(counts["c"], 100, "{counts:?}");
}

#[tokio::test]
async fn random_follows_the_weights_within_a_tolerance() {
    let (a, b) = (EchoServer::start("a").await, EchoServer::start("b").await);
    let gw = balanced(&format!(
        "balance = \"random\"\ntargets = [\"{} 3\", \"{} 1\"]",
        a.addr, b.addr
    ))
    .await;
    let counts = tally(&gw, 800, &[]).await;
    let a_share = share(&counts, "a");
    assert!((0.65..0.85).contains(&a_share), "{counts:?}");
}

#[tokio::test]
async fn least_request_prefers_the_idle_target_over_a_slow_one() {
    let slow = EchoServer::slow("slow", Duration::from_millis(400)).await;
    let fast = EchoServer::start("fast").await;
    let gw = balanced(&format!(
        "balance = \"least_request\"\ntargets = [\"{}\", \"{}\"]",
        slow.addr, fast.addr
    ))
    .await;
    let answered: Vec<String> = futures::stream::iter(0..60)
        .map(|_| async {
            let response = gw.get("/").await;
            assert_eq!(response.status, 200);
            response.header("x-upstream").unwrap().to_owned()
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let fast_count = answered.iter().filter(|name| *name == "fast").count();
    assert!(fast_count >= 45, "fast answered {fast_count} of 60");
}

#[tokio::test]
async fn consistent_hashing_sends_a_key_to_the_same_target() {
    let servers = [
        EchoServer::start("a").await,
        EchoServer::start("b").await,
        EchoServer::start("c").await,
        EchoServer::start("d").await,
    ];
    let targets: Vec<String> = servers.iter().map(|s| format!("\"{}\"", s.addr)).collect();
    let gw = balanced(&format!(
        "balance = \"consistent_hash\"\nhash_on = {{ header = \"x-user\" }}\ntargets = [{}]",
        targets.join(", ")
    ))
    .await;
    let mut used = HashMap::new();
    for user in 0..100 {
        let user = format!("user-{user}");
        let first = tally(&gw, 3, &[("x-user", &user)]).await;
        assert_eq!(first.len(), 1, "{user} went to {first:?}");
        *used.entry(first.into_keys().next().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(used.len(), 4, "every target gets keys: {used:?}");

    // Cookies and client addresses hash the same way.
    let cookie_gw = balanced(&format!(
        "balance = \"consistent_hash\"\nhash_on = {{ cookie = \"sid\" }}\ntargets = [{}]",
        targets.join(", ")
    ))
    .await;
    let by_cookie = tally(&cookie_gw, 5, &[("cookie", "theme=dark; sid=abc")]).await;
    assert_eq!(by_cookie.len(), 1, "{by_cookie:?}");
    let address_gw = balanced(&format!(
        "balance = \"consistent_hash\"\nhash_on = \"client_address\"\ntargets = [{}]",
        targets.join(", ")
    ))
    .await;
    assert_eq!(tally(&address_gw, 5, &[]).await.len(), 1);
}

#[tokio::test]
async fn consistent_hashing_moves_only_the_keys_of_a_target_that_leaves() {
    let servers = [
        EchoServer::start("a").await,
        EchoServer::start("b").await,
        EchoServer::start("c").await,
        EchoServer::start("d").await,
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.txt");
    let lines = |servers: &[EchoServer]| {
        servers
            .iter()
            .map(|s| format!("{}\n", s.addr))
            .collect::<String>()
    };
    std::fs::write(&file, lines(&servers)).unwrap();
    let gw = balanced(&format!(
        "balance = \"consistent_hash\"\nhash_on = {{ header = \"x-user\" }}\nfile = {{ path = \"{}\", interval_ms = 50 }}",
        file.display()
    ))
    .await;
    let owner = |user: usize| {
        let gw = &gw;
        async move {
            let user = format!("user-{user}");
            let response = gw.send(Method::GET, "/", &[("x-user", &user)], "").await;
            assert_eq!(response.status, 200);
            response.header("x-upstream").unwrap().to_owned()
        }
    };
    let mut before = Vec::new();
    for user in 0..200 {
        before.push(owner(user).await);
    }
    let on_d: Vec<usize> = (0..200).filter(|u| before[*u] == "d").collect();
    assert!(!on_d.is_empty());

    // `d` leaves the pool (it keeps running: only discovery changes).
    std::fs::write(&file, lines(&servers[..3])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while owner(on_d[0]).await == "d" {
        assert!(
            Instant::now() < deadline,
            "the file change was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (user, was) in before.iter().enumerate() {
        let after = owner(user).await;
        if was == "d" {
            assert_ne!(after, "d");
        } else {
            assert_eq!(&after, was, "user-{user} moved though its target stayed");
        }
    }
}
