//! Config errors name the key, and every key is checked at load.

use portico_sdk::testing::MockHost;
use serde_json::{Value, json};

use super::mint::{b64, issuer};
use crate::Jwt;

fn error(config: Value) -> (String, String) {
    let mut config = config;
    for (key, value) in [("issuer", "https://id.example"), ("audience", "api")] {
        if config.get(key).is_none() {
            config[key] = json!(value);
        }
    }
    match MockHost::with_grants(&["log", "clock", "context"]).load::<Jwt>(config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => (err.key().to_owned(), err.message().to_owned()),
    }
}

#[test]
fn keys_are_checked_and_bound_to_their_alg() {
    let rsa_pem = issuer().pem("RS256");
    let small = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).expect("key");
    let small_rsa = json!({
        "kty": "RSA",
        "n": b64(&rsa::traits::PublicKeyParts::n(&small).to_bytes_be()),
        "e": b64(&rsa::traits::PublicKeyParts::e(&small).to_bytes_be()),
    });
    let cases = [
        (
            json!({ "alg": "ES256", "pem": rsa_pem }),
            "not a P-256 public key in PEM",
        ),
        (
            json!({ "alg": "ES384", "pem": issuer().pem("ES256") }),
            "not a P-384 public key in PEM",
        ),
        (
            json!({ "alg": "HS256", "pem": rsa_pem }),
            "HS256 takes `secret`, not `pem`",
        ),
        (
            json!({ "alg": "RS256", "secret": "x".repeat(64) }),
            "RS256 takes `pem` or `jwk`, not `secret`",
        ),
        (
            json!({ "alg": "HS256", "secret": "short" }),
            "an HS256 secret must be at least 32 bytes",
        ),
        (
            json!({ "alg": "HS512", "secret": "x".repeat(48) }),
            "an HS512 secret must be at least 64 bytes",
        ),
        (
            json!({ "alg": "RS256" }),
            "set exactly one of `pem`, `secret` or `jwk`",
        ),
        (
            json!({ "pem": rsa_pem }),
            "`alg` is required with `pem` or `secret`",
        ),
        (
            json!({ "alg": "RS256", "jwk": issuer().jwk("ES256") }),
            "`alg` RS256 disagrees with the JWK's `alg` ES256",
        ),
        (
            json!({ "jwk": small_rsa, "alg": "RS256" }),
            "RSA keys must be at least 2048 bits (this one: 1024)",
        ),
        (
            json!({ "jwk": { "kty": "RSA", "n": "AQAB", "e": "AQAB" }, "alg": "RS256" }),
            "bad RSA key: invalid modulus",
        ),
        (
            json!({ "jwk": { "kty": "RSA", "n": "AQAB", "e": "AQAB" } }),
            "bad RSA key: invalid modulus",
        ),
        (
            json!({ "jwk": { "kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA" } }),
            "`x`/`y` have the wrong length for the curve",
        ),
    ];
    for (entry, message) in cases {
        let (key, got) = error(json!({ "keys": [issuer().key_entry("HS256"), entry] }));
        assert_eq!((key.as_str(), got.as_str()), ("keys[1]", message));
    }
    let (key, message) = error(json!({ "keys": [{ "alg": "none", "secret": "x" }] }));
    assert_eq!(key, "keys[0]");
    assert!(
        message.starts_with("unsupported algorithm `none`"),
        "{message}"
    );
}

#[test]
fn a_jwks_is_checked_key_by_key() {
    let rsa = issuer().jwk("RS256");
    let mut no_alg = rsa.clone();
    no_alg.as_object_mut().map(|j| j.remove("alg"));
    let enc = json!({ "kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB" });
    let (key, message) =
        error(json!({ "jwks": json!({ "keys": [rsa, enc, no_alg] }).to_string() }));
    assert_eq!(
        (key.as_str(), message.as_str()),
        ("jwks", "keys[2]: the key needs an `alg`")
    );
    let (key, message) = error(json!({ "jwks": "not json" }));
    assert_eq!(key, "jwks");
    assert!(message.starts_with("not JSON"), "{message}");
    let (_, message) =
        error(json!({ "jwks": r#"{"keys": [{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}"# }));
    assert_eq!(message, "the JWKS has no signature keys");
}

#[test]
fn whole_table_and_field_errors() {
    let hs = json!([issuer().key_entry("HS256")]);
    assert_eq!(error(json!({})).1, "no keys: set `keys`, `jwks`, or both");
    assert_eq!(error(json!({ "keys": hs, "issuer": [] })).0, "issuer");
    assert_eq!(error(json!({ "keys": hs, "audience": 3 })).0, "audience");
    assert_eq!(
        error(json!({ "keys": hs, "forward_claims": { "sub": "bad header" } })).0,
        "forward_claims.sub"
    );
    assert_eq!(error(json!({ "keys": hs, "realm": "a\"b" })).0, "realm");
    assert_eq!(
        error(json!({ "keys": hs, "token": { "header": "x", "query": "t" } })).1,
        "`token`: set `header` or `query`, not both"
    );
    assert_eq!(
        error(json!({ "keys": hs, "token": { "qurey": "t" } })).0,
        "token.qurey"
    );
    assert_eq!(error(json!({ "keys": hs, "leeway": 3 })).0, "leeway");
    let mut missing = json!({ "keys": hs });
    missing["issuer"] = json!(null);
    let host = MockHost::with_grants(&["log", "clock", "context"]);
    let err = host
        .load::<Jwt>(json!({ "keys": hs, "audience": "api" }))
        .err()
        .map(|e| e.key().to_owned());
    assert_eq!(err.as_deref(), Some("issuer"));
}
