//! `hmac-auth` through the real gateway: requests signed here as a client
//! would (RFC 9421, hmac-sha256, a `Content-Digest` over the body); the
//! consumer reaching a later plugin; a changed body, a changed path and an
//! unsigned request refused; and a signature used once refused again, on
//! the same gateway and, with the replay counter in a real Redis, on a
//! second gateway.

use crate::support;
use crate::support::redis::RedisServer;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{Method, StatusCode};
use sha2::{Digest, Sha256};
use support::TestGateway;
use support::builder::{Cap, Gateway, plugin};

const SECRET: &str = "the billing service's shared secret, 32+ bytes";

async fn gateway(state_table: Option<&str>) -> TestGateway {
    let builder = Gateway::builder().echo("origin");
    let builder = match state_table {
        Some(table) => builder.table(table),
        None => builder,
    };
    builder
        .route("api", |r| {
            r.plugin(
                plugin("hmac-auth")
                    .grant([Cap::Kv, Cap::Clock, Cap::Context, Cap::Log])
                    .config_toml(
                        "keys",
                        &format!(
                            r#"[{{ id = "billing", secret = "{SECRET}", groups = ["internal"] }}]"#
                        ),
                    ),
            )
            .plugin(plugin("probe").grant([Cap::Kv, Cap::Context]).config_toml(
                "context_to_header",
                r#"{ consumer = "x-consumer", "consumer.groups" = "x-groups" }"#,
            ))
        })
        .start()
        .await
}

/// The headers a client signing `POST path` with `body` for `gw` sends.
fn sign(gw: &TestGateway, path: &str, body: &str) -> Vec<(String, String)> {
    signed_headers(&gw.addr.to_string(), "billing", SECRET, path, body)
}

/// The headers a client holding `secret` as key `keyid` sends for
/// `POST path` with `body` to `authority`; each signature has its own
/// `nonce` (two signatures of the same request in the same second are
/// otherwise the same bytes: a replay).
pub(crate) fn signed_headers(
    authority: &str,
    keyid: &str,
    secret: &str,
    path: &str,
    body: &str,
) -> Vec<(String, String)> {
    let digest = format!(
        "sha-256=:{}:",
        STANDARD.encode(Sha256::digest(body.as_bytes()))
    );
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let nonce = NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let input = format!(
        r#"("@method" "@authority" "@path" "@query" "content-digest");created={created};keyid="{keyid}";alg="hmac-sha256";nonce="n{nonce}""#
    );
    let base = format!(
        "\"@method\": POST\n\"@authority\": {authority}\n\"@path\": {path}\n\"@query\": ?\n\"content-digest\": {digest}\n\"@signature-params\": {input}"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(base.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    vec![
        ("content-digest".into(), digest),
        ("signature-input".into(), format!("sig1={input}")),
        ("signature".into(), format!("sig1=:{signature}:")),
    ]
}

async fn post(
    gw: &TestGateway,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> support::TestResponse {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    gw.send(Method::POST, path, &headers, body).await
}

fn upstream_saw(response: &support::TestResponse, name: &str) -> Option<String> {
    response.json()["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0] == name)
        .and_then(|h| h[1].as_str())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_auth_lets_signed_requests_through_and_refuses_changes_and_replays() {
    let gw = gateway(None).await;
    let body = r#"{"invoice": 42}"#;
    let headers = sign(&gw, "/invoices", body);
    let admitted = post(&gw, "/invoices", &headers, body).await;
    assert_eq!(admitted.status, StatusCode::OK);
    assert_eq!(
        upstream_saw(&admitted, "x-consumer").as_deref(),
        Some("billing")
    );
    assert_eq!(
        upstream_saw(&admitted, "x-groups").as_deref(),
        Some("internal")
    );

    let replayed = post(&gw, "/invoices", &headers, body).await;
    replayed.problem(StatusCode::UNAUTHORIZED, "invalid-signature");
    let fresh = sign(&gw, "/invoices", body);
    let changed_body = post(&gw, "/invoices", &fresh, r#"{"invoice": 43}"#).await;
    changed_body.problem(StatusCode::UNAUTHORIZED, "invalid-signature");
    let changed_path = post(&gw, "/refunds", &fresh, body).await;
    changed_path.problem(StatusCode::UNAUTHORIZED, "invalid-signature");
    let unsigned = gw.send(Method::POST, "/invoices", &[], body).await;
    unsigned.problem(StatusCode::UNAUTHORIZED, "missing-signature");
    assert!(
        unsigned
            .header("accept-signature")
            .is_some_and(|a| a.contains(r#"alg="hmac-sha256""#)),
        "{:?}",
        unsigned.headers
    );
    // The fresh signature was never admitted, so it still passes once.
    assert_eq!(
        post(&gw, "/invoices", &fresh, body).await.status,
        StatusCode::OK
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_used_on_one_gateway_is_a_replay_on_another_sharing_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let table = redis.state_table();
    let (a, b) = (gateway(Some(&table)).await, gateway(Some(&table)).await);
    let body = r#"{"invoice": 7}"#;
    // Signed for `a`'s authority, then the same request sent to `b` with
    // `a`'s Host (as a load balancer in front of both would).
    let headers = sign(&a, "/invoices", body);
    assert_eq!(
        post(&a, "/invoices", &headers, body).await.status,
        StatusCode::OK
    );
    let mut to_b = headers.clone();
    to_b.push(("host".into(), a.addr.to_string()));
    let replayed = post(&b, "/invoices", &to_b, body).await;
    replayed.problem(StatusCode::UNAUTHORIZED, "invalid-signature");
    a.shutdown().await;
    b.shutdown().await;
}
