//! The response fields of draft-ietf-httpapi-ratelimit-headers (structured
//! field lists, one member per policy) and the 429 reply.

use portico_sdk::http::StatusCode;
use portico_sdk::{Error, Reply};
use serde_json::json;

use crate::limiter::{Decision, PolicyState};

/// `RateLimit-Policy`: `"10-per-1s";q=10;w=1, "hourly";q=1000;w=3600`.
pub fn policy_field(states: &[PolicyState]) -> String {
    let members: Vec<String> = states
        .iter()
        .map(|s| {
            format!(
                "\"{}\";q={};w={}",
                s.policy.name(),
                s.policy.limit.0,
                s.policy.window.seconds()
            )
        })
        .collect();
    members.join(", ")
}

/// `RateLimit`: `"10-per-1s";r=3;t=1, "hourly";r=990;t=2400`. `r` is the
/// requests left now; `t` the seconds until one more is allowed when none
/// is left, else until the current counting window ends.
pub fn limit_field(states: &[PolicyState]) -> String {
    let members: Vec<String> = states
        .iter()
        .map(|s| {
            let remaining = s.counts.remaining();
            let reset_ms = match remaining {
                0 => s.counts.wait_ms(),
                _ => s.counts.window_end_ms(),
            };
            format!(
                "\"{}\";r={remaining};t={}",
                s.policy.name(),
                seconds(reset_ms)
            )
        })
        .collect();
    members.join(", ")
}

/// Whole seconds, rounded up.
pub fn seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// 429 with `Retry-After` (at least 1 s) and a problem+json body (RFC 9457).
/// The `503` answered when the shared counters cannot be reached and the
/// route fails closed.
pub fn store_unavailable() -> Result<Reply, Error> {
    let body = json!({
        "type": "urn:portico:problem:rate-limit-unavailable",
        "title": "Rate limit unavailable",
        "status": 503,
        "detail": "The rate limit's shared counters cannot be reached; retry shortly.",
        "retry_after": 1,
    });
    Ok(Reply::new(StatusCode::SERVICE_UNAVAILABLE)
        .header("retry-after", "1")
        .header("content-type", "application/problem+json")
        .body(serde_json::to_vec(&body)?))
}

/// The `429` for a request a policy rejected.
pub fn too_many_requests(decision: &Decision, with_fields: bool) -> Result<Reply, Error> {
    let retry_after = seconds(decision.wait_ms()).max(1);
    let policy = decision
        .rejected_by
        .ok_or_else(|| Error::msg("too_many_requests without a rejecting policy"))?;
    let detail = format!(
        "Rate limit `{}` ({} requests per {}) exceeded; retry in {retry_after} s.",
        policy.name(),
        policy.limit.0,
        policy.window
    );
    let body = json!({
        "type": "urn:portico:problem:rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": detail,
        "policy": policy.name(),
        "retry_after": retry_after,
    });
    let mut reply = Reply::new(StatusCode::TOO_MANY_REQUESTS)
        .header("retry-after", retry_after.to_string())
        .header("content-type", "application/problem+json")
        .body(serde_json::to_vec(&body)?);
    if with_fields {
        reply = reply
            .header("ratelimit-policy", policy_field(&decision.states))
            .header("ratelimit", limit_field(&decision.states));
    }
    Ok(reply)
}
