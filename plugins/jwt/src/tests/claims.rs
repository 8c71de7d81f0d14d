//! Time window, issuer, audience, required claims; what a passing token
//! hands on (headers, consumer); where the token is read from; the replies.

use portico_sdk::testing::MockRequest;
use serde_json::{Value, json};

use super::mint::issuer;
use super::*;

fn hs_plugin(extra: Value) -> (MockHost, MockPlugin<Jwt>) {
    let mut config = extra;
    config["keys"] = json!([issuer().key_entry("HS256")]);
    load(config)
}

fn token(claims: &Value) -> String {
    issuer().mint(&header("HS256"), claims)
}

fn with(changes: Value) -> Value {
    let mut claims = good_claims();
    for (k, v) in changes.as_object().into_iter().flatten() {
        if v.is_null() {
            claims.as_object_mut().map(|c| c.remove(k));
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[test]
fn exp_and_nbf_are_checked_with_leeway() -> TestResult {
    let (_host, mut plugin) = hs_plugin(json!({ "leeway": "10s" }));
    let cases = [
        (json!({ "exp": NOW - 5 }), true),
        (json!({ "exp": NOW - 10 }), false),
        (json!({ "exp": NOW - 3600 }), false),
        (json!({ "exp": "tomorrow" }), false),
        (json!({ "exp": null }), false),
        (json!({ "nbf": NOW + 5 }), true),
        (json!({ "nbf": NOW + 11 }), false),
        (json!({ "nbf": "now" }), false),
        (json!({ "exp": (NOW as f64) + 0.5 }), true),
    ];
    for (changes, ok) in cases {
        let claims = with(changes.clone());
        assert_eq!(
            passes(&mut plugin, &mut bearer(&token(&claims)))?,
            ok,
            "{changes}"
        );
    }
    Ok(())
}

#[test]
fn exp_can_be_optional() -> TestResult {
    let (_host, mut plugin) = hs_plugin(json!({ "require_exp": false }));
    assert!(passes(
        &mut plugin,
        &mut bearer(&token(&with(json!({ "exp": null }))))
    )?);
    Ok(())
}

#[test]
fn issuer_and_audience_must_be_accepted() -> TestResult {
    let (_host, mut plugin) = hs_plugin(
        json!({ "issuer": ["https://a.example", "https://id.example"], "audience": ["api", "web"] }),
    );
    let cases = [
        (json!({ "iss": "https://a.example" }), true),
        (json!({ "iss": "https://evil.example" }), false),
        (json!({ "iss": null }), false),
        (json!({ "iss": ["https://id.example"] }), false),
        (json!({ "aud": "web" }), true),
        (json!({ "aud": ["other", "web"] }), true),
        (json!({ "aud": ["other"] }), false),
        (json!({ "aud": ["web", 7] }), false),
        (json!({ "aud": "API" }), false),
        (json!({ "aud": null }), false),
    ];
    for (changes, ok) in cases {
        let claims = with(changes.clone());
        assert_eq!(
            passes(&mut plugin, &mut bearer(&token(&claims)))?,
            ok,
            "{changes}"
        );
    }
    Ok(())
}

#[test]
fn required_claims_must_be_present() -> TestResult {
    let (_host, mut plugin) = hs_plugin(json!({ "required_claims": ["sub", "scope"] }));
    assert!(!passes(&mut plugin, &mut bearer(&token(&good_claims())))?);
    assert!(!passes(
        &mut plugin,
        &mut bearer(&token(&with(json!({ "scope": null }))))
    )?);
    assert!(passes(
        &mut plugin,
        &mut bearer(&token(&with(json!({ "scope": "read" }))))
    )?);
    Ok(())
}

#[test]
fn claims_are_forwarded_and_client_copies_removed() -> TestResult {
    let (host, mut plugin) = hs_plugin(json!({
        "forward_claims": { "sub": "x-user", "scope": "x-scope", "roles": "x-roles", "org": "x-org", "bad": "x-bad" },
    }));
    let claims = with(
        json!({ "scope": "read write", "roles": ["admin", "ops"], "org": { "id": 7 }, "bad": "a\r\nx-evil: 1" }),
    );
    let mut req = bearer(&token(&claims))
        .header("x-user", "root")
        .header("x-user", "root2")
        .header("x-bad", "client");
    assert!(passes(&mut plugin, &mut req)?);
    assert_eq!(req.header_values("x-user"), ["alice"]);
    assert_eq!(req.header_value("x-scope"), Some("read write"));
    assert_eq!(req.header_value("x-roles"), Some("admin,ops"));
    assert_eq!(req.header_value("x-org"), Some(r#"{"id":7}"#));
    assert_eq!(
        req.header_value("x-bad"),
        None,
        "not forwarded, client copy gone"
    );
    assert_eq!(host.context("consumer").as_deref(), Some("alice"));

    // Rejected requests lose the client's copies too.
    host.clear_context();
    let mut req = MockRequest::get("/").header("x-user", "root");
    assert!(plugin.on_request(&mut req)?.reply().is_some());
    assert_eq!(req.header_value("x-user"), None);
    assert_eq!(host.context("consumer"), None);
    Ok(())
}

#[test]
fn consumer_comes_from_the_configured_claim() -> TestResult {
    let (host, mut plugin) = hs_plugin(json!({ "consumer_claim": "client_id" }));
    assert!(passes(
        &mut plugin,
        &mut bearer(&token(&with(json!({ "client_id": "shop" }))))
    )?);
    assert_eq!(host.context("consumer").as_deref(), Some("shop"));
    Ok(())
}

#[test]
fn missing_token_gets_a_challenge_without_error() -> TestResult {
    let (_host, mut plugin) = hs_plugin(json!({ "realm": "orders" }));
    for mut req in [
        MockRequest::get("/"),
        MockRequest::get("/").header("authorization", "Basic YWxhZGRpbjpvcGVu"),
        MockRequest::get("/").header("authorization", "Bearer "),
    ] {
        let action = plugin.on_request(&mut req)?;
        let reply = action.reply().ok_or("no reply")?;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.header_value("www-authenticate"),
            Some(r#"Bearer realm="orders""#)
        );
        assert_eq!(
            reply.header_value("content-type"),
            Some("application/problem+json")
        );
        let body: Value = serde_json::from_slice(reply.body_bytes())?;
        assert_eq!(
            body,
            json!({ "type": "urn:portico:problem:missing-token", "title": "Authentication required", "status": 401 })
        );
    }
    Ok(())
}

#[test]
fn invalid_token_reply_says_nothing_more() -> TestResult {
    let (host, mut plugin) = hs_plugin(json!({}));
    let expired = token(&with(json!({ "exp": NOW - 3600 })));
    let action = plugin.on_request(&mut bearer(&expired))?;
    let reply = action.reply().ok_or("no reply")?;
    let body: Value = serde_json::from_slice(reply.body_bytes())?;
    assert_eq!(
        body,
        json!({ "type": "urn:portico:problem:invalid-token", "title": "Invalid token", "status": 401 })
    );
    assert_eq!(
        reply.header_value("www-authenticate"),
        Some(r#"Bearer realm="api", error="invalid_token""#)
    );
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message == "rejected a token for GET /: expired"),
        "{:?}",
        host.logs()
    );
    Ok(())
}

#[test]
fn token_from_another_header_or_the_query() -> TestResult {
    let good = token(&good_claims());
    let (_host, mut plugin) = hs_plugin(json!({ "token": { "header": "x-token", "scheme": "" } }));
    assert!(passes(
        &mut plugin,
        &mut MockRequest::get("/").header("x-token", &good)
    )?);
    assert!(
        plugin.on_request(&mut bearer(&good))?.reply().is_some(),
        "authorization is not read"
    );

    let (_host, mut plugin) = hs_plugin(json!({ "token": { "query": "access_token" } }));
    assert!(passes(
        &mut plugin,
        &mut MockRequest::get(&format!("/x?a=1&access_token={good}"))
    )?);
    let twice = format!("/x?access_token={good}&access_token={good}");
    assert!(!passes(&mut plugin, &mut MockRequest::get(&twice))?);
    Ok(())
}

#[test]
fn two_bearer_tokens_are_refused() -> TestResult {
    let (_host, mut plugin) = hs_plugin(json!({}));
    let good = token(&good_claims());
    let mut req = bearer(&good).header("authorization", &format!("Bearer {good}"));
    assert!(!passes(&mut plugin, &mut req)?);
    let mut lower = MockRequest::get("/").header("authorization", &format!("bearer {good}"));
    assert!(
        passes(&mut plugin, &mut lower)?,
        "the scheme is case-insensitive"
    );
    Ok(())
}

#[test]
fn groups_claim_fills_the_consumer_groups() -> TestResult {
    let (host, mut plugin) = hs_plugin(json!({ "groups_claim": "groups" }));
    let claims = with(json!({ "groups": ["admin", "bad,name", 7, "beta"] }));
    assert!(passes(&mut plugin, &mut bearer(&token(&claims)))?);
    assert_eq!(
        host.context("consumer.groups").as_deref(),
        Some("admin,beta")
    );

    let (host, mut plugin) = hs_plugin(json!({ "groups_claim": "scope" }));
    let claims = with(json!({ "scope": "orders:read  orders:write" }));
    assert!(passes(&mut plugin, &mut bearer(&token(&claims)))?);
    assert_eq!(
        host.context("consumer.groups").as_deref(),
        Some("orders:read,orders:write")
    );
    // A token without the claim has no groups (not a stale value).
    host.set_context("consumer.groups", "stale");
    assert!(passes(&mut plugin, &mut bearer(&token(&good_claims())))?);
    assert_eq!(host.context("consumer.groups").as_deref(), Some(""));
    Ok(())
}
