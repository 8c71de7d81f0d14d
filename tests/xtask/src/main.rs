//! `cargo xtask <task>`: the project's tasks, so that a fresh clone needs only
//! `cargo` (with rustup) to build, run and test everything.
//!
//! - `plugins`: add the `wasm32-wasip2` target if missing, build every guest
//!   crate (each workspace package with a `cdylib` target) into its own target
//!   directory, and copy the components to `target/plugins/<package>.wasm`.
//! - `run`: `plugins`, then start the demo upstream on 127.0.0.1:9000 and the
//!   gateway on `examples/portico.toml` (port 8080).
//! - `test`: `plugins`, Python's `grpcio` (the real gRPC client and server
//!   of `tests/grpc.rs`) with pip when missing, then `cargo test --workspace`.
//! - `lint`: the host's module order (`layers`: a module imports only
//!   lower layers), `cargo fmt --check` and clippy with `-D warnings`, for
//!   the host and for the wasm target.
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
        _ => {
            eprintln!("usage: cargo xtask <plugins|run|test|lint|bench|load|peers> [args]");
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
    command
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
    Ok(guests)
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
    build_plugins()?;
    ensure_python_grpc()?;
    status(cargo().args(["test", "--workspace"]).args(extra))
}

fn lint() -> Result<()> {
    ensure_wasm_target()?;
    layers::check(&root().join("host/src"))?;
    status(cargo().args(["fmt", "--all", "--check"]))?;
    status(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
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
const PEER_PACKAGES: [(&str, &str); 7] = [
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
