//! `jwt`: verifies a JSON Web Token on every request and hands its claims on.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "jwt"
//! capabilities = ["log", "clock", "context"]
//! config_files = { jwks = "keys/jwks.json" }          # optional: a JWKS file, read by the gateway
//! [routes.plugins.config]
//! issuer = "https://id.example.com"                   # or an array of accepted issuers
//! audience = "orders-api"                             # the token's `aud` must name one
//! keys = [{ kid = "hs1", alg = "HS256", secret = "a secret of at least thirty-two bytes!" }]
//! forward_claims = { sub = "x-user", scope = "x-scope" }
//! ```
//!
//! The token (`Authorization: Bearer <jwt>` by default) is a compact JWS
//! signed with HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 or
//! EdDSA (Ed25519), verified with pure-Rust RustCrypto code. Every key is
//! bound to one algorithm and verifies only tokens of that algorithm, so
//! `alg: none` and HMAC-with-a-public-key tokens never verify. `kid` only
//! selects among configured keys; `jku`, `x5u`, `x5c` and `jwk` headers are
//! ignored; any `crit` header is refused. Then `exp`/`nbf` (with leeway),
//! `iss`, `aud` and the required claims are checked. A token that passes has
//! its chosen claims forwarded as request headers (client-sent copies of
//! those headers are always removed) and its subject set as the `consumer`
//! context value for later plugins. Any failure is a 401 with
//! `WWW-Authenticate: Bearer realm="api", error="invalid_token"`; the
//! reason is logged, never sent.

#![warn(missing_docs)]

pub use jwt_core::{CONSUMER_KEY, alg, claims, config, extract, keys, reject, token};

use jwt_core::config::Config;
use portico_sdk::{
    Action, Capability, Error, Plugin, Request, ResponsePhase, clock, export_plugin,
};

/// The plugin. It keeps no per-request state.
pub struct Jwt {
    config: &'static Config,
}

impl Plugin for Jwt {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["log", "clock", "context"]`.
    const CAPABILITIES: &'static [Capability] =
        &[Capability::Log, Capability::Clock, Capability::Context];
    /// No response phase: the instance is free as soon as `on_request` returns.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::Skip;

    fn new(config: &'static Config) -> Self {
        Jwt { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        let token = match jwt_core::begin(req, config) {
            Ok(token) => token,
            Err(answer) => return Ok(answer),
        };
        match jwt_core::check(&token, &config.keys, config, clock::now_ms()) {
            Ok(claims) => jwt_core::admit(req, config, &claims),
            Err(reason) => Ok(jwt_core::refuse(req, &reason, &config.realm)),
        }
    }
}

export_plugin!(Jwt);

#[cfg(test)]
mod tests;
