//! The dashboard in a real headless Chromium: the page polls the monitor's
//! JSON endpoints, and the numbers it shows match the traffic sent and
//! `GET /api/live`, and move when more traffic arrives.
//!
//! Needs `chromium` (Debian package; `.ci/run` installs it). Without it the
//! test is skipped with a message, except under `CI=true`, where it fails.

use crate::support;
use crate::support::monitor;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::StatusCode;
use monitor::Monitored;
use serde_json::Value;
use support::builder::{Cap, Gateway, plugin};

/// The Chromium binary: `$CHROMIUM`, else `chromium` or
/// `chromium-browser` on `PATH`.
pub(crate) fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

/// Loads `url` in headless Chromium, lets its timers run for `budget_ms`
/// of virtual time (fetches included), and returns the resulting DOM.
pub(crate) async fn dump_dom(browser: PathBuf, url: String, budget_ms: u32) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .arg("90")
            .arg(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                &format!("--user-data-dir={}", profile.path().display()),
                &format!("--virtual-time-budget={budget_ms}"),
                "--dump-dom",
                &url,
            ])
            .output()
            .expect("run chromium")
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("</html>"),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// The `<tr>` whose `attr` is `value`.
pub(crate) fn row<'a>(dom: &'a str, attr: &str, value: &str) -> &'a str {
    let marker = format!("{attr}=\"{value}\"");
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no row with {marker} in the page:\n{dom}"));
    let end = dom[start..].find("</tr>").expect("row ends") + start;
    &dom[start..end]
}

/// The text of the cell with `data-k="key"` in `row`.
pub(crate) fn cell(row: &str, key: &str) -> String {
    let marker = format!("data-k=\"{key}\"");
    let start = row
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in {row}"));
    let text = &row[start..];
    let open = text.find('>').unwrap() + 1;
    let close = text[open..].find('<').unwrap() + open;
    text[open..close].to_owned()
}

fn json_route<'a>(live: &'a Value, name: &str) -> &'a Value {
    live["live"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == name)
        .unwrap_or_else(|| panic!("no route {name} in {live}"))
}

/// Route `hello` (`/hello`, through `probe`) to an echo upstream, route
/// `broken` (`/broken`) to `dead`, and an error-rate alert on `broken`.
/// Analytics go to `.portico/analytics` beside the (temporary) config.
async fn dashboard_gateway(dead: SocketAddr) -> Monitored {
    Gateway::builder()
        .table(
            r#"[[alerts]]
name = "broken-errors"
kind = "error_rate"
route = "broken"
above_percent = 10.0
window_s = 30
for_s = 0"#,
        )
        .echo("origin")
        .upstream_with("gone", &[dead], "retries = 0")
        .route("hello", |r| {
            r.prefix("/hello").upstream("origin").plugin(
                plugin("probe")
                    .grant([Cap::Log, Cap::Clock, Cap::Kv, Cap::Cache, Cap::Context])
                    .config("tag", "p"),
            )
        })
        .route("broken", |r| r.prefix("/broken").upstream("gone"))
        .start_monitored()
        .await
}

#[tokio::test]
async fn the_dashboard_shows_the_traffic_and_follows_it() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is required under CI=true (apt-get install chromium)");
        }
        eprintln!("skipped: chromium not found (set CHROMIUM or install it)");
        return;
    };
    let dead_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dead = dead_addr.to_string();
    let gw = dashboard_gateway(dead_addr).await;
    for _ in 0..7 {
        assert_eq!(gw.gateway.get("/hello").await.status, StatusCode::OK);
    }
    for _ in 0..3 {
        assert!(gw.gateway.get("/broken").await.status.is_server_error());
    }
    // Wait for the alert evaluation (every second) to fire the rule, and
    // write the analytics rollups so the page's analytics have rows.
    for _ in 0..50 {
        if gw.admin_get("/api/alerts").await.json()["rules"][0]["firing"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gw.monitor.analytics.as_ref().unwrap().flush().await;
    let url = format!("http://{}/dashboard", gw.admin);
    let page = gw.admin_get("/dashboard").await;
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "the page may reach nothing but the admin listener: {csp}"
    );

    let dom = dump_dom(browser.clone(), url.clone(), 2500).await;
    assert!(
        dom.contains("configured from a file: no cluster"),
        "a gateway on a config file has no cluster view"
    );
    let live = gw.admin_get("/api/live").await.json();
    let polls: u32 = dom
        .split("id=\"polls\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .and_then(|n| n.parse().ok())
        .expect("poll counter");
    assert!(
        polls >= 2,
        "the page polled /api/live every second ({polls})"
    );

    let hello = row(&dom, "data-route", "hello");
    assert_eq!(cell(hello, "total"), "7");
    assert_eq!(json_route(&live, "hello")["total_requests"], 7);
    assert_eq!(cell(hello, "errors"), "0%");
    let broken = row(&dom, "data-route", "broken");
    assert_eq!(cell(broken, "total"), "3");
    assert_eq!(cell(broken, "errors"), "100%", "every request failed");

    // The plugin's phase calls: on-request and on-response per request.
    let probe = row(&dom, "data-plugin", "probe");
    assert_eq!(cell(probe, "calls"), "14");
    assert_eq!(cell(probe, "traps"), "0");

    // Target health as the JSON reports it.
    let origin_row = row(&dom, "data-target", &upstream_addr(&live, "origin"));
    assert_eq!(cell(origin_row, "state"), "healthy");
    let dead_row = row(&dom, "data-target", &dead);
    let dead_json = &live["live"]["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["upstream"] == "gone")
        .unwrap()["targets"][0];
    let expected = if dead_json["available"] == true {
        "healthy"
    } else if dead_json["ejected"] == true {
        "ejected"
    } else {
        "unhealthy"
    };
    assert_eq!(cell(dead_row, "state"), expected);

    // The startup "reload" reported by the admin listener.
    let startup = row(&dom, "data-reload", "1");
    assert_eq!(cell(startup, "trigger"), "startup");
    assert_eq!(cell(startup, "outcome"), "applied");
    assert!(cell(startup, "plugins").contains("probe@"));

    // The alert and the analytics tables.
    let alert = row(&dom, "data-alert", "broken-errors");
    assert_eq!(cell(alert, "state"), "firing");
    let top = row(&dom, "data-name", "hello");
    assert_eq!(cell(top, "requests"), "7");
    let top_json = gw.admin_get("/analytics/top-routes").await.json();
    assert_eq!(top_json["top"][0]["name"], "hello");
    assert_eq!(top_json["top"][0]["requests"], 7);

    // More traffic: the numbers on the page move with it.
    for _ in 0..5 {
        gw.gateway.get("/hello").await;
    }
    let dom = dump_dom(browser, url, 1500).await;
    let hello = row(&dom, "data-route", "hello");
    assert_eq!(cell(hello, "total"), "12");
    let live = gw.admin_get("/api/live").await.json();
    assert_eq!(json_route(&live, "hello")["total_requests"], 12);
    gw.shutdown().await;
}

fn upstream_addr(live: &Value, name: &str) -> String {
    live["live"]["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["upstream"] == name)
        .unwrap()["targets"][0]["addr"]
        .as_str()
        .unwrap()
        .to_owned()
}
