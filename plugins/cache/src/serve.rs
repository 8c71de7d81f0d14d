//! Answering from a stored response: a reply in the request phase, or the
//! upstream's 304 rewritten in the response phase.

use portico_sdk::http::StatusCode;
use portico_sdk::{Error, Reply, Response};

use crate::entry::Entry;

/// The fields a 304 carries from the stored response (RFC 9110 §15.4.5).
const NOT_MODIFIED_FIELDS: [&str; 7] = [
    "cache-control",
    "content-location",
    "date",
    "etag",
    "expires",
    "last-modified",
    "vary",
];

/// The stored headers sent with `entry` now (the 304 subset when
/// `not_modified`), plus `Age`.
fn served_headers(entry: &Entry, now_ms: u64, not_modified: bool) -> Vec<(&str, String)> {
    let mut headers: Vec<(&str, String)> = entry
        .headers
        .iter()
        .filter(|(name, _)| !not_modified || NOT_MODIFIED_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    headers.push(("age", (entry.age_ms(now_ms) / 1000).to_string()));
    headers
}

/// The reply answering a request from `entry`, with `cache_status`: the
/// stored response, or 304 without a body when the client has it.
pub fn reply(
    entry: Entry,
    now_ms: u64,
    cache_status: String,
    not_modified: bool,
) -> Result<Reply, Error> {
    let status = match not_modified {
        true => StatusCode::NOT_MODIFIED,
        false => StatusCode::from_u16(entry.status)?,
    };
    let mut reply = Reply::new(status);
    for (name, value) in served_headers(&entry, now_ms, not_modified) {
        reply = reply.header(name, value);
    }
    reply = reply.header("cache-status", cache_status);
    if !not_modified {
        reply = reply.body(entry.body);
    }
    Ok(reply)
}

/// Replaces the response in flight (the upstream's 304) with `entry`, or
/// with a 304 carrying its fields when the client has it.
pub fn rewrite(
    res: &mut Response<'_>,
    entry: &Entry,
    now_ms: u64,
    not_modified: bool,
) -> Result<(), Error> {
    for name in res.header_names() {
        res.remove_header(&name);
    }
    for (name, value) in served_headers(entry, now_ms, not_modified) {
        res.append_header(name, &value)?;
    }
    if not_modified {
        res.set_status(StatusCode::NOT_MODIFIED)?;
    } else {
        res.set_status(StatusCode::from_u16(entry.status)?)?;
        res.set_body(&entry.body);
    }
    Ok(())
}
