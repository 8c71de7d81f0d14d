//! A gateway with live reload in a temporary directory of its own: its
//! config file and plugin directory can be rewritten while it serves, and
//! its admin API asked what it did.
//!
//! ```ignore
//! let live = LiveGateway::start(&[("stamp", "stamp-v1")], ROUTES).await;
//! live.install("stamp", "stamp-v2");
//! let report = live.next_report(0).await;
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portico::app::App;

use crate::support::{TestResponse, plugin_dir, root};

/// A running [`App`] in its own directory.
pub struct LiveGateway {
    pub app: App,
    pub dir: tempfile::TempDir,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// The config header: plugins in `plugins/` beside the config, an admin
/// listener, a fast watcher. Plugin calls get a generous deadline: these
/// tests load two cores with concurrent clients and measure swaps, not
/// plugin speed.
pub fn live_prelude() -> String {
    live_prelude_named("traffic")
}

/// [`live_prelude`] with its traffic listener named `listener`.
pub fn live_prelude_named(listener: &str) -> String {
    format!(
        r#"version = 1
plugin_dir = "plugins"

[runtime]
cache_dir = "{}"
deadline_ms = 1000

[[listeners]]
name = "{listener}"
addr = "127.0.0.1:0"

[admin]
addr = "127.0.0.1:0"

[reload]
interval_ms = 50
"#,
        root().join("target/test-cache").display()
    )
}

impl LiveGateway {
    /// Installs `plugins` (`(name, built component)`: the component
    /// `target/plugins/<built>.wasm` copied as `plugins/<name>.wasm`),
    /// writes [`live_prelude`] + `body` as the config and starts serving.
    pub async fn start(plugins: &[(&str, &str)], body: &str) -> LiveGateway {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("plugins")).expect("plugin dir");
        for (name, built) in plugins {
            install(dir.path(), name, built);
        }
        let config = dir.path().join("portico.toml");
        std::fs::write(&config, format!("{}\n{body}", live_prelude())).expect("config");
        let app = match App::start(&config).await {
            Ok(app) => app,
            Err(error) => panic!("gateway refused its config:\n{error}"),
        };
        LiveGateway {
            app,
            dir,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("portico.toml")
    }

    /// Replaces the config with [`live_prelude`] + `body`, atomically.
    pub fn write_config(&self, body: &str) {
        self.write_config_raw(&format!("{}\n{body}", live_prelude()));
    }

    /// Replaces the config with exactly `text`, atomically.
    pub fn write_config_raw(&self, text: &str) {
        let tmp = self.dir.path().join(".portico.toml.tmp");
        std::fs::write(&tmp, text).expect("write config");
        std::fs::rename(&tmp, self.config_path()).expect("rename config");
    }

    /// Copies `target/plugins/<built>.wasm` over `plugins/<name>.wasm`,
    /// atomically (temporary file + rename, as an operator should).
    pub fn install(&self, name: &str, built: &str) {
        install(self.dir.path(), name, built);
    }

    /// Writes `bytes` as `plugins/<name>.wasm`, atomically.
    pub fn install_bytes(&self, name: &str, bytes: &[u8]) {
        let tmp = self.dir.path().join(format!("plugins/.{name}.tmp"));
        std::fs::write(&tmp, bytes).expect("write plugin");
        let path = self.dir.path().join(format!("plugins/{name}.wasm"));
        std::fs::rename(&tmp, path).expect("rename plugin");
    }

    /// Removes `plugins/<name>.wasm`.
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(format!("plugins/{name}.wasm")))
            .expect("remove plugin");
    }

    /// The traffic listener.
    pub fn addr(&self) -> SocketAddr {
        self.app.addr()
    }

    /// The admin listener.
    pub fn admin(&self) -> SocketAddr {
        self.app.admin_addr().expect("the config has [admin]")
    }

    /// `GET path` on the traffic listener.
    pub async fn get(&self, path: &str) -> TestResponse {
        send(&self.client, Method::GET, self.addr(), path)
            .await
            .expect("gateway answered")
    }

    /// An admin API request; the status and the body as JSON.
    pub async fn admin_call(&self, method: Method, path: &str) -> (StatusCode, serde_json::Value) {
        let response = send(&self.client, method, self.admin(), path)
            .await
            .expect("admin answered");
        let status = response.status;
        (status, response.json())
    }

    /// The id of the newest reload report.
    pub async fn last_report_id(&self) -> u64 {
        let (_, reloads) = self.admin_call(Method::GET, "/reloads").await;
        reloads["last"]["id"].as_u64().expect("a last report")
    }

    /// Waits (up to 20 s) for a reload report newer than `after` that
    /// applied or refused something, and returns the first such report
    /// (a watcher and `POST /reload` seeing the same change make one of
    /// them report `unchanged`).
    pub async fn next_report(&self, after: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, reloads) = self.admin_call(Method::GET, "/reloads").await;
            let newer = reloads["history"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|report| {
                    report["id"].as_u64().is_some_and(|id| id > after)
                        && report["outcome"] != "unchanged"
                });
            if let Some(report) = newer {
                return report.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no reload after #{after}: {reloads:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn install(dir: &Path, name: &str, built: &str) {
    let from = plugin_dir().join(format!("{built}.wasm"));
    let bytes = std::fs::read(&from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    let tmp = dir.join(format!("plugins/.{name}.tmp"));
    std::fs::write(&tmp, bytes).expect("write plugin");
    std::fs::rename(&tmp, dir.join(format!("plugins/{name}.wasm"))).expect("rename plugin");
}

/// Sends a request with no body and reads the whole response.
pub async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: Method,
    addr: SocketAddr,
    path: &str,
) -> Result<TestResponse, String> {
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let (head, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(TestResponse {
        status: head.status,
        headers: head.headers,
        body,
    })
}
