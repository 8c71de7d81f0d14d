//! The plugin author's tools through the real binary: `portico plugin new`
//! creates a crate that passes its own tests and builds for
//! `wasm32-wasip2` without edits, `portico plugin inspect` reads what the
//! built component needs, and the component, dropped into a plugin
//! directory with the scaffold's route entry, serves traffic through a
//! real gateway; `inspect` on a first-party plugin prints the
//! capabilities line that `portico check` accepts, and a file that is not
//! a component is refused with a clear message.

use crate::support;
use crate::support::origin;
use crate::support::process;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use process::output_of as portico;

/// The toolchain's own `cargo` (this test's), in `dir`, with its `rustc`
/// pinned so a directory outside the repository builds with the same
/// toolchain, and a target directory of its own under `target/`. At the
/// lowest CPU priority: the other tests of the suite run beside it, some
/// with tight timeouts.
fn cargo(dir: &Path, args: &[&str]) -> (bool, String) {
    let cargo = PathBuf::from(env!("CARGO"));
    let mut command = Command::new("nice");
    command
        .current_dir(dir)
        .args(["-n", "19"])
        .arg(&cargo)
        .args(args)
        .env("CARGO_TARGET_DIR", support::root().join("target/scaffold"))
        .env_remove("RUSTFLAGS");
    if let Some(rustc) = cargo
        .parent()
        .map(|d| d.join("rustc"))
        .filter(|r| r.exists())
    {
        command.env("RUSTC", rustc);
    }
    let output = command.output().expect("run cargo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A config of one route to `origin` whose plugin entries are `entry`,
/// with plugins from `plugins`.
fn one_route_config(plugins: &Path, origin: SocketAddr, entry: &str) -> String {
    format!(
        r#"version = 1
plugin_dir = "{plugins}"

[runtime]
cache_dir = "{cache}"

[[listeners]]
name = "traffic"
addr = "127.0.0.1:0"

[upstreams.origin]
targets = ["{origin}"]

[[routes]]
name = "r"
upstream = "origin"

{entry}"#,
        plugins = plugins.display(),
        cache = support::root().join("target/test-cache").display(),
    )
}

/// The `grant:` line of `portico plugin inspect`'s text.
fn grant_line(inspected: &str) -> String {
    inspected
        .lines()
        .find_map(|l| l.strip_prefix("grant:"))
        .expect("a grant line")
        .trim()
        .to_owned()
}

async fn get(addr: SocketAddr, path: &str) -> (StatusCode, http::HeaderMap, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client
        .get(format!("http://{addr}{path}").parse().expect("uri"))
        .await
        .expect("gateway answered");
    let (head, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (
        head.status,
        head.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaffolded_plugin_passes_its_tests_builds_and_serves_traffic_unedited() {
    let work = tempfile::tempdir().expect("tempdir");
    let crate_dir = work.path().join("header-stamp");
    let (ok, text) = portico(&[
        "plugin".as_ref(),
        "new".as_ref(),
        "header-stamp".as_ref(),
        "--dir".as_ref(),
        crate_dir.as_os_str(),
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("cargo build --release --target wasm32-wasip2"),
        "{text}"
    );
    // A second run over it writes nothing.
    let (ok, again) = portico(&[
        "plugin".as_ref(),
        "new".as_ref(),
        "header-stamp".as_ref(),
        "--dir".as_ref(),
        crate_dir.as_os_str(),
    ]);
    assert!(!ok && again.contains("not empty"), "{again}");

    let (ok, text) = cargo(&crate_dir, &["test", "--quiet"]);
    assert!(ok, "the scaffold's own tests: {text}");
    assert!(text.contains("3 passed"), "{text}");
    let (ok, text) = cargo(
        &crate_dir,
        &["build", "--quiet", "--release", "--target", "wasm32-wasip2"],
    );
    assert!(ok, "the scaffold for wasm32-wasip2: {text}");
    let wasm = support::root().join("target/scaffold/wasm32-wasip2/release/header_stamp.wasm");

    let (ok, inspected) = portico(&["plugin".as_ref(), "inspect".as_ref(), wasm.as_os_str()]);
    assert!(ok, "{inspected}");
    assert!(inspected.contains("name:      header-stamp"), "{inspected}");
    assert!(inspected.contains("version:   0.1.0"), "{inspected}");
    assert!(inspected.contains("loads:     yes"), "{inspected}");
    let entry = std::fs::read_to_string(crate_dir.join("route.toml")).expect("route.toml");
    assert!(
        entry.contains(&grant_line(&inspected)),
        "route.toml grants what the component imports: {entry}\n{inspected}"
    );

    // Into a plugin directory, named in a route with route.toml's entry.
    let plugins = work.path().join("plugins");
    std::fs::create_dir(&plugins).expect("plugins");
    std::fs::copy(&wasm, plugins.join("header-stamp.wasm")).expect("copy");
    let origin = origin::origin(|request| async move {
        let stamp = request
            .headers()
            .get("x-header-stamp")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("absent")
            .to_owned();
        Response::new(Full::new(Bytes::from(format!("upstream saw {stamp}"))))
    })
    .await;
    let config = one_route_config(&plugins, origin, &entry);
    let path = work.path().join("portico.toml");
    std::fs::write(&path, config).expect("config");
    let (mut child, addr) = process::spawn_portico(&path);
    let (status, headers, body) = get(addr, "/public").await;
    let (denied, denied_headers, problem) = get(addr, "/private/x").await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "upstream saw on");
    assert_eq!(headers["x-header-stamp"], "on");
    assert_eq!(denied, StatusCode::FORBIDDEN);
    assert_eq!(denied_headers["content-type"], "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&problem).expect("problem+json");
    assert_eq!(problem["plugin"], "header-stamp");
}

#[test]
fn inspect_prints_the_grant_the_gateway_accepts_and_refuses_a_non_component() {
    let cache = support::root().join("target/plugins/cache.wasm");
    let (ok, text) = portico(&["plugin".as_ref(), "inspect".as_ref(), cache.as_os_str()]);
    assert!(ok, "{text}");
    let grant = grant_line(&text);
    assert_eq!(grant, r#"capabilities = ["clock", "cache", "metrics"]"#);
    let sha = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256:"))
        .expect("sha256")
        .trim()
        .to_owned();
    let expected: String = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
        std::fs::read(&cache).expect("read"),
    ))
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    assert_eq!(sha, expected);

    // JSON for scripts.
    let (ok, json) = portico(&[
        "plugin".as_ref(),
        "inspect".as_ref(),
        "--json".as_ref(),
        cache.as_os_str(),
    ]);
    assert!(ok, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(report["name"], "cache");
    assert_eq!(report["contract"], report["gateway_contract"]);
    assert_eq!(report["refused"], serde_json::Value::Null);

    // The printed line is what a route needs: `portico check` accepts it,
    // and refuses the same entry with one capability fewer.
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |grant: &str| {
        let plugins = support::root().join("target/plugins");
        let entry = format!("[[routes.plugins]]\nname = \"cache\"\n{grant}\n");
        let config = one_route_config(&plugins, "127.0.0.1:9".parse().expect("addr"), &entry);
        let path = dir.path().join("portico.toml");
        std::fs::write(&path, config).expect("config");
        portico(&["check".as_ref(), "--config".as_ref(), path.as_os_str()])
    };
    let (ok, text) = check(&grant);
    assert!(ok, "{text}");
    let (ok, text) = check(r#"capabilities = ["clock", "cache"]"#);
    assert!(!ok && text.contains("metrics"), "{text}");

    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, "not wasm").expect("junk");
    let (ok, text) = portico(&["plugin".as_ref(), "inspect".as_ref(), junk.as_os_str()]);
    assert!(!ok);
    assert!(
        text.contains("not a WebAssembly component this gateway can compile"),
        "{text}"
    );
    assert!(text.lines().count() <= 2, "one clear line: {text}");
}
