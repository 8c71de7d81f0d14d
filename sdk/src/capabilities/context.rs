//! Capability `context`: string values shared by the plugins of one chain
//! for one request, e.g. an auth plugin sets `consumer` for a rate limiter to
//! read. Dropped when the request ends.

use crate::imports::context as host;

/// The well-known key an authentication plugin sets to the caller's name
/// (API key owner, JWT subject, Basic user, ...), which rate limiting,
/// ACLs, transforms, access logs and analytics read.
pub const CONSUMER: &str = "consumer";

/// The value under `key` set earlier in this request, if any.
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// Sets `key` to `value` for the rest of this request.
pub fn set(key: &str, value: &str) {
    host::set(key, value);
}
