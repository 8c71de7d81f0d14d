//! The signature algorithms a key can be bound to, and the one function that
//! checks a signature with a key.

use hmac::{Hmac, Mac};
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Verifier;

/// A JWS algorithm (RFC 7518, RFC 8037). `none` is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (salt as long as the hash).
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

/// What kind of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// A shared secret.
    Hmac,
    /// An RSA public key.
    Rsa,
    /// A P-256 public key.
    P256,
    /// A P-384 public key.
    P384,
    /// An Ed25519 public key.
    Ed25519,
}

/// Every supported algorithm, by its JOSE name.
const ALL: [(Alg, &str); 12] = [
    (Alg::HS256, "HS256"),
    (Alg::HS384, "HS384"),
    (Alg::HS512, "HS512"),
    (Alg::RS256, "RS256"),
    (Alg::RS384, "RS384"),
    (Alg::RS512, "RS512"),
    (Alg::PS256, "PS256"),
    (Alg::PS384, "PS384"),
    (Alg::PS512, "PS512"),
    (Alg::ES256, "ES256"),
    (Alg::ES384, "ES384"),
    (Alg::EdDSA, "EdDSA"),
];

impl Alg {
    /// The algorithm named `name` exactly (case-sensitive, as JOSE says);
    /// `None` for `none` and anything unsupported.
    pub fn from_name(name: &str) -> Option<Alg> {
        ALL.iter().find(|(_, n)| *n == name).map(|(alg, _)| *alg)
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(alg, _)| *alg == self)
            .map_or("?", |(_, name)| name)
    }

    /// The names of every supported algorithm, for error messages.
    pub fn names() -> String {
        ALL.map(|(_, name)| name).join(", ")
    }

    /// The kind of key this algorithm verifies with.
    pub fn family(self) -> Family {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => Family::Hmac,
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                Family::Rsa
            }
            Alg::ES256 => Family::P256,
            Alg::ES384 => Family::P384,
            Alg::EdDSA => Family::Ed25519,
        }
    }

    /// The shortest HMAC secret accepted: the hash's output size
    /// (RFC 7518, section 3.2).
    pub fn min_secret_bytes(self) -> usize {
        match self {
            Alg::HS384 => 48,
            Alg::HS512 => 64,
            _ => 32,
        }
    }
}

impl TryFrom<String> for Alg {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Alg::from_name(&name).ok_or_else(|| {
            format!(
                "unsupported algorithm `{name}`; expected one of {}",
                Alg::names()
            )
        })
    }
}

/// Key material, of one [`Family`].
pub enum Material {
    /// An HMAC secret.
    Hmac(Vec<u8>),
    /// An RSA public key (2048 bits or more).
    Rsa(RsaPublicKey),
    /// A P-256 public key.
    P256(p256::ecdsa::VerifyingKey),
    /// A P-384 public key.
    P384(p384::ecdsa::VerifyingKey),
    /// An Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl Material {
    /// The family this material belongs to.
    pub fn family(&self) -> Family {
        match self {
            Material::Hmac(_) => Family::Hmac,
            Material::Rsa(_) => Family::Rsa,
            Material::P256(_) => Family::P256,
            Material::P384(_) => Family::P384,
            Material::Ed25519(_) => Family::Ed25519,
        }
    }
}

/// Whether `signature` is `alg`'s signature of `input` under `key`. A key of
/// another family never verifies (no HMAC with a public key). ECDSA
/// signatures are the fixed-size `r || s` of JWS; a zero `r` or `s` is
/// refused by the parser. Ed25519 uses strict verification (no weak keys, no
/// malleable signatures).
pub fn verify(alg: Alg, key: &Material, input: &[u8], signature: &[u8]) -> bool {
    match (alg, key) {
        (Alg::HS256, Material::Hmac(secret)) => hmac::<Hmac<Sha256>>(secret, input, signature),
        (Alg::HS384, Material::Hmac(secret)) => hmac::<Hmac<Sha384>>(secret, input, signature),
        (Alg::HS512, Material::Hmac(secret)) => hmac::<Hmac<Sha512>>(secret, input, signature),
        (Alg::RS256, Material::Rsa(key)) => rsa_verify(
            key,
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(input),
            signature,
        ),
        (Alg::RS384, Material::Rsa(key)) => rsa_verify(
            key,
            Pkcs1v15Sign::new::<Sha384>(),
            &Sha384::digest(input),
            signature,
        ),
        (Alg::RS512, Material::Rsa(key)) => rsa_verify(
            key,
            Pkcs1v15Sign::new::<Sha512>(),
            &Sha512::digest(input),
            signature,
        ),
        (Alg::PS256, Material::Rsa(key)) => {
            rsa_verify(key, Pss::new::<Sha256>(), &Sha256::digest(input), signature)
        }
        (Alg::PS384, Material::Rsa(key)) => {
            rsa_verify(key, Pss::new::<Sha384>(), &Sha384::digest(input), signature)
        }
        (Alg::PS512, Material::Rsa(key)) => {
            rsa_verify(key, Pss::new::<Sha512>(), &Sha512::digest(input), signature)
        }
        (Alg::ES256, Material::P256(key)) => p256::ecdsa::Signature::from_slice(signature)
            .is_ok_and(|sig| key.verify(input, &sig).is_ok()),
        (Alg::ES384, Material::P384(key)) => p384::ecdsa::Signature::from_slice(signature)
            .is_ok_and(|sig| key.verify(input, &sig).is_ok()),
        (Alg::EdDSA, Material::Ed25519(key)) => ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|sig| key.verify_strict(input, &sig).is_ok()),
        _ => false,
    }
}

/// HMAC, compared in constant time.
fn hmac<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8], signature: &[u8]) -> bool {
    match <M as hmac::digest::KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(input);
            mac.verify_slice(signature).is_ok()
        }
        Err(_) => false,
    }
}

fn rsa_verify(
    key: &RsaPublicKey,
    scheme: impl rsa::traits::SignatureScheme,
    hashed: &[u8],
    signature: &[u8],
) -> bool {
    key.verify(scheme, hashed, signature).is_ok()
}
