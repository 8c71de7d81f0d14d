use portico_sdk::http::StatusCode;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest};
use serde_json::{Value, json};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn load(config: Value) -> Result<MockPlugin<IpRules>, portico_sdk::ConfigError> {
    MockHost::with_grants(&[]).load::<IpRules>(config)
}

fn config_error(config: Value) -> (String, String) {
    match load(config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => (err.key().to_owned(), err.message().to_owned()),
    }
}

/// The status for a request from `peer` with `x-real-ip` values.
fn status(plugin: &mut MockPlugin<IpRules>, peer: &str, real_ip: &[&str]) -> Result<u16, Error> {
    let mut req = real_ip
        .iter()
        .fold(MockRequest::get("/").client_addr(peer), |req, value| {
            req.header("x-real-ip", value)
        });
    let action = plugin.on_request(&mut req)?;
    Ok(action.reply().map_or(200, |reply| reply.status().as_u16()))
}

#[test]
fn deny_wins_over_allow() -> TestResult {
    let mut plugin = load(json!({
        "allow": ["10.0.0.0/8", "2001:db8::/32"],
        "deny": ["10.0.0.13", "2001:db8:bad::/48"],
    }))?;
    assert_eq!(status(&mut plugin, "10.1.2.3", &[])?, 200);
    assert_eq!(status(&mut plugin, "10.0.0.13", &[])?, 403);
    assert_eq!(status(&mut plugin, "192.0.2.1", &[])?, 403, "not allowed");
    assert_eq!(status(&mut plugin, "2001:db8::1", &[])?, 200);
    assert_eq!(status(&mut plugin, "2001:db8:bad::1", &[])?, 403);
    assert_eq!(
        status(&mut plugin, "::ffff:10.0.0.13", &[])?,
        403,
        "mapped v4"
    );
    Ok(())
}

#[test]
fn deny_only_lets_everyone_else_through_and_403_is_problem_json() -> TestResult {
    let mut plugin = load(json!({ "deny": ["203.0.113.0/24"] }))?;
    assert_eq!(status(&mut plugin, "198.51.100.1", &[])?, 200);
    let action = plugin.on_request(&mut MockRequest::get("/").client_addr("203.0.113.9"))?;
    let reply = action.reply().ok_or("denied address let through")?;
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        reply.header_value("content-type"),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_slice(reply.body_bytes())?;
    assert_eq!(body["type"], "urn:portico:problem:forbidden");
    assert!(!String::from_utf8_lossy(reply.body_bytes()).contains("203.0.113.9"));
    Ok(())
}

#[test]
fn the_header_counts_only_from_trusted_proxies() -> TestResult {
    let mut plugin = load(json!({
        "deny": ["203.0.113.0/24"],
        "client_address": { "header": "X-Real-IP", "trusted_proxies": ["10.0.0.0/8"] },
    }))?;
    assert_eq!(status(&mut plugin, "10.0.0.2", &["203.0.113.9"])?, 403);
    assert_eq!(status(&mut plugin, "10.0.0.2", &["198.51.100.1"])?, 200);
    assert_eq!(
        status(&mut plugin, "198.51.100.1", &["203.0.113.9"])?,
        200,
        "untrusted peer"
    );
    assert_eq!(
        status(&mut plugin, "203.0.113.9", &["198.51.100.1"])?,
        403,
        "no laundering"
    );
    // A client's prepended lie does not hide it.
    assert_eq!(
        status(&mut plugin, "10.0.0.2", &["198.51.100.1, 203.0.113.9"])?,
        403
    );
    assert_eq!(
        status(&mut plugin, "10.0.0.2", &["not-an-ip"])?,
        403,
        "fail closed"
    );
    Ok(())
}

#[test]
fn bad_config_names_the_key() {
    assert_eq!(config_error(json!({})).0, "");
    assert_eq!(
        config_error(json!({ "allow": ["10.0.0.1/8"] })).0,
        "allow[0]"
    );
    assert_eq!(config_error(json!({ "deny": ["x"] })).0, "deny[0]");
    assert_eq!(
        config_error(json!({ "deny": ["::1"], "alow": [] })).0,
        "alow"
    );
    let proxy = |header: &str, trusted: Value| json!({ "deny": ["::1"], "client_address": { "header": header, "trusted_proxies": trusted } });
    let (key, message) = config_error(proxy("X-Forwarded-For", json!(["10.0.0.0/8"])));
    assert_eq!(key, "client_address.header");
    assert!(message.contains("x-real-ip"), "{message}");
    assert_eq!(
        config_error(proxy("forwarded", json!(["10.0.0.0/8"]))).0,
        "client_address.header"
    );
    assert_eq!(
        config_error(proxy("x-real-ip", json!([]))).0,
        "client_address.trusted_proxies"
    );
    assert_eq!(
        config_error(proxy("x-real-ip", json!(["10/8"]))).0,
        "client_address.trusted_proxies[0]"
    );
}
