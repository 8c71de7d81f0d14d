use portico_sdk::testing::{MockHost, MockPlugin, MockRequest, MockResponse};
use serde_json::{Value, json};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn load(host: &MockHost, config: Value) -> Result<MockPlugin<Probe>, portico_sdk::ConfigError> {
    host.load::<Probe>(config)
}

#[test]
fn no_options_no_effects_and_no_capabilities() -> TestResult {
    let host = MockHost::with_grants(&["kv", "context"]);
    let mut plugin = load(&host, json!({}))?;
    let mut req = MockRequest::get("/").header("x-stop", "1");
    assert_eq!(plugin.on_request(&mut req)?, Action::Continue);
    assert_eq!(req.header_names(), ["x-stop"]);
    let mut res = MockResponse::new(200);
    plugin.on_response(&mut res)?;
    assert!(res.header_names().is_empty());
    Ok(())
}

#[test]
fn chain_order_is_visible_both_ways() -> TestResult {
    let host = MockHost::with_grants(&["kv", "context"]);
    let mut a = load(&host, json!({ "tag": "a" }))?;
    let mut b = load(&host, json!({ "tag": "b" }))?;
    let mut req = MockRequest::get("/");
    a.on_request(&mut req)?;
    b.on_request(&mut req)?;
    assert_eq!(req.header_values("x-chain"), ["a", "b"]);
    let mut res = MockResponse::new(200);
    b.on_response(&mut res)?;
    a.on_response(&mut res)?;
    assert_eq!(res.header_values("x-chain-response"), ["b", "a"]);
    Ok(())
}

#[test]
fn respond_if_header_stops_with_403() -> TestResult {
    let host = MockHost::with_grants(&["kv", "context"]);
    let mut plugin = load(&host, json!({ "tag": "b", "respond_if_header": "X-Stop" }))?;
    assert!(plugin.on_request(&mut MockRequest::get("/"))?.is_continue());

    let action = plugin.on_request(&mut MockRequest::get("/").header("x-stop", "yes"))?;
    let reply = action.reply().ok_or("no reply")?;
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    assert_eq!(reply.header_value("x-stopped-by"), Some("b"));
    assert_eq!(reply.body_bytes(), b"stopped by b");

    let mut untagged = load(&host, json!({ "respond_if_header": "x-stop" }))?;
    let action = untagged.on_request(&mut MockRequest::get("/").header("x-stop", "1"))?;
    assert_eq!(
        action.reply().map(|r| r.body_bytes()),
        Some(&b"stopped by probe"[..])
    );
    Ok(())
}

#[test]
fn context_flows_from_one_plugin_to_the_next() -> TestResult {
    let host = MockHost::with_grants(&["kv", "context"]);
    let mut auth = load(
        &host,
        json!({ "context_set": { "consumer": "from-header:x-user", "tier": "gold" } }),
    )?;
    let mut forward = load(
        &host,
        json!({ "context_to_header": { "consumer": "x-consumer", "tier": "x-tier", "none": "x-none" } }),
    )?;
    let mut req = MockRequest::get("/").header("x-user", "alice");
    auth.on_request(&mut req)?;
    forward.on_request(&mut req)?;
    assert_eq!(host.context("consumer").as_deref(), Some("alice"));
    assert_eq!(req.header_value("x-consumer"), Some("alice"));
    assert_eq!(req.header_value("x-tier"), Some("gold"));
    assert_eq!(req.header_value("x-none"), None);

    host.clear_context();
    auth.on_request(&mut MockRequest::get("/"))?;
    assert_eq!(host.context("consumer"), None, "absent header: key not set");
    Ok(())
}

#[test]
fn count_key_increments_and_reports() -> TestResult {
    let host = MockHost::with_grants(&["kv", "context"]);
    let mut plugin = load(&host, json!({ "count_key": "hits" }))?;
    for expected in ["1", "2", "3"] {
        plugin.on_request(&mut MockRequest::get("/"))?;
        let mut res = MockResponse::new(200);
        plugin.on_response(&mut res)?;
        assert_eq!(res.header_value("x-count"), Some(expected));
    }
    assert_eq!(host.kv_get::<Probe>("hits").as_deref(), Some(&b"3"[..]));
    Ok(())
}

#[test]
fn body_length_goes_upstream() -> TestResult {
    let host = MockHost::with_grants(&["kv", "context"]);
    let mut plugin = load(&host, json!({ "body_to_header": true }))?;
    let mut req = MockRequest::post("/").body("twelve bytes");
    plugin.on_request(&mut req)?;
    assert_eq!(req.header_value("x-body-len"), Some("12"));
    assert_eq!(req.body_bytes(), b"twelve bytes");

    let mut req = MockRequest::post("/").body(vec![0; 20]).max_body_bytes(10);
    assert!(plugin.on_request(&mut req).is_err());
    Ok(())
}

#[test]
fn bad_config_names_the_key() {
    let host = MockHost::with_grants(&["kv", "context"]);
    let key = |config| load(&host, config).err().map(|e| e.key().to_owned());
    assert_eq!(
        key(json!({ "context_set": { "c": "from-header:bad name" } })).as_deref(),
        Some("context_set.c")
    );
    assert_eq!(
        key(json!({ "respond_if_header": "" })).as_deref(),
        Some("respond_if_header")
    );
    assert_eq!(key(json!({ "tag": "a\nb" })).as_deref(), Some("tag"));
    assert_eq!(key(json!({ "count": "hits" })).as_deref(), Some("count"));
}

#[test]
fn bytes_of_reports_a_header_as_bytes_and_as_text() -> TestResult {
    let host = MockHost::with_grants(&["kv", "context"]);
    let mut plugin = load(&host, json!({ "bytes_of": "x-raw" }))?;
    let mut req = MockRequest::get("/").header_bytes("x-raw", b"caf\xe9");
    plugin.on_request(&mut req)?;
    assert_eq!(req.header_value("x-bytes-hex"), Some("636166e9"));
    assert_eq!(
        req.header_value("x-text-hex"),
        Some("636166efbfbd"),
        "the text read has U+FFFD for the byte that is not UTF-8"
    );
    Ok(())
}
