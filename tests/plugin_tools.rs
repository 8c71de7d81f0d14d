//! The plugin author's tools through the real binary: `portico plugin new`
//! creates a Rust crate, a Python app or a JavaScript module that passes
//! its own tests and builds into a component without edits, `portico plugin inspect` reads what the
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
    process::ran(&mut command)
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

/// `portico plugin inspect --json FILE`, which must succeed, parsed.
fn inspect_json(file: &Path) -> serde_json::Value {
    let (ok, json) = portico(&[
        "plugin".as_ref(),
        "inspect".as_ref(),
        "--json".as_ref(),
        file.as_os_str(),
    ]);
    assert!(ok, "{}: {json}", file.display());
    serde_json::from_str(&json).expect("inspect --json prints JSON")
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

    serves_through_a_gateway(work.path(), &wasm, "header-stamp", &entry).await;
}

/// Drops `wasm` into a plugin directory as `name`, names it in a route with
/// the scaffold's `entry`, and checks through a real gateway what every
/// scaffold does: the header set on the way up and down, 403 problem+json
/// for a denied path.
async fn serves_through_a_gateway(work: &Path, wasm: &Path, name: &str, entry: &str) {
    let plugins = work.join("plugins");
    std::fs::create_dir(&plugins).expect("plugins");
    std::fs::copy(wasm, plugins.join(format!("{name}.wasm"))).expect("copy");
    let header = format!("x-{name}");
    let seen = header.clone();
    let origin = origin::origin(move |request| {
        let stamp = request
            .headers()
            .get(&seen)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("absent")
            .to_owned();
        async move { Response::new(Full::new(Bytes::from(format!("upstream saw {stamp}")))) }
    })
    .await;
    let config = one_route_config(&plugins, origin, entry);
    let path = work.join("portico.toml");
    std::fs::write(&path, config).expect("config");
    let (mut child, addr) = process::spawn_portico(&path);
    let (status, headers, body) = get(addr, "/public").await;
    let (denied, denied_headers, problem) = get(addr, "/private/x").await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    assert_eq!(body, "upstream saw on", "{name}");
    assert_eq!(headers[header.as_str()], "on", "{name}");
    assert_eq!(denied, StatusCode::FORBIDDEN, "{name}: {problem}");
    assert_eq!(denied_headers["content-type"], "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&problem).expect("problem+json");
    assert_eq!(problem["plugin"], name);
    assert_eq!(problem["type"], "urn:portico:problem:forbidden");
}

/// Runs `program args` in `dir` at the lowest CPU priority.
fn run(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    process::ran(
        Command::new("nice")
            .current_dir(dir)
            .args(["-n", "19", program])
            .args(args),
    )
}

/// `portico plugin new NAME --lang LANG` into `work/NAME`.
fn scaffold(work: &Path, name: &str, lang: &str) -> PathBuf {
    let dir = work.join(name);
    let (ok, text) = portico(&[
        "plugin".as_ref(),
        "new".as_ref(),
        name.as_ref(),
        "--lang".as_ref(),
        lang.as_ref(),
        "--dir".as_ref(),
        dir.as_os_str(),
    ]);
    assert!(ok, "{text}");
    dir
}

/// `inspect`s `wasm`: it loads, and `route.toml` grants what it imports.
fn inspect_against_the_entry(wasm: &Path, dir: &Path) -> String {
    let (ok, inspected) = portico(&["plugin".as_ref(), "inspect".as_ref(), wasm.as_os_str()]);
    assert!(ok, "{inspected}");
    assert!(inspected.contains("loads:     yes"), "{inspected}");
    let entry = std::fs::read_to_string(dir.join("route.toml")).expect("route.toml");
    assert!(
        entry.contains(&grant_line(&inspected)),
        "route.toml grants what the component imports: {entry}\n{inspected}"
    );
    entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaffolded_python_plugin_passes_its_tests_builds_and_serves_unedited() {
    if !support::installed("componentize-py", "pip, by `cargo xtask test`") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let dir = scaffold(work.path(), "edge-py", "python");
    let build = ["-d", "contract", "-d", "wit", "-w", "local:plugin/plugin"];
    let (ok, text) = run(
        &dir,
        "componentize-py",
        &[&build[..], &["bindings", ".bindings"]].concat(),
    );
    assert!(ok, "bindings: {text}");
    let (ok, text) = run(&dir, "python3", &["-m", "unittest"]);
    assert!(
        ok && text.contains("Ran 3 tests"),
        "the scaffold's own tests: {text}"
    );
    let (ok, text) = run(
        &dir,
        "componentize-py",
        &[&build[..], &["componentize", "app", "-o", "edge-py.wasm"]].concat(),
    );
    assert!(ok, "componentize: {text}");
    let wasm = dir.join("edge-py.wasm");
    let entry = inspect_against_the_entry(&wasm, &dir);
    serves_through_a_gateway(work.path(), &wasm, "edge-py", &entry).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaffolded_javascript_plugin_passes_its_tests_builds_and_serves_unedited() {
    if !support::installed("npm", "Node.js's npm") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let dir = scaffold(work.path(), "edge-js", "js");
    let (ok, text) = run(&dir, "node", &["--test"]);
    assert!(
        ok && text.contains("# pass 3"),
        "the scaffold's own tests: {text}"
    );
    // From npm's cache when the repository's own JavaScript plugin was
    // installed first (`cargo xtask test` does).
    let (ok, text) = run(
        &dir,
        "npm",
        &["install", "--prefer-offline", "--no-audit", "--no-fund"],
    );
    assert!(ok, "npm install: {text}");
    let (ok, text) = run(&dir, "node", &["build.mjs"]);
    assert!(ok, "build: {text}");
    let wasm = dir.join("edge-js.wasm");
    let entry = inspect_against_the_entry(&wasm, &dir);
    serves_through_a_gateway(work.path(), &wasm, "edge-js", &entry).await;
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
    let report = inspect_json(&cache);
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

#[test]
fn every_built_plugin_declares_exactly_what_it_imports() {
    let dir = support::plugin_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("target/plugins")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "plugins built: {files:?}");
    let mut recorded = 0;
    for file in &files {
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let report = inspect_json(file);
        if name.ends_with("-py") || name.ends_with("-js") {
            // Not built with the Rust SDK: nothing recorded, and the text
            // says so rather than guessing.
            assert_eq!(report["declared"], serde_json::Value::Null, "{name}");
            let (_, text) = portico(&["plugin".as_ref(), "inspect".as_ref(), file.as_os_str()]);
            assert!(text.contains("declared:  (not recorded"), "{name}: {text}");
            continue;
        }
        assert_eq!(
            report["declared"], report["capabilities"],
            "{name}: Plugin::CAPABILITIES (what the mock host grants) is what the component imports (what the gateway checks)"
        );
        recorded += 1;
    }
    assert!(
        recorded >= 10,
        "Rust plugins with a declaration: {recorded}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_built_against_an_earlier_0_2_contract_still_loads_and_serves() {
    let fixture = support::root().join("tests/fixtures/hello-header-contract-0.2.0.wasm");
    let report = inspect_json(&fixture);
    assert_eq!(report["contract"], "0.2.0");
    assert_ne!(report["gateway_contract"], "0.2.0", "this gateway is later");
    assert_eq!(report["refused"], serde_json::Value::Null, "{report}");

    let work = tempfile::tempdir().expect("tempdir");
    let plugins = work.path().join("plugins");
    std::fs::create_dir(&plugins).expect("plugins");
    std::fs::copy(&fixture, plugins.join("hello-header.wasm")).expect("copy");
    let origin = origin::origin(|request| async move {
        let hello = request
            .headers()
            .get("x-hello")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("absent")
            .to_owned();
        Response::new(Full::new(Bytes::from(hello)))
    })
    .await;
    let entry = "[[routes.plugins]]\nname = \"hello-header\"\ncapabilities = [\"log\"]\nconfig = { value = \"world\" }\n";
    let path = work.path().join("portico.toml");
    std::fs::write(&path, one_route_config(&plugins, origin, entry)).expect("config");
    let (mut child, addr) = process::spawn_portico(&path);
    let (status, headers, body) = get(addr, "/").await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "world"));
    assert_eq!(headers["x-hello"], "world");
}
