//! Test keys and token minting with real keys, shared by the plugin's unit
//! tests and the gateway's integration tests (`tests/jwt.rs` includes this
//! file). Keys are generated once per test binary.
#![allow(dead_code)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Signer as _;

/// Every algorithm the plugin supports.
pub const ALGS: [&str; 12] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

/// One key of each kind.
pub struct TestKeys {
    pub rsa: RsaPrivateKey,
    pub p256: p256::ecdsa::SigningKey,
    pub p384: p384::ecdsa::SigningKey,
    pub ed25519: ed25519_dalek::SigningKey,
    /// 64 printable bytes: long enough for HS512.
    pub secret: String,
}

/// The keys the trusted issuer signs with.
pub fn issuer() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(TestKeys::generate)
}

/// Keys of an attacker (same kinds, other values).
pub fn attacker() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(TestKeys::generate)
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.claims.<sign(header.claims)>`.
pub fn mint_with(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

impl TestKeys {
    pub fn generate() -> TestKeys {
        let secret: String = (0..64)
            .map(|_| char::from(b'a' + (rand::random::<u8>() % 26)))
            .collect();
        TestKeys {
            rsa: RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA key"),
            p256: p256::ecdsa::SigningKey::random(&mut OsRng),
            p384: p384::ecdsa::SigningKey::random(&mut OsRng),
            ed25519: ed25519_dalek::SigningKey::generate(&mut OsRng),
            secret,
        }
    }

    /// A token signed with this set's key for the header's `alg`.
    pub fn mint(&self, header: &Value, claims: &Value) -> String {
        let alg = header["alg"].as_str().unwrap_or_default().to_owned();
        mint_with(header, claims, |input| self.sign(&alg, input))
    }

    /// `alg`'s signature of `input` with this set's key.
    pub fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        let rsa = |scheme: &str| {
            let (hashed, pkcs1, pss): (Vec<u8>, _, _) = match &alg[2..] {
                "256" => (
                    Sha256::digest(input).to_vec(),
                    Pkcs1v15Sign::new::<Sha256>(),
                    Pss::new::<Sha256>(),
                ),
                "384" => (
                    Sha384::digest(input).to_vec(),
                    Pkcs1v15Sign::new::<Sha384>(),
                    Pss::new::<Sha384>(),
                ),
                _ => (
                    Sha512::digest(input).to_vec(),
                    Pkcs1v15Sign::new::<Sha512>(),
                    Pss::new::<Sha512>(),
                ),
            };
            if scheme == "RS" {
                self.rsa.sign(pkcs1, &hashed)
            } else {
                self.rsa.sign_with_rng(&mut OsRng, pss, &hashed)
            }
            .expect("RSA signature")
        };
        match alg {
            "HS256" | "HS384" | "HS512" => hmac(alg, self.secret.as_bytes(), input),
            "RS256" | "RS384" | "RS512" => rsa("RS"),
            "PS256" | "PS384" | "PS512" => rsa("PS"),
            "ES256" => {
                let sig: p256::ecdsa::Signature = self.p256.sign(input);
                sig.to_bytes().to_vec()
            }
            "ES384" => {
                let sig: p384::ecdsa::Signature = self.p384.sign(input);
                sig.to_bytes().to_vec()
            }
            "EdDSA" => self.ed25519.sign(input).to_bytes().to_vec(),
            other => panic!("no test key for {other}"),
        }
    }

    pub fn rsa_public(&self) -> RsaPublicKey {
        self.rsa.to_public_key()
    }

    /// The public key (or, for HMAC, nothing) in PEM.
    pub fn pem(&self, alg: &str) -> String {
        use rsa::pkcs8::LineEnding;
        match &alg[..2] {
            "RS" | "PS" => {
                rsa::pkcs8::EncodePublicKey::to_public_key_pem(&self.rsa_public(), LineEnding::LF)
            }
            "ES" if alg == "ES256" => p256::pkcs8::EncodePublicKey::to_public_key_pem(
                self.p256.verifying_key(),
                LineEnding::LF,
            ),
            "ES" => p384::pkcs8::EncodePublicKey::to_public_key_pem(
                self.p384.verifying_key(),
                LineEnding::LF,
            ),
            "Ed" => self
                .ed25519
                .verifying_key()
                .to_public_key_pem(LineEnding::LF),
            other => panic!("no PEM for {other}"),
        }
        .expect("PEM")
    }

    /// The public key as a JWK (with `kid` = the alg's name and `alg`).
    pub fn jwk(&self, alg: &str) -> Value {
        let mut jwk = match &alg[..2] {
            "HS" => json!({ "kty": "oct", "k": b64(self.secret.as_bytes()) }),
            "RS" | "PS" => {
                let public = self.rsa_public();
                json!({ "kty": "RSA", "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be()) })
            }
            "ES" if alg == "ES256" => {
                let point = self.p256.verifying_key().to_encoded_point(false);
                json!({ "kty": "EC", "crv": "P-256", "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")) })
            }
            "ES" => {
                let point = self.p384.verifying_key().to_encoded_point(false);
                json!({ "kty": "EC", "crv": "P-384", "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")) })
            }
            _ => {
                json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(self.ed25519.verifying_key().as_bytes()) })
            }
        };
        jwk["alg"] = json!(alg);
        jwk["kid"] = json!(alg);
        jwk
    }

    /// A `keys` entry of the plugin's config for `alg`: PEM or secret, with
    /// `kid` = the alg's name.
    pub fn key_entry(&self, alg: &str) -> Value {
        if alg.starts_with("HS") {
            json!({ "kid": alg, "alg": alg, "secret": self.secret })
        } else {
            json!({ "kid": alg, "alg": alg, "pem": self.pem(alg) })
        }
    }
}

/// `alg`'s HMAC of `input` with any `secret` (e.g. a public key's PEM).
pub fn hmac(alg: &str, secret: &[u8], input: &[u8]) -> Vec<u8> {
    match alg {
        "HS256" => mac::<Hmac<Sha256>>(secret, input),
        "HS384" => mac::<Hmac<Sha384>>(secret, input),
        _ => mac::<Hmac<Sha512>>(secret, input),
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret).expect("HMAC key");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}
