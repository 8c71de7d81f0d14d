//! Secrets by reference through the real binary: `hmac-auth` keys written
//! `{ secret = "env:NAME" }` and `{ secret = "file:path" }` verify signed
//! requests, and neither value appears in the gateway's log (at debug), in
//! any admin listing, or in `portico check`'s output; an unset variable
//! fails `portico check` naming the key path and the reference.

use crate::support;

use std::io::Read as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const FROM_ENV: &str = "env-held-secret-8b1f0c2e-of-32-bytes-or-more";
const FROM_FILE: &str = "file-held-secret-5d9a7e41-of-32-bytes-or-more";
const VARIABLE: &str = "PORTICO_TEST_HMAC_SECRET";

fn config(origin: SocketAddr) -> String {
    format!(
        r#"version = 1
plugin_dir = "{plugins}"

[runtime]
cache_dir = "{cache}"

[[listeners]]
name = "traffic"
addr = "127.0.0.1:0"

[admin]
addr = "127.0.0.1:0"

[upstreams.origin]
targets = ["{origin}"]

[[routes]]
name = "signed"
upstream = "origin"

[[routes.plugins]]
name = "hmac-auth"
capabilities = ["kv", "clock", "context", "log"]
config.keys = [
  {{ id = "billing", secret = {{ secret = "env:{VARIABLE}" }} }},
  {{ id = "reports", secret = {{ secret = "file:reports.secret" }} }},
]
"#,
        plugins = support::root().join("target/plugins").display(),
        cache = support::root().join("target/test-cache").display(),
    )
}

/// `portico check --config path` with the variable set or not: (ok, output).
fn check(path: &std::path::Path, with_variable: bool) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portico"));
    command.args(["check", "--config"]).arg(path);
    if with_variable {
        command.env(VARIABLE, FROM_ENV);
    } else {
        command.env_remove(VARIABLE);
    }
    let output = command.output().expect("run portico check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn send(
    addr: SocketAddr,
    method: http::Method,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> (StatusCode, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = client
        .request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .expect("request"),
        )
        .await
        .expect("answered");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The first `"addr"` logged with `message`, from the log file.
fn logged_addr(log: &std::path::Path, message: &str) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if event["fields"]["message"] == message
                && let Some(addr) = event["fields"]["addr"]
                    .as_str()
                    .and_then(|a| a.parse().ok())
            {
                return addr;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not log `{message}`:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_by_reference_verify_and_never_show() {
    let origin = support::origin::origin(|_request| async {
        Response::new(Full::new(Bytes::from_static(b"paid")))
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("reports.secret"), format!("{FROM_FILE}\n"))
        .expect("secret file");
    let path = dir.path().join("portico.toml");
    std::fs::write(&path, config(origin)).expect("config");

    // Unset: refused, naming where and which reference, not a value.
    let (ok, text) = check(&path, false);
    assert!(!ok, "checked without its secret: {text}");
    assert!(
        text.contains("routes[0].plugins[0].config.keys[0].secret"),
        "{text}"
    );
    assert!(text.contains(&format!("env:{VARIABLE}")), "{text}");
    let (ok, checked) = check(&path, true);
    assert!(ok, "{checked}");

    let log = dir.path().join("gateway.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["run", "--log-json", "--config"])
        .arg(&path)
        .env(VARIABLE, FROM_ENV)
        .env("RUST_LOG", "debug")
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")))
        .stdout(Stdio::null())
        .spawn()
        .expect("start portico");
    let addr = logged_addr(&log, "listening");
    let admin = logged_addr(&log, "admin listening");

    for (keyid, secret) in [("billing", FROM_ENV), ("reports", FROM_FILE)] {
        let headers =
            crate::signatures::signed_headers(&addr.to_string(), keyid, secret, "/pay", "{}");
        let (status, body) = send(addr, http::Method::POST, "/pay", &headers, "{}").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "paid"), "{keyid}");
    }
    let wrong =
        crate::signatures::signed_headers(&addr.to_string(), "billing", FROM_FILE, "/pay", "{}");
    assert_eq!(
        send(addr, http::Method::POST, "/pay", &wrong, "{}").await.0,
        StatusCode::UNAUTHORIZED
    );

    let mut seen = checked;
    for listing in ["/plugins", "/routes", "/reloads", "/metrics", "/api/live"] {
        seen.push_str(&send(admin, http::Method::GET, listing, &[], "").await.1);
    }
    seen.push_str(&send(admin, http::Method::POST, "/reload", &[], "").await.1);
    let _ = child.kill();
    let _ = child.wait();
    let mut logged = String::new();
    std::fs::File::open(&log)
        .expect("log")
        .read_to_string(&mut logged)
        .expect("read log");
    assert!(logged.lines().count() > 5, "the log was written: {logged}");
    seen.push_str(&logged);
    for secret in [FROM_ENV, FROM_FILE] {
        assert!(!seen.contains(secret), "a secret value was shown");
    }
}
