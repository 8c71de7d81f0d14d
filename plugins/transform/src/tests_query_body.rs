//! Query, JSON body, status and context/header template tests.

use portico_sdk::http::StatusCode;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest, MockResponse};
use serde_json::{Value, json};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn load(host: &MockHost, config: Value) -> Result<MockPlugin<Transform>, portico_sdk::ConfigError> {
    host.load::<Transform>(config)
}

fn config_error(config: Value) -> (String, String) {
    match MockHost::with_grants(&["context"]).load::<Transform>(config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => (err.key().to_owned(), err.message().to_owned()),
    }
}

fn json_body(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)))
}

#[test]
fn query_remove_rename_set() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let mut plugin = load(
        &host,
        json!({ "request": { "query": {
            "remove": ["debug", "a b"],
            "rename": { "q": "search" },
            "set": { "v": "2", "user": "{id} & co" },
        }}}),
    )?;
    let mut req = MockRequest::get("/x?q=rust&debug=1&a%20b=2&v=1&q=wasm&flag").param("id", "7");
    plugin.on_request(&mut req)?;
    assert_eq!(
        req.query(),
        Some("search=rust&search=wasm&flag&user=7%20%26%20co&v=2"),
        "set parameters are appended in name order"
    );

    let mut remove_only = load(
        &host,
        json!({ "request": { "query": { "remove": ["debug"] } } }),
    )?;
    let mut req = MockRequest::get("/x?debug=1");
    remove_only.on_request(&mut req)?;
    assert_eq!(req.query(), None, "no parameters left: no `?`");
    Ok(())
}

#[test]
fn request_json_body_remove_rename_set_by_pointer() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    host.set_context("consumer", "alice");
    let mut plugin = load(
        &host,
        json!({ "request": { "body": {
            "remove": ["/password", "/items/0"],
            "rename": { "/user/name": "/username" },
            "set": { "/meta/consumer": "{ctx.consumer}", "/meta/version": 2, "/meta/via": "{header.x-via}" },
        }}}),
    )?;
    let mut req = MockRequest::post("/")
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"password":"s3cret","user":{"name":"bob","id":1},"items":[1,2]}"#);
    assert_eq!(plugin.on_request(&mut req)?, Action::Continue);
    assert_eq!(
        json_body(req.body_bytes()),
        json!({ "user": { "id": 1 }, "username": "bob", "items": [2], "meta": { "consumer": "alice", "version": 2 } }),
        "`{{header.x-via}}` is absent: that rule does not apply"
    );
    Ok(())
}

#[test]
fn non_json_or_empty_bodies_are_left_alone_and_invalid_json_is_a_400() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let mut plugin = load(
        &host,
        json!({ "request": { "body": { "remove": ["/a"] } } }),
    )?;
    let mut text = MockRequest::post("/")
        .header("content-type", "text/plain")
        .body("{\"a\":1}");
    plugin.on_request(&mut text)?;
    assert_eq!(text.body_bytes(), b"{\"a\":1}");
    let mut empty = MockRequest::post("/").header("content-type", "application/json");
    assert_eq!(plugin.on_request(&mut empty)?, Action::Continue);

    let mut broken = MockRequest::post("/")
        .header("content-type", "application/json")
        .body("{nope");
    let action = plugin.on_request(&mut broken)?;
    let reply = action.reply().ok_or("expected a reply")?;
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.header_value("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        json_body(reply.body_bytes())["type"],
        "urn:portico:problem:invalid-json-body"
    );
    Ok(())
}

#[test]
fn response_status_map_then_headers_then_json_body() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let mut plugin = load(
        &host,
        json!({ "response": {
            "status_map": { "404": 410, "500": 503 },
            "headers": { "set": { "x-id": "{id}" } },
            "body": { "rename": { "/id": "/user_id" }, "remove": ["/internal"], "set": { "/route_id": "{id}" } },
        }}),
    )?;
    plugin.on_request(&mut MockRequest::get("/u/9").param("id", "9"))?;
    let mut res = MockResponse::new(404)
        .header("content-type", "application/problem+json")
        .body(r#"{"id":9,"internal":true}"#);
    plugin.on_response(&mut res)?;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(res.header_value("x-id"), Some("9"));
    assert_eq!(
        json_body(res.body_bytes()),
        json!({ "user_id": 9, "route_id": "9" })
    );

    plugin.on_request(&mut MockRequest::get("/u/9").param("id", "9"))?;
    let mut ok = MockResponse::new(200)
        .header("content-type", "application/json")
        .body("not json");
    let action = plugin.on_response(&mut ok)?;
    assert_eq!(
        action.reply().map(|r| r.status()),
        Some(StatusCode::BAD_GATEWAY)
    );
    Ok(())
}

#[test]
fn context_and_header_templates_in_headers_skip_when_absent() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let mut plugin = load(
        &host,
        json!({ "request": { "headers": {
            "set": { "x-consumer": "{ctx.consumer}", "x-user-echo": "user={header.x-user}" },
        }}}),
    )?;
    let mut anonymous = MockRequest::get("/");
    plugin.on_request(&mut anonymous)?;
    assert!(anonymous.header_names().is_empty());
    host.set_context("consumer", "alice");
    let mut req = MockRequest::get("/").header("x-user", "bob");
    plugin.on_request(&mut req)?;
    assert_eq!(req.header_value("x-consumer"), Some("alice"));
    assert_eq!(req.header_value("x-user-echo"), Some("user=bob"));
    Ok(())
}

#[test]
fn new_config_errors_name_the_key() {
    let cases = [
        (
            json!({ "response": { "status_map": { "40x": 410 } } }),
            "response.status_map",
        ),
        (
            json!({ "response": { "status_map": { "404": 42 } } }),
            "response.status_map",
        ),
        (
            json!({ "request": { "body": { "remove": ["a"] } } }),
            "request.body.remove[0]",
        ),
        (
            json!({ "request": { "body": { "set": { "": 1 } } } }),
            r#"request.body.set."""#,
        ),
        (
            json!({ "request": { "body": { "set": { "/a": "{oops" } } } }),
            r#"request.body.set."/a""#,
        ),
        (
            json!({ "request": { "query": { "remove": [""] } } }),
            "request.query.remove[0]",
        ),
        (
            json!({ "request": { "query": { "set": { "a": "{ctx.}" } } } }),
            "request.query.set.a",
        ),
        (
            json!({ "request": { "query": { "replace": {} } } }),
            "request.query.replace",
        ),
        (
            json!({ "request": { "status_map": {} } }),
            "request.status_map",
        ),
    ];
    for (config, key) in cases {
        let (got, message) = config_error(config.clone());
        assert_eq!(got, key, "{config}: {message}");
    }
}
