//! Native unit tests on the SDK's mock host, with tokens minted from real
//! keys (`mint.rs`).

mod algorithms;
mod attacks;
mod claims;
mod config;
pub mod mint;

use portico_sdk::Action;
use portico_sdk::http::StatusCode;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest};
use serde_json::{Value, json};

use crate::Jwt;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The mock host's clock, seconds.
pub const NOW: u64 = 1_700_000_000;

/// A host and the plugin loaded with `config` (issuer/audience added unless
/// given).
pub fn load(config: Value) -> (MockHost, MockPlugin<Jwt>) {
    let host = MockHost::with_grants(&["log", "clock", "context"]);
    let mut config = config;
    for (key, value) in [("issuer", "https://id.example"), ("audience", "api")] {
        if config.get(key).is_none() {
            config[key] = json!(value);
        }
    }
    match host.load::<Jwt>(config) {
        Ok(plugin) => (host, plugin),
        Err(err) => panic!("config refused: {err}"),
    }
}

/// A plugin trusting the issuer's key for every algorithm (PEM or secret,
/// `kid` = alg).
pub fn load_all() -> (MockHost, MockPlugin<Jwt>) {
    let keys: Vec<Value> = mint::ALGS
        .iter()
        .map(|alg| mint::issuer().key_entry(alg))
        .collect();
    load(json!({ "keys": keys }))
}

/// Claims that pass: right issuer and audience, valid for ten minutes.
pub fn good_claims() -> Value {
    json!({ "iss": "https://id.example", "aud": "api", "sub": "alice", "exp": NOW + 600, "iat": NOW })
}

/// A header `{alg, kid: alg}`.
pub fn header(alg: &str) -> Value {
    json!({ "alg": alg, "kid": alg, "typ": "JWT" })
}

/// A `GET /` with `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> MockRequest {
    MockRequest::get("/").header("authorization", &format!("Bearer {token}"))
}

/// Runs the request; `Ok(true)` if it went on, `Ok(false)` on the
/// `invalid_token` 401 (anything else fails the test).
pub fn passes(
    plugin: &mut MockPlugin<Jwt>,
    req: &mut MockRequest,
) -> Result<bool, Box<dyn std::error::Error>> {
    match plugin.on_request(req)? {
        Action::Continue => Ok(true),
        Action::Respond(reply) => {
            assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                reply.header_value("www-authenticate"),
                Some(r#"Bearer realm="api", error="invalid_token""#)
            );
            Ok(false)
        }
    }
}
