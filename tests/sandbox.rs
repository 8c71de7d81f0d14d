//! Hostile plugins: each fails only its own request, with a clear
//! problem+json response, while the gateway and other routes keep serving.

use crate::support;

use std::time::{Duration, Instant};

use http::StatusCode;
use support::builder::{Cap, Gateway, PluginBuilder, plugin};
use tokio::sync::{Mutex, MutexGuard};

/// Deadline configured for these tests (the prelude sets 50 ms).
const DEADLINE: Duration = Duration::from_millis(50);

/// These tests time a spinning guest; running them one at a time keeps the
/// others from competing with it for the machine's cores.
static SERIAL: Mutex<()> = Mutex::const_new(());

async fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// Route `hostile` (`/hostile`) through the `hostile` plugin in `mode`,
/// shaped further by `shape`, and route `healthy` (`/healthy`) through
/// `hello-header`, both to one echo upstream. Guests get 16 MiB, so the
/// memory bomb hits the limit within a few allocations.
async fn hostile_gateway(
    mode: &str,
    shape: impl FnOnce(PluginBuilder) -> PluginBuilder,
) -> support::TestGateway {
    Gateway::builder()
        .runtime("memory_limit_mb = 16")
        .echo("origin")
        .route("hostile", |r| {
            r.prefix("/hostile")
                .plugin(shape(plugin("hostile").config("mode", mode)))
        })
        .route("healthy", |r| {
            r.prefix("/healthy").plugin(
                plugin("hello-header")
                    .grant([Cap::Log])
                    .config("value", "world"),
            )
        })
        .start()
        .await
}

fn assert_plugin_problem(response: &support::TestResponse, status: StatusCode, kind: &str) {
    let problem = response.problem(status, "plugin-failed");
    assert_eq!(problem["plugin"], "hostile");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("({kind})")),
        "failure kind `{kind}` in {detail:?}"
    );
    let text = String::from_utf8_lossy(&response.body);
    assert!(!text.contains("wasm"), "no internals in the body: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_cut_off_at_its_deadline_while_other_routes_serve() {
    let _serial = serial().await;
    let gw = hostile_gateway("spin", |p| p).await;
    // A baseline for the path's own overhead, measured on the same gateway.
    let baseline = {
        let started = Instant::now();
        assert_eq!(gw.get("/healthy").await.status, StatusCode::OK);
        started.elapsed()
    };

    let spinning = async {
        let started = Instant::now();
        let response = gw.get("/hostile").await;
        (response, started.elapsed())
    };
    let others = async {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(gw.get("/healthy").await.status);
        }
        statuses
    };
    let ((response, elapsed), statuses) = tokio::join!(spinning, others);

    assert_plugin_problem(&response, StatusCode::SERVICE_UNAVAILABLE, "deadline");
    assert!(
        elapsed >= DEADLINE,
        "cut off before its deadline: {elapsed:?}"
    );
    assert!(
        elapsed < DEADLINE + Duration::from_millis(10) + baseline,
        "cut off {elapsed:?} after the request started; deadline {DEADLINE:?}, baseline {baseline:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "other routes kept serving: {statuses:?}"
    );
    assert_eq!(gw.get("/healthy").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_by_the_limit() {
    let _serial = serial().await;
    let gw = hostile_gateway("grow-memory", |p| p).await;
    let response = gw.get("/hostile").await;
    assert_plugin_problem(&response, StatusCode::INTERNAL_SERVER_ERROR, "memory");
    assert_eq!(gw.get("/healthy").await.status, StatusCode::OK);
    let again = gw.get("/hostile").await;
    assert_plugin_problem(&again, StatusCode::INTERNAL_SERVER_ERROR, "memory");
}

#[tokio::test]
async fn a_panic_fails_only_its_request() {
    let _serial = serial().await;
    let gw = hostile_gateway("panic", |p| p).await;
    for _ in 0..3 {
        assert_plugin_problem(
            &gw.get("/hostile").await,
            StatusCode::INTERNAL_SERVER_ERROR,
            "trap",
        );
        let healthy = gw.get("/healthy").await;
        assert_eq!(healthy.status, StatusCode::OK);
        assert_eq!(healthy.header("x-hello"), Some("world"));
    }
}

#[tokio::test]
async fn a_trapped_instance_is_replaced_not_reused() {
    let _serial = serial().await;
    // The plugin panics only for requests with `x-boom`; its other requests
    // must succeed on the same route right after a trap, which a poisoned
    // (trapped and reused) instance could not do.
    let gw = hostile_gateway("panic", |p| p.config("only_with_header", "x-boom")).await;
    for _ in 0..3 {
        let boom = gw
            .send(http::Method::GET, "/hostile", &[("x-boom", "1")], "")
            .await;
        assert_plugin_problem(&boom, StatusCode::INTERNAL_SERVER_ERROR, "trap");
        let fine = gw.get("/hostile/after").await;
        assert_eq!(fine.status, StatusCode::OK, "body: {:?}", fine.body);
        assert_eq!(fine.json()["path"], "/hostile/after");
    }
}

#[tokio::test]
async fn a_plugin_error_fails_closed_by_default() {
    let _serial = serial().await;
    let gw = hostile_gateway("error", |p| p).await;
    assert_plugin_problem(
        &gw.get("/hostile").await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "error",
    );
}

#[tokio::test]
async fn fail_open_skips_the_failing_plugin() {
    let _serial = serial().await;
    let gw = hostile_gateway("panic", |p| p.key(r#"on_failure = "open""#)).await;
    let response = gw.get("/hostile/page").await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "the request went on without the plugin"
    );
    assert_eq!(response.json()["path"], "/hostile/page");
}

#[test]
fn a_looping_init_is_cut_off_at_the_init_deadline_when_the_route_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = Gateway::builder()
        .runtime("init_deadline_ms = 300")
        .upstream("origin", &["127.0.0.1:9".parse().expect("addr")])
        .route("r", |r| {
            r.upstream("origin")
                .plugin(plugin("hostile").config("mode", "spin-in-init"))
        })
        .toml(&[]);
    let path = dir.path().join("portico.toml");
    std::fs::write(&path, text).expect("write config");
    let args = ["check".as_ref(), "--config".as_ref(), path.as_os_str()];
    // Compile the component into the cache first, so the timed run below
    // is the load alone.
    let _ = support::process::output_of(&args);
    let started = Instant::now();
    let (ok, said) = support::process::output_of(&args);
    let elapsed = started.elapsed();
    assert!(!ok, "a plugin whose init never returns is refused: {said}");
    assert!(
        said.contains("routes[0].plugins[0]") && said.contains("ran past its deadline of 300ms"),
        "the init deadline, not the 50 ms phase deadline, cut it off: {said}"
    );
    assert!(
        elapsed >= Duration::from_millis(300),
        "cut off before the init deadline: {elapsed:?}"
    );
}
