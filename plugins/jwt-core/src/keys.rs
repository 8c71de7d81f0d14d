//! Verification keys, each bound to one algorithm, read from PEM, a secret,
//! a JWK or a JWKS document.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Map, Value};

use crate::alg::{self, Alg, Family, Material};

/// The smallest RSA modulus accepted, bits.
const MIN_RSA_BITS: usize = 2048;

/// One verification key. It verifies only tokens whose `alg` is its own.
pub struct Key {
    /// The key id a token's `kid` is compared with (a lookup key, nothing
    /// more).
    pub kid: Option<String>,
    /// The one algorithm this key verifies.
    pub alg: Alg,
    material: Material,
}

impl Key {
    /// Binds `material` to `alg`, refusing a mismatch (an RSA key for
    /// ES256, a secret for RS256, ...).
    fn new(kid: Option<String>, alg: Alg, material: Material) -> Result<Key, String> {
        if material.family() != alg.family() {
            return Err(format!(
                "a {:?} key cannot verify {}",
                material.family(),
                alg.name()
            ));
        }
        if let Material::Hmac(secret) = &material
            && secret.len() < alg.min_secret_bytes()
        {
            return Err(format!(
                "an {} secret must be at least {} bytes",
                alg.name(),
                alg.min_secret_bytes()
            ));
        }
        Ok(Key { kid, alg, material })
    }

    /// A public key in PEM (SPKI `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`).
    pub fn from_pem(kid: Option<String>, alg: Alg, pem: &str) -> Result<Key, String> {
        let material = match alg.family() {
            Family::Hmac => return Err(format!("{} takes `secret`, not `pem`", alg.name())),
            Family::Rsa => Material::Rsa(checked_rsa(
                RsaPublicKey::from_public_key_pem(pem)
                    .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
                    .map_err(|_| "not an RSA public key in PEM".to_owned())?,
            )?),
            Family::P256 => Material::P256(
                p256::ecdsa::VerifyingKey::from_public_key_pem(pem)
                    .map_err(|_| "not a P-256 public key in PEM".to_owned())?,
            ),
            Family::P384 => Material::P384(
                p384::ecdsa::VerifyingKey::from_public_key_pem(pem)
                    .map_err(|_| "not a P-384 public key in PEM".to_owned())?,
            ),
            Family::Ed25519 => Material::Ed25519(
                ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                    .map_err(|_| "not an Ed25519 public key in PEM".to_owned())?,
            ),
        };
        Key::new(kid, alg, material)
    }

    /// An HMAC secret.
    pub fn from_secret(kid: Option<String>, alg: Alg, secret: &[u8]) -> Result<Key, String> {
        if alg.family() != Family::Hmac {
            return Err(format!("{} takes `pem` or `jwk`, not `secret`", alg.name()));
        }
        Key::new(kid, alg, Material::Hmac(secret.to_vec()))
    }

    /// A JWK (RFC 7517). `alg` is the algorithm given beside it in the
    /// config, if any; the JWK's own `alg` must agree with it. Without
    /// either, EC and OKP keys take the algorithm of their curve; RSA and
    /// `oct` keys need one.
    pub fn from_jwk(jwk: &Value, alg: Option<Alg>, kid: Option<String>) -> Result<Key, String> {
        let jwk = jwk.as_object().ok_or("a JWK must be a JSON object")?;
        let own_alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(name)) => Some(Alg::try_from(name.clone())?),
            Some(_) => return Err("`alg` must be a string".into()),
        };
        let alg = match (alg, own_alg) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!(
                    "`alg` {} disagrees with the JWK's `alg` {}",
                    a.name(),
                    b.name()
                ));
            }
            (Some(a), _) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        let kid = match (kid, jwk.get("kid")) {
            (Some(kid), _) => Some(kid),
            (None, None) => None,
            (None, Some(Value::String(kid))) => Some(kid.clone()),
            (None, Some(_)) => return Err("`kid` must be a string".into()),
        };
        let (material, implied) = match text(jwk, "kty")? {
            "RSA" => {
                let n = BigUint::from_bytes_be(&bytes(jwk, "n")?);
                let e = BigUint::from_bytes_be(&bytes(jwk, "e")?);
                let key = RsaPublicKey::new(n, e).map_err(|e| format!("bad RSA key: {e}"))?;
                (Material::Rsa(checked_rsa(key)?), None)
            }
            "EC" => ec_material(jwk)?,
            "OKP" => match text(jwk, "crv")? {
                "Ed25519" => {
                    let x: [u8; 32] = bytes(jwk, "x")?
                        .try_into()
                        .map_err(|_| "`x` must be 32 bytes")?;
                    let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                        .map_err(|_| "`x` is not an Ed25519 public key")?;
                    (Material::Ed25519(key), Some(Alg::EdDSA))
                }
                other => return Err(format!("unsupported OKP curve `{other}`")),
            },
            "oct" => (Material::Hmac(bytes(jwk, "k")?), None),
            other => return Err(format!("unsupported key type `{other}`")),
        };
        let alg = alg.or(implied).ok_or("the key needs an `alg`")?;
        Key::new(kid, alg, material)
    }

    /// Whether `signature` is this key's signature of `input` with `alg`;
    /// always false when `alg` is not the key's own.
    pub fn verifies(&self, alg: Alg, input: &[u8], signature: &[u8]) -> bool {
        self.alg == alg && alg::verify(alg, &self.material, input, signature)
    }
}

/// The keys of a JWKS document (`{"keys": [...]}`). Keys whose `use` is not
/// `sig` are skipped; any other key that cannot be used is an error naming
/// it (`keys[2].alg: ...`).
pub fn from_jwks(text: &str) -> Result<Vec<Key>, String> {
    let mut keys = Vec::new();
    for (i, entry) in signature_entries(text)? {
        keys.push(Key::from_jwk(&entry, None, None).map_err(|e| format!("keys[{i}]: {e}"))?);
    }
    if keys.is_empty() {
        return Err("the JWKS has no signature keys".into());
    }
    Ok(keys)
}

/// The keys of a JWKS document fetched from an identity provider, and why
/// each key left out was. Unlike [`from_jwks`] (a document the operator
/// wrote), one unusable key does not refuse the rest: an IdP may publish
/// keys for algorithms this verifier lacks. Symmetric (`oct`) keys are
/// always left out: a key anyone can fetch is no secret. An error when no
/// signature key is left.
pub fn from_remote_jwks(text: &str) -> Result<(Vec<Key>, Vec<String>), String> {
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for (i, entry) in signature_entries(text)? {
        if entry.get("kty").and_then(Value::as_str) == Some("oct") {
            skipped.push(format!("keys[{i}]: a symmetric key in a published set"));
            continue;
        }
        match Key::from_jwk(&entry, None, None) {
            Ok(key) => keys.push(key),
            Err(e) => skipped.push(format!("keys[{i}]: {e}")),
        }
    }
    if keys.is_empty() {
        let why = if skipped.is_empty() {
            "it lists none".to_owned()
        } else {
            skipped.join("; ")
        };
        return Err(format!("the JWKS has no usable signature keys ({why})"));
    }
    Ok((keys, skipped))
}

/// The entries of a JWKS document's `keys` with their index, those whose
/// `use` is not `sig` (encryption keys) left out.
fn signature_entries(text: &str) -> Result<Vec<(usize, Value)>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(Value::Array(entries)) = doc.get("keys").cloned() else {
        return Err("a JWKS needs a `keys` array".into());
    };
    Ok(entries
        .into_iter()
        .enumerate()
        .filter(|(_, entry)| {
            entry
                .get("use")
                .is_none_or(|u| u == &Value::String("sig".into()))
        })
        .collect())
}

fn ec_material(jwk: &Map<String, Value>) -> Result<(Material, Option<Alg>), String> {
    let x = bytes(jwk, "x")?;
    let y = bytes(jwk, "y")?;
    let not_on_curve = |crv: &str| format!("`x`/`y` are not a {crv} point");
    match text(jwk, "crv")? {
        "P-256" if x.len() == 32 && y.len() == 32 => {
            let point = p256::EncodedPoint::from_affine_coordinates(
                p256::FieldBytes::from_slice(&x),
                p256::FieldBytes::from_slice(&y),
                false,
            );
            let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                .map_err(|_| not_on_curve("P-256"))?;
            Ok((Material::P256(key), Some(Alg::ES256)))
        }
        "P-384" if x.len() == 48 && y.len() == 48 => {
            let point = p384::EncodedPoint::from_affine_coordinates(
                p384::FieldBytes::from_slice(&x),
                p384::FieldBytes::from_slice(&y),
                false,
            );
            let key = p384::ecdsa::VerifyingKey::from_encoded_point(&point)
                .map_err(|_| not_on_curve("P-384"))?;
            Ok((Material::P384(key), Some(Alg::ES384)))
        }
        "P-256" | "P-384" => Err("`x`/`y` have the wrong length for the curve".into()),
        other => Err(format!("unsupported EC curve `{other}`")),
    }
}

fn checked_rsa(key: RsaPublicKey) -> Result<RsaPublicKey, String> {
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA keys must be at least {MIN_RSA_BITS} bits (this one: {bits})"
        ));
    }
    Ok(key)
}

/// A string member of a JWK.
fn text<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{name}` is missing or not a string"))
}

/// A base64url member of a JWK.
fn bytes(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text(jwk, name)?)
        .map_err(|_| format!("`{name}` is not base64url"))
}
