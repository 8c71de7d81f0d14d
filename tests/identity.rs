//! Identity through the real gateway: `oauth2-introspection` asking a real
//! HTTPS identity provider (test CA, 127.0.0.1) over the `http`
//! capability. Active, inactive, expired and narrow tokens; one IdP call
//! for many requests (the cache); the IdP down (503, fail closed) and
//! back; a slow IdP bounded by the grant's timeout; and a destination the
//! grant does not allow, refused before any connection is made. And
//! `basic-auth` (argon2id and bcrypt) and `api-key` feeding one `acl`.

use crate::support;
use crate::support::idp::{CLIENT_ID, CLIENT_SECRET, Idp};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::json;
use support::TestGateway;
use support::builder::{Cap, Gateway, PluginBuilder, plugin};

/// The plugin entry: `http` granted for `allow`, the IdP's CA trusted.
fn introspection(
    endpoint: &str,
    allow: &str,
    ca: &std::path::Path,
    timeout_ms: u64,
) -> PluginBuilder {
    plugin("oauth2-introspection")
        .grant([Cap::Http, Cap::Cache, Cap::Clock, Cap::Context, Cap::Log])
        .key(&format!(
            "http = {{ allow = [\"{allow}\"], ca_file = \"{}\", timeout_ms = {timeout_ms} }}",
            ca.display()
        ))
        .config("endpoint", endpoint)
        .config("client_id", CLIENT_ID)
        .config("client_secret", CLIENT_SECRET)
        .config_toml("required_scopes", r#"["orders:read"]"#)
        .config_toml("headers", r#"{ sub = "x-user" }"#)
}

async fn gateway(
    idp: &Idp,
    endpoint: &str,
    allow: &str,
    timeout_ms: u64,
) -> (TestGateway, tempfile::TempDir) {
    let (dir, ca) = idp.ca_file();
    let gw = Gateway::builder()
        .runtime("deadline_ms = 2000")
        .echo("orders")
        .route("orders", |r| {
            r.prefix("/orders")
                .plugin(introspection(endpoint, allow, &ca, timeout_ms))
        })
        .start()
        .await;
    (gw, dir)
}

async fn get(gw: &TestGateway, token: Option<&str>) -> support::TestResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    gw.send(Method::GET, "/orders/7", &headers, "").await
}

fn forwarded<'a>(body: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    body["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0] == name)
        .and_then(|h| h[1].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_admits_active_tokens_once_per_token_and_refuses_the_rest() {
    let idp = Idp::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    idp.token(
        "good",
        json!({ "active": true, "sub": "alice", "scope": "orders:read", "exp": now + 600 }),
    );
    idp.token(
        "narrow",
        json!({ "active": true, "sub": "bob", "scope": "billing:read", "exp": now + 600 }),
    );
    idp.token(
        "expired",
        json!({ "active": true, "sub": "carol", "scope": "orders:read", "exp": now - 5 }),
    );
    let (gw, _dir) = gateway(&idp, &idp.endpoint(), &idp.origin(), 2000).await;

    // Ten requests with one token: one introspection call.
    for _ in 0..10 {
        let response = get(&gw, Some("good")).await;
        assert_eq!(response.status, StatusCode::OK);
        let body = response.json();
        assert_eq!(forwarded(&body, "x-user"), Some("alice"));
        assert_eq!(forwarded(&body, "authorization"), Some("Bearer good"));
    }
    assert_eq!(idp.calls(), 1, "the active answer is cached");

    let missing = get(&gw, None).await;
    missing.problem(StatusCode::UNAUTHORIZED, "missing-token");
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"portico\"")
    );
    for token in ["unknown", "expired"] {
        let refused = get(&gw, Some(token)).await;
        refused.problem(StatusCode::UNAUTHORIZED, "invalid-token");
        assert!(
            refused
                .header("www-authenticate")
                .is_some_and(|c| c.contains("error=\"invalid_token\"")),
            "{token}"
        );
    }
    let narrow = get(&gw, Some("narrow")).await;
    narrow.problem(StatusCode::FORBIDDEN, "insufficient-scope");
    assert_eq!(
        narrow.header("www-authenticate"),
        Some("Bearer realm=\"portico\", error=\"insufficient_scope\", scope=\"orders:read\"")
    );
    assert_eq!(
        idp.calls(),
        4,
        "refused tokens are asked about each time, never cached"
    );

    // The IdP goes down: a token not yet cached fails closed; a cached one
    // still passes. Back up: introspection works again.
    idp.set_down(true);
    idp.token(
        "fresh",
        json!({ "active": true, "sub": "dave", "scope": "orders:read", "exp": now + 600 }),
    );
    let refused = get(&gw, Some("fresh")).await;
    refused.problem(StatusCode::SERVICE_UNAVAILABLE, "introspection-unavailable");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(get(&gw, Some("good")).await.status, StatusCode::OK);
    idp.set_down(false);
    assert_eq!(get(&gw, Some("fresh")).await.status, StatusCode::OK);

    let metrics = String::from_utf8_lossy(&gw.admin_get("/metrics").await.body).into_owned();
    let destination = format!("https://localhost:{}", idp.addr.port());
    let line = format!(
        "portico_plugin_http_requests_total{{plugin=\"oauth2-introspection\",destination=\"{destination}\",outcome=\"2xx\"}}"
    );
    assert!(metrics.lines().any(|l| l.starts_with(&line)), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_idp_is_bounded_by_the_grant_timeout() {
    let idp = Idp::start().await;
    idp.token(
        "good",
        json!({ "active": true, "sub": "alice", "scope": "orders:read" }),
    );
    idp.set_delay(Duration::from_secs(5));
    let (gw, _dir) = gateway(&idp, &idp.endpoint(), &idp.origin(), 300).await;
    let started = Instant::now();
    let response = get(&gw, Some("good")).await;
    let took = started.elapsed();
    response.problem(StatusCode::SERVICE_UNAVAILABLE, "introspection-unavailable");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "answered after {took:?} with a 300 ms timeout"
    );
    let metrics = String::from_utf8_lossy(&gw.admin_get("/metrics").await.body).into_owned();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("portico_plugin_http_requests_total")
                && l.contains("outcome=\"timeout\"")),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_the_grant_does_not_allow_is_never_contacted() {
    let idp = Idp::start().await;
    idp.token(
        "good",
        json!({ "active": true, "sub": "alice", "scope": "orders:read" }),
    );
    // The grant allows another port of the same host: the IdP is not in it.
    let other: SocketAddr = support::backends::dead_addr();
    let allow = format!("https://localhost:{}", other.port());
    let (gw, _dir) = gateway(&idp, &idp.endpoint(), &allow, 2000).await;
    let response = get(&gw, Some("good")).await;
    response.problem(StatusCode::SERVICE_UNAVAILABLE, "introspection-unavailable");
    assert_eq!(
        idp.connections(),
        0,
        "nothing was sent to a destination outside the grant"
    );
    let metrics = String::from_utf8_lossy(&gw.admin_get("/metrics").await.body).into_owned();
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "portico_plugin_http_requests_total{plugin=\"oauth2-introspection\",destination=\"-\",outcome=\"denied\"}"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_http_grant_is_checked_with_the_config() {
    let without_table = Gateway::builder().echo("orders").route("r", |r| {
        r.plugin(plugin("oauth2-introspection").grant([
            Cap::Http,
            Cap::Cache,
            Cap::Clock,
            Cap::Context,
            Cap::Log,
        ]))
    });
    let error = without_table.try_start().await.err().expect("refused");
    assert!(
        error.contains("routes[0].plugins[0].http")
            && error.contains("required by capability `http`"),
        "{error}"
    );
    let bad_allow = Gateway::builder().echo("orders").route("r", |r| {
        r.plugin(
            plugin("oauth2-introspection")
                .grant([Cap::Http])
                .key("http = { allow = [\"ftp://idp\"], timeout_ms = 0 }"),
        )
    });
    let error = bad_allow.try_start().await.err().expect("refused");
    assert!(
        error.contains("routes[0].plugins[0].http.allow[0]")
            && error.contains("the scheme must be http or https"),
        "{error}"
    );
    assert!(
        error.contains("routes[0].plugins[0].http.timeout_ms"),
        "{error}"
    );
}

/// argon2id (m=1024, t=1) of `alice-pass`.
const ALICE_ARGON2: &str = "$argon2id$v=19$m=1024,t=1,p=1$cG9ydGljby10ZXN0LXNhbHQ$HUxu8xHZgA+0CNbsDeU5rbzse2xgqmIM3tFSikbvYOw";
/// bcrypt (cost 4) of `bob-pass`.
const BOB_BCRYPT: &str = "$2b$04$aE7wbEjhZwzxWUvyJRC0WeZLmHzueoNV7uN/gBd0frbVHAgoZec6a";

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `acl`: admins and `orders` members in, `suspended` out.
fn acl() -> PluginBuilder {
    plugin("acl")
        .grant([Cap::Context])
        .config_toml("allow", r#"{ groups = ["admin", "orders"] }"#)
        .config_toml("deny", r#"{ groups = ["suspended"] }"#)
}

#[tokio::test]
async fn basic_auth_and_api_key_feed_one_acl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let htpasswd = dir.path().join("users.htpasswd");
    std::fs::write(&htpasswd, format!("bob:{BOB_BCRYPT}\n")).expect("htpasswd");
    let users = format!(
        r#"[{{ username = "alice", hash = "{ALICE_ARGON2}", groups = ["admin"] }}, {{ username = "carol", hash = "{ALICE_ARGON2}", groups = ["admin", "suspended"] }}]"#
    );
    let keys = format!(
        r#"[{{ sha256 = "{}", consumer = "svc-orders", groups = ["orders"] }}, {{ sha256 = "{}", consumer = "svc-other", groups = ["reports"] }}]"#,
        sha256_hex("key-orders"),
        sha256_hex("key-other")
    );
    let gw = Gateway::builder()
        .echo("orders")
        .route("people", |r| {
            r.prefix("/people")
                .plugin(
                    plugin("basic-auth")
                        .grant([Cap::Context])
                        .key(&format!(
                            "config_files = {{ htpasswd = \"{}\" }}",
                            htpasswd.display()
                        ))
                        .config("realm", "orders")
                        .config_toml("users", &users),
                )
                .plugin(acl())
        })
        .route("services", |r| {
            r.prefix("/services")
                .plugin(
                    plugin("api-key")
                        .grant([Cap::Context])
                        .config_toml("keys", &keys),
                )
                .plugin(acl())
        })
        .start()
        .await;
    let send = |path: &'static str, header: (&'static str, String)| {
        let gw = &gw;
        async move {
            gw.send(Method::GET, path, &[(header.0, header.1.as_str())], "")
                .await
        }
    };

    // basic-auth: good (argon2id from the config, bcrypt from the file),
    // wrong, unknown and malformed credentials.
    let alice = send("/people", ("authorization", basic("alice", "alice-pass"))).await;
    assert_eq!(alice.status, StatusCode::OK);
    assert_eq!(
        forwarded(&alice.json(), "authorization"),
        None,
        "credentials never go upstream"
    );
    // bob is in no allowed group: authenticated, then refused by the acl.
    let bob = send("/people", ("authorization", basic("bob", "bob-pass"))).await;
    bob.problem(StatusCode::FORBIDDEN, "forbidden");
    for bad in [
        basic("alice", "wrong"),
        basic("mallory", "alice-pass"),
        "Basic not*base64".to_owned(),
        "Bearer alice-pass".to_owned(),
    ] {
        let refused = send("/people", ("authorization", bad.clone())).await;
        refused.problem(StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(
            refused.header("www-authenticate"),
            Some("Basic realm=\"orders\", charset=\"UTF-8\""),
            "{bad}"
        );
    }
    // Deny wins over allow: carol is an admin but suspended.
    let carol = send("/people", ("authorization", basic("carol", "alice-pass"))).await;
    carol.problem(StatusCode::FORBIDDEN, "forbidden");

    // The same acl after api-key: groups from the key's entry.
    let orders = send("/services", ("x-api-key", "key-orders".to_owned())).await;
    assert_eq!(orders.status, StatusCode::OK);
    let other = send("/services", ("x-api-key", "key-other".to_owned())).await;
    other.problem(StatusCode::FORBIDDEN, "forbidden");
}
