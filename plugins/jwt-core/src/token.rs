//! A compact JWS (`header.payload.signature`): decoded, its header checked,
//! its signature verified against the configured keys. Nothing in the token
//! chooses where keys come from: `kid` only selects among configured keys,
//! and `jku`, `x5u`, `x5c` and `jwk` are ignored.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::alg::Alg;
use crate::keys::Key;
use crate::reject::Reason;

/// Tokens longer than this are refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A JSON object whose member names are unique (a repeated name makes the
/// token malformed rather than leaving the choice to the parser).
#[derive(Debug, Default, PartialEq)]
pub struct Object(pub BTreeMap<String, Value>);

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Unique;
        impl<'de> Visitor<'de> for Unique {
            type Value = Object;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut members = BTreeMap::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    if members.contains_key(&name) {
                        return Err(de::Error::custom(format!("duplicate member `{name}`")));
                    }
                    members.insert(name, value);
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(Unique)
    }
}

/// Verifies `token` with `keys` and returns its claims. The header must name
/// a supported `alg` (so never `none`) and carry no `crit` (this verifier
/// understands no extension). A `kid` selects the keys with that id; without
/// one, every key bound to the token's `alg` is tried. Either way only keys
/// bound to that `alg` can verify: an HS256 token never meets an RSA key.
pub fn verify<'k>(token: &str, keys: &'k [Key]) -> Result<(Object, &'k Key), Reason> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Reason::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reason::Malformed);
    };
    let Object(header_members) = json(header)?;
    let alg = match header_members.get("alg") {
        Some(Value::String(name)) => Alg::from_name(name).ok_or(Reason::UnsupportedAlg)?,
        _ => return Err(Reason::Malformed),
    };
    if header_members.contains_key("crit") {
        return Err(Reason::Crit);
    }
    let kid = match header_members.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(Reason::Malformed),
    };
    let signature = decode(signature)?;
    let input = &token[..header.len() + 1 + payload.len()];
    let mut candidates = keys
        .iter()
        .filter(|key| key.alg == alg && (kid.is_none() || key.kid.as_deref() == kid))
        .peekable();
    if candidates.peek().is_none() {
        return Err(Reason::UnknownKey);
    }
    let key = candidates
        .find(|key| key.verifies(alg, input.as_bytes(), &signature))
        .ok_or(Reason::BadSignature)?;
    Ok((json(payload)?, key))
}

fn decode(part: &str) -> Result<Vec<u8>, Reason> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| Reason::Malformed)
}

fn json(part: &str) -> Result<Object, Reason> {
    serde_json::from_slice(&decode(part)?).map_err(|_| Reason::Malformed)
}
