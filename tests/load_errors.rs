//! Configs and plugins that must be refused before any traffic, with errors
//! that name the file, the key and the problem.

use crate::support;

use std::process::Command;

use support::{config_prelude, parse_config, try_gateway, upstream};

async fn refused(routes: &str) -> String {
    let origin = upstream("origin").await;
    let toml = format!(
        "{}\n[upstreams.o]\ntargets = [\"{origin}\"]\n{routes}",
        config_prelude()
    );
    match try_gateway(&toml).await {
        Ok(_) => panic!("config was accepted:\n{toml}"),
        Err(errors) => errors,
    }
}

#[tokio::test]
async fn an_ungranted_capability_is_refused_at_load() {
    let errors = refused(
        r#"
[[routes]]
name = "counting"
upstream = "o"

[[routes.plugins]]
name = "probe"
capabilities = ["log", "clock", "cache", "context"]
config = { tag = "t" }
"#,
    )
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
    let errors = refused(
        r#"
[[routes]]
name = "rewrite"
upstream = "o"

[[routes.plugins]]
name = "transform"
capabilities = ["context"]
config.request.headers.set = { "bad header" = "x" }
"#,
    )
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
    let errors = refused(
        r#"
[[routes]]
name = "hello"
upstream = "o"

[[routes.plugins]]
name = "hello-header"
capabilities = ["log"]
config = { nmae = "x-typo" }
"#,
    )
    .await;
    assert!(errors.contains("nmae"), "names the unknown key: {errors}");
}

#[tokio::test]
async fn a_missing_plugin_file_is_refused() {
    let errors = refused("\n[[routes]]\nname = \"r\"\nupstream = \"o\"\n\n[[routes.plugins]]\nname = \"no-such-plugin\"\n").await;
    assert!(errors.contains("routes[0].plugins[0].name"), "{errors}");
    assert!(errors.contains("no-such-plugin.wasm"), "{errors}");
}

#[test]
fn gateway_config_errors_name_file_key_and_reason() {
    let (_dir, result) = parse_config(&format!(
        "{}\n[upstreams.o]\ntargets = [\"127.0.0.1:1\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"o\"\ntimeout = 5\n",
        config_prelude()
    ));
    let errors = result.expect_err("unknown key refused").to_string();
    assert!(errors.contains("portico.toml"), "{errors}");
    assert!(
        errors.contains("`routes[0].timeout`"),
        "at its own key: {errors}"
    );
    assert!(errors.contains("unknown field `timeout`"), "{errors}");

    // Every broken section is reported, not only the first.
    let (_dir, result) = parse_config(&format!(
        "{}\n[upstreams.o]\ntargets = [\"127.0.0.1:1\"]\nbogus = 1\n\n[[routes]]\nname = \"r\"\nupstream = \"o\"\npath = {{ prefix = \"/\", extra = 2 }}\n",
        config_prelude()
    ));
    let errors = result.expect_err("two type errors refused").to_string();
    assert!(
        errors.contains("`upstreams.o.bogus`: unknown field `bogus`"),
        "{errors}"
    );
    assert!(
        errors.contains("`routes[0].path.extra`: unknown key"),
        "{errors}"
    );

    let (_dir, result) = parse_config(&format!(
        "{}\n[upstreams.o]\ntargets = [\"nohost\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"missing\"\npath = {{ regex = \"(\" }}\n",
        config_prelude()
    ));
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

#[test]
fn portico_check_reports_errors_and_exits_non_zero() {
    let (dir, _) = parse_config("");
    let output = portico_check(
        &dir.path().join("bad.toml"),
        &format!(
            "{}\n[upstreams.o]\ntargets = [\"127.0.0.1:1\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"o\"\n\n[[routes.plugins]]\nname = \"transform\"\ncapabilities = [\"context\"]\nconfig = {{ request = {{ nope = 1 }} }}\n",
            config_prelude()
        ),
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
        &format!(
            "{}\n[upstreams.o]\ntargets = [\"127.0.0.1:1\"]\n\n[[routes]]\nname = \"typo\"\nupstream = \"o\"\ntimeout = 5\n\n[[routes]]\nname = \"r\"\nupstream = \"o\"\n\n[[routes.plugins]]\nname = \"transform\"\ncapabilities = [\"context\"]\nconfig = {{ request = {{ nope = 1 }} }}\n",
            config_prelude()
        ),
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
        &format!(
            "{}\n[upstreams.o]\ntargets = [\"127.0.0.1:1\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"o\"\n\n[[routes.plugins]]\nname = \"hello-header\"\ncapabilities = [\"log\"]\nconfig = {{ value = \"v\" }}\n",
            config_prelude()
        ),
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
