//! Plugins in other languages on the same contract: `canary-py` (Python,
//! componentize-py) and `body-validator-js` (JavaScript, ComponentizeJS),
//! loaded from the plugin directory like any Rust component and driven
//! through the real gateway. Each behaviour is checked against the plugin's
//! Rust twin too (`tests/plugins/canary-rs`, `tests/plugins/body-validator-rs`,
//! the components the README's cost table compares them with), so the two
//! do the same work.
//!
//! `cargo xtask plugins` builds the two components when componentize-py and
//! ComponentizeJS are installed (`cargo xtask test` installs them); without
//! them these tests skip with a note, and under `CI=true` they fail.

use crate::support;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::builder::{Cap, Gateway, auth_probe, plugin};

/// Whether `target/plugins/<name>.wasm` was built; absent, a note (a
/// failure under `CI=true`).
fn built(name: &str) -> bool {
    let path = support::plugin_dir().join(format!("{name}.wasm"));
    if path.exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing under CI=true: `cargo xtask test` installs componentize-py and ComponentizeJS and builds it",
        path.display()
    );
    eprintln!(
        "note: {} is missing (componentize-py or ComponentizeJS not installed); skipping",
        path.display()
    );
    false
}

/// The echo upstream's view of a request: path, the `x-upstream` that
/// answered, the `x-canary` it was sent.
fn echoed(response: &support::TestResponse) -> (String, String, Vec<String>) {
    let echo = response.json();
    (
        echo["path"].as_str().unwrap_or_default().to_owned(),
        response.header("x-upstream").unwrap_or_default().to_owned(),
        response.upstream_saw("x-canary"),
    )
}

/// A gateway in front of `back`, with `canary` (and its config) on `/`.
async fn canary_front(
    canary: &str,
    back: std::net::SocketAddr,
    config: &str,
    auth: bool,
) -> support::TestGateway {
    Gateway::builder()
        .upstream("back", &[back])
        .route("all", |r| {
            let r = if auth { r.plugin(auth_probe()) } else { r };
            r.prefix("/")
                .plugin(plugin(canary).grant([Cap::Context]).config_table(config))
        })
        .start()
        .await
}

#[tokio::test]
async fn canary_requests_reach_the_canary_target_and_the_others_do_not() {
    if !built("canary-py") {
        return;
    }
    // The deployment the plugin is for: behind the gateway that decides,
    // one that routes `/canary` to the canary build and the rest to the
    // stable one (any path-routing load balancer or ingress would do).
    let back = Gateway::builder()
        .echo("stable")
        .echo("canary")
        .route("canary", |r| r.prefix("/canary").upstream("canary"))
        .route("stable", |r| r.prefix("/").upstream("stable"))
        .start()
        .await;
    for name in ["canary-py", "canary-rs"] {
        let front = canary_front(
            name,
            back.addr,
            r#"header = "x-canary", values = ["1", "always"], path_prefix = "/canary""#,
            false,
        )
        .await;

        let opted = front
            .send(Method::GET, "/orders/7?x=1", &[("x-canary", "always")], "")
            .await;
        assert_eq!(opted.status, StatusCode::OK, "{name}");
        assert_eq!(
            echoed(&opted),
            ("/canary/orders/7".into(), "canary".into(), vec!["1".into()]),
            "{name}"
        );
        assert_eq!(opted.json()["query"], "x=1", "{name}: the query is kept");
        assert_eq!(opted.header("x-canary"), Some("1"), "{name}");

        for headers in [
            &[][..],
            &[("x-canary", "0")][..],
            &[("x-canary", "yes")][..],
        ] {
            let stable = front.send(Method::GET, "/orders/7", headers, "").await;
            assert_eq!(stable.status, StatusCode::OK, "{name}");
            assert_eq!(
                echoed(&stable),
                ("/orders/7".into(), "stable".into(), vec![]),
                "{name} {headers:?}: not a listed value: stable, and the header is not passed on"
            );
            assert_eq!(stable.header("x-canary"), None, "{name}");
        }

        // A path already under the prefix is not prefixed twice.
        let under = front
            .send(Method::GET, "/canary/orders/7", &[("x-canary", "1")], "")
            .await;
        assert_eq!(echoed(&under).0, "/canary/orders/7", "{name}");
        front.shutdown().await;
    }
    back.shutdown().await;
}

#[tokio::test]
async fn the_percentage_follows_a_stable_hash_of_the_client_or_the_consumer() {
    if !built("canary-py") {
        return;
    }
    let back = support::upstream("back").await;
    // FNV-1a 64 mod 100: 127.0.0.1 is in bucket 74, consumer `erin` in 29,
    // `alice` in 83 (the same in both plugins; canary-rs's unit test).
    for name in ["canary-py", "canary-rs"] {
        for (percent, canary) in [(75, true), (74, false)] {
            let front = canary_front(name, back, &format!("percent = {percent}"), false).await;
            for _ in 0..3 {
                let response = front.get("/a").await;
                let path = if canary { "/canary/a" } else { "/a" };
                assert_eq!(echoed(&response).0, path, "{name} percent {percent}");
            }
            front.shutdown().await;
        }
        let front = canary_front(name, back, r#"percent = 50, hash_on = "consumer""#, true).await;
        for (user, path) in [
            ("erin", "/canary/a"),
            ("alice", "/a"),
            ("erin", "/canary/a"),
        ] {
            let response = front.send(Method::GET, "/a", &[("x-user", user)], "").await;
            assert_eq!(echoed(&response).0, path, "{name} consumer {user}");
        }
        let anonymous = front.get("/a").await;
        assert_eq!(echoed(&anonymous).0, "/a", "{name}: no consumer, no share");
        front.shutdown().await;
    }
}

/// A gateway with `validator` on `POST /items` (and GET), requiring
/// `name` (string), `/address/zip` (integer) and `tags` (array), bodies of
/// at most 256 bytes.
async fn validator_gateway(validator: &str) -> support::TestGateway {
    Gateway::builder()
        .echo("origin")
        .route("items", |r| {
            r.prefix("/items")
                .plugin(plugin(validator).config_table(concat!(
                r#"required = { name = "string", "/address/zip" = "integer", tags = "array" }, "#,
                r#"max_body_bytes = 256, content_types = ["application/json", "*/*+json"]"#
            )))
        })
        .start()
        .await
}

/// A refused request: its headers and body, the status, the problem type's
/// kind and a part of its detail.
type Refusal<'a> = (
    &'a [(&'a str, &'a str)],
    &'a str,
    StatusCode,
    &'a str,
    &'a str,
);

#[tokio::test]
async fn the_body_validator_passes_good_bodies_unchanged_and_refuses_bad_ones() {
    if !built("body-validator-js") {
        return;
    }
    let good =
        "{ \"name\": \"kettle\",\n  \"address\": {\"zip\": 10115}, \"tags\": [], \"extra\": 1.5 }";
    let json = [("content-type", "application/json")];
    for name in ["body-validator-js", "body-validator-rs"] {
        let gw = validator_gateway(name).await;
        for content_type in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            let response = gw
                .send(
                    Method::POST,
                    "/items",
                    &[("content-type", content_type)],
                    good,
                )
                .await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{name} {content_type}: {:?}",
                response.body
            );
            assert_eq!(
                response.json()["body"],
                good,
                "{name}: forwarded byte for byte"
            );
        }
        // Methods not listed pass without a body or a content type.
        assert_eq!(gw.get("/items").await.status, StatusCode::OK, "{name}");

        let cases: [Refusal; 8] = [
            (
                &[("content-type", "text/plain")],
                good,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "`text/plain`",
            ),
            (
                &[],
                good,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "no content-type",
            ),
            (
                &json,
                &format!("{{\"name\":\"{}\"}}", "x".repeat(300)),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "at most 256",
            ),
            (
                &json,
                "{\"name\": ",
                StatusCode::BAD_REQUEST,
                "invalid-json-body",
                "not valid JSON",
            ),
            (
                &json,
                "[1, 2]",
                StatusCode::BAD_REQUEST,
                "invalid-json-body",
                "a JSON array; expected an object",
            ),
            (
                &json,
                r#"{"address":{"zip":1},"tags":[]}"#,
                StatusCode::BAD_REQUEST,
                "invalid-request-body",
                "`name` is required (string)",
            ),
            (
                &json,
                r#"{"name":"a","address":{"zip":"10115"},"tags":[]}"#,
                StatusCode::BAD_REQUEST,
                "invalid-request-body",
                "`/address/zip` must be an integer, not string",
            ),
            (
                &json,
                r#"{"name":"a","address":{"zip":1.5},"tags":{}}"#,
                StatusCode::BAD_REQUEST,
                "invalid-request-body",
                "`/address/zip` must be an integer, not number",
            ),
        ];
        for (headers, body, status, kind, detail) in cases {
            let response = gw.send(Method::POST, "/items", headers, body).await;
            let problem = response.problem(status, kind);
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(detail),
                "{name}: {problem}"
            );
            assert_eq!(problem["source"], "plugin", "{name}");
            assert_eq!(problem["plugin"], name);
            assert_eq!(problem["retryable"], false, "{name}");
            assert!(problem["title"].is_string(), "{name}");
            assert_eq!(response.header("cache-control"), Some("no-store"), "{name}");
            assert!(
                response.header("x-upstream").is_none(),
                "{name}: not forwarded"
            );
        }
        gw.shutdown().await;
    }
}

#[test]
fn bad_configs_are_refused_at_load_with_the_key_named() {
    if !(built("canary-py") && built("body-validator-js")) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("canary-py", "percent = 150", "percent", "from 0 to 100"),
        (
            "canary-py",
            r#"path_prefix = "canary/""#,
            "path_prefix",
            "a leading `/`",
        ),
        (
            "canary-py",
            r#"values = ["1", ""]"#,
            "values[1]",
            "non-empty string",
        ),
        ("canary-py", "weight = 5", "weight", "unknown key"),
        (
            "body-validator-js",
            r#"required = { age = "int" }"#,
            "required.\"age\"",
            "expected one of string",
        ),
        (
            "body-validator-js",
            "max_body_bytes = 0",
            "max_body_bytes",
            "positive integer",
        ),
        (
            "body-validator-js",
            r#"content_types = ["json"]"#,
            "content_types[0]",
            "media type",
        ),
    ];
    for (name, config, key, message) in cases {
        let text = Gateway::builder()
            .upstream("origin", &["127.0.0.1:9".parse().expect("addr")])
            .route("r", |r| {
                r.upstream("origin")
                    .plugin(plugin(name).grant([Cap::Context]).config_table(config))
            })
            .toml(&[]);
        // body-validator-js imports no capability: an unused grant is fine.
        let path = dir.path().join("portico.toml");
        std::fs::write(&path, text).expect("write config");
        let (ok, said) =
            support::process::output_of(&["check".as_ref(), "--config".as_ref(), path.as_os_str()]);
        assert!(!ok, "{name} {config}: {said}");
        assert!(
            said.contains(&format!("routes[0].plugins[0].config.{key}")) && said.contains(message),
            "{name} {config}: {said}"
        );
    }
}

#[test]
fn both_components_inspect_as_portico_plugins_with_their_grants() {
    if !(built("canary-py") && built("body-validator-js")) {
        return;
    }
    for (name, capabilities) in [
        ("canary-py", json!(["context"])),
        ("body-validator-js", json!([])),
    ] {
        let file = support::plugin_dir().join(format!("{name}.wasm"));
        let (ok, said) = support::process::output_of(&[
            "plugin".as_ref(),
            "inspect".as_ref(),
            "--json".as_ref(),
            file.as_os_str(),
        ]);
        assert!(ok, "{name}: {said}");
        let report: Value = serde_json::from_str(&said).unwrap_or_else(|e| panic!("{e}: {said}"));
        assert_eq!(report["name"], name, "{report}");
        assert_eq!(report["version"], "0.1.0", "{report}");
        assert_eq!(report["contract"], "0.2.2", "{report}");
        assert_eq!(report["capabilities"], capabilities, "{report}");
        assert_eq!(report["unknown_imports"], json!([]), "{report}");
        assert_eq!(report["refused"], Value::Null, "{report}");
    }
}
