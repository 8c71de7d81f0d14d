//! The `jwt` plugin through the real gateway: tokens minted here with real
//! keys for every algorithm, every known attack refused with 401 and the
//! RFC 6750 challenge, claims forwarded as headers, the subject reaching a
//! later plugin as `consumer`, and a JWKS file given with `config_files`.

#[path = "../plugins/jwt/src/tests/mint.rs"]
pub(crate) mod mint;
use crate::support;

use http::{Method, StatusCode};
use mint::{ALGS, attacker, b64, issuer, mint_with};
use serde_json::{Value, json};
use support::TestGateway;
use support::builder::{Cap, Gateway, GatewayBuilder, PluginBuilder, plugin};

const NOW_SLACK: u64 = 600;
const INVALID: &str = r#"Bearer realm="api", error="invalid_token""#;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn claims() -> Value {
    claims_from("https://id.example")
}

/// Good claims from `iss`, for audience `api`.
pub(crate) fn claims_from(iss: &str) -> Value {
    json!({ "iss": iss, "aud": ["other", "api"], "sub": "alice",
            "scope": "orders:read", "exp": now() + NOW_SLACK, "nbf": now() - 5 })
}

/// JSON as a TOML inline value (JSON strings are valid TOML basic strings).
fn toml(value: &Value) -> String {
    match value {
        Value::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{} = {}", Value::String(k.clone()), toml(v)))
                .collect();
            format!("{{ {} }}", members.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// Route `api` (every path) to an echo upstream through `jwt` (config
/// `jwt_config`, plus `extra` plugin-entry keys), then `probe`, which
/// copies the `consumer` context value into `x-consumer` upstream.
fn jwt_gateway(jwt_config: &Value, extra: Option<&str>) -> GatewayBuilder {
    let inline = toml(jwt_config);
    let body = inline
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .expect("the jwt config is an object");
    let jwt = plugin("jwt")
        .grant([Cap::Log, Cap::Clock, Cap::Context])
        .config_table(body.trim());
    let jwt = extra.into_iter().fold(jwt, PluginBuilder::key);
    Gateway::builder().echo("origin").route("api", |r| {
        r.plugin(jwt).plugin(
            plugin("probe")
                .grant([Cap::Kv, Cap::Context])
                .config_toml("context_to_header", r#"{ consumer = "x-consumer" }"#),
        )
    })
}

fn jwt_config(keys: Value) -> Value {
    json!({
        "issuer": "https://id.example",
        "audience": "api",
        "keys": keys,
        "forward_claims": { "sub": "x-user", "scope": "x-scope" },
    })
}

async fn all_keys_gateway() -> TestGateway {
    let keys: Vec<Value> = ALGS.iter().map(|alg| issuer().key_entry(alg)).collect();
    jwt_gateway(&jwt_config(json!(keys)), None).start().await
}

pub(crate) async fn send(
    gw: &TestGateway,
    token: &str,
    headers: &[(&str, &str)],
) -> support::TestResponse {
    let auth = format!("Bearer {token}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    gw.send(Method::GET, "/orders", &all, "").await
}

pub(crate) fn assert_rejected(response: &support::TestResponse, what: &str) {
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(response.header("www-authenticate"), Some(INVALID), "{what}");
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    assert_eq!(
        response.header("x-upstream"),
        None,
        "{what}: the upstream was called"
    );
    assert_eq!(
        response.json(),
        json!({ "type": "urn:portico:problem:invalid-token", "title": "Invalid token", "status": 401 }),
        "{what}"
    );
}

#[tokio::test]
async fn every_algorithm_passes_and_hands_on_its_claims() {
    let gw = all_keys_gateway().await;
    for alg in ALGS {
        let token = issuer().mint(&json!({ "alg": alg, "kid": alg, "typ": "JWT" }), &claims());
        let response = send(&gw, &token, &[("x-user", "root"), ("x-consumer", "root")]).await;
        assert_eq!(response.status, StatusCode::OK, "{alg}");
        assert_eq!(
            response.upstream_saw("x-user"),
            ["alice"],
            "{alg}: client copy replaced"
        );
        assert_eq!(response.upstream_saw("x-scope"), ["orders:read"], "{alg}");
        assert_eq!(
            response.upstream_saw("x-consumer"),
            ["alice"],
            "{alg}: consumer reached probe"
        );
    }
}

#[tokio::test]
async fn missing_token_gets_a_bare_challenge() {
    let gw = all_keys_gateway().await;
    let response = gw.get("/orders").await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.header("www-authenticate"),
        Some(r#"Bearer realm="api""#)
    );
    assert_eq!(response.json()["type"], "urn:portico:problem:missing-token");
    let basic = gw
        .send(Method::GET, "/", &[("authorization", "Basic YTpi")], "")
        .await;
    assert_eq!(
        basic.header("www-authenticate"),
        Some(r#"Bearer realm="api""#)
    );
}

#[tokio::test]
async fn every_attack_is_rejected() {
    let gw = all_keys_gateway().await;
    for (what, token) in attacks("https://id.example") {
        let response = send(&gw, &token, &[("x-user", "root")]).await;
        assert_rejected(&response, what);
    }
}

/// The attack table: tokens for issuer `iss` and audience `api` that must
/// all be refused by a gateway trusting `issuer()`'s keys (by their alg's
/// name as `kid`).
pub(crate) fn attacks(iss: &str) -> Vec<(&'static str, String)> {
    let good = claims_from(iss);
    let mut half_zero = vec![0u8; 32];
    half_zero.extend([7u8; 32]);
    let rsa_pem = issuer().pem("RS256");
    let mut expired = claims_from(iss);
    expired["exp"] = json!(now() - 3600);
    let mut wrong_aud = claims_from(iss);
    wrong_aud["aud"] = json!("billing");
    let mut wrong_iss = claims_from(iss);
    wrong_iss["iss"] = json!("https://evil.example");
    let mut jku = json!({ "alg": "RS256", "kid": "RS256", "jku": "http://127.0.0.1:1/jwks.json" });
    vec![
        (
            "alg none",
            mint_with(&json!({ "alg": "none" }), &good, |_| Vec::new()),
        ),
        (
            "alg None with kid",
            mint_with(&json!({ "alg": "None", "kid": "HS256" }), &good, |_| {
                Vec::new()
            }),
        ),
        (
            "HS256 signed with the RSA public key",
            mint_with(&json!({ "alg": "HS256", "kid": "RS256" }), &good, |i| {
                mint::hmac("HS256", rsa_pem.as_bytes(), i)
            }),
        ),
        (
            "HS256 signed with the RSA public key, no kid",
            mint_with(&json!({ "alg": "HS256" }), &good, |i| {
                mint::hmac("HS256", rsa_pem.as_bytes(), i)
            }),
        ),
        (
            "unknown crit",
            issuer().mint(
                &json!({ "alg": "ES256", "kid": "ES256", "crit": ["exp"] }),
                &good,
            ),
        ),
        (
            "ES256 zeros",
            mint_with(&json!({ "alg": "ES256", "kid": "ES256" }), &good, |_| {
                vec![0u8; 64]
            }),
        ),
        (
            "ES256 zero r",
            mint_with(&json!({ "alg": "ES256", "kid": "ES256" }), &good, |_| {
                half_zero.clone()
            }),
        ),
        (
            "unknown kid",
            issuer().mint(&json!({ "alg": "HS256", "kid": "nope" }), &good),
        ),
        (
            "kid as a path",
            issuer().mint(
                &json!({ "alg": "HS256", "kid": "../../../dev/null" }),
                &good,
            ),
        ),
        ("jku to the attacker's key", {
            jku["x5u"] = json!("http://127.0.0.1:1/cert.pem");
            attacker().mint(&jku, &good)
        }),
        (
            "embedded jwk of the attacker",
            attacker().mint(
                &json!({ "alg": "EdDSA", "jwk": attacker().jwk("EdDSA") }),
                &good,
            ),
        ),
        (
            "attacker's key, same kid",
            attacker().mint(&json!({ "alg": "ES384", "kid": "ES384" }), &good),
        ),
        (
            "expired",
            issuer().mint(&json!({ "alg": "PS256", "kid": "PS256" }), &expired),
        ),
        (
            "wrong audience",
            issuer().mint(&json!({ "alg": "RS256", "kid": "RS256" }), &wrong_aud),
        ),
        (
            "wrong issuer",
            issuer().mint(&json!({ "alg": "EdDSA", "kid": "EdDSA" }), &wrong_iss),
        ),
        (
            "garbage",
            format!("{}.{}.", b64(b"{\"alg\":\"HS256\"}"), b64(b"{}")),
        ),
    ]
}

#[tokio::test]
async fn keys_from_a_jwks_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks = {
        let keys = ["RS256", "ES256", "EdDSA"].map(|alg| issuer().jwk(alg));
        json!({ "keys": keys })
    };
    std::fs::write(dir.path().join("jwks.json"), jwks.to_string()).expect("write jwks");
    // The config file lives in another temporary directory beside this one:
    // the path is resolved relative to it.
    let dir_name = dir
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name");
    let extra = format!(r#"config_files = {{ jwks = "../{dir_name}/jwks.json" }}"#);
    let mut jwt = jwt_config(json!([]));
    jwt.as_object_mut().map(|c| c.remove("keys"));
    let gw = jwt_gateway(&jwt, Some(&extra)).start().await;
    for alg in ["RS256", "ES256", "EdDSA"] {
        let token = issuer().mint(&json!({ "alg": alg, "kid": alg }), &claims());
        let response = send(&gw, &token, &[]).await;
        assert_eq!(response.status, StatusCode::OK, "{alg}");
        assert_eq!(response.upstream_saw("x-consumer"), ["alice"]);
    }
    let hs = issuer().mint(&json!({ "alg": "HS256", "kid": "HS256" }), &claims());
    assert_rejected(&send(&gw, &hs, &[]).await, "no HS256 key in the JWKS");
}

#[tokio::test]
async fn a_missing_jwks_file_is_a_config_error_naming_the_key() {
    let mut jwt = jwt_config(json!([]));
    jwt.as_object_mut().map(|c| c.remove("keys"));
    let extra = r#"config_files = { jwks = "no/such/jwks.json" }"#;
    let errors = match jwt_gateway(&jwt, Some(extra)).try_start().await {
        Ok(_) => panic!("gateway started without its JWKS"),
        Err(errors) => errors,
    };
    assert!(
        errors.contains("`routes[0].plugins[0].config_files.jwks`"),
        "{errors}"
    );
    assert!(errors.contains("no/such/jwks.json"), "{errors}");
}
