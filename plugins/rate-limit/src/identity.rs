//! Who a request is counted against.

use portico_sdk::{Request, context};
use sha2::{Digest, Sha256};

use crate::config::KeySource;

/// Longest identity kept as written; longer ones (a long header value) are
/// replaced by their SHA-256, so kv keys stay small.
const MAX_PLAIN: usize = 64;

/// The identity of `req` under `source`, typed by a prefix so a consumer
/// named like an address never shares its counter: `c:<consumer>`,
/// `h:<value>`, `ip:<addr>` or `route`. A missing context value or header
/// falls back to the client address.
pub fn of(source: &KeySource, req: &Request<'_>) -> String {
    let (kind, value) = match source {
        KeySource::Route => return "route".to_owned(),
        KeySource::ClientAddr => ("ip", req.client_addr().to_string()),
        KeySource::Context(key) => match context::get(key) {
            Some(value) => ("c", value),
            None => ("ip", req.client_addr().to_string()),
        },
        KeySource::Header(name) => match req.header(name.as_str()) {
            Some(value) => ("h", value),
            None => ("ip", req.client_addr().to_string()),
        },
    };
    if value.len() <= MAX_PLAIN {
        return format!("{kind}:{value}");
    }
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}:sha256:{hex}")
}
