//! `jwt-oidc` against the mock host: discovery and the key set stubbed per
//! URL, tokens signed with ES256 keys made here.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portico_sdk::Action;
use portico_sdk::http::{Response, StatusCode};
use portico_sdk::outbound::HttpError;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest};
use serde_json::{Value, json};

use crate::JwtOidc;

mod signer;
use signer::Signer;

const ISSUER: &str = "https://id.example.com";
const DISCOVERY: &str = "https://id.example.com/.well-known/openid-configuration";
const JWKS: &str = "https://id.example.com/keys";
const GRANTS: [&str; 5] = ["http", "cache", "clock", "context", "log"];
const NOW_MS: u64 = 1_800_000_000_000;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn json_response(body: &Value) -> Response<Vec<u8>> {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .expect("response")
}

/// A host whose IdP publishes `keys`, discoverable at the issuer.
fn host_publishing(keys: &[&Signer]) -> MockHost {
    let host = MockHost::with_grants(&GRANTS);
    host.set_time_ms(NOW_MS);
    host.stub_http(
        "GET",
        DISCOVERY,
        json_response(&json!({ "issuer": ISSUER, "jwks_uri": JWKS })),
    );
    publish(&host, keys);
    host
}

fn publish(host: &MockHost, keys: &[&Signer]) {
    let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
    host.stub_http("GET", JWKS, json_response(&json!({ "keys": keys })));
}

fn load(host: &MockHost, extra: Value) -> Result<MockPlugin<JwtOidc>, Box<dyn std::error::Error>> {
    let mut config = json!({ "issuer": ISSUER, "audience": "orders" });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    Ok(host.load::<JwtOidc>(config)?)
}

/// The status a request with `token` gets: 200 when let through.
fn status(plugin: &mut MockPlugin<JwtOidc>, token: &str) -> u16 {
    let mut req = MockRequest::get("/orders").header("authorization", &format!("Bearer {token}"));
    match plugin.on_request(&mut req) {
        Ok(Action::Continue) => 200,
        Ok(Action::Respond(reply)) => reply.status().as_u16(),
        Err(err) => panic!("{err}"),
    }
}

fn fetched(host: &MockHost) -> Vec<String> {
    host.http_requests().into_iter().map(|r| r.url).collect()
}

#[test]
fn discovers_the_key_set_once_and_verifies_many_tokens_with_it() -> TestResult {
    let k1 = Signer::new("k1");
    let host = host_publishing(&[&k1]);
    let mut plugin = load(&host, json!({}))?;
    for _ in 0..5 {
        assert_eq!(status(&mut plugin, &k1.token(ISSUER, NOW_MS)), 200);
    }
    assert_eq!(fetched(&host), [DISCOVERY, JWKS], "fetched once");
    assert_eq!(host.context("consumer").as_deref(), Some("alice"));
    // A token signed by a key the IdP never published: refused, and (the
    // last fetch moments ago) no fetch.
    let stranger = Signer::new("k1");
    assert_eq!(status(&mut plugin, &stranger.token(ISSUER, NOW_MS)), 401);
    assert_eq!(fetched(&host).len(), 2);
    Ok(())
}

#[test]
fn a_rotated_key_is_picked_up_at_most_once_per_interval_and_a_removed_one_refused() -> TestResult {
    let (k1, k2) = (Signer::new("k1"), Signer::new("k2"));
    let host = host_publishing(&[&k1]);
    let mut plugin = load(&host, json!({ "refresh_interval": "1m", "max_age": "1h" }))?;
    assert_eq!(status(&mut plugin, &k1.token(ISSUER, NOW_MS)), 200);
    // The IdP rotates to k2 and drops k1.
    publish(&host, &[&k2]);
    host.advance(Duration::from_secs(10));
    assert_eq!(
        status(&mut plugin, &k2.token(ISSUER, NOW_MS)),
        401,
        "unknown kid, but the last fetch was 10 s ago"
    );
    assert_eq!(fetched(&host).len(), 2);
    host.advance(Duration::from_secs(50));
    assert_eq!(
        status(&mut plugin, &k2.token(ISSUER, NOW_MS)),
        200,
        "refetched"
    );
    assert_eq!(fetched(&host).len(), 4);
    assert_eq!(
        status(&mut plugin, &k1.token(ISSUER, NOW_MS)),
        401,
        "k1 was removed"
    );
    assert_eq!(status(&mut plugin, &k2.token(ISSUER, NOW_MS)), 200);
    assert_eq!(fetched(&host).len(), 4, "no fetch for the removed key");
    Ok(())
}

#[test]
fn an_idp_down_fails_closed_without_keys_and_the_last_good_set_serves_after() -> TestResult {
    let k1 = Signer::new("k1");
    let host = host_publishing(&[&k1]);
    host.stub_http_error("GET", DISCOVERY, HttpError::Connect("refused".into()));
    let mut plugin = load(&host, json!({ "refresh_interval": "5s", "max_age": "1m" }))?;
    let mut req = MockRequest::get("/").header(
        "authorization",
        &format!("Bearer {}", k1.token(ISSUER, NOW_MS)),
    );
    let Action::Respond(reply) = plugin.on_request(&mut req)? else {
        panic!("let through without keys");
    };
    assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header_value("retry-after"), Some("1"));
    let body: Value = serde_json::from_slice(reply.body_bytes())?;
    assert_eq!(body["type"], "urn:portico:problem:jwks-unavailable");
    // Within a second: not asked again.
    assert_eq!(status(&mut plugin, &k1.token(ISSUER, NOW_MS)), 503);
    assert_eq!(fetched(&host), [DISCOVERY]);

    // The IdP is back: the set is fetched and verifies.
    host.stub_http(
        "GET",
        DISCOVERY,
        json_response(&json!({ "issuer": ISSUER, "jwks_uri": JWKS })),
    );
    host.advance(Duration::from_secs(1));
    assert_eq!(status(&mut plugin, &k1.token(ISSUER, NOW_MS)), 200);
    // Down again, long past max_age: the last good set keeps serving.
    host.stub_http_error("GET", JWKS, HttpError::Timeout);
    host.advance(Duration::from_secs(600));
    assert_eq!(status(&mut plugin, &k1.token(ISSUER, NOW_MS)), 200);
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message.contains("serves on") && l.message.contains("timeout")),
        "{:?}",
        host.logs()
    );
    Ok(())
}

#[test]
fn metadata_for_another_issuer_and_symmetric_published_keys_are_refused() -> TestResult {
    let k1 = Signer::new("k1");
    let host = host_publishing(&[&k1]);
    host.stub_http(
        "GET",
        DISCOVERY,
        json_response(&json!({ "issuer": "https://evil.example", "jwks_uri": JWKS })),
    );
    let mut plugin = load(&host, json!({}))?;
    assert_eq!(status(&mut plugin, &k1.token(ISSUER, NOW_MS)), 503);
    assert!(host.logs().iter().any(|l| {
        l.message
            .contains("metadata is for issuer `https://evil.example`")
    }));

    // A set with only an `oct` key (a secret anyone could fetch) has no
    // usable key; beside an EC key it is left out.
    let host = MockHost::with_grants(&GRANTS);
    host.set_time_ms(NOW_MS);
    let oct =
        json!({ "kty": "oct", "kid": "s", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode([7u8; 32]) });
    host.stub_http(
        "GET",
        JWKS,
        json_response(&json!({ "keys": [oct, k1.jwk()] })),
    );
    let mut plugin = load(&host, json!({ "jwks_uri": JWKS }))?;
    assert_eq!(status(&mut plugin, &k1.token(ISSUER, NOW_MS)), 200);
    assert_eq!(fetched(&host), [JWKS], "no discovery with jwks_uri");
    assert!(host.logs().iter().any(|l| l.message.contains("symmetric")));
    Ok(())
}

#[test]
fn config_errors_say_which_plugin_a_key_belongs_to() {
    let host = MockHost::with_grants(&GRANTS);
    let error = |config: Value| match host.load::<JwtOidc>(config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => err.message().to_owned(),
    };
    let with_keys = error(json!({
        "issuer": ISSUER, "audience": "a",
        "keys": [{ "alg": "HS256", "secret": "0123456789abcdef0123456789abcdef" }],
    }));
    assert!(with_keys.contains("`jwt` keys"), "{with_keys}");
    let plain_http = error(
        json!({ "issuer": ISSUER, "audience": "a", "jwks_uri": "http://id.example.com/keys" }),
    );
    assert!(plain_http.contains("https:// only"), "{plain_http}");
    let spacing = error(
        json!({ "issuer": ISSUER, "audience": "a", "refresh_interval": "10m", "max_age": "1m" }),
    );
    assert!(spacing.contains("max_age"), "{spacing}");
    let host = MockHost::with_grants(&["log", "clock", "context"]);
    let jwt_with_uri = match host
        .load::<jwt::Jwt>(json!({ "issuer": ISSUER, "audience": "a", "jwks_uri": JWKS }))
    {
        Ok(_) => panic!("jwt took jwks_uri"),
        Err(err) => err.message().to_owned(),
    };
    assert!(jwt_with_uri.contains("`jwt-oidc` keys"), "{jwt_with_uri}");
}
