//! `rate-limit`: sliding-window rate limits on the host's atomic `kv`.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "rate-limit"
//! capabilities = ["kv", "clock", "context", "metrics"]
//! config.key = "consumer"        # or "client_addr", "route", "header:x-api-key", "context:<key>"
//! config.policies = [{ limit = 10, window = "1s" }, { limit = 1000, window = "1h" }]
//! ```
//!
//! Each request is counted against every policy, per `key` (a consumer set
//! in the request context by an auth plugin, the client address, a header
//! or the whole route; a missing consumer or header falls back to the client
//! address) and per `bucket` (default: the route). A request over any
//! policy gets `429 Too Many Requests` with `Retry-After` and an
//! `application/problem+json` body; allowed and rejected responses carry
//! `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
//!
//! The algorithm is the sliding-window counter ([`window`]): two fixed
//! windows per policy, the previous one weighted by its overlap with the
//! sliding window. The current window's counter is the host's atomic
//! `increment`, so racing requests each see a distinct count and at most
//! `limit` are admitted per window (rejected requests give their count back).
//! Time comes from the `clock` capability.
//!
//! Rejections are counted through the `metrics` capability as
//! `plugin_rate_limit_rejections_total{route, policy}` (policy names come
//! from the config, so the label is bounded).
//!
//! With the counters in Redis (`[state] backend = "redis"`), the plugin
//! entry's `on_state_error` decides what an outage does: `"local"` (the
//! default) counts in this gateway's memory until Redis is back (fail
//! open: each instance admits up to the limit); `"fail"` answers `503
//! Service Unavailable` (`urn:portico:problem:rate-limit-unavailable`, with
//! `Retry-After: 1`) without calling the upstream (fail closed), counted as
//! `plugin_rate_limit_store_unavailable_total`.

#![warn(missing_docs)]

pub mod config;
pub mod fields;
pub mod identity;
pub mod limiter;
pub mod window;

use portico_sdk::kv::KvError;
use portico_sdk::{
    Action, Capability, Error, Plugin, Request, Response, ResponsePhase, clock, export_plugin,
    metrics,
};

use crate::config::Config;
use crate::limiter::Decision;

/// The plugin; per request, it keeps the decision for the response fields.
pub struct RateLimit {
    config: &'static Config,
    decision: Option<Decision>,
}

impl Plugin for RateLimit {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["clock", "kv", "context", "metrics"]`.
    const CAPABILITIES: &'static [Capability] = &[
        Capability::Clock,
        Capability::Kv,
        Capability::Context,
        Capability::Metrics,
    ];

    fn new(config: &'static Config) -> Self {
        RateLimit {
            config,
            decision: None,
        }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        if !config.headers {
            // Nothing to add to the response: the instance is free at once.
            req.set_response_phase(ResponsePhase::Skip);
        }
        let bucket = match &config.bucket {
            Some(bucket) => bucket.0.clone(),
            None => req.route_name(),
        };
        let identity = identity::of(&config.key, req);
        let decision = match limiter::check(&config.policies.0, &bucket, &identity, clock::now_ms())
        {
            Ok(decision) => decision,
            // The shared counters cannot be reached and the route chose
            // `on_state_error = "fail"`: fail closed.
            Err(KvError::Unavailable) => {
                let _ = metrics::increment("store_unavailable", &[]);
                return Ok(Action::Respond(fields::store_unavailable()?));
            }
            Err(error) => return Err(error.into()),
        };
        let action = match decision.rejected_by {
            Some(policy) => {
                // Best effort: a refused report must not fail the request.
                let _ = metrics::increment("rejections", &[("policy", &policy.name)]);
                Action::Respond(fields::too_many_requests(&decision, config.headers)?)
            }
            None => Action::Continue,
        };
        self.decision = Some(decision);
        Ok(action)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        if let (true, Some(decision)) = (self.config.headers, &self.decision) {
            res.set_header("ratelimit-policy", fields::policy_field(&decision.states))?;
            res.set_header("ratelimit", fields::limit_field(&decision.states))?;
        }
        Ok(Action::Continue)
    }
}

export_plugin!(RateLimit);

#[cfg(test)]
mod tests;
