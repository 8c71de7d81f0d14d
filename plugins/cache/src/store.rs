//! Whether and how long a response is stored (RFC 9111 §3, §3.5, §4.2),
//! and writing it under its key.

use std::time::Duration;

use portico_sdk::{Response, cache};

use crate::config::Config;
use crate::directives::CacheControl;
use crate::entry::{Entry, Record};
use crate::freshness::{AgeInputs, explicit_lifetime_ms, initial_age_ms, parse_date_ms};
use crate::key::{self, RequestHeaders};

/// Status codes a response may be stored with without explicit freshness
/// (RFC 9110 §15.1 "heuristically cacheable"; 206 is left out: this cache
/// does not combine partial content).
const HEURISTIC: [u16; 11] = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];

/// Fields not stored: recomputed (`age`, the framing), or connection-only.
const NOT_STORED: [&str; 6] = [
    "age",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
];

/// What the request contributes to the decision.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// The URI's key.
    pub base: String,
    /// When the request went upstream, ms.
    pub request_time_ms: u64,
    /// Its header values, for `Vary`.
    pub headers: RequestHeaders,
    /// It carried `Authorization`.
    pub authorization: bool,
    /// It said `Cache-Control: no-store`.
    pub no_store: bool,
    /// It was a `HEAD` (its response has no body to store).
    pub head: bool,
}

/// How a storable response is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `Vary` names (empty: stored under the URI's key).
    pub vary: Vec<String>,
    /// Freshness lifetime, ms.
    pub lifetime_ms: u64,
    /// `corrected_initial_age`, ms.
    pub initial_age_ms: u64,
    /// TTL of the host's entry, ms.
    pub host_ttl_ms: u64,
}

/// Decides whether a response with `status` and `headers` (all of them,
/// received at `now_ms`) may be stored for the request `req`; the error is
/// why not, as a `Cache-Status` detail token.
pub fn plan(
    config: &Config,
    req: &RequestFacts,
    status: u16,
    headers: &[(String, String)],
    now_ms: u64,
) -> Result<Plan, &'static str> {
    let all = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let first = |name: &str| all(name).first().copied();
    let cc = CacheControl::parse(&all("cache-control"));
    if req.no_store {
        return Err("request-no-store");
    }
    if cc.no_store {
        return Err("no-store");
    }
    if cc.private {
        return Err("private");
    }
    if req.authorization && !(cc.public || cc.s_maxage.is_some() || cc.must_revalidate) {
        return Err("authorization");
    }
    let vary = key::vary_names(&all("vary")).ok_or("vary-star")?;
    if first("set-cookie").is_some() {
        return Err("set-cookie");
    }
    let date_ms = first("date").and_then(parse_date_ms);
    let explicit = explicit_lifetime_ms(&cc, first("expires"), date_ms, now_ms);
    let storable_status = match explicit {
        Some(_) => (200..600).contains(&status) && status != 206 && status != 304,
        None => HEURISTIC.contains(&status),
    };
    if !storable_status {
        return Err("status");
    }
    let lifetime_ms = explicit.unwrap_or(0);
    let initial_age_ms = initial_age_ms(&AgeInputs {
        request_time_ms: req.request_time_ms,
        response_time_ms: now_ms,
        date_ms,
        age_secs: first("age").and_then(|v| v.trim().parse().ok()),
    });
    let fresh_ms = if cc.no_cache {
        0
    } else {
        lifetime_ms.saturating_sub(initial_age_ms)
    };
    let validator = first("etag").is_some() || first("last-modified").is_some();
    let margin_ms = match validator {
        true => config.stale_margin.as_millis(),
        false => 0,
    };
    let host_ttl_ms = fresh_ms.saturating_add(margin_ms);
    if host_ttl_ms == 0 {
        return Err(if lifetime_ms == 0 {
            "no-freshness"
        } else {
            "stale"
        });
    }
    Ok(Plan {
        vary,
        lifetime_ms: if cc.no_cache { 0 } else { lifetime_ms },
        initial_age_ms,
        host_ttl_ms,
    })
}

/// Every header of `res`, lower-case names, in order.
pub fn headers_of(res: &Response<'_>) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for name in res.header_names() {
        for value in res.header_all(&name) {
            headers.push((name.clone(), value));
        }
    }
    headers
}

/// The headers worth storing.
pub fn storable_headers(headers: Vec<(String, String)>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|(name, _)| !NOT_STORED.contains(&name.as_str()))
        .collect()
}

/// The body to store: the declared length must fit the limit (a response
/// without `Content-Length` is not read: reading a body longer than the
/// route's limit would fail the response).
pub fn body_of(config: &Config, res: &Response<'_>) -> Result<Vec<u8>, &'static str> {
    if matches!(res.status().as_u16(), 204 | 304) {
        return Ok(Vec::new());
    }
    let declared = res
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or("no-length")?;
    if declared > config.max_body_bytes.0 {
        return Err("too-large");
    }
    res.body().map_err(|_| "body-unreadable")
}

/// Writes `entry` for the request `req` as `plan` says: under the URI's key,
/// or as a variant behind a `Vary` marker. Returns the key written.
pub fn write(req: &RequestFacts, entry: &Entry, plan: &Plan, now_ms: u64) -> String {
    let ttl = Duration::from_millis(plan.host_ttl_ms);
    if plan.vary.is_empty() {
        cache::set(&req.base, Record::Response(entry.clone()).encode(), ttl);
        return req.base.clone();
    }
    let mut expires_ms = now_ms.saturating_add(plan.host_ttl_ms);
    if let Some(Record::Vary {
        names,
        expires_ms: old,
    }) = cache::get(&req.base).and_then(|bytes| Record::decode(&bytes))
        && names == plan.vary
    {
        expires_ms = expires_ms.max(old);
    }
    let marker = Record::Vary {
        names: plan.vary.clone(),
        expires_ms,
    };
    let marker_ttl = Duration::from_millis(expires_ms.saturating_sub(now_ms).max(1));
    cache::set(&req.base, marker.encode(), marker_ttl);
    let variant = key::variant(&req.base, &plan.vary, |name| {
        req.headers.get(name).cloned().unwrap_or_default()
    });
    cache::set(&variant, Record::Response(entry.clone()).encode(), ttl);
    variant
}
