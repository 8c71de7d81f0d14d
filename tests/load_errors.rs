//! Configs and plugins that must be refused before any traffic, with errors
//! that name the file, the key and the problem.

use crate::support;

use std::net::SocketAddr;
use std::process::Command;

use support::builder::{Cap, Gateway, GatewayBuilder, PluginBuilder, plugin};
use support::parse_config;

/// The config errors of a gateway with upstream `o` (an echo upstream)
/// and what `shape` adds; panics if the gateway starts.
async fn refused(shape: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> String {
    let config = shape(Gateway::builder().echo("o"));
    match config.try_start().await {
        Ok(_) => panic!("config was accepted"),
        Err(errors) => errors,
    }
}

/// Upstream `o` at a closed port, and what `shape` adds, as config text.
fn closed_config(shape: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> String {
    let closed: SocketAddr = "127.0.0.1:1".parse().expect("address");
    shape(Gateway::builder().upstream("o", &[closed])).toml(&[])
}

#[tokio::test]
async fn an_ungranted_capability_is_refused_at_load() {
    let errors = refused(|g| {
        g.route("counting", |r| {
            r.plugin(
                plugin("probe")
                    .grant([Cap::Log, Cap::Clock, Cap::Cache, Cap::Context])
                    .config("tag", "t"),
            )
        })
    })
    .await;
    assert!(errors.contains("portico.toml"), "names the file: {errors}");
    assert!(
        errors.contains("routes[0].plugins[0].capabilities"),
        "names the key: {errors}"
    );
    assert!(
        errors.contains("plugin `probe`"),
        "names the plugin: {errors}"
    );
    assert!(
        errors.contains("route `counting`"),
        "names the route: {errors}"
    );
    assert!(
        errors.contains("capability `kv`"),
        "names the capability: {errors}"
    );
}

#[tokio::test]
async fn a_bad_plugin_config_is_refused_with_the_plugins_message() {
    let errors = refused(|g| {
        g.route("rewrite", |r| {
            r.plugin(
                plugin("transform")
                    .grant([Cap::Context])
                    .config_toml("request.headers.set", r#"{ "bad header" = "x" }"#),
            )
        })
    })
    .await;
    assert!(
        errors.contains("routes[0].plugins[0].config"),
        "names the key: {errors}"
    );
    assert!(
        errors.contains("plugin `transform` on route `rewrite`"),
        "{errors}"
    );
    assert!(
        errors.contains("bad header"),
        "says what is wrong: {errors}"
    );
}

#[tokio::test]
async fn an_unknown_config_key_inside_a_plugin_config_is_refused() {
    let errors = refused(|g| {
        g.route("hello", |r| {
            r.plugin(
                plugin("hello-header")
                    .grant([Cap::Log])
                    .config("nmae", "x-typo"),
            )
        })
    })
    .await;
    assert!(errors.contains("nmae"), "names the unknown key: {errors}");
}

#[tokio::test]
async fn a_missing_plugin_file_is_refused() {
    let errors = refused(|g| g.route("r", |r| r.plugin(plugin("no-such-plugin")))).await;
    assert!(errors.contains("routes[0].plugins[0].name"), "{errors}");
    assert!(errors.contains("no-such-plugin.wasm"), "{errors}");
}

#[test]
fn gateway_config_errors_name_file_key_and_reason() {
    let (_dir, result) = parse_config(&closed_config(|g| g.route("r", |r| r.key("timeout = 5"))));
    let errors = result.expect_err("unknown key refused").to_string();
    assert!(errors.contains("portico.toml"), "{errors}");
    assert!(
        errors.contains("`routes[0].timeout`"),
        "at its own key: {errors}"
    );
    assert!(errors.contains("unknown field `timeout`"), "{errors}");

    // Every broken section is reported, not only the first.
    let (_dir, result) = parse_config(
        &Gateway::builder()
            .upstream_toml("o", "targets = [\"127.0.0.1:1\"]\nbogus = 1")
            .route("r", |r| r.key(r#"path = { prefix = "/", extra = 2 }"#))
            .toml(&[]),
    );
    let errors = result.expect_err("two type errors refused").to_string();
    assert!(
        errors.contains("`upstreams.o.bogus`: unknown field `bogus`"),
        "{errors}"
    );
    assert!(
        errors.contains("`routes[0].path.extra`: unknown key"),
        "{errors}"
    );

    let (_dir, result) = parse_config(
        &Gateway::builder()
            .upstream_toml("o", "targets = [\"nohost\"]")
            .route("r", |r| r.upstream("missing").regex("("))
            .toml(&[]),
    );
    let errors = result.expect_err("invalid values refused").to_string();
    assert!(
        errors.contains("`upstreams.o.targets[0]`: `nohost` is not `host:port`"),
        "{errors}"
    );
    assert!(
        errors.contains("`routes[0].upstream`: no upstream named `missing`"),
        "{errors}"
    );
    assert!(
        errors.contains("`routes[0].path`: invalid regex"),
        "{errors}"
    );
}

/// Writes `toml` to `path` and runs `portico check` on it.
fn portico_check(path: &std::path::Path, toml: &str) -> std::process::Output {
    std::fs::write(path, toml).expect("write config");
    Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["check", "--config"])
        .arg(path)
        .output()
        .expect("run portico check")
}

/// `transform` with an unknown key in its `request` rules.
fn bad_transform() -> PluginBuilder {
    plugin("transform")
        .grant([Cap::Context])
        .config_toml("request", "{ nope = 1 }")
}

#[test]
fn portico_check_reports_errors_and_exits_non_zero() {
    let (dir, _) = parse_config("");
    let output = portico_check(
        &dir.path().join("bad.toml"),
        &closed_config(|g| g.route("r", |r| r.plugin(bad_transform()))),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml"), "{stderr}");
    assert!(stderr.contains("routes[0].plugins[0].config"), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");

    // A config error elsewhere does not hide a plugin's `init` error: the
    // plugins of the routes without errors still run `init`.
    let output = portico_check(
        &dir.path().join("both.toml"),
        &closed_config(|g| {
            g.route("typo", |r| r.key("timeout = 5"))
                .route("r", |r| r.plugin(bad_transform()))
        }),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`routes[0].timeout`"), "{stderr}");
    assert!(
        stderr.contains("routes[1].plugins[0].config"),
        "renumbered to the file's route: {stderr}"
    );
    assert!(stderr.contains("nope"), "{stderr}");

    let output = portico_check(
        &dir.path().join("good.toml"),
        &closed_config(|g| {
            g.route("r", |r| {
                r.plugin(
                    plugin("hello-header")
                        .grant([Cap::Log])
                        .config("value", "v"),
                )
            })
        }),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("OK (1 routes, 1 plugin instances initialized)"),
        "{stdout}"
    );
}

#[test]
fn every_bad_value_of_one_route_is_reported_at_its_own_key() {
    // Values are parsed as the file is read and their problems kept, so
    // one bad value does not hide the next, even within one route.
    let (_dir, result) = parse_config(
        &Gateway::builder()
            .upstream_toml("o", r#"targets = ["nohost", "127.0.0.1:1"]"#)
            .route("r", |r| {
                r.hosts(&["a b", "api.example.com"])
                    .methods(&["GET", "G ET"])
                    .headers(&[("bad name", "x"), ("x-ok", "tab\tand\u{7f}")])
                    .regex("(")
            })
            .toml(&[]),
    );
    let errors = result.expect_err("bad values refused").to_string();
    for expected in [
        "`upstreams.o.targets[0]`: `nohost` is not `host:port`",
        "`routes[0].hosts[0]`: `a b` is not a host name or `*.` wildcard",
        "`routes[0].methods[1]`: `G ET` is not an HTTP method",
        "`routes[0].headers.bad name`: `bad name` is not a valid header name",
        "`routes[0].headers.x-ok`:",
        "`routes[0].path`: invalid regex",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in:\n{errors}"
        );
    }
    assert!(
        !errors.contains("routes[0].hosts[1]") && !errors.contains("routes[0].methods[0]"),
        "the good values are not reported: {errors}"
    );
}
