//! Service discovery through the real gateway: DNS A, AAAA and SRV records
//! served by a real authoritative server on loopback and changed during the
//! test (re-resolved on an interval, or when their TTL runs out), and a
//! watched targets file that gains a target.

use crate::support;
use crate::support::backends;
use crate::support::dns;

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use backends::EchoServer;
use dns::DnsServer;
use support::{TestGateway, builder};

async fn routed(upstream: &str) -> TestGateway {
    builder::Gateway::builder()
        .upstream_toml("pool", upstream)
        .route("r", |r| r)
        .start()
        .await
}

/// Sends GETs until the set of upstreams answering the last few is `want`.
async fn wait_for(gw: &TestGateway, want: &[&str]) {
    let want: HashSet<String> = want.iter().map(|s| s.to_string()).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut seen = HashSet::new();
        for _ in 0..20 {
            let response = gw.get("/").await;
            if let Some(name) = response.header("x-upstream") {
                seen.insert(name.to_owned());
            }
        }
        if seen == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "answered by {seen:?}, waiting for {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn dns_a_records_are_followed_when_they_change() {
    // Two loopback addresses, one port: only the A record tells them apart.
    let first = EchoServer::start_with(
        "first",
        "127.0.0.2:0".parse().unwrap(),
        Duration::ZERO,
        None,
    )
    .await;
    let port = first.addr.port();
    let second = SocketAddr::from(([127, 0, 0, 3], port));
    let second = EchoServer::start_with("second", second, Duration::ZERO, None).await;
    let server = DnsServer::start("svc.test.").await;
    server
        .set_a("api.svc.test.", &[Ipv4Addr::new(127, 0, 0, 2)])
        .await;
    let gw = routed(&format!(
        "dns = {{ name = \"api.svc.test.\", server = \"{}\", port = {port}, interval_ms = 100 }}",
        server.addr
    ))
    .await;
    wait_for(&gw, &["first"]).await;

    server
        .set_a("api.svc.test.", &[Ipv4Addr::new(127, 0, 0, 3)])
        .await;
    wait_for(&gw, &["second"]).await;

    server
        .set_a(
            "api.svc.test.",
            &[Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)],
        )
        .await;
    wait_for(&gw, &["first", "second"]).await;
    drop((first, second));
}

#[tokio::test]
async fn dns_aaaa_records_send_traffic_to_ipv6_targets() {
    let v6 = EchoServer::start_with("v6", "[::1]:0".parse().unwrap(), Duration::ZERO, None).await;
    let server = DnsServer::start("svc.test.").await;
    server
        .set_aaaa("api.svc.test.", &[Ipv6Addr::LOCALHOST])
        .await;
    let gw = routed(&format!(
        "dns = {{ name = \"api.svc.test.\", server = \"{}\", port = {}, interval_ms = 100 }}",
        server.addr,
        v6.addr.port()
    ))
    .await;
    // It listens on ::1 only: an answer from it went over IPv6.
    wait_for(&gw, &["v6"]).await;
}

#[tokio::test]
async fn without_an_interval_records_are_re_resolved_when_their_ttl_runs_out() {
    let first = EchoServer::start_with(
        "first",
        "127.0.0.2:0".parse().unwrap(),
        Duration::ZERO,
        None,
    )
    .await;
    let port = first.addr.port();
    let second = EchoServer::start_with(
        "second",
        SocketAddr::from(([127, 0, 0, 3], port)),
        Duration::ZERO,
        None,
    )
    .await;
    let server = DnsServer::start("svc.test.").await;
    let name = "ttl.svc.test.";
    server
        .set_a_with_ttl(name, &[Ipv4Addr::new(127, 0, 0, 2)], 2)
        .await;
    let gw = routed(&format!(
        "dns = {{ name = \"{name}\", server = \"{}\", port = {port} }}",
        server.addr
    ))
    .await;
    wait_for(&gw, &["first"]).await;
    server
        .set_a_with_ttl(name, &[Ipv4Addr::new(127, 0, 0, 3)], 2)
        .await;
    // `wait_for` gives up after 15 s: the change must be picked up on the
    // record's 2 s TTL, not the 5-minute ceiling a missing TTL would mean.
    wait_for(&gw, &["second"]).await;
    drop((first, second));
}

#[tokio::test]
async fn dns_srv_records_give_ports_weights_and_priorities() {
    let (a, b, backup) = (
        EchoServer::start("a").await,
        EchoServer::start("b").await,
        EchoServer::start("backup").await,
    );
    let server = DnsServer::start("svc.test.").await;
    for host in ["a.svc.test.", "b.svc.test.", "backup.svc.test."] {
        server.set_a(host, &[Ipv4Addr::LOCALHOST]).await;
    }
    let name = "_http._tcp.api.svc.test.";
    server
        .set_srv(
            name,
            &[
                (10, 1, a.addr.port(), "a.svc.test."),
                (20, 1, backup.addr.port(), "backup.svc.test."),
            ],
        )
        .await;
    let gw = routed(&format!(
        "dns = {{ name = \"{name}\", type = \"srv\", server = \"{}\", interval_ms = 100 }}",
        server.addr
    ))
    .await;
    // The priority-20 backup serves only while no priority-10 target does.
    wait_for(&gw, &["a"]).await;

    server
        .set_srv(
            name,
            &[
                (10, 1, a.addr.port(), "a.svc.test."),
                (10, 3, b.addr.port(), "b.svc.test."),
                (20, 1, backup.addr.port(), "backup.svc.test."),
            ],
        )
        .await;
    wait_for(&gw, &["a", "b"]).await;
    let mut b_count = 0;
    for _ in 0..40 {
        if gw.get("/").await.header("x-upstream") == Some("b") {
            b_count += 1;
        }
    }
    assert_eq!(b_count, 30, "SRV weights 1:3");
}

#[tokio::test]
async fn a_watched_file_picks_up_an_added_target() {
    let (a, b) = (EchoServer::start("a").await, EchoServer::start("b").await);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    std::fs::write(&file, format!("[\"{}\"]", a.addr)).unwrap();
    let gw = routed(&format!(
        "file = {{ path = \"{}\", interval_ms = 50 }}",
        file.display()
    ))
    .await;
    wait_for(&gw, &["a"]).await;
    std::fs::write(
        &file,
        format!(
            "[\"{}\", {{\"addr\": \"{}\", \"weight\": 2}}]",
            a.addr, b.addr
        ),
    )
    .unwrap();
    wait_for(&gw, &["a", "b"]).await;
}

#[tokio::test]
async fn an_unreadable_targets_file_is_a_config_error() {
    let error = builder::Gateway::builder()
        .upstream_toml("pool", r#"file = { path = "missing.txt" }"#)
        .route("r", |r| r)
        .try_start()
        .await
        .err()
        .expect("refused");
    assert!(
        error.contains("`upstreams.pool.file.path`: cannot read"),
        "{error}"
    );
}
