use portico_sdk::http::{Response, StatusCode};
use portico_sdk::outbound::HttpError;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest};
use serde_json::{Value, json};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ENDPOINT: &str = "https://idp.test/introspect";
const GRANTS: [&str; 5] = ["http", "cache", "clock", "context", "log"];

fn config() -> Value {
    json!({
        "endpoint": ENDPOINT,
        "client_id": "gateway",
        "client_secret": "s3cret\n",
        "required_scopes": ["orders:read"],
        "headers": { "sub": "x-user" },
    })
}

fn idp(host: &MockHost, body: Value) {
    host.stub_http(
        "POST",
        ENDPOINT,
        Response::new(body.to_string().into_bytes()),
    );
}

fn load(host: &MockHost, config: Value) -> MockPlugin<Introspection> {
    host.load::<Introspection>(config).expect("config accepted")
}

fn status(action: &Action) -> Option<StatusCode> {
    action.reply().map(|r| r.status())
}

#[test]
fn an_active_token_is_admitted_and_its_answer_cached_until_exp() -> TestResult {
    let host = MockHost::with_grants(&GRANTS);
    let now = host.now_ms() / 1000;
    idp(
        &host,
        json!({ "active": true, "sub": "alice", "client_id": "app", "scope": "orders:read orders:write", "exp": now + 60 }),
    );
    let mut plugin = load(&host, config());
    let mut req = MockRequest::get("/orders")
        .header("authorization", "Bearer tok-1")
        .header("x-user", "forged");
    assert_eq!(plugin.on_request(&mut req)?, Action::Continue);
    assert_eq!(
        req.header_value("x-user"),
        Some("alice"),
        "the forged header is replaced"
    );
    assert_eq!(host.context("consumer").as_deref(), Some("alice"));
    assert_eq!(
        host.context("consumer.groups").as_deref(),
        Some("orders:read,orders:write")
    );
    assert_eq!(host.context("oauth.client_id").as_deref(), Some("app"));

    let sent = host.http_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        sent[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // base64("gateway:s3cret"): the file's newline is not part of the secret.
    assert_eq!(
        sent[0].header("authorization"),
        Some("Basic Z2F0ZXdheTpzM2NyZXQ=")
    );
    assert_eq!(sent[0].body, b"token=tok-1&token_type_hint=access_token");

    // Cached: the IdP is not asked again until the token expires.
    for _ in 0..3 {
        let mut req = MockRequest::get("/orders").header("authorization", "bearer tok-1");
        assert!(plugin.on_request(&mut req)?.is_continue());
    }
    assert_eq!(host.http_requests().len(), 1);
    host.advance(std::time::Duration::from_secs(61));
    idp(&host, json!({ "active": false }));
    let mut req = MockRequest::get("/orders").header("authorization", "Bearer tok-1");
    assert_eq!(
        status(&plugin.on_request(&mut req)?),
        Some(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(host.http_requests().len(), 2, "asked again after exp");
    Ok(())
}

#[test]
fn refusals_carry_rfc6750_challenges() -> TestResult {
    let host = MockHost::with_grants(&GRANTS);
    let mut plugin = load(&host, config());

    let action = plugin.on_request(&mut MockRequest::get("/"))?;
    let reply = action.reply().expect("refused");
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header_value("www-authenticate"),
        Some("Bearer realm=\"portico\"")
    );
    let body: Value = serde_json::from_slice(reply.body_bytes())?;
    assert_eq!(body["type"], "urn:portico:problem:missing-token");
    for bad in ["Basic abc", "Bearer", "Bearer  ", "Bearer a b"] {
        let mut req = MockRequest::get("/").header("authorization", bad);
        assert_eq!(
            status(&plugin.on_request(&mut req)?),
            Some(StatusCode::UNAUTHORIZED),
            "{bad}"
        );
    }
    assert!(
        host.http_requests().is_empty(),
        "nothing to ask the IdP about"
    );

    idp(&host, json!({ "active": false }));
    let action =
        plugin.on_request(&mut MockRequest::get("/").header("authorization", "Bearer gone"))?;
    let challenge = action
        .reply()
        .and_then(|r| r.header_value("www-authenticate"))
        .unwrap_or_default();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    idp(
        &host,
        json!({ "active": true, "sub": "bob", "scope": "orders:write" }),
    );
    let action =
        plugin.on_request(&mut MockRequest::get("/").header("authorization", "Bearer narrow"))?;
    let reply = action.reply().expect("refused");
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        reply.header_value("www-authenticate"),
        Some("Bearer realm=\"portico\", error=\"insufficient_scope\", scope=\"orders:read\"")
    );

    // Expired by its own exp although the IdP says active.
    let now = host.now_ms() / 1000;
    idp(
        &host,
        json!({ "active": true, "sub": "carol", "scope": "orders:read", "exp": now - 1 }),
    );
    let action =
        plugin.on_request(&mut MockRequest::get("/").header("authorization", "Bearer old"))?;
    assert_eq!(status(&action), Some(StatusCode::UNAUTHORIZED));
    Ok(())
}

#[test]
fn an_unreachable_or_broken_idp_fails_closed() -> TestResult {
    let host = MockHost::with_grants(&GRANTS);
    let mut plugin = load(&host, config());
    type Stub = Box<dyn Fn(&MockHost)>;
    let cases: [Stub; 4] = [
        Box::new(|h| h.stub_http_error("POST", ENDPOINT, HttpError::Connect("refused".into()))),
        Box::new(|h| h.stub_http_error("POST", ENDPOINT, HttpError::Timeout)),
        Box::new(|h| {
            let mut response = Response::new(b"oops".to_vec());
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            h.stub_http("POST", ENDPOINT, response)
        }),
        Box::new(|h| h.stub_http("POST", ENDPOINT, Response::new(b"<html>".to_vec()))),
    ];
    for (i, stub) in cases.iter().enumerate() {
        stub(&host);
        let action =
            plugin.on_request(&mut MockRequest::get("/").header("authorization", "Bearer t"))?;
        let reply = action.reply().expect("refused");
        assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE, "case {i}");
        assert_eq!(reply.header_value("retry-after"), Some("1"));
        let body: Value = serde_json::from_slice(reply.body_bytes())?;
        assert_eq!(
            body["type"],
            "urn:portico:problem:introspection-unavailable"
        );
    }
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message.contains("answered 500"))
    );
    Ok(())
}

#[test]
fn post_authentication_and_audience() -> TestResult {
    let host = MockHost::with_grants(&GRANTS);
    let mut config = config();
    config["auth_method"] = json!("post");
    config["audience"] = json!("orders-api");
    config["required_scopes"] = json!([]);
    let mut plugin = load(&host, config);
    idp(
        &host,
        json!({ "active": true, "sub": "dave", "aud": ["billing"] }),
    );
    let action =
        plugin.on_request(&mut MockRequest::get("/").header("authorization", "Bearer a&b"))?;
    assert_eq!(status(&action), Some(StatusCode::FORBIDDEN));
    let sent = &host.http_requests()[0];
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        "token=a%26b&token_type_hint=access_token&client_id=gateway&client_secret=s3cret"
    );
    idp(
        &host,
        json!({ "active": true, "sub": "dave", "aud": "orders-api" }),
    );
    let action =
        plugin.on_request(&mut MockRequest::get("/").header("authorization", "Bearer other"))?;
    assert!(action.is_continue());
    Ok(())
}

#[test]
fn bad_configs_are_refused_at_load() {
    let host = MockHost::with_grants(&GRANTS);
    for (change, key) in [
        (json!({ "endpoint": "idp.test/introspect" }), "endpoint"),
        (json!({ "client_secret": "  " }), "client_secret"),
        (json!({ "auth_method": "jwt" }), "auth_method"),
        (json!({ "headers": { "sub": "bad header" } }), "headers.sub"),
        (json!({ "headers": { "email": "x-email" } }), "headers"),
    ] {
        let mut config = config();
        for (k, v) in change.as_object().expect("object") {
            config[k] = v.clone();
        }
        let error = host.load::<Introspection>(config).err().expect("refused");
        assert_eq!(error.key(), key, "{}", error.message());
    }
}
