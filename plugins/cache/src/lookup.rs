//! Finding a stored response for a request, and whether it may be used
//! without asking the upstream (RFC 9111 §4, §4.2, §5.2.1).

use portico_sdk::{Request, cache};

use crate::directives::CacheControl;
use crate::entry::{Entry, Record};
use crate::key;

/// A stored response and the key it is stored under.
#[derive(Debug, Clone)]
pub struct Found {
    /// The key (the URI's, or a variant's).
    pub key: String,
    /// The response.
    pub entry: Entry,
}

/// The outcome of a lookup.
#[derive(Debug)]
pub enum Lookup {
    /// A stored response matches the request.
    Found(Found),
    /// None does: `miss` (nothing for the URI) or `vary-miss` (responses
    /// for the URI, none for these header values).
    Miss(&'static str),
}

/// Looks up the response stored for `req` under the URI key `base`.
pub fn find(base: &str, req: &Request<'_>) -> Lookup {
    match cache::get(base).and_then(|bytes| Record::decode(&bytes)) {
        Some(Record::Response(entry)) => Lookup::Found(Found {
            key: base.to_owned(),
            entry,
        }),
        Some(Record::Vary { names, .. }) => {
            let variant = key::variant(base, &names, |name| req.header_all(name));
            match cache::get(&variant).and_then(|bytes| Record::decode(&bytes)) {
                Some(Record::Response(entry)) => Lookup::Found(Found {
                    key: variant,
                    entry,
                }),
                _ => Lookup::Miss("vary-miss"),
            }
        }
        None => Lookup::Miss("miss"),
    }
}

/// Whether a stored response may answer the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Serve it.
    Serve,
    /// Ask the upstream first; the reason is the `Cache-Status` `fwd`:
    /// `stale`, or `request` when the request's directives demand it.
    Validate(&'static str),
}

/// Decides from the stored response's and the request's directives.
pub fn usable(entry: &Entry, req_cc: &CacheControl, now_ms: u64) -> Use {
    let res_cc = CacheControl::parse(&entry.header_all("cache-control"));
    let age_ms = entry.age_ms(now_ms);
    if req_cc.no_cache
        || req_cc
            .max_age
            .is_some_and(|max| u128::from(age_ms) > u128::from(max) * 1000)
    {
        return Use::Validate("request");
    }
    if res_cc.no_cache {
        return Use::Validate("stale");
    }
    let ttl_ms = entry.ttl_ms(now_ms);
    let min_fresh_ms = i128::from(req_cc.min_fresh.unwrap_or(0)) * 1000;
    if ttl_ms - min_fresh_ms > 0 {
        return Use::Serve;
    }
    if ttl_ms > 0 {
        return Use::Validate("request");
    }
    let stale_allowed = match req_cc.max_stale {
        Some(None) => true,
        Some(Some(secs)) => -ttl_ms <= i128::from(secs) * 1000,
        None => false,
    };
    if stale_allowed && !res_cc.revalidate_when_stale() {
        return Use::Serve;
    }
    Use::Validate("stale")
}

/// The request's `Cache-Control`, with `Pragma: no-cache` read as
/// `no-cache` when there is no `Cache-Control` (RFC 9111 §5.4).
pub fn request_directives(req: &Request<'_>) -> CacheControl {
    let lines = req.header_all("cache-control");
    let mut cc = CacheControl::parse(&lines);
    if lines.is_empty() {
        cc.no_cache = req
            .header_all("pragma")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("no-cache"));
    }
    cc
}
