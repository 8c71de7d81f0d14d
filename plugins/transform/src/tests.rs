use portico_sdk::testing::{MockHost, MockPlugin, MockRequest, MockResponse};
use serde_json::{Value, json};

use super::*;
use portico_sdk::ResponsePhase;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn load(config: Value) -> Result<MockPlugin<Transform>, portico_sdk::ConfigError> {
    MockHost::with_grants(&["context"]).load::<Transform>(config)
}

fn config_error(config: Value) -> (String, String) {
    match load(config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => (err.key().to_owned(), err.message().to_owned()),
    }
}

#[test]
fn empty_config_changes_nothing() -> TestResult {
    let mut plugin = load(json!({}))?;
    let mut req = MockRequest::get("/a?q=1").header("x-a", "1");
    assert_eq!(plugin.on_request(&mut req)?, Action::Continue);
    assert_eq!((req.path(), req.query()), ("/a", Some("q=1")));
    assert_eq!(req.header_names(), ["x-a"]);
    let mut res = MockResponse::new(200);
    assert_eq!(plugin.on_response(&mut res)?, Action::Continue);
    assert!(res.header_names().is_empty());
    Ok(())
}

#[test]
fn request_headers_remove_then_set_then_add() -> TestResult {
    let mut plugin = load(json!({ "request": { "headers": {
        "remove": ["x-gone", "x-b"],
        "set": { "x-b": "set", "X-Set": "one" },
        "add": { "x-b": "added", "x-add": "2" },
    }}}))?;
    let mut req = MockRequest::get("/")
        .header("x-gone", "1")
        .header("x-b", "old")
        .header("x-add", "1")
        .header("x-set", "a")
        .header("x-set", "b");
    plugin.on_request(&mut req)?;
    assert_eq!(req.header_value("x-gone"), None);
    assert_eq!(
        req.header_values("x-b"),
        ["set", "added"],
        "remove, then set, then add"
    );
    assert_eq!(req.header_values("x-set"), ["one"]);
    assert_eq!(req.header_values("x-add"), ["1", "2"]);
    Ok(())
}

#[test]
fn response_headers_change_and_request_ones_do_not_leak() -> TestResult {
    let mut plugin = load(json!({
        "request": { "headers": { "set": { "x-req": "1" } } },
        "response": { "headers": {
            "remove": ["server"],
            "set": { "cache-control": "no-store" },
            "add": { "vary": "x-user" },
        }},
    }))?;
    plugin.on_request(&mut MockRequest::get("/"))?;
    let mut res = MockResponse::new(200)
        .header("server", "upstream/1.0")
        .header("cache-control", "max-age=60")
        .header("vary", "accept");
    plugin.on_response(&mut res)?;
    assert_eq!(res.header_value("server"), None);
    assert_eq!(res.header_values("cache-control"), ["no-store"]);
    assert_eq!(res.header_values("vary"), ["accept", "x-user"]);
    assert_eq!(res.header_value("x-req"), None);
    Ok(())
}

#[test]
fn path_is_rewritten_from_captures_and_keeps_the_query() -> TestResult {
    let mut plugin = load(json!({ "request": { "path": "/v2/users/{id}/{tab}" } }))?;
    let mut req = MockRequest::get("/users/7/posts?page=2")
        .param("id", "7")
        .param("tab", "posts");
    plugin.on_request(&mut req)?;
    assert_eq!(
        (req.path(), req.query()),
        ("/v2/users/7/posts", Some("page=2"))
    );
    Ok(())
}

#[test]
fn header_templates_use_captures_in_both_phases() -> TestResult {
    let mut plugin = load(json!({
        "request": { "headers": { "set": { "x-user-id": "user-{id}" } } },
        "response": { "headers": { "add": { "x-served-for": "{{{id}}}" } } },
    }))?;
    let mut req = MockRequest::get("/users/42").param("id", "42");
    plugin.on_request(&mut req)?;
    assert_eq!(req.header_value("x-user-id"), Some("user-42"));
    let mut res = MockResponse::new(200);
    plugin.on_response(&mut res)?;
    assert_eq!(res.header_value("x-served-for"), Some("{42}"));
    Ok(())
}

#[test]
fn missing_capture_fails_the_request() -> TestResult {
    let mut plugin = load(json!({ "request": { "path": "/v2/{id}" } }))?;
    let err = plugin.on_request(&mut MockRequest::get("/x")).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("route capture `id` used by \"/v2/{id}\" is missing")
    );
    Ok(())
}

#[test]
fn config_errors_name_the_key() {
    let (key, message) =
        config_error(json!({ "request": { "headers": { "add": { "bad name": "1" } } } }));
    assert_eq!(key, r#"request.headers.add."bad name""#);
    assert_eq!(message, "invalid header name `bad name`");

    let (key, _) =
        config_error(json!({ "response": { "headers": { "remove": ["ok", "no\nway"] } } }));
    assert_eq!(key, "response.headers.remove[1]");

    let (key, message) =
        config_error(json!({ "request": { "headers": { "set": { "x-a": "{oops" } } } }));
    assert_eq!(key, "request.headers.set.x-a");
    assert!(message.starts_with("unclosed `{`"), "{message}");

    let (key, _) =
        config_error(json!({ "request": { "headers": { "set": { "x-a": "a\r\nb" } } } }));
    assert_eq!(key, "request.headers.set.x-a");

    let (key, message) = config_error(json!({ "request": { "path": "v2/{id}" } }));
    assert_eq!(
        (key.as_str(), message.as_str()),
        ("request.path", r#"path "v2/{id}" must start with `/`"#)
    );

    let (key, _) = config_error(json!({ "request": { "path": "/a?b={id}" } }));
    assert_eq!(key, "request.path");

    let (key, _) = config_error(json!({ "request": { "headers": { "append": {} } } }));
    assert_eq!(key, "request.headers.append");

    let (key, _) = config_error(json!({ "response": { "path": "/x" } }));
    assert_eq!(key, "response.path");
}

#[test]
fn the_response_phase_is_held_only_when_a_response_template_reads_a_request_value() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let phase = |config: Value| -> Result<ResponsePhase, Box<dyn std::error::Error>> {
        let mut plugin = host.load::<Transform>(config)?;
        plugin.on_request(&mut MockRequest::get("/"))?;
        Ok(plugin.response_phase())
    };
    let request_only = json!({ "request": { "headers": { "set": { "x-a": "{ctx.consumer}" } } } });
    assert_eq!(phase(request_only)?, ResponsePhase::Skip);
    let literal = json!({ "response": { "headers": { "set": { "x-gateway": "portico" } } } });
    assert_eq!(phase(literal)?, ResponsePhase::AnyInstance);
    let status_only = json!({ "response": { "status_map": { "404": 410 } } });
    assert_eq!(phase(status_only)?, ResponsePhase::AnyInstance);
    let reads = json!({ "response": { "headers": { "set": { "x-user": "{ctx.consumer}" } } } });
    assert_eq!(phase(reads)?, ResponsePhase::SameInstance);
    let body_reads = json!({ "response": { "body": { "set": { "/who": "{header.x-user}" } } } });
    assert_eq!(phase(body_reads)?, ResponsePhase::SameInstance);
    Ok(())
}
