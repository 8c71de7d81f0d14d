//! `[encryption]`: the keys that seal what the gateway persists about
//! people (see `seal`), each read by reference, never written in the
//! config.
//!
//! ```toml
//! [encryption]
//! active = "2026-12"                 # new values are sealed under this key
//! keys = [
//!   { id = "2026-12", key = { secret = "env:PORTICO_KEY_2026_12" } },
//!   { id = "2026-06", key = { secret = "file:keys/2026-06.key" } },  # still read
//! ]
//! ```
//!
//! A key is 32 bytes written as 64 hex digits or as base64
//! (`openssl rand -hex 32`). Changing `[encryption]` takes a restart.

use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use super::{ConfigError, ConfigErrors, SecretRef};
use crate::seal::Keyring;

/// `[encryption]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// The id of the key new values are sealed under.
    pub active: String,
    /// Every key values may be sealed under: the active one, and older
    /// ones kept so that what they sealed still opens.
    pub keys: Vec<EncryptionKey>,
}

/// One key of `[encryption] keys`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EncryptionKey {
    /// Stored with every value it seals (1-64 of `A-Za-z0-9._-`).
    pub id: String,
    /// 32 bytes as hex or base64, by reference.
    pub key: SecretRef,
}

impl EncryptionConfig {
    /// Makes `file` key references absolute against `base`.
    pub(super) fn resolve_paths(&mut self, base: &Path) {
        for key in &mut self.keys {
            key.key.resolve(base);
        }
    }
}

/// The key ring `config` configures (off without `[encryption]`), each
/// key read now. Errors name the key's config path, never its value.
pub fn keyring(config: &super::Config) -> Result<Keyring, ConfigErrors> {
    let Some(encryption) = &config.encryption else {
        return Ok(Keyring::off());
    };
    let fail = |key: String, message: String| {
        ConfigErrors::one(ConfigError::new(&config.source, &key, message))
    };
    let mut keys = Vec::with_capacity(encryption.keys.len());
    for (i, key) in encryption.keys.iter().enumerate() {
        let path = format!("encryption.keys[{i}].key");
        let text = key.key.read().map_err(|e| fail(path.clone(), e))?;
        let bytes = decode_key(text.trim()).ok_or_else(|| {
            fail(
                path.clone(),
                format!(
                    "key `{}` must be 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)",
                    key.id
                ),
            )
        })?;
        keys.push((key.id.clone(), bytes));
    }
    Keyring::new(&encryption.active, keys).map_err(|e| fail("encryption".into(), e.to_string()))
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    bytes.try_into().ok()
}

/// Problems of `[encryption]` that need no secret read, as `(key, message)`.
pub(super) fn check(encryption: &EncryptionConfig) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if encryption.keys.is_empty() {
        problems.push((
            "encryption.keys".into(),
            "at least one key is needed".into(),
        ));
    }
    if !encryption.keys.iter().any(|k| k.id == encryption.active) {
        problems.push((
            "encryption.active".into(),
            format!("`{}` is not the id of one of `keys`", encryption.active),
        ));
    }
    for (i, key) in encryption.keys.iter().enumerate() {
        if !crate::seal::valid_key_id(&key.id) {
            problems.push((
                format!("encryption.keys[{i}].id"),
                "must be 1-64 characters of A-Z a-z 0-9 . _ -".into(),
            ));
        }
        if encryption.keys[..i].iter().any(|k| k.id == key.id) {
            problems.push((
                format!("encryption.keys[{i}].id"),
                format!("`{}` is used twice", key.id),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_or_base64_of_32_bytes() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(decode_key(&hex).map(|k| k[31]), Some(0xff));
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(decode_key(&b64), Some([7u8; 32]));
        assert_eq!(decode_key("00ff"), None);
        assert_eq!(decode_key(&"zz".repeat(32)), None);
    }
}
