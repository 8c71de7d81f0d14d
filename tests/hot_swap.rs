//! Hot swap under real load: plugin versions dropped into the plugin
//! directory, config rewrites, `POST /reload` and rollbacks while clients
//! send requests continuously. No request may fail, and every response must
//! come from exactly one version of the chain.

use crate::support;

use crate::support::live;
use crate::support::origin;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use live::LiveGateway;
use parking_lot::Mutex;
use support::builder::{Cap, Gateway, GatewayBuilder, plugin};
use support::{TestResponse, upstream};
use tokio::sync::Notify;

/// Clients sending requests throughout the swap test.
const CLIENTS: usize = 8;
/// Plugin swaps under load (alternating between the two versions).
const SWAPS: usize = 20;

/// One route whose chain runs the `stamp` plugin twice (labels a and b),
/// plus what `more` adds (routes), as the config's body.
fn routes(
    origin: std::net::SocketAddr,
    more: impl FnOnce(GatewayBuilder) -> GatewayBuilder,
) -> String {
    // `log` is granted so that a component swapped in by mistake (the test
    // drops `hello-header` in as `stamp`) gets as far as its `init`.
    let stamp = |label: &str| plugin("stamp").grant([Cap::Log]).config("label", label);
    more(
        Gateway::builder()
            .upstream("origin", &[origin])
            .route("stamped", |r| {
                r.prefix("/").plugin(stamp("a")).plugin(stamp("b"))
            }),
    )
    .body(&[])
}

/// The one version that handled `response` through the whole chain, or a
/// description of what was inconsistent.
fn served_by(response: &TestResponse) -> Result<String, String> {
    if response.status != StatusCode::OK {
        return Err(format!("status {}: {:?}", response.status, response.body));
    }
    let request_phase = response.upstream_saw("x-stamp");
    let response_phase: Vec<&str> = response
        .headers
        .get_all("x-stamp-response")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let version = request_phase
        .first()
        .and_then(|stamp| stamp.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let expected_request = [format!("{version}/a"), format!("{version}/b")];
    let expected_response = [format!("{version}/b"), format!("{version}/a")];
    if request_phase != expected_request || response_phase != expected_response {
        return Err(format!(
            "mixed chain: request phase {request_phase:?}, response phase {response_phase:?}"
        ));
    }
    Ok(version)
}

/// What the clients saw.
#[derive(Default)]
struct Seen {
    by_version: BTreeMap<String, u64>,
    failures: Vec<String>,
}

/// Starts `CLIENTS` tasks sending `GET /load` until `stop` is set.
fn load(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|_| {
            let stop = stop.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let client: Client<_, Full<Bytes>> =
                    Client::builder(TokioExecutor::new()).build_http();
                while !stop.load(Ordering::Relaxed) {
                    let result = live::send(&client, Method::GET, addr, "/load")
                        .await
                        .and_then(|response| served_by(&response));
                    let mut seen = seen.lock();
                    match result {
                        Ok(version) => *seen.by_version.entry(version).or_default() += 1,
                        Err(failure) => seen.failures.push(failure),
                    }
                }
            })
        })
        .collect()
}

/// Waits until a request is served by `version`; returns how long that took.
async fn until_served_by(live: &LiveGateway, version: &str) -> Duration {
    let landed = Instant::now();
    loop {
        let response = live.get("/probe").await;
        if served_by(&response).as_deref() == Ok(version) {
            return landed.elapsed();
        }
        assert!(
            landed.elapsed() < Duration::from_secs(20),
            "version {version} never answered; last response: {response:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits for the next reload report after `after` and checks it refused
/// the change for `file` (a suffix) at `key` (a prefix).
async fn expect_refused(live: &LiveGateway, after: u64, file: &str, key: &str) -> u64 {
    let report = live.next_report(after).await;
    assert_eq!(report["outcome"], "refused", "{report:#}");
    let problem = &report["errors"][0];
    assert!(
        problem["file"].as_str().is_some_and(|f| f.ends_with(file)),
        "{report:#}"
    );
    assert!(
        problem["key"].as_str().is_some_and(|k| k.starts_with(key)),
        "{report:#}"
    );
    assert!(
        !problem["message"].as_str().unwrap_or_default().is_empty(),
        "{report:#}"
    );
    report["id"].as_u64().expect("report id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_and_reloads_under_load_fail_no_request() {
    let origin = upstream("origin").await;
    let live = LiveGateway::start(&[("stamp", "stamp-v1")], &routes(origin, |g| g)).await;
    assert_eq!(served_by(&live.get("/").await), Ok("1.0.0".to_owned()));

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let clients = load(live.addr(), stop.clone(), seen.clone());

    // Swap between the two versions; every few swaps, also change the
    // config (a route added or removed), by file and by `POST /reload`.
    let mut answered_within = Vec::new();
    for swap in 0..SWAPS {
        let (built, version) = if swap % 2 == 0 {
            ("stamp-v2", "2.0.0")
        } else {
            ("stamp-v1", "1.0.0")
        };
        live.install("stamp", built);
        answered_within.push(until_served_by(&live, version).await);
        if swap % 5 == 4 {
            let after = live.last_report_id().await;
            live.write_config(&routes(origin, |g| {
                g.route(&format!("extra-{swap}"), |r| r.prefix("/extra"))
            }));
            let (status, report) = live.admin_call(Method::POST, "/reload").await;
            assert_eq!(status, StatusCode::OK, "{report:#}");
            let applied = live.next_report(after).await;
            assert_eq!(applied["outcome"], "applied", "{applied:#}");
            let (_, routes) = live.admin_call(Method::GET, "/routes").await;
            assert!(
                routes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["name"] == format!("extra-{swap}")),
                "{routes:#}"
            );
        }
    }

    // Refused while traffic continues: a corrupt component, a component
    // whose `init` rejects the route's config, a config error, and the
    // removal of a plugin routes use.
    let serving = served_by(&live.get("/").await).expect("consistent");
    let mut last = live.last_report_id().await;
    live.install_bytes("stamp", b"\0asm but not really a component");
    last = expect_refused(&live, last, "plugins/stamp.wasm", "").await;
    live.install("stamp", "hello-header");
    last = expect_refused(&live, last, "portico.toml", "routes[0].plugins[0].config").await;
    live.write_config("this is = not [valid toml");
    last = expect_refused(&live, last, "portico.toml", "").await;
    let prelude = live::live_prelude();
    live.write_config_raw(&format!(
        "unknown_key = 1\n{prelude}{}",
        routes(origin, |g| g)
    ));
    expect_refused(&live, last, "portico.toml", "unknown_key").await;
    let (status, report) = live.admin_call(Method::POST, "/reload").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report:#}");
    assert_eq!(report["errors"][0]["key"], "unknown_key");
    live.remove("stamp");
    expect_refused(
        &live,
        report["id"].as_u64().expect("id"),
        "plugins/stamp.wasm",
        "",
    )
    .await;
    assert_eq!(served_by(&live.get("/").await), Ok(serving.clone()));

    // Everything put back: the next version still swaps in.
    live.write_config(&routes(origin, |g| g));
    live.install("stamp", "stamp-v2");
    until_served_by(&live, "2.0.0").await;

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client task");
    }
    let seen = std::mem::take(&mut *seen.lock());
    assert!(
        seen.failures.is_empty(),
        "{} failed or mixed responses, first: {:?}",
        seen.failures.len(),
        &seen.failures[..seen.failures.len().min(5)]
    );
    assert!(seen.by_version.get("1.0.0").is_some_and(|n| *n > 0));
    assert!(seen.by_version.get("2.0.0").is_some_and(|n| *n > 0));
    assert_eq!(seen.by_version.len(), 2, "{:?}", seen.by_version);
    let slowest = answered_within.iter().max().expect("swaps");
    println!(
        "{} requests by version {:?}; new version answered within {:?} (slowest of {SWAPS} swaps)",
        seen.by_version.values().sum::<u64>(),
        seen.by_version,
        slowest
    );
    assert!(
        *slowest < Duration::from_secs(1),
        "a swap took {slowest:?} to answer: {answered_within:?}"
    );

    // With the clients gone, no replaced snapshot (nor its instances) is
    // held any more.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, reloads) = live.admin_call(Method::GET, "/reloads").await;
        if reloads["retired_snapshots_alive"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{reloads:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn in_flight_request_finishes_on_the_version_it_started_with() {
    let arrived = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let (a, r) = (arrived.clone(), release.clone());
    let held = origin::origin(move |request| {
        let (arrived, release) = (a.clone(), r.clone());
        async move {
            let stamps: Vec<String> = request
                .headers()
                .get_all("x-stamp")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            if request.uri().path() == "/hold" {
                arrived.notify_one();
                release.notified().await;
            }
            let body = serde_json::json!({ "headers": stamps.iter().map(|s| ["x-stamp", s]).collect::<Vec<_>>() });
            Response::new(Full::new(Bytes::from(body.to_string())))
        }
    })
    .await;
    let live = Arc::new(LiveGateway::start(&[("stamp", "stamp-v1")], &routes(held, |g| g)).await);
    let first = {
        let live = live.clone();
        tokio::spawn(async move { live.get("/hold").await })
    };
    arrived.notified().await;
    live.install("stamp", "stamp-v2");
    until_served_by(&live, "2.0.0").await;
    release.notify_one();
    let first = first.await.expect("held request");
    assert_eq!(served_by(&first), Ok("1.0.0".to_owned()));
}

#[tokio::test]
async fn admin_lists_versions_and_rolls_back() {
    let origin = upstream("origin").await;
    let live = LiveGateway::start(
        &[("stamp", "stamp-v1"), ("hello-header", "hello-header")],
        &routes(origin, |g| {
            g.route("hello", |r| {
                r.prefix("/hello").plugin(
                    plugin("hello-header")
                        .grant([Cap::Log])
                        .config("value", "world"),
                )
            })
        }),
    )
    .await;
    let after = live.last_report_id().await;
    live.install("stamp", "stamp-v2");
    let report = live.next_report(after).await;
    assert_eq!(report["outcome"], "applied", "{report:#}");
    assert_eq!(report["trigger"]["kind"], "plugin_file");
    assert_eq!(report["plugins"][0]["to_version"], "2.0.0");

    let (status, plugins) = live.admin_call(Method::GET, "/plugins").await;
    assert_eq!(status, StatusCode::OK);
    let stamp = plugins
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "stamp")
        .expect("stamp listed")
        .clone();
    assert_eq!(stamp["active"]["version"], "2.0.0");
    assert_eq!(stamp["previous"]["version"], "1.0.0");
    assert_eq!(stamp["active"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(stamp["routes"], serde_json::json!(["stamped"]));
    let (_, routes) = live.admin_call(Method::GET, "/routes").await;
    assert_eq!(routes[0]["name"], "stamped");
    assert_eq!(routes[0]["chain"][0]["version"], "2.0.0");
    assert_eq!(routes[0]["chain"][1]["plugin"], "stamp");
    assert_eq!(routes[1]["chain"][0]["plugin"], "hello-header");

    let (status, report) = live
        .admin_call(Method::POST, "/plugins/stamp/rollback")
        .await;
    assert_eq!(status, StatusCode::OK, "{report:#}");
    assert_eq!(report["outcome"], "applied");
    assert_eq!(served_by(&live.get("/").await), Ok("1.0.0".to_owned()));
    let (_, plugins) = live.admin_call(Method::GET, "/plugins").await;
    let stamp = &plugins.as_array().expect("list")[1];
    assert_eq!(stamp["active"]["version"], "1.0.0");
    assert_eq!(stamp["previous"]["version"], "2.0.0");
    // The newer file is still on disk; the watcher does not undo the
    // rollback until the file changes again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(served_by(&live.get("/").await), Ok("1.0.0".to_owned()));

    let (status, problem) = live
        .admin_call(Method::POST, "/plugins/hello-header/rollback")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem:#}");
    let (status, problem) = live
        .admin_call(Method::POST, "/plugins/nope/rollback")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The admin API's errors have the traffic path's problem+json shape.
    assert_eq!(
        problem["type"], "urn:portico:problem:not-found",
        "{problem:#}"
    );
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["source"], "client");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nope")),
        "{problem:#}"
    );
    let (status, _) = live.admin_call(Method::GET, "/reload").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    // The admin API is not reachable through the traffic listener: there,
    // `/plugins` is an ordinary request routed to the upstream.
    let through_traffic = live.get("/plugins").await;
    assert_eq!(through_traffic.status, StatusCode::OK);
    assert_eq!(through_traffic.header("x-upstream"), Some("origin"));
}

#[tokio::test]
async fn unchanged_config_keeps_upstreams_and_warm_instances() {
    let origin = upstream("origin").await;
    let live = LiveGateway::start(&[("stamp", "stamp-v1")], &routes(origin, |g| g)).await;
    let before = live.app.reloader().live().load();
    let (status, report) = live.admin_call(Method::POST, "/reload").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["outcome"], "unchanged", "{report:#}");
    assert!(Arc::ptr_eq(&before, &live.app.reloader().live().load()));

    // A changed listener is reported as needing a restart; the rest applies.
    let body = routes(origin, |g| g.route("new", |r| r.exact("/new")));
    let after = live.last_report_id().await;
    live.write_config_raw(&format!("{}\n{body}", live::live_prelude_named("renamed")));
    let (status, report) = live.admin_call(Method::POST, "/reload").await;
    assert_eq!(status, StatusCode::OK, "{report:#}");
    // The watcher may have applied the file first (then this reload found
    // nothing to change): the applied report is the first one after `after`.
    let report = live.next_report(after).await;
    assert_eq!(report["outcome"], "applied", "{report:#}");
    assert!(
        report["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("`listeners`") && w.contains("restart")),
        "{report:#}"
    );
    let after = live.app.reloader().live().load();
    // The upstream and the stamp slots were carried over, not rebuilt.
    assert!(Arc::ptr_eq(
        &before.routes[0].upstream,
        &after.routes[0].upstream
    ));
    assert!(Arc::ptr_eq(
        &before.routes[0].chain.slots()[0],
        &after.routes[0].chain.slots()[0]
    ));
    assert_eq!(live.get("/new").await.header("x-upstream"), Some("origin"));
}
