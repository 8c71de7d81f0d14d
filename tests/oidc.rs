//! `jwt-oidc` through the real gateway against a real HTTPS identity
//! provider (test CA, 127.0.0.1): the key set found by OIDC discovery and
//! fetched over the `http` capability, once for many requests; a key
//! rotation picked up on the first token with the new `kid`, the removed
//! key refused after; the known attacks refused; the IdP down (the last
//! good set serves) and a route that never had a set (503, then recovery).
//! And `jwt`'s whole attack table, refused by `jwt-oidc` with the
//! issuer's keys published as a JWKS.

use crate::support;
use crate::support::idp::Idp;

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestGateway;
use support::builder::{Cap, Gateway, plugin};

#[path = "../plugins/jwt-oidc/src/tests/signer.rs"]
mod signer;
use signer::Signer;

const INVALID: &str = r#"Bearer realm="api", error="invalid_token""#;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A gateway whose `/orders` verifies tokens of `idp`'s issuer with
/// `jwt-oidc` (discovery, refetch spacing 1 s, sets fresh for `max_age_s` seconds).
async fn gateway(idp: &Idp, max_age_s: u64) -> (TestGateway, tempfile::TempDir) {
    gateway_for(idp, max_age_s, "orders").await
}

/// [`gateway`] accepting tokens for `audience`.
async fn gateway_for(
    idp: &Idp,
    max_age_s: u64,
    audience: &str,
) -> (TestGateway, tempfile::TempDir) {
    let (dir, ca) = idp.ca_file();
    let gw = Gateway::builder()
        .runtime("deadline_ms = 2000")
        .echo("orders")
        .route("orders", |r| {
            r.prefix("/orders").plugin(
                plugin("jwt-oidc")
                    .grant([Cap::Http, Cap::Cache, Cap::Clock, Cap::Context, Cap::Log])
                    .key(&format!(
                        "http = {{ allow = [\"{}\"], ca_file = \"{}\", timeout_ms = 2000 }}",
                        idp.origin(),
                        ca.display()
                    ))
                    .config("issuer", &idp.issuer())
                    .config("audience", audience)
                    .config("refresh_interval", "1s")
                    .config("max_age", &format!("{max_age_s}s"))
                    .config_toml("forward_claims", r#"{ sub = "x-user" }"#),
            )
        })
        .start()
        .await;
    (gw, dir)
}

async fn get(gw: &TestGateway, token: &str) -> support::TestResponse {
    let auth = format!("Bearer {token}");
    gw.send(Method::GET, "/orders/7", &[("authorization", &auth)], "")
        .await
}

fn publish(idp: &Idp, keys: &[&Signer]) {
    let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
    idp.publish_jwks(json!({ "keys": keys }));
}

fn refused(response: &support::TestResponse, what: &str) {
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(response.header("www-authenticate"), Some(INVALID), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_oidc_discovers_the_keys_follows_a_rotation_and_survives_the_idp_going_down() {
    let idp = Idp::start().await;
    let (k1, k2) = (Signer::new("k1"), Signer::new("k2"));
    publish(&idp, &[&k1]);
    let (gw, _dir) = gateway(&idp, 3).await;

    for _ in 0..5 {
        let response = get(&gw, &k1.token(&idp.issuer(), now_ms())).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(
            response.json()["headers"]
                .as_array()
                .and_then(|h| h.iter().find(|h| h[0] == "x-user"))
                .and_then(|h| h[1].as_str()),
            Some("alice")
        );
    }
    assert_eq!(idp.key_fetches(), 2, "metadata and key set, once");

    // Tokens the issuer's keys do not vouch for.
    let issuer = idp.issuer();
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims =
        json!({ "iss": issuer, "aud": "orders", "sub": "mallory", "exp": now_ms() / 1000 + 600 });
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "kid": "k1" })),
        b64(&claims)
    );
    refused(&get(&gw, &unsigned).await, "alg none");
    let stranger = Signer::new("k1");
    refused(
        &get(&gw, &stranger.token(&issuer, now_ms())).await,
        "signed by another key with a known kid",
    );
    let foreign = k1.token("https://evil.example", now_ms());
    refused(&get(&gw, &foreign).await, "another issuer");

    // The IdP rotates to k2: the first k2 token fetches the set again.
    publish(&idp, &[&k2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = idp.key_fetches();
    assert_eq!(
        get(&gw, &k2.token(&issuer, now_ms())).await.status,
        StatusCode::OK
    );
    assert_eq!(idp.key_fetches(), before + 2, "refetched for the new kid");
    refused(&get(&gw, &k1.token(&issuer, now_ms())).await, "k1 removed");

    // Down, past max_age: the last good set serves, the failure is logged.
    idp.set_down(true);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    for _ in 0..3 {
        assert_eq!(
            get(&gw, &k2.token(&issuer, now_ms())).await.status,
            StatusCode::OK,
            "the last good set serves while the IdP is down"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_oidc_without_a_key_set_fails_closed_then_recovers() {
    let idp = Idp::start().await;
    let k1 = Signer::new("k1");
    publish(&idp, &[&k1]);
    idp.set_down(true);
    let (gw, _dir) = gateway(&idp, 300).await;
    let token = k1.token(&idp.issuer(), now_ms());

    let response = get(&gw, &token).await;
    let problem = response.problem(StatusCode::SERVICE_UNAVAILABLE, "jwks-unavailable");
    assert_eq!(problem["plugin"], "jwt-oidc");
    assert_eq!(response.header("retry-after"), Some("1"));

    idp.set_down(false);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get(&gw, &token).await.status != StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_oidc_refuses_every_attack_of_the_jwt_table() {
    use crate::jwt::mint::{ALGS, issuer};
    let idp = Idp::start().await;
    // Every asymmetric test key, published (an IdP publishes no secrets).
    let published: Vec<&str> = ALGS.into_iter().filter(|a| !a.starts_with("HS")).collect();
    let keys: Vec<Value> = published.iter().map(|alg| issuer().jwk(alg)).collect();
    idp.publish_jwks(json!({ "keys": keys }));
    let (gw, _dir) = gateway_for(&idp, 300, "api").await;
    let iss = idp.issuer();
    // The control: each published key's tokens pass, so a refusal below is
    // the attack's doing.
    for alg in &published {
        let token = issuer().mint(
            &json!({ "alg": alg, "kid": alg }),
            &crate::jwt::claims_from(&iss),
        );
        assert_eq!(
            crate::jwt::send(&gw, &token, &[]).await.status,
            StatusCode::OK,
            "{alg}"
        );
    }
    for (what, token) in crate::jwt::attacks(&iss) {
        let response = crate::jwt::send(&gw, &token, &[("x-user", "root")]).await;
        crate::jwt::assert_rejected(&response, what);
    }
    gw.shutdown().await;
}
