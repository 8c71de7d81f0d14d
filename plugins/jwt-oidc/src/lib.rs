//! `jwt-oidc`: verifies a JSON Web Token against the keys its issuer
//! publishes, fetched over the `http` capability.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "jwt-oidc"
//! capabilities = ["http", "cache", "clock", "context", "log"]
//! http = { allow = ["https://id.example.com"] }
//! [routes.plugins.config]
//! issuer = "https://id.example.com"      # discovery: <issuer>/.well-known/openid-configuration
//! # jwks_uri = "https://id.example.com/keys"   # or the key set directly, without discovery
//! audience = "orders-api"
//! refresh_interval = "1m"                 # shortest time between two fetches
//! max_age = "5m"                          # a set older than this is fetched again before use
//! ```
//!
//! Everything `jwt` checks is checked the same way (the code is
//! `jwt-core`'s): algorithms bound to keys, `kid` only selecting among the
//! fetched keys, `jku`/`x5u`/`x5c`/`jwk` ignored, `crit` refused, then
//! `exp`/`nbf`/`iss`/`aud`/required claims. What differs is where the keys
//! come from ([`keyset`]):
//! - discovery reads the issuer's OpenID Provider metadata (whose `issuer`
//!   must be the configured one, OIDC Discovery 4.3) for its `jwks_uri`,
//!   then the key set; with `jwks_uri` set, the set is read directly;
//! - a fetched set is kept in the instance's memory and in `cache` (so the
//!   other instances, and with Redis the other gateways, reuse it), and
//!   fetched again once older than `max_age`;
//! - a token whose `kid` is in no held key (a rotation) fetches again, at
//!   most once per `refresh_interval` across instances;
//! - when the IdP cannot be reached the last good set keeps serving; with
//!   no set at all the request is answered `503`
//!   (`urn:portico:problem:jwks-unavailable`).

#![warn(missing_docs)]

pub mod fetch;
pub mod keyset;

use jwt_core::config::OidcConfig;
use jwt_core::reject::Reason;
use portico_sdk::http::StatusCode;
use portico_sdk::{
    Action, Capability, Error, Plugin, Reply, Request, ResponsePhase, clock, export_plugin, log,
};

/// The plugin. It keeps no per-request state (the key set is per instance).
pub struct JwtOidc {
    config: &'static OidcConfig,
}

impl Plugin for JwtOidc {
    type Config = OidcConfig;
    /// The host capabilities it calls: its route grants `capabilities = ["log", "clock", "cache", "context", "http"]`.
    const CAPABILITIES: &'static [Capability] = &[
        Capability::Log,
        Capability::Clock,
        Capability::Cache,
        Capability::Context,
        Capability::Http,
    ];
    /// No response phase: the instance is free as soon as `on_request` returns.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::Skip;

    fn new(config: &'static OidcConfig) -> Self {
        JwtOidc { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let OidcConfig { config, remote } = self.config;
        let token = match jwt_core::begin(req, config) {
            Ok(token) => token,
            Err(answer) => return Ok(answer),
        };
        let now_ms = clock::now_ms();
        let keys = match keyset::current(remote, now_ms) {
            Ok(keys) => keys,
            Err(why) => {
                log::error(format!("no key set to verify tokens with: {why}"));
                return Ok(unavailable());
            }
        };
        let checked = match jwt_core::check(&token, &keys.keys, config, now_ms) {
            Err(Reason::UnknownKey) => match keyset::after_unknown_kid(remote, now_ms, &keys) {
                Some(newer) => jwt_core::check(&token, &newer.keys, config, now_ms),
                None => Err(Reason::UnknownKey),
            },
            other => other,
        };
        match checked {
            Ok(claims) => jwt_core::admit(req, config, &claims),
            Err(reason) => Ok(jwt_core::refuse(req, &reason, &config.realm)),
        }
    }
}

export_plugin!(JwtOidc);

/// 503: no key set was ever fetched and the issuer cannot be reached.
fn unavailable() -> Action {
    Action::Respond(
        Reply::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "jwks-unavailable",
            "Token keys unavailable",
            "The identity provider's keys could not be fetched; try again shortly.",
            "jwt-oidc",
        )
        .header("retry-after", "1"),
    )
}

#[cfg(test)]
mod tests;
