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

pub mod alg;
pub mod claims;
pub mod config;
pub mod extract;
pub mod keys;
pub mod reject;
pub mod token;

use portico_sdk::{Action, Error, Plugin, Request, clock, context, export_plugin, log};

use crate::config::Config;
use crate::reject::Reason;
use crate::token::Object;

/// The context key the subject is stored under.
pub const CONSUMER_KEY: &str = "consumer";

/// The plugin. It keeps no per-request state.
pub struct Jwt {
    config: &'static Config,
}

impl Plugin for Jwt {
    type Config = Config;

    fn new(config: &'static Config) -> Self {
        Jwt { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        for header in config.forward_claims.values() {
            req.remove_header(header.as_str());
        }
        let token = match extract::token(req, &config.token) {
            Ok(Some(token)) => token,
            Ok(None) => return Ok(reject::missing(&config.realm)),
            Err(reason) => return Ok(refuse(req, &reason, &config.realm)),
        };
        let claims = match authenticate(&token, config) {
            Ok(claims) => claims,
            Err(reason) => return Ok(refuse(req, &reason, &config.realm)),
        };
        for (claim, header) in &config.forward_claims {
            if let Some(text) = claims.0.get(claim).and_then(claims::header_text) {
                req.set_header(header.as_str(), &text)?;
            }
        }
        if let Some(subject) = claims
            .0
            .get(&config.consumer_claim)
            .and_then(|v| v.as_str())
        {
            context::set(CONSUMER_KEY, subject);
        }
        if let Some(claim) = &config.groups_claim {
            let groups = claims.0.get(claim).map(claims::groups).unwrap_or_default();
            context::set("consumer.groups", &groups.join(","));
        }
        Ok(Action::Continue)
    }
}

export_plugin!(Jwt);

/// Verifies the signature, then the claims.
fn authenticate(token: &str, config: &Config) -> Result<Object, Reason> {
    let (claims, _key) = token::verify(token, &config.keys)?;
    claims::check(&claims, config, clock::now_ms())?;
    Ok(claims)
}

/// Logs why, and answers 401 without saying why.
fn refuse(req: &Request<'_>, reason: &Reason, realm: &str) -> Action {
    log::info(format!(
        "rejected a token for {} {}: {reason}",
        req.method(),
        req.path()
    ));
    reject::invalid(realm)
}

#[cfg(test)]
mod tests;
