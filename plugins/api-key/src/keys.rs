//! Key hashes and the constant-time lookup of a presented key.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// The SHA-256 of a key, from 64 hex digits in the config.
///
/// Anything else is refused, so a plain key pasted into the config is an
/// error at load, and the message never repeats the value (the gateway logs
/// config errors).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct KeyHash([u8; 32]);

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

impl TryFrom<String> for KeyHash {
    type Error = String;

    fn try_from(hex: String) -> Result<Self, String> {
        let refused = || {
            format!(
                "expected the key's SHA-256 as 64 hex digits (got {} characters), \
                 e.g. from `printf %s \"$KEY\" | sha256sum`; plain keys are refused",
                hex.chars().count()
            )
        };
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(refused());
        }
        let mut hash = [0u8; 32];
        for (out, pair) in hash.iter_mut().zip(bytes.chunks_exact(2)) {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(hi), Some(lo)) => *out = hi << 4 | lo,
                _ => return Err(refused()),
            }
        }
        Ok(KeyHash(hash))
    }
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The entry whose hash (`hash_of` it) is the SHA-256 of `key`, if any.
///
/// Every entry is compared, in constant time, whether or not an earlier one
/// matched: the time taken depends on the number of keys only.
pub fn find<'a, T>(
    entries: &'a [T],
    hash_of: impl Fn(&T) -> &KeyHash,
    key: &[u8],
) -> Option<&'a T> {
    let presented: [u8; 32] = Sha256::digest(key).into();
    let mut found = 0u32; // index + 1 of the match; 0: none
    for (i, entry) in entries.iter().enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let matches = presented.ct_eq(&hash_of(entry).0);
        found = u32::conditional_select(&found, &index, matches);
    }
    let index = usize::try_from(found).ok()?.checked_sub(1)?;
    entries.get(index)
}
