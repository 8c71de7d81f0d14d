//! ES256 signing keys for the tests: the public half as a JWK, tokens
//! signed with the private half. Shared with the gateway's integration
//! tests (`tests/oidc.rs`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};

/// A signing key with its `kid`.
pub struct Signer {
    kid: &'static str,
    key: SigningKey,
}

impl Signer {
    /// A new random key named `kid`.
    pub fn new(kid: &'static str) -> Signer {
        Signer {
            kid,
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        })
    }

    /// A token for `alice` from `issuer` for audience `orders`, valid for
    /// an hour after `now_ms`.
    pub fn token(&self, issuer: &str, now_ms: u64) -> String {
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid });
        let claims = json!({
            "iss": issuer, "aud": "orders", "sub": "alice", "exp": now_ms / 1000 + 3600,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}
