//! `api-key`: authenticates requests by API key and names the consumer for
//! the plugins after it.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "api-key"
//! capabilities = ["context"]
//! config.header = "x-api-key"              # default
//! config.query = "api_key"                 # optional: also accept ?api_key=...
//! config.realm = "orders"                  # default "portico"
//! config.keys = [
//!   # printf %s "$KEY" | sha256sum
//!   { sha256 = "9788c3e78b4a24850f34cd3df989e95c0d0df9e9b3c59f192d821047557e75ea", consumer = "alice", groups = ["admin", "beta"] },
//! ]
//! ```
//!
//! The config holds only SHA-256 hashes of keys (an entry that is not 64 hex
//! digits is refused at load, so a pasted plain key never stays there). The
//! presented key is hashed and compared with every configured hash in
//! constant time. On a match the plugin sets the context values `consumer`
//! and `consumer.groups` (comma-separated, empty when none) and removes the
//! key from the request (header and query parameter) before it goes on.
//! Otherwise it answers 401 with `WWW-Authenticate: ApiKey realm="..."`
//! (plus `error="invalid_key"` for a wrong key) and a problem+json body.

#![warn(missing_docs)]

pub mod config;
pub mod keys;
pub mod problem;
pub mod query;

use portico_sdk::{
    Action, Capability, Error, Plugin, Request, ResponsePhase, context, export_plugin,
};

use crate::config::Config;
use crate::problem::Refusal;

/// The plugin; it keeps no per-request state.
pub struct ApiKey {
    config: &'static Config,
}

impl Plugin for ApiKey {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["context"]`.
    const CAPABILITIES: &'static [Capability] = &[Capability::Context];
    /// No response phase: the instance is free as soon as `on_request` returns.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::Skip;

    fn new(config: &'static Config) -> Self {
        ApiKey { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        let Some(key) = take_key(config, req)? else {
            return Ok(Action::Respond(problem::unauthorized(
                config,
                Refusal::Missing,
            )?));
        };
        let Some(entry) = keys::find(&config.keys.0, |entry| &entry.sha256, &key) else {
            return Ok(Action::Respond(problem::unauthorized(
                config,
                Refusal::Invalid,
            )?));
        };
        let groups: Vec<&str> = entry.groups.iter().map(|g| g.0.as_str()).collect();
        context::set(context::CONSUMER, &entry.consumer.0);
        context::set("consumer.groups", &groups.join(","));
        Ok(Action::Continue)
    }
}

export_plugin!(ApiKey);

/// The presented key (header first, then the query parameter), removed from
/// the request wherever it was. An empty key counts as none.
fn take_key(config: &Config, req: &mut Request<'_>) -> Result<Option<Vec<u8>>, Error> {
    let header = config.header.as_str();
    let from_header = req.header(header).map(String::into_bytes);
    req.remove_header(header);
    let mut from_query = None;
    if let (Some(name), Some(query)) = (&config.query, req.query()) {
        let taken = query::take(&query, &name.0);
        if taken.found {
            req.set_query(taken.rest.as_deref())?;
        }
        from_query = taken.value;
    }
    Ok(from_header
        .filter(|key| !key.is_empty())
        .or(from_query)
        .filter(|key| !key.is_empty()))
}

#[cfg(test)]
mod tests;
