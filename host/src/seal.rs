//! Encryption at rest: a key ring of AES-256-GCM keys, each with an id,
//! one of them active. What the gateway persists that can name a person
//! (analytics consumer names, the audit log's client addresses and
//! certificate subjects, cache values kept in Redis) is sealed under the
//! active key; a value sealed under any key still in the ring opens, so a
//! key is rotated by adding the new one as active and keeping the old one
//! until nothing it sealed is left.
//!
//! A sealed value is `1 ‖ id length ‖ id ‖ 12-byte nonce ‖ ciphertext ‖
//! tag`, so the key id travels with every value. Each value is bound to a
//! context (`analytics.consumer`, `audit.actor.addr`, a cache value's
//! Redis key) through the AEAD's associated data, so a value copied from
//! one place to another does not open there.
//!
//! Two ways to seal:
//! - [`Keyring::seal`]: a random nonce; the same text seals differently
//!   each time (audit fields, cache values).
//! - [`Keyring::seal_deterministic`]: the nonce is an HMAC-SHA256 of the
//!   context and the text under a second key derived from the configured
//!   one (a synthetic IV), so the same text under the same key and context
//!   always seals to the same bytes. The analytics store needs that to
//!   group and merge rows by consumer without holding the name; what it
//!   gives away is only which rows share a consumer.
//!
//! The configured 32-byte key is never used directly: the AES key and the
//! nonce key are both derived from it with HMAC-SHA256 under fixed labels.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
const NONCE: usize = 12;
const TAG: usize = 16;

/// A key ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// Two keys share an id.
    #[error("key id `{0}` is used twice")]
    DuplicateId(String),
    /// An id is empty, too long or not `[A-Za-z0-9._-]`.
    #[error("key id `{0}` must be 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadId(String),
    /// The active id names no key.
    #[error("the active key `{0}` is not one of the keys")]
    NoActive(String),
}

/// A sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not a sealed value (too short, another version).
    #[error("not a sealed value")]
    Malformed,
    /// Sealed under a key id the ring does not hold.
    #[error("sealed under key `{0}`, which is not configured")]
    UnknownKey(String),
    /// The key is known but the value does not authenticate under it (a
    /// tampered value, another context, or another key with the same id).
    #[error("sealed under key `{0}` but does not open (tampered, or another key with that id)")]
    Tampered(String),
}

/// Whether `id` may name a key: 1-64 characters of `A-Za-z0-9._-`.
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
    nonce_key: [u8; 32],
}

/// The configured keys; empty means encryption is off.
#[derive(Default)]
pub struct Keyring {
    keys: Vec<Key>,
    active: usize,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &self.ids())
            .field("active", &self.active_id())
            .finish()
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl Keyring {
    /// A ring with no keys: nothing is sealed.
    pub fn off() -> Keyring {
        Keyring::default()
    }

    /// The ring of `keys` (id, 32 key bytes), sealing under `active`.
    pub fn new(active: &str, keys: Vec<(String, [u8; 32])>) -> Result<Keyring, KeyringError> {
        let mut ring = Vec::with_capacity(keys.len());
        for (id, master) in keys {
            if !valid_key_id(&id) {
                return Err(KeyringError::BadId(id));
            }
            if ring.iter().any(|k: &Key| k.id == id) {
                return Err(KeyringError::DuplicateId(id));
            }
            let cipher = Aes256Gcm::new(&derive(&master, b"portico seal v1 aes-256-gcm").into());
            let nonce_key = derive(&master, b"portico seal v1 synthetic nonce");
            ring.push(Key {
                id,
                cipher,
                nonce_key,
            });
        }
        let active = ring
            .iter()
            .position(|k| k.id == active)
            .ok_or_else(|| KeyringError::NoActive(active.to_owned()))?;
        Ok(Keyring { keys: ring, active })
    }

    /// Whether values are sealed (a key is configured).
    pub fn is_on(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The key ids, in config order.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The id new values are sealed under.
    pub fn active_id(&self) -> Option<&str> {
        self.keys.get(self.active).map(|k| k.id.as_str())
    }

    /// `plain` sealed under the active key with a random nonce; `None`
    /// when encryption is off.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.keys.get(self.active)?;
        let nonce: [u8; NONCE] = Aes256Gcm::generate_nonce(&mut OsRng).into();
        Some(seal_with(key, nonce, context, plain))
    }

    /// `plain` sealed under the active key with its synthetic nonce: the
    /// same bytes every time; `None` when encryption is off.
    pub fn seal_deterministic(&self, context: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
        self.keys
            .get(self.active)
            .map(|key| seal_deterministic_with(key, context, plain))
    }

    /// `plain` sealed deterministically under every key of the ring: the
    /// forms a value may be stored in (to find or erase all of them).
    pub fn seal_deterministic_under_each(&self, context: &[u8], plain: &[u8]) -> Vec<Vec<u8>> {
        self.keys
            .iter()
            .map(|key| seal_deterministic_with(key, context, plain))
            .collect()
    }

    /// The text `sealed` holds, if it was sealed for `context` under a key
    /// of the ring.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&version, rest) = sealed.split_first().ok_or(OpenError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(OpenError::Malformed)?;
        if version != VERSION || rest.len() < usize::from(id_len) + NONCE + TAG {
            return Err(OpenError::Malformed);
        }
        let (id, rest) = rest.split_at(usize::from(id_len));
        let id = std::str::from_utf8(id).map_err(|_| OpenError::Malformed)?;
        let (nonce, ciphertext) = rest.split_at(NONCE);
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| OpenError::Tampered(id.to_owned()))
    }

    /// The key id a sealed value names, if it is one.
    pub fn key_id_of(sealed: &[u8]) -> Option<&str> {
        let id_len = usize::from(*sealed.get(1)?);
        (sealed.first() == Some(&VERSION))
            .then(|| std::str::from_utf8(sealed.get(2..2 + id_len)?).ok())
            .flatten()
    }
}

fn seal_deterministic_with(key: &Key, context: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.nonce_key).expect("any key length");
    mac.update(&(context.len() as u64).to_be_bytes());
    mac.update(context);
    mac.update(plain);
    let digest = mac.finalize().into_bytes();
    let mut nonce = [0u8; NONCE];
    nonce.copy_from_slice(&digest[..NONCE]);
    seal_with(key, nonce, context, plain)
}

fn seal_with(key: &Key, nonce: [u8; NONCE], context: &[u8], plain: &[u8]) -> Vec<u8> {
    let ciphertext = key
        .cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: context,
            },
        )
        // AES-GCM fails only past 64 GiB of text.
        .expect("a value under 64 GiB");
    let mut out = Vec::with_capacity(2 + key.id.len() + NONCE + ciphertext.len());
    out.push(VERSION);
    out.push(key.id.len() as u8);
    out.extend_from_slice(key.id.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(active: &str, ids: &[(&str, u8)]) -> Keyring {
        Keyring::new(
            active,
            ids.iter()
                .map(|(id, byte)| ((*id).to_owned(), [*byte; 32]))
                .collect(),
        )
        .expect("ring")
    }

    #[test]
    fn sealed_values_open_under_their_key_and_context_only() {
        let old = ring("k1", &[("k1", 1)]);
        let sealed = old.seal(b"ctx", b"alice@example.com").expect("on");
        assert_eq!(Keyring::key_id_of(&sealed), Some("k1"));
        assert!(!sealed.windows(5).any(|w| w == b"alice"));
        assert_eq!(old.open(b"ctx", &sealed).unwrap(), b"alice@example.com");
        assert_ne!(old.seal(b"ctx", b"alice@example.com").unwrap(), sealed);
        assert_eq!(
            old.open(b"other", &sealed),
            Err(OpenError::Tampered("k1".into()))
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(
            old.open(b"ctx", &flipped),
            Err(OpenError::Tampered("k1".into()))
        );

        // Rotation: new values under k2, k1's still open while it is kept.
        let rotated = ring("k2", &[("k2", 2), ("k1", 1)]);
        assert_eq!(rotated.open(b"ctx", &sealed).unwrap(), b"alice@example.com");
        let new = rotated.seal(b"ctx", b"x").unwrap();
        assert_eq!(Keyring::key_id_of(&new), Some("k2"));
        let retired = ring("k2", &[("k2", 2)]);
        assert_eq!(
            retired.open(b"ctx", &sealed),
            Err(OpenError::UnknownKey("k1".into()))
        );
        // The same id with other key bytes does not open it either.
        let impostor = ring("k1", &[("k1", 9)]);
        assert_eq!(
            impostor.open(b"ctx", &sealed),
            Err(OpenError::Tampered("k1".into()))
        );
        assert_eq!(old.open(b"ctx", b"\x01"), Err(OpenError::Malformed));
        assert!(Keyring::off().seal(b"ctx", b"x").is_none());
    }

    #[test]
    fn deterministic_sealing_is_stable_per_key_and_context() {
        let rotated = ring("k2", &[("k1", 1), ("k2", 2)]);
        let a = rotated.seal_deterministic(b"c", b"carol").unwrap();
        assert_eq!(rotated.seal_deterministic(b"c", b"carol").unwrap(), a);
        assert_ne!(rotated.seal_deterministic(b"d", b"carol").unwrap(), a);
        assert_ne!(rotated.seal_deterministic(b"c", b"carl").unwrap(), a);
        let each = rotated.seal_deterministic_under_each(b"c", b"carol");
        assert_eq!(each.len(), 2);
        assert!(each.contains(&a));
        assert_eq!(
            ring("k1", &[("k1", 1)]).seal_deterministic(b"c", b"carol"),
            Some(each[0].clone())
        );
        assert_eq!(rotated.open(b"c", &a).unwrap(), b"carol");
    }

    #[test]
    fn bad_rings_are_refused() {
        let key = |id: &str| (id.to_owned(), [0u8; 32]);
        assert_eq!(
            Keyring::new("a", vec![key("a"), key("a")]).err(),
            Some(KeyringError::DuplicateId("a".into()))
        );
        assert_eq!(
            Keyring::new("a b", vec![key("a b")]).err(),
            Some(KeyringError::BadId("a b".into()))
        );
        assert_eq!(
            Keyring::new("z", vec![key("a")]).err(),
            Some(KeyringError::NoActive("z".into()))
        );
    }
}
