//! The analytics store through the real gateway: per-minute rollups match
//! the exact traffic sent, survive a restart on the same data directory and
//! keep accumulating after it; an unwritable data directory leaves traffic
//! untouched and says so once in the log.

use crate::support;
use crate::support::monitor;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http::{Method, StatusCode};
use monitor::Monitored;
use serde_json::Value;
use support::builder::{Gateway, auth_probe};

/// Everything logged by the test binary (every gateway in it) once a test
/// has called [`logs`].
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        logs
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

/// Route `api` (`/api`) through [`auth_probe`] to an echo upstream, with
/// analytics in `data` flushed every `flush_s` seconds.
async fn analytics_gateway(data: &Path, flush_s: u64) -> Monitored {
    Gateway::builder()
        .table(&format!(
            "[analytics]\ndir = \"{}\"\nflush_interval_s = {flush_s}",
            data.display()
        ))
        .echo("origin")
        .route("api", |r| r.prefix("/api").plugin(auth_probe()))
        .start_monitored()
        .await
}

/// `{name: entry}` of a top list (`""` for no consumer).
fn by_name(top: &Value) -> BTreeMap<String, Value> {
    top["top"]
        .as_array()
        .expect("a top list")
        .iter()
        .map(|e| (e["name"].as_str().unwrap_or_default().to_owned(), e.clone()))
        .collect()
}

#[tokio::test]
async fn rollups_match_the_traffic_and_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let gw = analytics_gateway(data.path(), 60).await;
    let mut out: BTreeMap<&str, u64> = BTreeMap::new();
    for _ in 0..3 {
        let r = gw
            .gateway
            .send(Method::GET, "/api/a", &[("x-user", "alice")], "")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        *out.entry("alice").or_default() += r.body.len() as u64;
    }
    for _ in 0..2 {
        let r = gw
            .gateway
            .send(Method::POST, "/api/b", &[("x-user", "bob")], "hello")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        *out.entry("bob").or_default() += r.body.len() as u64;
    }
    assert_eq!(
        gw.gateway.get("/api/anonymous").await.status,
        StatusCode::OK
    );
    assert_eq!(
        gw.gateway.get("/elsewhere").await.status,
        StatusCode::NOT_FOUND
    );
    // Shutdown writes the pending rollups (the flush interval is a minute).
    gw.shutdown().await;

    let gw = analytics_gateway(data.path(), 60).await;
    let consumers = gw.admin_get("/analytics/top-consumers?limit=10").await;
    assert_eq!(consumers.status, StatusCode::OK);
    let consumers = by_name(&consumers.json());
    assert_eq!(consumers["alice"]["requests"], 3);
    assert_eq!(consumers["alice"]["bytes_in"], 0);
    assert_eq!(consumers["alice"]["bytes_out"], out["alice"]);
    assert_eq!(consumers["bob"]["requests"], 2);
    assert_eq!(consumers["bob"]["bytes_in"], 10, "two bodies of 5 bytes");
    assert_eq!(consumers["bob"]["bytes_out"], out["bob"]);
    assert_eq!(consumers[""]["requests"], 2, "anonymous and unrouted");
    assert!(consumers["alice"]["p99_ms"].as_f64().unwrap() > 0.0);

    let routes = by_name(&gw.admin_get("/analytics/top-routes").await.json());
    assert_eq!(routes["api"]["requests"], 6);
    assert_eq!(
        routes["(none)"]["requests"], 1,
        "the request no route matched"
    );
    let limited = gw.admin_get("/analytics/top-routes?limit=1").await.json();
    assert_eq!(limited["top"].as_array().unwrap().len(), 1);
    assert_eq!(limited["top"][0]["name"], "api");

    let errors = gw.admin_get("/analytics/errors").await.json();
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    for minute in errors["minutes"].as_array().unwrap() {
        assert_eq!(minute["minute"].as_i64().unwrap() % 60, 0);
        for (class, n) in minute["classes"].as_object().unwrap() {
            *classes.entry(class.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    assert_eq!(
        classes,
        BTreeMap::from([("2xx".into(), 6), ("4xx".into(), 1)])
    );

    // After the restart, rollups keep adding up in the same file.
    gw.gateway
        .send(Method::GET, "/api/a", &[("x-user", "alice")], "")
        .await;
    gw.monitor.analytics.as_ref().unwrap().flush().await;
    let consumers = by_name(&gw.admin_get("/analytics/top-consumers").await.json());
    assert_eq!(consumers["alice"]["requests"], 4);

    // A range before the traffic is empty; a bad range is refused.
    let empty = gw
        .admin_get("/analytics/top-routes?from=0&to=60")
        .await
        .json();
    assert_eq!(empty["top"], serde_json::json!([]));
    let bad = gw.admin_get("/analytics/errors?from=soon").await;
    // The monitor's errors have the traffic path's problem+json shape.
    let problem = bad.problem(StatusCode::BAD_REQUEST, "bad-request");
    assert_eq!(problem["detail"], "`from` must be a whole number");
    assert_eq!(problem["source"], "client");
    assert_eq!(problem["retryable"], false);
    gw.shutdown().await;
}

#[tokio::test]
async fn one_consumers_rows_are_erased_on_request() {
    let data = tempfile::tempdir().unwrap();
    let gw = analytics_gateway(data.path(), 60).await;
    for user in ["carol", "carol", "dan"] {
        let r = gw
            .gateway
            .send(Method::GET, "/api/x", &[("x-user", user)], "")
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let erased = gw
        .gateway
        .send_to(
            gw.admin,
            Method::DELETE,
            "/analytics/consumers/carol",
            &[],
            "",
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK);
    assert_eq!(erased.json()["erased_rows"], 1, "carol's one rollup row");
    let consumers = by_name(
        &gw.gateway
            .admin_get("/analytics/top-consumers")
            .await
            .json(),
    );
    assert!(!consumers.contains_key("carol"), "{consumers:?}");
    assert_eq!(consumers["dan"]["requests"], 1, "others stay");
    let again = gw
        .gateway
        .send_to(
            gw.admin,
            Method::DELETE,
            "/analytics/consumers/carol",
            &[],
            "",
        )
        .await;
    assert_eq!(again.json()["erased_rows"], 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn an_unwritable_data_dir_degrades_analytics_not_traffic() {
    logs();
    let base = tempfile::tempdir().unwrap();
    // A directory cannot be created under a regular file, even by root.
    let file = base.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let data = file.join("analytics");
    let gw = analytics_gateway(&data, 1).await;
    for _ in 0..20 {
        let r = gw
            .gateway
            .send(Method::GET, "/api/x", &[("x-user", "carol")], "")
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Several flushes fail while traffic goes on.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(gw.gateway.get("/api/y").await.status, StatusCode::OK);

    let live = gw.admin_get("/api/live").await.json();
    assert_eq!(live["analytics"]["state"], "degraded");
    let reason = live["analytics"]["reason"].as_str().unwrap();
    assert!(reason.contains("not-a-dir"), "{reason}");
    assert_eq!(live["live"]["routes"][0]["total_requests"], 21);
    let query = gw.admin_get("/analytics/top-routes").await;
    assert_eq!(query.status, StatusCode::SERVICE_UNAVAILABLE);

    // The log is the whole test binary's: this gateway's lines name its
    // own (unique) data directory.
    let logged = logged();
    let this_dir = base.path().display().to_string();
    let degraded: Vec<_> = logged
        .lines()
        .filter(|l| l.contains("analytics degraded") && l.contains(&this_dir))
        .collect();
    assert_eq!(degraded.len(), 1, "one line per state change:\n{logged}");
    assert!(degraded[0].contains("ERROR") && degraded[0].contains("not-a-dir"));
    gw.shutdown().await;
}
