use portico_sdk::Reply;
use portico_sdk::http::StatusCode;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest, MockResponse};
use serde_json::{Value, json};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn load(config: Value) -> Result<MockPlugin<Cors>, portico_sdk::ConfigError> {
    MockHost::with_grants(&[]).load::<Cors>(config)
}

fn config_error(config: Value) -> String {
    match load(config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => err.key().to_owned(),
    }
}

fn preflight(origin: &str) -> MockRequest {
    MockRequest::new(Method::OPTIONS, "/orders")
        .header("origin", origin)
        .header("access-control-request-method", "DELETE")
        .header("access-control-request-headers", "Content-Type, X-Api-Key")
}

fn cors_headers(res: &MockResponse) -> Vec<&str> {
    let mut names = res.header_names();
    names.retain(|n| n.starts_with("access-control-"));
    names
}

#[test]
fn preflight_from_an_allowed_origin_is_answered_with_the_policy() -> TestResult {
    let mut plugin = load(json!({
        "allow_origins": ["https://app.example.com", "https://*.example.org"],
        "allow_methods": ["GET", "DELETE"],
        "allow_headers": ["content-type", "x-api-key"],
        "allow_credentials": true,
        "max_age": "10m",
    }))?;
    let action = plugin.on_request(&mut preflight("https://app.example.com"))?;
    let reply = action.reply().ok_or("preflight forwarded")?;
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
    let expect = [
        ("access-control-allow-origin", "https://app.example.com"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET, DELETE"),
        ("access-control-allow-headers", "content-type, x-api-key"),
        ("access-control-max-age", "600"),
    ];
    for (name, value) in expect {
        assert_eq!(reply.header_value(name), Some(value), "{name}");
    }
    assert!(
        reply
            .header_value("vary")
            .is_some_and(|v| v.starts_with("Origin"))
    );

    // The reply passes back through on_response untouched.
    let mut res = MockResponse::from_reply(reply);
    plugin.on_response(&mut res)?;
    assert_eq!(
        res.header_values("access-control-allow-origin"),
        ["https://app.example.com"]
    );

    let action = plugin.on_request(&mut preflight("https://a.b.example.org"))?;
    assert_eq!(
        action.reply().map(Reply::status),
        Some(StatusCode::NO_CONTENT)
    );
    Ok(())
}

#[test]
fn preflight_from_another_origin_gets_403_without_cors_headers() -> TestResult {
    let mut plugin = load(json!({ "allow_origins": ["https://app.example.com"] }))?;
    let action = plugin.on_request(&mut preflight("https://evil.example"))?;
    let reply = action.reply().ok_or("preflight forwarded")?;
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        reply.header_value("content-type"),
        Some("application/problem+json")
    );
    let res = MockResponse::from_reply(reply);
    assert!(cors_headers(&res).is_empty());
    Ok(())
}

#[test]
fn wildcards_without_credentials_are_sent_as_stars() -> TestResult {
    let mut plugin = load(json!({
        "allow_origins": ["*"], "allow_methods": ["*"], "allow_headers": ["*"],
    }))?;
    let action = plugin.on_request(&mut preflight("https://any.where"))?;
    let reply = action.reply().ok_or("preflight forwarded")?;
    assert_eq!(reply.header_value("access-control-allow-origin"), Some("*"));
    assert_eq!(
        reply.header_value("access-control-allow-methods"),
        Some("*")
    );
    assert_eq!(
        reply.header_value("access-control-allow-headers"),
        Some("*")
    );
    assert_eq!(reply.header_value("access-control-allow-credentials"), None);
    assert_eq!(reply.header_value("access-control-max-age"), None);
    Ok(())
}

#[test]
fn wildcards_with_credentials_echo_what_was_asked() -> TestResult {
    let mut plugin = load(json!({
        "allow_origins": ["*"], "allow_methods": ["*"], "allow_headers": ["*"],
        "expose_headers": ["*"], "allow_credentials": true,
    }))?;
    let action = plugin.on_request(&mut preflight("https://any.where"))?;
    let reply = action.reply().ok_or("preflight forwarded")?;
    assert_eq!(
        reply.header_value("access-control-allow-origin"),
        Some("https://any.where")
    );
    assert_eq!(
        reply.header_value("access-control-allow-methods"),
        Some("DELETE")
    );
    assert_eq!(
        reply.header_value("access-control-allow-headers"),
        Some("content-type, x-api-key")
    );

    let mut req = MockRequest::get("/").header("origin", "https://any.where");
    assert!(plugin.on_request(&mut req)?.is_continue());
    let mut res = MockResponse::new(200).header("x-request-id", "7");
    plugin.on_response(&mut res)?;
    assert_eq!(
        res.header_value("access-control-allow-origin"),
        Some("https://any.where")
    );
    assert_eq!(
        res.header_value("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        res.header_value("access-control-expose-headers"),
        Some("x-request-id")
    );
    assert_eq!(res.header_values("vary"), ["Origin"]);
    Ok(())
}

#[test]
fn actual_requests_get_cors_headers_only_for_allowed_origins() -> TestResult {
    let mut plugin = load(json!({
        "allow_origins": ["https://app.example.com"],
        "expose_headers": ["X-Request-Id", "x-trace"],
    }))?;
    let mut req = MockRequest::post("/").header("origin", "https://app.example.com");
    assert!(plugin.on_request(&mut req)?.is_continue());
    let mut res = MockResponse::new(201).header("vary", "accept-encoding");
    plugin.on_response(&mut res)?;
    assert_eq!(
        res.header_value("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        res.header_value("access-control-expose-headers"),
        Some("x-request-id, x-trace")
    );
    assert_eq!(res.header_value("access-control-allow-credentials"), None);
    assert_eq!(res.header_values("vary"), ["accept-encoding", "Origin"]);

    // Another origin: nothing, and what the upstream said is removed.
    let mut req = MockRequest::get("/").header("origin", "https://evil.example");
    assert!(plugin.on_request(&mut req)?.is_continue());
    let mut res = MockResponse::new(200)
        .header("access-control-allow-origin", "*")
        .header("vary", "origin");
    plugin.on_response(&mut res)?;
    assert!(cors_headers(&res).is_empty());
    assert_eq!(res.header_values("vary"), ["origin"]);

    // No origin: not CORS; still varies by origin.
    plugin.on_request(&mut MockRequest::get("/"))?;
    let mut res = MockResponse::new(200);
    plugin.on_response(&mut res)?;
    assert!(cors_headers(&res).is_empty());
    assert_eq!(res.header_values("vary"), ["Origin"]);
    Ok(())
}

#[test]
fn options_without_a_requested_method_is_an_actual_request() -> TestResult {
    let mut plugin = load(json!({ "allow_origins": ["*"] }))?;
    let mut req = MockRequest::new(Method::OPTIONS, "/").header("origin", "https://a.b");
    assert!(plugin.on_request(&mut req)?.is_continue());
    let mut res = MockResponse::new(200);
    plugin.on_response(&mut res)?;
    assert_eq!(res.header_value("access-control-allow-origin"), Some("*"));
    assert_eq!(res.header_value("vary"), None, "the same for every origin");
    Ok(())
}

#[test]
fn bad_config_names_the_key() {
    assert_eq!(config_error(json!({})), "allow_origins");
    assert_eq!(
        config_error(json!({ "allow_origins": [] })),
        "allow_origins"
    );
    assert_eq!(
        config_error(json!({ "allow_origins": ["https://a.com/"] })),
        "allow_origins[0]"
    );
    assert_eq!(
        config_error(json!({ "allow_origins": ["*"], "allow_methods": ["GET", "*"] })),
        "allow_methods"
    );
    assert_eq!(
        config_error(json!({ "allow_origins": ["*"], "allow_methods": ["G T"] })),
        "allow_methods"
    );
    assert_eq!(
        config_error(json!({ "allow_origins": ["*"], "allow_headers": ["a b"] })),
        "allow_headers"
    );
    for max_age in [json!(-1), json!(600), json!("1500ms")] {
        assert_eq!(
            config_error(json!({ "allow_origins": ["*"], "max_age": max_age })),
            "max_age"
        );
    }
    assert_eq!(
        config_error(json!({ "allow_origins": ["*"], "origins": [] })),
        "origins"
    );
}
