//! The hash key of a request for consistent hashing, and the hash itself
//! (stable across processes and releases: FNV-1a with a 64-bit finalizer).

use std::net::IpAddr;

use http::HeaderMap;
use http::header::COOKIE;

use crate::config::HashOn;

/// The request's key, or `None` when it has none (the header or cookie is
/// missing); such requests are spread at random.
pub fn request_key(hash_on: &HashOn, headers: &HeaderMap, client: IpAddr) -> Option<u64> {
    match hash_on {
        HashOn::Header(name) => {
            let value = headers.get(name.value().ok()?)?;
            Some(hash(value.as_bytes()))
        }
        HashOn::Cookie(name) => headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| k == name)
            .map(|(_, value)| hash(value.as_bytes())),
        HashOn::ClientAddress => Some(match client {
            IpAddr::V4(ip) => hash(&ip.octets()),
            IpAddr::V6(ip) => hash(&ip.octets()),
        }),
    }
}

/// A well-mixed 64-bit hash of `bytes`.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // murmur3's fmix64: FNV alone clusters similar short keys.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_header_cookie_or_address() {
        let mut headers = HeaderMap::new();
        headers.insert("x-user", "alice".parse().unwrap());
        headers.insert(COOKIE, "a=1; session=s3; b=2".parse().unwrap());
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let header = HashOn::Header(crate::config::checked::Checked::parse("x-user"));
        assert_eq!(request_key(&header, &headers, ip), Some(hash(b"alice")));
        let cookie = HashOn::Cookie("session".into());
        assert_eq!(request_key(&cookie, &headers, ip), Some(hash(b"s3")));
        let missing = HashOn::Cookie("nope".into());
        assert_eq!(request_key(&missing, &headers, ip), None);
        assert_eq!(
            request_key(&HashOn::ClientAddress, &headers, ip),
            Some(hash(&[10, 1, 2, 3]))
        );
    }
}
