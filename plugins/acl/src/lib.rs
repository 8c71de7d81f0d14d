//! `acl`: allows or denies a request by who an authentication plugin
//! earlier in the chain said it is: the context's `consumer` and
//! `consumer.groups` (comma-separated), which `api-key`, `jwt`
//! (`groups_claim`), `oauth2-introspection` (the scopes) and `basic-auth`
//! set.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "acl"
//! capabilities = ["context"]
//! config.allow = { groups = ["admin", "orders:read"], consumers = ["ops-bot"] }
//! config.deny = { consumers = ["mallory"], groups = ["suspended"] }
//! ```
//!
//! `deny` is checked first: a listed consumer or any listed group is
//! refused. Then, when `allow` lists anything, the consumer must be listed
//! or have a listed group. A request without a consumer (no authentication
//! plugin ran before, or it named none) is refused whenever `allow` is
//! set. A refusal is `403` with a problem+json body
//! (`urn:portico:problem:forbidden`) that does not say which rule matched.

#![warn(missing_docs)]

use std::collections::BTreeSet;

use portico_sdk::http::StatusCode;
use portico_sdk::{
    Action, Capability, Error, Plugin, Reply, Request, ResponsePhase, context, export_plugin,
};
use serde::Deserialize;

/// The route's `config` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawConfig")]
pub struct Config {
    /// Who is let through.
    pub allow: List,
    /// Who is refused, whatever `allow` says.
    pub deny: List,
}

/// Consumers and groups.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct List {
    /// Consumer names.
    #[serde(default)]
    pub consumers: BTreeSet<String>,
    /// Group names.
    #[serde(default)]
    pub groups: BTreeSet<String>,
}

impl List {
    fn is_empty(&self) -> bool {
        self.consumers.is_empty() && self.groups.is_empty()
    }

    fn matches(&self, consumer: Option<&str>, groups: &[&str]) -> bool {
        consumer.is_some_and(|c| self.consumers.contains(c))
            || groups.iter().any(|g| self.groups.contains(*g))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    allow: List,
    #[serde(default)]
    deny: List,
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        if raw.allow.is_empty() && raw.deny.is_empty() {
            return Err("give `allow` or `deny` (consumers or groups)".to_owned());
        }
        if let Some(name) = raw.allow.consumers.intersection(&raw.deny.consumers).next() {
            return Err(format!("consumer `{name}` is in both `allow` and `deny`"));
        }
        if let Some(name) = raw.allow.groups.intersection(&raw.deny.groups).next() {
            return Err(format!("group `{name}` is in both `allow` and `deny`"));
        }
        Ok(Config {
            allow: raw.allow,
            deny: raw.deny,
        })
    }
}

/// The plugin; it keeps no per-request state.
pub struct Acl {
    config: &'static Config,
}

impl Plugin for Acl {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["context"]`.
    const CAPABILITIES: &'static [Capability] = &[Capability::Context];
    /// No response phase: the instance is free as soon as `on_request` returns.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::Skip;

    fn new(config: &'static Config) -> Self {
        Acl { config }
    }

    fn on_request(&mut self, _req: &mut Request<'_>) -> Result<Action, Error> {
        let consumer = context::get(context::CONSUMER).filter(|c| !c.is_empty());
        let groups = context::get("consumer.groups").unwrap_or_default();
        let groups: Vec<&str> = groups.split(',').filter(|g| !g.is_empty()).collect();
        let consumer = consumer.as_deref();
        let allowed = !self.config.deny.matches(consumer, &groups)
            && (self.config.allow.is_empty() || self.config.allow.matches(consumer, &groups));
        if allowed {
            return Ok(Action::Continue);
        }
        let detail = if consumer.is_none() {
            "This route needs an authenticated consumer, and none was named."
        } else {
            "The consumer may not reach this route."
        };
        Ok(Action::Respond(Reply::problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            detail,
            env!("CARGO_PKG_NAME"),
        )))
    }
}

export_plugin!(Acl);

#[cfg(test)]
mod tests {
    use portico_sdk::testing::{MockHost, MockRequest};
    use serde_json::json;

    use super::*;

    fn decide(
        host: &MockHost,
        config: serde_json::Value,
        consumer: Option<&str>,
        groups: &str,
    ) -> u16 {
        host.clear_context();
        if let Some(consumer) = consumer {
            host.set_context("consumer", consumer);
            host.set_context("consumer.groups", groups);
        }
        let mut plugin = host.load::<Acl>(config).expect("config accepted");
        match plugin.on_request(&mut MockRequest::get("/")).expect("runs") {
            Action::Continue => 200,
            Action::Respond(reply) => reply.status().as_u16(),
        }
    }

    #[test]
    fn deny_wins_then_allow_decides() {
        let host = MockHost::with_grants(&["context"]);
        let config = json!({
            "allow": { "groups": ["admin", "orders:read"], "consumers": ["ops-bot"] },
            "deny": { "consumers": ["mallory"], "groups": ["suspended"] },
        });
        assert_eq!(
            decide(&host, config.clone(), Some("alice"), "admin,beta"),
            200
        );
        assert_eq!(
            decide(&host, config.clone(), Some("bob"), "orders:read"),
            200
        );
        assert_eq!(decide(&host, config.clone(), Some("ops-bot"), ""), 200);
        assert_eq!(decide(&host, config.clone(), Some("carol"), "beta"), 403);
        assert_eq!(decide(&host, config.clone(), Some("mallory"), "admin"), 403);
        assert_eq!(
            decide(&host, config.clone(), Some("dave"), "admin,suspended"),
            403
        );
        assert_eq!(decide(&host, config.clone(), None, ""), 403, "no consumer");
        let deny_only = json!({ "deny": { "groups": ["suspended"] } });
        assert_eq!(decide(&host, deny_only.clone(), Some("erin"), ""), 200);
        assert_eq!(
            decide(&host, deny_only, None, ""),
            200,
            "deny alone lets anonymous through"
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        let host = MockHost::with_grants(&["context"]);
        for (config, message) in [
            (json!({}), "give `allow` or `deny`"),
            (
                json!({ "allow": { "groups": ["a"] }, "deny": { "groups": ["a"] } }),
                "group `a` is in both",
            ),
            (
                json!({ "allow": { "users": ["a"] } }),
                "unknown field `users`",
            ),
        ] {
            let error = host.load::<Acl>(config).err().expect("refused");
            assert!(error.message().contains(message), "{}", error.message());
        }
    }
}
