//! `oauth2-introspection`: accepts a request whose bearer token the
//! identity provider says is active (OAuth 2.0 Token Introspection,
//! RFC 7662), and names the consumer for the plugins after it.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "oauth2-introspection"
//! capabilities = ["http", "cache", "clock", "context"]
//! http = { allow = ["https://idp.example.com"], timeout_ms = 2000 }
//! config_files = { client_secret = "secrets/idp-client-secret" }
//! config.endpoint = "https://idp.example.com/oauth2/introspect"
//! config.client_id = "portico"
//! config.required_scopes = ["orders:read"]
//! config.headers = { sub = "x-user" }
//! ```
//!
//! For each request: the `Authorization: Bearer <token>` value (401 with
//! `WWW-Authenticate: Bearer realm=".."` without one); a cached verdict
//! when there is one (keyed by the token's SHA-256, never the token);
//! otherwise a `POST` of the token to the endpoint with the client's
//! credentials (`auth_method`: HTTP Basic or in the form). Not active, or
//! past its `exp`: 401 `error="invalid_token"`. Active without every
//! `required_scopes` or without `audience` in its `aud`: 403
//! `error="insufficient_scope"`. Active: cached until its `exp` (at most
//! `max_cache`), the context gets `consumer` (`sub`, else
//! `username`, else `client_id`), `consumer.groups` (the scopes,
//! comma-separated), `oauth.client_id` and `oauth.scope`; the configured
//! `headers` are set; the `Authorization` header goes on to the upstream.
//! When the IdP cannot answer (unreachable, timeout, an error status, a
//! body that is not RFC 7662), the request fails closed: 503
//! `urn:portico:problem:introspection-unavailable` with `Retry-After: 1`.

#![warn(missing_docs)]

pub mod config;
pub mod introspect;
pub mod reject;

use portico_sdk::{
    Action, Capability, Error, Plugin, Request, ResponsePhase, clock, context, export_plugin, log,
};

use crate::config::{Config, Field};
use crate::introspect::{Active, Verdict};

/// The plugin; it keeps no per-request state.
pub struct Introspection {
    config: &'static Config,
}

impl Plugin for Introspection {
    type Config = Config;
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

    fn new(config: &'static Config) -> Self {
        Introspection { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        let Some(token) = bearer(req.header("authorization").as_deref()) else {
            return Ok(reject::missing(&config.realm));
        };
        let now_s = clock::now_ms() / 1000;
        let active = match introspect::cached(&token) {
            Some(active) if active.exp.is_none_or(|exp| exp > now_s) => active,
            _ => match introspect::introspect(config, &token, now_s) {
                Ok(Verdict::Active(active)) => {
                    introspect::remember(&token, &active, now_s, config.max_cache.as_secs());
                    active
                }
                Ok(Verdict::Inactive) => return Ok(reject::inactive(&config.realm)),
                Err(unavailable) => {
                    log::warn(format!("introspection failed: {}", unavailable.0));
                    return Ok(reject::unavailable());
                }
            },
        };
        if let Some(refusal) = refusal(config, &active) {
            return Ok(refusal);
        }
        admit(config, req, &active)?;
        Ok(Action::Continue)
    }
}

export_plugin!(Introspection);

/// The token of an `Authorization: Bearer <token>` value (scheme in any
/// case); `None` for anything else or an empty token.
fn bearer(value: Option<&str>) -> Option<String> {
    let (scheme, token) = value?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then(|| token.to_owned())
}

/// The 403 for an active token that lacks a required scope or audience.
fn refusal(config: &Config, active: &Active) -> Option<Action> {
    let missing: Vec<&String> = config
        .required_scopes
        .iter()
        .filter(|scope| !active.scopes().any(|s| s == scope.as_str()))
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Some(reject::insufficient(
            &config.realm,
            &config.required_scopes,
            &format!("The token lacks the scope {}.", names.join(", ")),
        ));
    }
    if let Some(audience) = &config.audience
        && !active.aud.iter().any(|a| a == audience)
    {
        return Some(reject::insufficient(
            &config.realm,
            &config.required_scopes,
            &format!("The token is not for the audience `{audience}`."),
        ));
    }
    None
}

/// Names the consumer in the context and sets the configured headers.
fn admit(config: &Config, req: &mut Request<'_>, active: &Active) -> Result<(), Error> {
    let scopes: Vec<&str> = active.scopes().collect();
    context::set(context::CONSUMER, active.consumer().unwrap_or_default());
    context::set("consumer.groups", &scopes.join(","));
    context::set(
        "oauth.client_id",
        active.client_id.as_deref().unwrap_or_default(),
    );
    context::set("oauth.scope", active.scope.as_deref().unwrap_or_default());
    for (field, header) in &config.headers.0 {
        let value = match field {
            Field::Sub => active.sub.as_deref(),
            Field::ClientId => active.client_id.as_deref(),
            Field::Username => active.username.as_deref(),
            Field::Scope => active.scope.as_deref(),
        };
        match value {
            Some(value) => req.set_header(header.as_str(), value)?,
            None => req.remove_header(header.as_str()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
