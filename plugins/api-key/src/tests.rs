use portico_sdk::http::StatusCode;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest};
use serde_json::{Value, json};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `printf %s s3cret-alice | sha256sum`
const ALICE: &str = "9788c3e78b4a24850f34cd3df989e95c0d0df9e9b3c59f192d821047557e75ea";
/// `printf %s s3cret-bob | sha256sum`
const BOB: &str = "082581a032f2325b8e195d6eb60081399d7a684b10caae724d153acea9d61fd3";

fn keys() -> Value {
    json!([
        { "sha256": ALICE, "consumer": "alice", "groups": ["admin", "beta"] },
        { "sha256": BOB.to_uppercase(), "consumer": "bob" },
    ])
}

fn load(host: &MockHost, config: Value) -> Result<MockPlugin<ApiKey>, portico_sdk::ConfigError> {
    host.load::<ApiKey>(config)
}

fn config_error(config: Value) -> (String, String) {
    match load(&MockHost::with_grants(&["context"]), config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => (err.key().to_owned(), err.message().to_owned()),
    }
}

#[test]
fn a_good_key_names_the_consumer_and_is_removed() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let mut plugin = load(&host, json!({ "keys": keys() }))?;
    let mut req = MockRequest::get("/orders")
        .header("X-Api-Key", "s3cret-alice")
        .header("x-other", "1");
    assert_eq!(plugin.on_request(&mut req)?, Action::Continue);
    assert_eq!(
        req.header_names(),
        ["x-other"],
        "the key never goes upstream"
    );
    assert_eq!(host.context("consumer").as_deref(), Some("alice"));
    assert_eq!(
        host.context("consumer.groups").as_deref(),
        Some("admin,beta")
    );

    host.clear_context();
    let mut req = MockRequest::get("/").header("x-api-key", "s3cret-bob");
    assert!(
        plugin.on_request(&mut req)?.is_continue(),
        "hashes are case-insensitive hex"
    );
    assert_eq!(host.context("consumer").as_deref(), Some("bob"));
    assert_eq!(host.context("consumer.groups").as_deref(), Some(""));
    Ok(())
}

#[test]
fn missing_and_wrong_keys_get_401_with_a_challenge() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let mut plugin = load(&host, json!({ "keys": keys(), "realm": "orders api" }))?;

    let action = plugin.on_request(&mut MockRequest::get("/"))?;
    let reply = action.reply().ok_or("missing key let through")?;
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header_value("www-authenticate"),
        Some(r#"ApiKey realm="orders api""#)
    );
    assert_eq!(
        reply.header_value("content-type"),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_slice(reply.body_bytes())?;
    assert_eq!(body["status"], 401);
    assert_eq!(body["type"], "urn:portico:problem:unauthorized");

    for wrong in ["s3cret-alicE", "", ALICE] {
        let mut req = MockRequest::get("/").header("x-api-key", wrong);
        let action = plugin.on_request(&mut req)?;
        let reply = action.reply().ok_or("wrong key let through")?;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(!String::from_utf8_lossy(reply.body_bytes()).contains(wrong) || wrong.is_empty());
    }
    let mut req = MockRequest::get("/").header("x-api-key", "nope");
    let action = plugin.on_request(&mut req)?;
    assert_eq!(
        action
            .reply()
            .and_then(|r| r.header_value("www-authenticate")),
        Some(r#"ApiKey realm="orders api", error="invalid_key""#)
    );
    assert_eq!(host.context("consumer"), None);
    Ok(())
}

#[test]
fn keys_from_the_query_are_accepted_when_configured_and_removed() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let mut plugin = load(&host, json!({ "keys": keys(), "query": "api_key" }))?;
    let mut req = MockRequest::get("/x?a=1&api_key=s3cret-bob&b=2");
    assert!(plugin.on_request(&mut req)?.is_continue());
    assert_eq!(req.query(), Some("a=1&b=2"));
    assert_eq!(host.context("consumer").as_deref(), Some("bob"));

    let mut req = MockRequest::get("/x?api_key=s3cret-alice");
    assert!(plugin.on_request(&mut req)?.is_continue());
    assert_eq!(req.query(), None);

    // The header wins; both copies are removed.
    let mut req = MockRequest::get("/x?api_key=s3cret-bob").header("x-api-key", "wrong");
    assert!(plugin.on_request(&mut req)?.reply().is_some());
    let mut req = MockRequest::get("/x?api_key=wrong&z=1").header("x-api-key", "s3cret-alice");
    assert!(plugin.on_request(&mut req)?.is_continue());
    assert_eq!(
        (req.query(), req.header_value("x-api-key")),
        (Some("z=1"), None)
    );
    Ok(())
}

#[test]
fn the_query_is_ignored_unless_configured_and_the_header_is_configurable() -> TestResult {
    let host = MockHost::with_grants(&["context"]);
    let mut plugin = load(
        &host,
        json!({ "keys": keys(), "header": "Authorization-Key" }),
    )?;
    let mut req = MockRequest::get("/x?api_key=s3cret-bob");
    assert!(plugin.on_request(&mut req)?.reply().is_some());
    assert_eq!(req.query(), Some("api_key=s3cret-bob"), "not ours to touch");
    let mut req = MockRequest::get("/").header("authorization-key", "s3cret-bob");
    assert!(plugin.on_request(&mut req)?.is_continue());
    Ok(())
}

#[test]
fn plain_keys_and_bad_entries_are_refused_without_echoing_them() {
    let (key, message) = config_error(json!({ "keys": [
        { "sha256": ALICE, "consumer": "alice" },
        { "sha256": "s3cret-bob", "consumer": "bob" },
    ]}));
    assert_eq!(key, "keys[1].sha256");
    assert!(message.contains("64 hex digits"), "{message}");
    assert!(
        !message.contains("s3cret-bob"),
        "the value is never repeated: {message}"
    );

    let not_hex = format!("{}zz", &ALICE[..62]);
    assert_eq!(
        config_error(json!({ "keys": [{ "sha256": not_hex, "consumer": "a" }] })).0,
        "keys[0].sha256"
    );
    assert_eq!(config_error(json!({})).0, "keys");
    assert_eq!(config_error(json!({ "keys": [] })).0, "keys");
    let (key, message) = config_error(json!({ "keys": [
        { "sha256": ALICE, "consumer": "a" }, { "sha256": ALICE.to_uppercase(), "consumer": "b" },
    ]}));
    assert_eq!(
        (key.as_str(), message.as_str()),
        ("keys", "keys[1] has the same sha256 as keys[0]")
    );
    assert_eq!(
        config_error(json!({ "keys": [{ "sha256": ALICE, "consumer": "a,b" }] })).0,
        "keys[0].consumer"
    );
    assert_eq!(
        config_error(json!({ "keys": [{ "sha256": ALICE, "consumer": "a", "groups": [""] }] })).0,
        "keys[0].groups[0]"
    );
    assert_eq!(
        config_error(json!({ "keys": [{ "sha256": ALICE, "consumer": "a", "key": "x" }] })).0,
        "keys[0].key"
    );
    assert_eq!(
        config_error(json!({ "keys": keys(), "header": "bad name" })).0,
        "header"
    );
    assert_eq!(
        config_error(json!({ "keys": keys(), "query": "a=b" })).0,
        "query"
    );
    assert_eq!(
        config_error(json!({ "keys": keys(), "realm": "a\"b" })).0,
        "realm"
    );
}
