//! `jwt-core`: what the `jwt` and `jwt-oidc` plugins share. Not a plugin
//! itself (an rlib, never a component).
//!
//! - [`token`]: a compact JWS decoded and verified against a key list;
//!   `kid` only selects among the keys given, `jku`/`x5u`/`x5c`/`jwk` are
//!   ignored, `crit` is refused.
//! - [`keys`] and [`alg`]: keys from PEM, secrets, JWKs and JWKS documents,
//!   each bound to one algorithm (so `alg: none` and HMAC-with-a-public-key
//!   tokens never verify), checked with pure-Rust RustCrypto code.
//! - [`claims`]: `exp`/`nbf` with leeway, `iss`, `aud`, required claims.
//! - [`config`]: the route's table for either plugin ([`config::Config`]
//!   with its keys written in, [`config::OidcConfig`] with keys fetched).
//! - [`extract`], [`reject`]: where the token is read from; the 401s.
//!
//! [`begin`], [`check`], [`admit`] and [`refuse`] are the request flow both
//! plugins run, with their own key source in between.

#![warn(missing_docs)]

pub mod alg;
pub mod claims;
pub mod config;
pub mod extract;
pub mod keys;
pub mod reject;
pub mod token;

use portico_sdk::{Action, Error, Request, context, log};

use crate::config::Config;
use crate::keys::Key;
use crate::reject::Reason;
use crate::token::Object;

/// The context key the subject is stored under (the SDK's well-known one).
pub const CONSUMER_KEY: &str = portico_sdk::context::CONSUMER;

/// The first step of a request: removes client-sent copies of the headers
/// claims are forwarded in, then reads the token. `Err` is the answer when
/// there is none (401 with a bare challenge) or it cannot be read.
pub fn begin(req: &mut Request<'_>, config: &Config) -> Result<String, Action> {
    for header in config.forward_claims.values() {
        req.remove_header(header.as_str());
    }
    match extract::token(req, &config.token) {
        Ok(Some(token)) => Ok(token),
        Ok(None) => Err(reject::missing(&config.realm)),
        Err(reason) => Err(refuse(req, &reason, &config.realm)),
    }
}

/// Verifies `token`'s signature with `keys`, then its claims at `now_ms`.
pub fn check(token: &str, keys: &[Key], config: &Config, now_ms: u64) -> Result<Object, Reason> {
    let (claims, _key) = token::verify(token, keys)?;
    claims::check(&claims, config, now_ms)?;
    Ok(claims)
}

/// Lets a request with verified `claims` through: the chosen claims as
/// request headers, the subject as the context's `consumer` and, with
/// `groups_claim`, its values as `consumer.groups`.
pub fn admit(req: &mut Request<'_>, config: &Config, claims: &Object) -> Result<Action, Error> {
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

/// Logs why, and answers 401 without saying why.
pub fn refuse(req: &Request<'_>, reason: &Reason, realm: &str) -> Action {
    log::info(format!(
        "rejected a token for {} {}: {reason}",
        req.method(),
        req.path()
    ));
    reject::invalid(realm)
}
