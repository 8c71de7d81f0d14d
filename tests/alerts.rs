//! Alerts through the real gateway: a rule fires while a route fails and
//! resolves after it recovers, each transition POSTed as JSON to a webhook
//! (retried when the webhook fails) and listed by `GET /api/alerts`.

use crate::support;
use crate::support::monitor;

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use monitor::webhook_receiver;
use support::builder::{Gateway, plugin};
use support::upstream;

/// A closed port on 127.0.0.1: bound, then released.
fn dead_target() -> SocketAddr {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

async fn next_post(
    posts: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) -> serde_json::Value {
    tokio::time::timeout(Duration::from_secs(20), posts.recv())
        .await
        .expect("a webhook POST within 20 s")
        .expect("receiver running")
}

#[tokio::test]
async fn error_rate_alert_fires_and_resolves_with_webhook_posts() {
    let origin = upstream("origin").await;
    // The first POST is answered 503: delivery must retry.
    let mut hook = webhook_receiver(1).await;
    let data = tempfile::tempdir().unwrap();
    let gw = Gateway::builder()
        .table(&format!(
            r#"[analytics]
dir = "{data}"

[alerting]
webhooks = ["{url}"]
timeout_ms = 1000
retries = 3
backoff_ms = 50

[[alerts]]
name = "broken-errors"
kind = "error_rate"
route = "broken"
above_percent = 50.0
window_s = 2
for_s = 1"#,
            data = data.path().display(),
            url = hook.url,
        ))
        .upstream("origin", &[origin])
        .upstream_with("gone", &[dead_target()], "retries = 0")
        .route("fine", |r| r.prefix("/fine").upstream("origin"))
        .route("broken", |r| r.prefix("/broken").upstream("gone"))
        .start_monitored()
        .await;

    // Healthy traffic on another route never fires the rule.
    for _ in 0..5 {
        assert_eq!(gw.gateway.get("/fine").await.status, StatusCode::OK);
    }
    // The failing route answers 5xx (502, 503 once the target is ejected)
    // until the rule fires.
    let fired = loop {
        assert!(gw.gateway.get("/broken").await.status.is_server_error());
        if let Ok(post) = hook.posts.try_recv() {
            break post;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(fired["alert"], "broken-errors");
    assert_eq!(fired["kind"], "error_rate");
    assert_eq!(fired["state"], "firing");
    assert_eq!(fired["subject"], "route `broken`");
    assert_eq!(fired["value"], 100.0, "every request in the window failed");
    assert_eq!(fired["threshold"], 50.0);
    assert!(
        hook.attempts.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "the first POST failed and was retried"
    );

    // No more failures: the window empties and, `for_s` later, it resolves.
    let resolved = next_post(&mut hook.posts).await;
    assert_eq!(resolved["alert"], "broken-errors");
    assert_eq!(resolved["state"], "resolved");
    assert!(resolved["at"].as_u64() >= fired["at"].as_u64());

    let listed = gw.admin_get("/api/alerts").await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed = listed.json();
    let states: Vec<_> = listed["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["alert"].as_str().unwrap(), e["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [("broken-errors", "resolved"), ("broken-errors", "firing")],
        "newest first"
    );
    assert_eq!(listed["rules"][0]["firing"], false);
    gw.shutdown().await;
}

#[tokio::test]
async fn alert_rules_are_checked_with_their_key_paths() {
    let (_dir, config) = support::parse_config(
        &Gateway::builder()
            .table(
                r#"[alerting]
webhooks = ["https://hooks.example/x"]

[[alerts]]
name = "a"
kind = "p99_latency"
route = "nope"
above_percent = 5.0"#,
            )
            .toml(&[]),
    );
    let errors = config.expect_err("config refused").to_string();
    for expected in [
        "`alerting.webhooks[0]`: `https://hooks.example/x`: https webhooks are not supported",
        "`alerts[0].above_ms`: required for kind `p99_latency`",
        "`alerts[0].above_percent`: `above_percent` does not apply to kind `p99_latency`",
        "`alerts[0].route`: no route named `nope`",
    ] {
        assert!(
            errors.contains(expected),
            "missing `{expected}` in:\n{errors}"
        );
    }
}

#[tokio::test]
async fn plugin_trap_and_no_healthy_target_alerts_fire() {
    let origin = upstream("origin").await;
    let mut hook = webhook_receiver(0).await;
    let gw = Gateway::builder()
        .table(&format!(
            r#"[alerting]
webhooks = ["{url}"]

[[alerts]]
name = "hostile-traps"
kind = "plugin_traps"
plugin = "hostile"
traps = 3
window_s = 60
for_s = 0

[[alerts]]
name = "gone-down"
kind = "no_healthy_target"
upstream = "gone"
for_s = 0"#,
            url = hook.url,
        ))
        .upstream("origin", &[origin])
        .upstream_with(
            "gone",
            &[dead_target()],
            "retries = 0\noutlier = { consecutive_failures = 1, ejection_ms = 60000 }",
        )
        .route("boom", |r| {
            r.prefix("/boom")
                .upstream("origin")
                .plugin(plugin("hostile").config("mode", "panic"))
        })
        .route("gone", |r| r.prefix("/gone").upstream("gone"))
        .start_monitored()
        .await;

    // Two traps are under the threshold: nothing fires.
    for _ in 0..2 {
        assert_eq!(
            gw.gateway.get("/boom").await.status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(hook.posts.try_recv().is_err(), "2 traps < 3: no alert");
    let live = gw.admin_get("/api/live").await.json();
    assert_eq!(live["live"]["plugins"][0]["plugin"], "hostile");
    assert_eq!(live["live"]["plugins"][0]["traps"], 2);

    // The third trap fires it; one failure ejects the only target of `gone`.
    gw.gateway.get("/boom").await;
    assert!(gw.gateway.get("/gone").await.status.is_server_error());
    let mut fired = [
        next_post(&mut hook.posts).await,
        next_post(&mut hook.posts).await,
    ];
    fired.sort_by_key(|e| e["alert"].as_str().unwrap().to_owned());
    assert_eq!(fired[0]["alert"], "gone-down");
    assert_eq!(fired[0]["state"], "firing");
    assert_eq!(fired[0]["subject"], "upstream `gone`");
    assert_eq!(fired[1]["alert"], "hostile-traps");
    assert_eq!(fired[1]["state"], "firing");
    assert_eq!(fired[1]["value"], 3.0);
    assert_eq!(fired[1]["subject"], "plugin `hostile`");
    gw.shutdown().await;
}
