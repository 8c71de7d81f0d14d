//! `ip-rules`: allows or denies requests by client IP address.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "ip-rules"
//! config.allow = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
//! config.deny = ["10.0.0.13"]
//! config.client_address = { header = "x-real-ip", trusted_proxies = ["10.1.0.0/16"] }
//! ```
//!
//! Evaluation, in order:
//!
//! 1. the client address: the connection's (`client_addr`), unless
//!    `client_address` is set and the connection comes from a trusted proxy;
//!    then the rightmost address in the header that is not a trusted proxy
//!    (see [`client::resolve`]). A header that does not parse there: 403.
//! 2. in `deny`: 403 (deny wins);
//! 3. `allow` not empty and the address not in it: 403;
//! 4. otherwise the request goes on.
//!
//! IPv4-mapped IPv6 addresses count as IPv4. Needs no capabilities.

#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod net;
pub mod problem;

use portico_sdk::{Action, Capability, Error, Plugin, Request, ResponsePhase, export_plugin};

use crate::config::Config;
use crate::net::any_contains;

/// The plugin; it keeps no per-request state.
pub struct IpRules {
    config: &'static Config,
}

impl Plugin for IpRules {
    type Config = Config;
    /// Calls no host capability: its route grants none.
    const CAPABILITIES: &'static [Capability] = &[];
    /// No response phase: the instance is free as soon as `on_request` returns.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::Skip;

    fn new(config: &'static Config) -> Self {
        IpRules { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        let peer = req.client_addr().to_string();
        let client = match &config.client_address {
            Some(from) => client::resolve(
                &peer,
                &req.header_all(from.header.0.as_str()),
                &from.trusted_proxies.0,
            ),
            None => client::resolve(&peer, &[], &[]),
        };
        let allowed = client.is_ok_and(|addr| {
            !any_contains(&config.deny, addr)
                && (config.allow.is_empty() || any_contains(&config.allow, addr))
        });
        match allowed {
            true => Ok(Action::Continue),
            false => Ok(Action::Respond(problem::forbidden()?)),
        }
    }
}

export_plugin!(IpRules);

#[cfg(test)]
mod tests;
