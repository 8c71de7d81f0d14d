//! Test harness: real upstreams, the real gateway and a real HTTP client, all
//! on 127.0.0.1 with ephemeral ports.
//!
//! ```ignore
//! let gateway = Gateway::builder()
//!     .echo("origin")
//!     .route("r", |r| r.prefix("/hello").plugin(plugin("probe").grant([Cap::Kv])))
//!     .start()
//!     .await;
//! let response = gateway.get("/hello").await;
//! assert_eq!(response.status, 200);
//! ```
//!
//! Tests say which gateway they need with [`builder::Gateway`], which
//! renders the config a user would write. The submodules hold the other
//! real parts: `backends` (killable echo upstreams), `origin` (upstreams
//! whose behaviour a test decides: counting, holding a response, switching
//! protocols), `dns` (an authoritative DNS server), `pki` (a test CA and
//! TLS clients), `monitor` (the gateway with its monitor), `live` (a
//! gateway on a config file that changes) and `process` (the real binary
//! as a child process).

pub mod backends;
pub mod builder;
pub mod dns;
pub mod etcd;
pub mod idp;
pub mod live;
pub mod monitor;
pub mod origin;
pub mod pki;
pub mod process;
pub mod redis;

use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portico::app::App;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `cargo xtask plugins` puts the components built from this repo.
pub fn plugin_dir() -> PathBuf {
    let dir = root().join("target/plugins");
    assert!(
        dir.join("probe.wasm").exists(),
        "plugin components are missing from {}: run `cargo xtask test` (it builds them first)",
        dir.display()
    );
    dir
}

/// Starts an echo upstream that names itself `name` in `x-upstream`.
pub async fn upstream(name: &str) -> SocketAddr {
    demo_upstream::spawn(SocketAddr::from(([127, 0, 0, 1], 0)), name)
        .await
        .expect("bind upstream")
}

/// The keys a test adds to the prelude's own tables.
#[derive(Clone, Debug, Default)]
pub struct PreludeKeys {
    /// More keys of `[runtime]`; a `deadline_ms` among them replaces the
    /// prelude's 50 ms.
    pub runtime: String,
    /// More keys of `[admin]` (`max_connections = 2`).
    pub admin: String,
    /// More keys of the traffic listener (`limits.http2 = { .. }`).
    pub listener: String,
}

/// The config header every test config starts with: version, plugin dir,
/// shared compile cache, a 50 ms phase deadline, an admin listener and one
/// traffic listener (both on ephemeral ports), with a test's own keys in
/// its `[runtime]`, `[admin]` and listener tables.
pub fn config_prelude_keys(keys: &PreludeKeys) -> String {
    let PreludeKeys {
        runtime,
        admin,
        listener,
    } = keys;
    let deadline = if runtime
        .lines()
        .any(|l| l.trim_start().starts_with("deadline_ms"))
    {
        ""
    } else {
        "deadline_ms = 50"
    };
    format!(
        r#"version = 1
plugin_dir = "{}"

[runtime]
cache_dir = "{}"
{deadline}
{runtime}

[admin]
addr = "127.0.0.1:0"
{admin}

[[listeners]]
name = "test"
addr = "127.0.0.1:0"
{listener}
"#,
        plugin_dir().display(),
        root().join("target/test-cache").display()
    )
}

/// Writes `toml` to a temporary config file and parses it.
pub fn parse_config(
    toml: &str,
) -> (
    tempfile::TempDir,
    Result<portico::config::Config, portico::config::ConfigErrors>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("portico.toml");
    std::fs::write(&path, toml).expect("write config");
    let config = portico::config::load(&path);
    (dir, config)
}

/// Sends raw bytes on a new connection and returns everything read back
/// until the server closes it (or 5 s pass).
pub async fn raw_request(addr: SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut response),
    )
    .await;
    if read.is_err() {
        response.extend_from_slice(b"\n<timed out waiting for the server to close>");
    }
    String::from_utf8_lossy(&response).into_owned()
}

/// A running gateway and a client for it.
pub struct TestGateway {
    pub addr: SocketAddr,
    /// The admin listener, when the config has `[admin]`.
    pub admin: Option<SocketAddr>,
    app: Option<App>,
    client: Client<HttpConnector, Full<Bytes>>,
    _dir: tempfile::TempDir,
}

/// Builds the gateway for `toml` (prelude included by the caller) or
/// returns the config errors it reported.
pub async fn try_gateway(toml: &str) -> Result<TestGateway, String> {
    let (dir, config) = parse_config(toml);
    let config = config.map_err(|e| e.to_string())?;
    let app = App::start_with(config).await.map_err(|e| e.to_string())?;
    Ok(TestGateway {
        addr: app.addr(),
        admin: app.admin_addr(),
        app: Some(app),
        client: Client::builder(TokioExecutor::new()).build_http(),
        _dir: dir,
    })
}

/// Builds and starts the gateway for `toml`, panicking on config errors.
pub async fn gateway(toml: &str) -> TestGateway {
    match try_gateway(toml).await {
        Ok(gateway) => gateway,
        Err(errors) => panic!("gateway refused its config:\n{errors}"),
    }
}

/// A response, fully read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts that this is an `application/problem+json` response with
    /// `status` (in the status line and the body) and the problem type
    /// `urn:portico:problem:<kind>`; returns the body for further checks.
    pub fn problem(&self, status: StatusCode, kind: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "body: {:?}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(problem["type"], format!("urn:portico:problem:{kind}"));
        assert_eq!(problem["status"], status.as_u16());
        problem
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header the echo upstream received, in order.
    pub fn upstream_saw(&self, name: &str) -> Vec<String> {
        self.json()["headers"]
            .as_array()
            .expect("echo body has headers")
            .iter()
            .filter(|pair| pair[0] == name)
            .map(|pair| pair[1].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl TestGateway {
    /// The address of the listener named `name` in the config.
    pub fn listener(&self, name: &str) -> SocketAddr {
        let app = self.app.as_ref().expect("gateway running");
        app.addrs()
            .iter()
            .find(|(listener, _)| listener == name)
            .map(|(_, addr)| *addr)
            .unwrap_or_else(|| panic!("no listener named `{name}`"))
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, &[], "").await
    }

    /// Sends a request with headers and a body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> TestResponse {
        self.send_to(self.addr, method, path, headers, body).await
    }

    /// Sends a request to `addr` (a listener of this gateway).
    pub async fn send_to(
        &self,
        addr: SocketAddr,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("request");
        let response = self
            .client
            .request(request)
            .await
            .expect("gateway answered");
        let (head, body) = response.into_parts();
        let body = body.collect().await.expect("read body").to_bytes();
        TestResponse {
            status: head.status,
            headers: head.headers,
            body,
        }
    }

    /// The first listener's connection counts.
    pub fn connection_stats(&self) -> portico::data::server::ConnectionStats {
        self.app.as_ref().expect("running").connection_stats()[0]
    }

    /// The live stats, alerts and analytics of the running gateway.
    pub fn monitor(&self) -> std::sync::Arc<portico::telemetry::monitor::Monitor> {
        self.app.as_ref().expect("running").monitor().clone()
    }

    /// `GET path` on the admin listener.
    pub async fn admin_get(&self, path: &str) -> TestResponse {
        let admin = self.admin.expect("the config has [admin]");
        self.send_to(admin, Method::GET, path, &[], "").await
    }

    /// Stops the gateway, draining in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
    }
}

/// Whether `command` runs; when it does not, notes that the test skips,
/// and under `CI=true` fails it. `install` says how to get it
/// (`apt-get install etcd-server`).
pub fn installed(command: &str, install: &str) -> bool {
    let found = std::process::Command::new(command)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{command} is required under CI=true ({install})"
        );
        eprintln!("note: {command} is not installed; skipping ({install})");
    }
    found
}
