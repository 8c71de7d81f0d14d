//! The `transform` plugin's query, JSON body, status and template rules
//! through the real gateway.

mod support;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{config_prelude, gateway, upstream};

async fn transform_gateway(config: &str) -> support::TestGateway {
    let origin = upstream("origin").await;
    gateway(&format!(
        r#"{}
[upstreams.origin]
targets = ["{origin}"]

[[routes]]
name = "users"
path = {{ regex = '/users/(?P<id>\d+)' }}
upstream = "origin"

[[routes.plugins]]
name = "probe"
capabilities = ["log", "clock", "kv", "cache", "context"]
config = {{ context_set = {{ consumer = "from-header:x-user" }} }}

[[routes.plugins]]
name = "transform"
capabilities = ["context"]
{config}
"#,
        config_prelude()
    ))
    .await
}

#[tokio::test]
async fn query_and_json_request_body_are_rewritten_from_captures_context_and_headers() {
    let gw = transform_gateway(
        r#"config.request.query = { remove = ["debug"], rename = { q = "search" }, set = { consumer = "{ctx.consumer}" } }
config.request.body = { remove = ["/password"], rename = { "/user/name" = "/username" }, set = { "/meta/id" = "{id}", "/meta/agent" = "{header.x-agent}", "/meta/v" = 2 } }"#,
    )
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
    let gw = transform_gateway(r#"config.request.body = { remove = ["/a"] }"#).await;
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
    let gw = transform_gateway(
        r#"config.response.status_map = { "200" = 203 }
config.response.headers.set = { "x-consumer" = "{ctx.consumer}" }
config.response.body = { remove = ["/headers", "/body"], rename = { "/upstream" = "/served_by" }, set = { "/user_id" = "{id}" } }"#,
    )
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
