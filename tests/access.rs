//! Access-control plugins through the real gateway: `api-key` (alone and
//! handing the consumer to a later plugin), `cors` (preflights and actual
//! requests) and `ip-rules` (the connection's address and a trusted proxy's
//! header).

use crate::support;

use http::{Method, StatusCode};
use support::TestGateway;
use support::builder::{Cap, Gateway, PluginBuilder, RouteBuilder, plugin};

/// `printf %s s3cret-alice | sha256sum`
const ALICE_SHA256: &str = "9788c3e78b4a24850f34cd3df989e95c0d0df9e9b3c59f192d821047557e75ea";

/// A gateway with one route, `guarded` (every path), through `chain` to an
/// echo upstream.
async fn route_with(chain: impl IntoIterator<Item = PluginBuilder>) -> TestGateway {
    Gateway::builder()
        .echo("origin")
        .route("guarded", |r| {
            chain.into_iter().fold(r, RouteBuilder::plugin)
        })
        .start()
        .await
}

/// `api-key` for realm `orders` knowing alice's key (groups `admin`,
/// `beta`), with `extra` config keys (`, query = "api_key"`).
fn api_key(extra: &str) -> PluginBuilder {
    plugin("api-key").grant([Cap::Context]).config_table(&format!(
        r#"realm = "orders", keys = [{{ sha256 = "{ALICE_SHA256}", consumer = "alice", groups = ["admin", "beta"] }}]{extra}"#
    ))
}

/// `probe` sending the consumer and its groups upstream as headers.
fn probe_consumer() -> PluginBuilder {
    plugin("probe").grant([Cap::Kv, Cap::Context]).config_toml(
        "context_to_header",
        r#"{ consumer = "x-consumer", "consumer.groups" = "x-consumer-groups" }"#,
    )
}

#[tokio::test]
async fn api_key_admits_good_keys_and_hands_the_consumer_on() {
    let gw = route_with([api_key(r#", query = "api_key""#), probe_consumer()]).await;

    let ok = gw
        .send(Method::GET, "/orders", &[("x-api-key", "s3cret-alice")], "")
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.upstream_saw("x-consumer"),
        ["alice"],
        "context reached the next plugin"
    );
    assert_eq!(ok.upstream_saw("x-consumer-groups"), ["admin,beta"]);
    assert!(
        ok.upstream_saw("x-api-key").is_empty(),
        "the key never goes upstream"
    );

    let by_query = gw.get("/orders?page=2&api_key=s3cret-alice").await;
    assert_eq!(by_query.status, StatusCode::OK);
    assert_eq!(
        by_query.json()["query"],
        "page=2",
        "the key is cut from the query"
    );
    assert_eq!(by_query.upstream_saw("x-consumer"), ["alice"]);
}

#[tokio::test]
async fn api_key_refuses_missing_and_wrong_keys_with_401() {
    let gw = route_with([api_key(""), probe_consumer()]).await;
    let cases = [
        (vec![], r#"ApiKey realm="orders""#),
        (
            vec![("x-api-key", "s3cret-bob")],
            r#"ApiKey realm="orders", error="invalid_key""#,
        ),
        (
            vec![("x-api-key", ALICE_SHA256)],
            r#"ApiKey realm="orders", error="invalid_key""#,
        ),
    ];
    for (headers, challenge) in cases {
        let refused = gw.send(Method::GET, "/orders", &headers, "").await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(refused.header("www-authenticate"), Some(challenge));
        assert_eq!(
            refused.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(refused.json()["status"], 401);
        assert_eq!(
            refused.header("x-upstream"),
            None,
            "the upstream was not called"
        );
    }
    let by_query = gw.get("/orders?api_key=s3cret-alice").await;
    assert_eq!(
        by_query.status,
        StatusCode::UNAUTHORIZED,
        "query keys are off unless configured"
    );
}

#[tokio::test]
async fn api_key_config_with_a_plain_key_is_refused_at_load() {
    let errors = Gateway::builder()
        .echo("origin")
        .route("guarded", |r| {
            r.plugin(plugin("api-key").grant([Cap::Context]).config_toml(
                "keys",
                r#"[{ sha256 = "s3cret-alice", consumer = "alice" }]"#,
            ))
        })
        .try_start()
        .await
        .err()
        .unwrap_or_default();
    assert!(errors.contains("keys[0].sha256"), "{errors}");
    assert!(
        !errors.contains("s3cret-alice"),
        "the plain key is not repeated: {errors}"
    );
}

fn cors() -> PluginBuilder {
    plugin("cors").config_table(
        r#"allow_origins = ["https://app.example.com", "https://*.example.org"], allow_methods = ["GET", "POST"], allow_headers = ["content-type", "x-api-key"], expose_headers = ["x-upstream"], allow_credentials = true, max_age = "10m""#,
    )
}

fn preflight(origin: &str) -> Vec<(&str, &str)> {
    vec![
        ("origin", origin),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ]
}

#[tokio::test]
async fn cors_answers_preflights_at_the_gateway() {
    // cors first, so preflights (which carry no key) are answered before api-key.
    let gw = route_with([cors(), api_key("")]).await;

    let answer = gw
        .send(
            Method::OPTIONS,
            "/orders",
            &preflight("https://a.example.org"),
            "",
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://a.example.org")
    );
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("GET, POST")
    );
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("content-type, x-api-key")
    );
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(answer.header("access-control-max-age"), Some("600"));
    assert!(answer.header("vary").is_some_and(|v| v.contains("Origin")));
    assert_eq!(
        answer.header("x-upstream"),
        None,
        "the upstream never sees a preflight"
    );

    let refused = gw
        .send(
            Method::OPTIONS,
            "/orders",
            &preflight("https://evil.example"),
            "",
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        refused
            .headers
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-"))
    );
}

#[tokio::test]
async fn cors_headers_on_actual_requests_only_for_allowed_origins() {
    let gw = route_with([cors(), api_key("")]).await;
    let key = ("x-api-key", "s3cret-alice");

    let allowed = gw
        .send(
            Method::GET,
            "/orders",
            &[("origin", "https://app.example.com"), key],
            "",
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        allowed.header("access-control-expose-headers"),
        Some("x-upstream")
    );
    assert_eq!(allowed.header("vary"), Some("Origin"));

    // A rejection by a later plugin is readable by the page too.
    let unauthorized = gw
        .send(
            Method::GET,
            "/orders",
            &[("origin", "https://app.example.com")],
            "",
        )
        .await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unauthorized.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );

    let other = gw
        .send(
            Method::GET,
            "/orders",
            &[("origin", "https://evil.example"), key],
            "",
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "CORS is the browser's to enforce"
    );
    assert!(
        other
            .headers
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-"))
    );
}

fn ip_rules(config: &str) -> [PluginBuilder; 1] {
    [plugin("ip-rules").config_table(config)]
}

#[tokio::test]
async fn ip_rules_judge_the_connection_address() {
    let allowed = route_with(ip_rules(
        r#"allow = ["127.0.0.0/8", "::1"], deny = ["127.0.0.2"]"#,
    ))
    .await;
    assert_eq!(allowed.get("/").await.status, StatusCode::OK);

    let denied = route_with(ip_rules(r#"allow = ["0.0.0.0/0"], deny = ["127.0.0.1"]"#)).await;
    let refused = denied.get("/").await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "deny wins over allow"
    );
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.json()["type"], "urn:portico:problem:forbidden");
    assert_eq!(refused.header("x-upstream"), None);

    let not_listed = route_with(ip_rules(r#"allow = ["10.0.0.0/8"]"#)).await;
    assert_eq!(not_listed.get("/").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ip_rules_believe_a_trusted_proxys_header_only() {
    let trusted = route_with(ip_rules(
        r#"deny = ["203.0.113.0/24"], client_address = { header = "x-real-ip", trusted_proxies = ["127.0.0.1", "10.0.0.0/8"] }"#,
    ))
    .await;
    let status = |real_ip: &'static str| {
        let gw = &trusted;
        async move {
            gw.send(Method::GET, "/", &[("x-real-ip", real_ip)], "")
                .await
                .status
        }
    };
    assert_eq!(status("198.51.100.1").await, StatusCode::OK);
    assert_eq!(status("203.0.113.9").await, StatusCode::FORBIDDEN);
    assert_eq!(
        status("203.0.113.9, 10.0.0.5").await,
        StatusCode::FORBIDDEN,
        "trusted hops skipped"
    );
    assert_eq!(
        status("203.0.113.9, 198.51.100.1").await,
        StatusCode::OK,
        "rightmost untrusted"
    );
    assert_eq!(
        trusted.get("/").await.status,
        StatusCode::OK,
        "no header: the connection"
    );

    // The gateway's own X-Forwarded-For (the connection) is all plugins see of it.
    let spoofed = trusted
        .send(Method::GET, "/", &[("x-forwarded-for", "203.0.113.9")], "")
        .await;
    assert_eq!(spoofed.status, StatusCode::OK);
    assert_eq!(spoofed.upstream_saw("x-forwarded-for"), ["127.0.0.1"]);

    let untrusted = route_with(ip_rules(
        r#"deny = ["127.0.0.1"], client_address = { header = "x-real-ip", trusted_proxies = ["10.0.0.0/8"] }"#,
    ))
    .await;
    let laundering = untrusted
        .send(Method::GET, "/", &[("x-real-ip", "198.51.100.1")], "")
        .await;
    assert_eq!(
        laundering.status,
        StatusCode::FORBIDDEN,
        "an untrusted peer's header is ignored"
    );
}
