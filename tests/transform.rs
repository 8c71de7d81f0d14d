//! The `transform` plugin's query, JSON body, status and template rules
//! through the real gateway.

use crate::support;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::builder::{Cap, Gateway, plugin};

/// Route `users` (`/users/<id>`): `probe` puts the `x-user` header in the
/// context as `consumer`, then `transform` with `config` (each a key under
/// `config.` and its TOML value).
async fn transform_gateway(config: &[(&str, &str)]) -> support::TestGateway {
    let transform = config.iter().fold(
        plugin("transform").grant([Cap::Context]),
        |plugin, (key, value)| plugin.config_toml(key, value),
    );
    Gateway::builder()
        .echo("origin")
        .route("users", |r| {
            r.regex(r"/users/(?P<id>\d+)")
                .plugin(
                    plugin("probe")
                        .grant([Cap::Log, Cap::Clock, Cap::Kv, Cap::Cache, Cap::Context])
                        .config_toml("context_set", r#"{ consumer = "from-header:x-user" }"#),
                )
                .plugin(transform)
        })
        .start()
        .await
}

#[tokio::test]
async fn query_and_json_request_body_are_rewritten_from_captures_context_and_headers() {
    let gw = transform_gateway(&[
        (
            "request.query",
            r#"{ remove = ["debug"], rename = { q = "search" }, set = { consumer = "{ctx.consumer}" } }"#,
        ),
        (
            "request.body",
            r#"{ remove = ["/password"], rename = { "/user/name" = "/username" }, set = { "/meta/id" = "{id}", "/meta/agent" = "{header.x-agent}", "/meta/v" = 2 } }"#,
        ),
    ])
    .await;
    let response = gw
        .send(
            Method::POST,
            "/users/42?q=rust&debug=1",
            &[
                ("content-type", "application/json"),
                ("x-user", "alice"),
                ("x-agent", "cli/1"),
            ],
            r#"{"password":"s3cret","user":{"name":"bob"}}"#,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let echo = response.json();
    assert_eq!(echo["query"], "search=rust&consumer=alice");
    let body: Value = serde_json::from_str(echo["body"].as_str().expect("echoed body"))
        .expect("the upstream got JSON");
    assert_eq!(
        body,
        json!({ "user": {}, "username": "bob", "meta": { "id": "42", "agent": "cli/1", "v": 2 } })
    );
    let length = response.upstream_saw("content-length");
    assert_eq!(
        length,
        [body.to_string().len().to_string()],
        "content-length follows the new body"
    );
}

#[tokio::test]
async fn an_invalid_json_request_body_gets_400_problem_json() {
    let gw = transform_gateway(&[("request.body", r#"{ remove = ["/a"] }"#)]).await;
    let response = gw
        .send(
            Method::POST,
            "/users/1",
            &[("content-type", "application/json")],
            "{not json",
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.header("x-upstream"), None);
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        response.json()["type"],
        "urn:portico:problem:invalid-json-body"
    );

    let text = gw
        .send(
            Method::POST,
            "/users/1",
            &[("content-type", "text/plain")],
            "{not json",
        )
        .await;
    assert_eq!(
        text.status,
        StatusCode::OK,
        "non-JSON bodies pass untouched"
    );
    assert_eq!(text.json()["body"], "{not json");
}

#[tokio::test]
async fn response_status_is_mapped_and_its_json_body_rewritten() {
    let gw = transform_gateway(&[
        ("response.status_map", r#"{ "200" = 203 }"#),
        ("response.headers.set", r#"{ "x-consumer" = "{ctx.consumer}" }"#),
        (
            "response.body",
            r#"{ remove = ["/headers", "/body"], rename = { "/upstream" = "/served_by" }, set = { "/user_id" = "{id}" } }"#,
        ),
    ])
    .await;
    let response = gw
        .send(Method::GET, "/users/7", &[("x-user", "carol")], "")
        .await;
    assert_eq!(response.status, StatusCode::NON_AUTHORITATIVE_INFORMATION);
    assert_eq!(response.header("x-consumer"), Some("carol"));
    assert_eq!(
        response.json(),
        json!({ "served_by": "origin", "method": "GET", "path": "/users/7", "query": null, "user_id": "7" })
    );
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str())
    );
}
