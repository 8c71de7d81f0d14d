//! `cargo xtask <task>`: the project's tasks, so that a fresh clone needs only
//! `cargo` (with rustup) to build, run and test everything. Every cargo it
//! runs gets `PROTOC`, a vendored `protoc` (the host's etcd client is
//! generated with it at build time), unless `PROTOC` is set already.
//!
//! - `plugins`: add the `wasm32-wasip2` target if missing, build every guest
//!   crate (each workspace package with a `cdylib` target) into its own target
//!   directory, and copy the components to `target/plugins/<package>.wasm`;
//!   then the plugins in other languages (`plugins/canary-py` with
//!   componentize-py, `plugins/body-validator-js` with ComponentizeJS), each
//!   skipped with a note when its tool is missing (an error under `CI`).
//! - `run`: `plugins`, then start the demo upstream on 127.0.0.1:9000 and the
//!   gateway on `examples/portico.toml` (port 8080).
//! - `test`: the other languages' tools (componentize-py with pip, at the
//!   version `plugins/canary-py/requirements.txt` pins; `npm ci` in
//!   `plugins/body-validator-js`), `plugins`, `redis-server` and `etcd`
//!   (`etcd-server`) with apt-get when missing, Python's
//!   `grpcio` (the real gRPC client and server
//!   of `tests/grpc.rs`) with pip when missing, then `cargo test --workspace`,
//!   then `fuzz` (each target for `FUZZ_SECONDS`, 60 by default; 0 skips).
//! - `fuzz [target...]`: builds the libFuzzer targets of `tests/fuzz` with
//!   coverage instrumentation (stable toolchain: `-Cpasses=sancov-module`)
//!   into `target/fuzz` and runs each for `FUZZ_SECONDS`, from a copy of
//!   its committed corpus; fails on the first crash, whose input is saved
//!   under `target/fuzz/artifacts/<target>/`.
//! - `lint`: the host's module order (`layers`: a module imports only
//!   lower layers), the README's layout table naming every plugin and test
//!   (`layout`), the README's Rust and WIT blocks matching the files they
//!   name (`snippets`), `cargo fmt --check`, clippy with `-D warnings` for
//!   the host and for the wasm target, `cargo package` of the SDK and the
//!   contract crate (a dry run, verified by building for the wasm target),
//!   and the host's and SDK's API docs (`cargo doc`, warnings denied: no
//!   broken or private links).
//! - `bench`: `plugins`, then the criterion benchmarks.
//! - `load`: `plugins`, release binaries, then `tests/load/run.sh` (wrk
//!   against the demo upstream directly and through the gateway) and
//!   `tests/load/swap_memory.sh` (memory after 100 plugin swaps under load).
//! - `peers`: the peer benchmark, `tests/load/peers.sh`: installs nginx,
//!   HAProxy, wrk, h2load and nginx's Lua module with apt-get when missing,
//!   builds the release binaries and the plugins, and prints the table of
//!   Portico side by side with nginx, HAProxy and nginx+Lua (see README
//!   "Performance"). `ROWS`, `ROUNDS` and `DURATION` select and size it.

mod layers;
mod layout;
mod snippets;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const WASM_TARGET: &str = "wasm32-wasip2";
const WASM_PROFILE: &str = "wasm-release";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("plugins") => build_plugins().map(|_| ()),
        Some("run") => run(),
        Some("test") => test(&args[1..]),
        Some("lint") => lint(),
        Some("bench") => bench(&args[1..]),
        Some("load") => load(),
        Some("peers") => peers(),
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <plugins|run|test|lint|bench|load|peers|fuzz> [args]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    if let Some(protoc) = protoc() {
        command.env("PROTOC", protoc);
    }
    command
}

/// The `protoc` the host's etcd client is generated with: `PROTOC` when set,
/// else the vendored one (`None` on a platform it has no binary for, where
/// `protoc` must be on the PATH).
fn protoc() -> Option<PathBuf> {
    if let Some(set) = std::env::var_os("PROTOC") {
        return Some(PathBuf::from(set));
    }
    protoc_bin_vendored::protoc_bin_path().ok()
}

fn status(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// Adds the wasm target with rustup when it is missing
/// (`RUSTUP_AUTO_INSTALL=0` means nothing else will).
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
        .context("rustup is needed to add the wasm32-wasip2 target")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    status(
        Command::new("rustup")
            .args(["target", "add", WASM_TARGET])
            .current_dir(root()),
    )
}

/// Installs Python's `grpcio` (from PyPI) when `python3` cannot import it.
fn ensure_python_grpc() -> Result<()> {
    let present = Command::new("python3")
        .args(["-c", "import grpc"])
        .output()
        .context("python3 is needed for the gRPC tests")?;
    if present.status.success() {
        return Ok(());
    }
    let pip = status(Command::new("python3").args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "grpcio",
    ]));
    if pip.is_ok() {
        return Ok(());
    }
    // A Debian system Python refuses pip (PEP 668): its own package then.
    eprintln!("xtask: pip could not install grpcio; trying apt-get python3-grpcio");
    status(Command::new("apt-get").args(["install", "-y", "-qq", "python3-grpcio"]))
        .context("installing grpcio (pip, then apt-get) for tests/grpc.rs")
}

/// Installs, with apt-get, the Debian packages (`(command, package)`)
/// whose command is missing: the real servers the tests start
/// (`redis-server` for `tests/shared_state.rs`, `etcd` for
/// `tests/cluster.rs`). Without apt-get (or
/// root), says what is missing; those tests then skip with a note, and
/// fail under `CI=true`.
fn ensure_debian_packages(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(command, _)| {
            Command::new("sh")
                .args(["-c", &format!("command -v {command}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {} (apt-get)", missing.join(" "));
    let installed = Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    if !installed.is_ok_and(|s| s.success()) {
        eprintln!(
            "xtask: could not install {} with apt-get; the tests that need them skip (or fail under CI=true)",
            missing.join(" ")
        );
    }
    Ok(())
}

/// Workspace packages that build a `cdylib`: the plugins (first-party,
/// example and test-only). Returns (package name, library crate name).
fn guest_packages() -> Result<Vec<(String, String)>> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut guests = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_cdylib = target["crate_types"]
                .as_array()
                .is_some_and(|types| types.iter().any(|t| t == "cdylib"));
            if is_cdylib {
                let package = package["name"].as_str().unwrap_or_default().to_owned();
                let library = target["name"]
                    .as_str()
                    .unwrap_or_default()
                    .replace('-', "_");
                guests.push((package, library));
            }
        }
    }
    guests.sort();
    Ok(guests)
}

fn build_plugins() -> Result<Vec<(String, String)>> {
    ensure_wasm_target()?;
    let guests = guest_packages()?;
    let mut build = cargo();
    build.args([
        "build",
        "--target",
        WASM_TARGET,
        "--profile",
        WASM_PROFILE,
        "--target-dir",
        "target/wasm",
    ]);
    for (package, _) in &guests {
        build.args(["-p", package]);
    }
    status(&mut build)?;
    let out = root().join("target/plugins");
    std::fs::create_dir_all(&out)?;
    let built = root()
        .join("target/wasm")
        .join(WASM_TARGET)
        .join(WASM_PROFILE);
    for (package, library) in &guests {
        let from = built.join(format!("{library}.wasm"));
        let to = out.join(format!("{package}.wasm"));
        std::fs::copy(&from, &to)
            .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
    }
    eprintln!("xtask: {} plugins in {}", guests.len(), out.display());
    build_other_languages(&out)?;
    Ok(guests)
}

/// The Python plugin's directory; its `requirements.txt` pins componentize-py.
const CANARY_PY: &str = "plugins/canary-py";
/// The JavaScript plugin's directory; its `package-lock.json` pins ComponentizeJS.
const BODY_VALIDATOR_JS: &str = "plugins/body-validator-js";

/// Whether `CI` is set: a missing tool is then an error, not a note.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A plugin that cannot be built here: a note, or under `CI` an error.
fn skip_or_fail(plugin: &str, why: &str) -> Result<()> {
    if in_ci() {
        bail!(
            "cannot build {plugin}: {why} (CI is set, so this fails; `cargo xtask test` installs it)"
        );
    }
    eprintln!("xtask: skipping {plugin}: {why} (`cargo xtask test` installs it)");
    Ok(())
}

/// The componentize-py version `plugins/canary-py/requirements.txt` pins.
fn componentize_py_pin() -> Result<String> {
    let path = root().join(CANARY_PY).join("requirements.txt");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    text.lines()
        .find_map(|line| line.trim().strip_prefix("componentize-py=="))
        .map(|v| v.trim().to_owned())
        .with_context(|| format!("{} pins no componentize-py==VERSION", path.display()))
}

/// The version `componentize-py --version` reports, if it runs.
fn componentize_py_version() -> Option<String> {
    let output = Command::new("componentize-py")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    output.status.success().then(|| {
        text.trim()
            .trim_start_matches("componentize-py")
            .trim()
            .to_owned()
    })
}

/// ComponentizeJS as `npm ci` installed it in the plugin's directory.
fn componentize_js_installed() -> bool {
    root()
        .join(BODY_VALIDATOR_JS)
        .join("node_modules/@bytecodealliance/componentize-js/package.json")
        .exists()
}

/// Whether `output` is newer than every file under `inputs` (files or
/// directories, `node_modules` and `build` skipped). Neither componentize-py
/// nor ComponentizeJS builds reproducibly, so an unneeded rebuild would
/// change the component's SHA-256 and miss the gateway's compile cache
/// (6–8 s per load).
fn up_to_date(output: &Path, inputs: &[PathBuf]) -> bool {
    fn newest(path: &Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_dir() {
            return meta.modified().ok();
        }
        let mut latest = meta.modified().ok()?;
        for entry in std::fs::read_dir(path).ok()?.flatten() {
            let name = entry.file_name();
            if name == "node_modules" || name == "build" || name == "__pycache__" {
                continue;
            }
            latest = latest.max(newest(&entry.path())?);
        }
        Some(latest)
    }
    let Some(built) = std::fs::metadata(output).and_then(|m| m.modified()).ok() else {
        return false;
    };
    inputs
        .iter()
        .all(|input| newest(input).is_some_and(|changed| changed < built))
}

/// Builds the plugins written in Python and JavaScript into `out`, each
/// against the repository's `wit/plugin.wit` through its own narrowed world.
fn build_other_languages(out: &Path) -> Result<()> {
    let contract = root().join("wit/plugin.wit");
    let pin = componentize_py_pin()?;
    let py_out = out.join("canary-py.wasm");
    let js_out = out.join("body-validator-js.wasm");
    match componentize_py_version() {
        _ if up_to_date(&py_out, &[root().join(CANARY_PY), contract.clone()]) => {
            eprintln!("xtask: canary-py is up to date");
        }
        Some(version) if version == pin => {
            let started = std::time::Instant::now();
            let dir = root().join(CANARY_PY);
            status(
                Command::new("componentize-py")
                    .args(["--quiet", "-d", "../../wit", "-d", "wit"])
                    .args([
                        "-w",
                        "portico-plugins:canary-py/canary",
                        "componentize",
                        "app",
                    ])
                    .arg("-o")
                    .arg(&py_out)
                    .current_dir(&dir),
            )?;
            eprintln!(
                "xtask: canary-py built with componentize-py {version} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Some(version) => skip_or_fail(
            "canary-py",
            &format!("componentize-py is {version}, not the pinned {pin}"),
        )?,
        None => skip_or_fail(
            "canary-py",
            &format!("componentize-py {pin} is not installed"),
        )?,
    }
    if up_to_date(&js_out, &[root().join(BODY_VALIDATOR_JS), contract]) {
        eprintln!("xtask: body-validator-js is up to date");
        return Ok(());
    }
    if !componentize_js_installed() {
        return skip_or_fail(
            "body-validator-js",
            &format!("ComponentizeJS is not installed (`npm ci` in {BODY_VALIDATOR_JS})"),
        );
    }
    let started = std::time::Instant::now();
    status(
        Command::new("node")
            .arg("build.mjs")
            .arg(&js_out)
            .current_dir(root().join(BODY_VALIDATOR_JS)),
    )?;
    eprintln!(
        "xtask: body-validator-js built with ComponentizeJS in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Installs the tools of the plugins in other languages: componentize-py
/// at its pinned version (pip, into the Python `python3` runs), and
/// ComponentizeJS with `npm ci` from the committed lock file (into the
/// plugin's ignored `node_modules`). Without pip or npm, says so; the
/// build then skips those plugins (and fails under `CI`).
fn ensure_other_languages() -> Result<()> {
    let started = std::time::Instant::now();
    let pin = componentize_py_pin()?;
    if componentize_py_version().as_deref() != Some(pin.as_str()) {
        eprintln!("xtask: installing componentize-py {pin} (pip)");
        let pip = status(
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("-r")
                .arg(root().join(CANARY_PY).join("requirements.txt")),
        );
        if let Err(error) = pip {
            eprintln!("xtask: could not install componentize-py: {error:#}");
        }
    }
    if !componentize_js_installed() {
        eprintln!("xtask: installing ComponentizeJS (npm ci in {BODY_VALIDATOR_JS})");
        let npm = status(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(root().join(BODY_VALIDATOR_JS)),
        );
        if let Err(error) = npm {
            eprintln!("xtask: could not install ComponentizeJS: {error:#}");
        }
    }
    eprintln!(
        "xtask: plugin tools for Python and JavaScript ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run() -> Result<()> {
    build_plugins()?;
    status(cargo().args(["build", "-p", "portico", "-p", "demo-upstream"]))?;
    let bin = target_dir().join("debug");
    let mut upstream = Command::new(bin.join("demo-upstream"))
        .arg("127.0.0.1:9000")
        .spawn()
        .context("start demo-upstream")?;
    let gateway = Command::new(bin.join("portico"))
        .args(["run", "--config", "examples/portico.toml"])
        .current_dir(root())
        .status();
    let _ = upstream.kill();
    let gateway = gateway.context("start portico")?;
    if !gateway.success() {
        bail!("portico exited with {gateway}");
    }
    Ok(())
}

fn test(extra: &[String]) -> Result<()> {
    ensure_other_languages()?;
    build_plugins()?;
    ensure_python_grpc()?;
    ensure_debian_packages(&[("redis-server", "redis-server"), ("etcd", "etcd-server")])?;
    status(cargo().args(["test", "--workspace"]).args(extra))?;
    fuzz(&[])
}

/// The fuzz targets of `tests/fuzz` (its `[[bin]]`s).
const FUZZ_TARGETS: [&str; 6] = [
    "http1_head",
    "chunked_body",
    "request_path",
    "config_toml",
    "jwt_token",
    "cache_control",
];

/// libFuzzer's coverage instrumentation, with flags stable rustc takes.
const FUZZ_RUSTFLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares";

fn fuzz(targets: &[String]) -> Result<()> {
    let seconds: u64 = match std::env::var("FUZZ_SECONDS") {
        Ok(text) => text
            .parse()
            .with_context(|| format!("FUZZ_SECONDS={text} is not a number of seconds"))?,
        Err(_) => 60,
    };
    if seconds == 0 {
        eprintln!("xtask: fuzzing skipped (FUZZ_SECONDS=0)");
        return Ok(());
    }
    let targets: Vec<&str> = if targets.is_empty() {
        FUZZ_TARGETS.to_vec()
    } else {
        for target in targets {
            if !FUZZ_TARGETS.contains(&target.as_str()) {
                bail!(
                    "no fuzz target `{target}` (there are {})",
                    FUZZ_TARGETS.join(", ")
                );
            }
        }
        targets.iter().map(String::as_str).collect()
    };
    let host = host_triple()?;
    let dir = target_dir().join("fuzz");
    // An explicit --target keeps the instrumentation off build scripts and
    // proc macros.
    let rustflags: String = FUZZ_RUSTFLAGS
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    status(
        cargo()
            .args(["build", "--profile", "fuzz", "-p", "portico-fuzz", "--bins"])
            .args(["--target", &host, "--target-dir"])
            .arg(&dir)
            .env("RUSTFLAGS", rustflags),
    )?;
    for target in targets {
        let seeds = root().join("tests/fuzz/corpus").join(target);
        let work = dir.join("corpus").join(target);
        let artifacts = dir.join("artifacts").join(target);
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
        std::fs::create_dir_all(&artifacts)
            .with_context(|| format!("create {}", artifacts.display()))?;
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        // libFuzzer reports every new input: into a log, summed up below.
        let log_path = dir.join(format!("{target}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("create {}", log_path.display()))?;
        let run = Command::new(dir.join(&host).join("fuzz").join(target))
            .arg(format!("-max_total_time={seconds}"))
            .arg("-timeout=10")
            .arg("-rss_limit_mb=2048")
            .arg("-max_len=8192")
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg(&work)
            .arg(&seeds)
            .stdout(log.try_clone().context("the fuzz log")?)
            .stderr(log)
            .status()
            .with_context(|| format!("cannot start the fuzz target {target}"))?;
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let shown: Vec<&str> = if run.success() {
            lines
                .iter()
                .copied()
                .filter(|l| l.starts_with("Done") || l.starts_with("stat::"))
                .collect()
        } else {
            lines[lines.len().saturating_sub(60)..].to_vec()
        };
        for line in shown {
            eprintln!("  {line}");
        }
        if !run.success() {
            bail!(
                "fuzz target {target} failed ({run}); its input is in {}: once fixed, add it to {} so the replay test keeps it",
                artifacts.display(),
                seeds.display()
            );
        }
    }
    Ok(())
}

/// The triple rustc builds for by default (`host:` of `rustc -vV`).
fn host_triple() -> Result<String> {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

fn lint() -> Result<()> {
    ensure_wasm_target()?;
    layers::check(&root().join("host/src"))?;
    layout::check(&root())?;
    snippets::check(&root())?;
    status(cargo().args(["fmt", "--all", "--check"]))?;
    status(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The SDK and the contract package as they would be published (a dry
    // run: nothing is uploaded), and the packaged SDK builds a guest: its
    // WIT comes with it, not from `../wit`.
    status(cargo().args([
        "package",
        "--allow-dirty",
        "-p",
        "portico-contract",
        "-p",
        "portico-sdk",
        "--target",
        WASM_TARGET,
        "--target-dir",
        "target/wasm",
    ]))?;
    // The host's and the SDK's API docs: no broken or private links.
    status(
        cargo()
            .args(["doc", "--no-deps", "-p", "portico", "-p", "portico-sdk"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    let mut wasm = cargo();
    wasm.args([
        "clippy",
        "--target",
        WASM_TARGET,
        "--target-dir",
        "target/wasm",
    ]);
    wasm.args(["-p", "portico-sdk"]);
    for (package, _) in guest_packages()? {
        wasm.args(["-p", &package]);
    }
    wasm.args(["--", "-D", "warnings"]);
    status(&mut wasm)
}

fn bench(extra: &[String]) -> Result<()> {
    build_plugins()?;
    status(cargo().args(["bench", "-p", "portico"]).args(extra))
}

fn load() -> Result<()> {
    build_plugins()?;
    status(cargo().args(["build", "--release", "-p", "portico", "-p", "demo-upstream"]))?;
    status(
        Command::new("bash")
            .arg("tests/load/run.sh")
            .current_dir(root()),
    )?;
    status(
        Command::new("bash")
            .arg("tests/load/swap_memory.sh")
            .current_dir(root()),
    )
}

/// Debian packages the peer benchmark runs, with a command each provides.
const PEER_PACKAGES: [(&str, &str); 8] = [
    ("nginx", "/usr/sbin/nginx"),
    (
        "libnginx-mod-http-lua",
        "/usr/lib/nginx/modules/ngx_http_lua_module.so",
    ),
    ("haproxy", "/usr/sbin/haproxy"),
    ("wrk", "/usr/bin/wrk"),
    ("nghttp2-client", "/usr/bin/h2load"),
    ("curl", "/usr/bin/curl"),
    ("openssl", "/usr/bin/openssl"),
    ("redis-server", "/usr/bin/redis-server"),
];

fn peers() -> Result<()> {
    let missing: Vec<&str> = PEER_PACKAGES
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(package, _)| *package)
        .collect();
    if !missing.is_empty() {
        eprintln!("xtask: installing {}", missing.join(" "));
        status(Command::new("apt-get").arg("update").arg("-qq"))?;
        status(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    build_plugins()?;
    status(cargo().args([
        "build",
        "--release",
        "-p",
        "portico",
        "-p",
        "portico-loadgen",
    ]))?;
    let bin = target_dir().join("release");
    status(
        Command::new("bash")
            .arg("tests/load/peers.sh")
            .env("PORTICO", bin.join("portico"))
            .env("LOADGEN", bin.join("portico-loadgen"))
            .env("PLUGINS", root().join("target/plugins"))
            .current_dir(root()),
    )
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` when set, else
/// `target/` in the workspace.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}
