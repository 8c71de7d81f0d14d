//! `basic-auth`: HTTP Basic authentication (RFC 7617) against password
//! hashes, and the consumer named for the plugins after it.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "basic-auth"
//! capabilities = ["context"]
//! config.realm = "orders"                        # default "portico"
//! config.users = [
//!   { username = "alice", hash = "$argon2id$v=19$m=19456,t=2,p=1$...", groups = ["admin"] },
//!   { username = "bob", hash = "$2b$10$..." },
//! ]
//! config_files = { htpasswd = "users.htpasswd" } # optional: `name:hash` lines (htpasswd -B)
//! ```
//!
//! Hashes are argon2id PHC strings or bcrypt (`$2a$`/`$2b$`/`$2y$`);
//! anything else fails the route at load, so a plain password never stays
//! in a config. A request with `Authorization: Basic base64(user:pass)`
//! whose password matches has the context's `consumer` and
//! `consumer.groups` set and its `Authorization` header removed before
//! the upstream. A missing, malformed or wrong credential is `401` with
//! `WWW-Authenticate: Basic realm="...", charset="UTF-8"` and a
//! problem+json body. An unknown user costs one hash verification too (of
//! a configured hash), so timing does not tell which names exist.

#![warn(missing_docs)]

pub mod users;

use base64::Engine;
use portico_sdk::http::StatusCode;
use portico_sdk::{
    Action, Capability, Error, Plugin, Reply, Request, ResponsePhase, context, export_plugin,
};
use serde::Deserialize;

use crate::users::{Hash, User, Users};

/// The route's `config` table.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    /// The realm in `WWW-Authenticate`.
    pub realm: String,
    /// Every user.
    pub users: Users,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_realm")]
    realm: String,
    #[serde(default)]
    users: Vec<RawUser>,
    htpasswd: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: String,
    hash: String,
    #[serde(default)]
    groups: Vec<String>,
}

fn default_realm() -> String {
    "portico".to_owned()
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        if raw.realm.contains('"') || raw.realm.chars().any(char::is_control) {
            return Err("`realm` must not contain quotes or control characters".to_owned());
        }
        let mut users = Users::new();
        for (i, user) in raw.users.into_iter().enumerate() {
            users::check_name(&user.username).map_err(|e| format!("users[{i}]: {e}"))?;
            let hash = Hash::parse(&user.hash).map_err(|e| format!("users[{i}].hash: {e}"))?;
            if user.groups.iter().any(|g| g.is_empty() || g.contains(',')) {
                return Err(format!(
                    "users[{i}].groups: names must be non-empty, without `,`"
                ));
            }
            if users.contains_key(&user.username) {
                return Err(format!(
                    "users[{i}]: user `{}` is defined twice",
                    user.username
                ));
            }
            users.insert(
                user.username,
                User {
                    hash,
                    groups: user.groups,
                },
            );
        }
        if let Some(text) = &raw.htpasswd {
            users::read_htpasswd(text, &mut users).map_err(|e| format!("htpasswd: {e}"))?;
        }
        if users.is_empty() {
            return Err("no users: set `users`, `htpasswd` (config_files), or both".to_owned());
        }
        Ok(Config {
            realm: raw.realm,
            users,
        })
    }
}

/// The plugin; it keeps no per-request state.
pub struct BasicAuth {
    config: &'static Config,
}

impl Plugin for BasicAuth {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["context"]`.
    const CAPABILITIES: &'static [Capability] = &[Capability::Context];
    /// No response phase: the instance is free as soon as `on_request` returns.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::Skip;

    fn new(config: &'static Config) -> Self {
        BasicAuth { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let header = req.header("authorization");
        req.remove_header("authorization");
        let Some((name, password)) = header.as_deref().and_then(credentials) else {
            return Ok(unauthorized(&self.config.realm, false));
        };
        let user = self.config.users.get(&name);
        let matched = match user {
            Some(user) => user.hash.verify(password.as_bytes()),
            None => {
                // The same work as for a known name, result ignored.
                if let Some(any) = self.config.users.values().next() {
                    let _ = any.hash.verify(password.as_bytes());
                }
                false
            }
        };
        let (true, Some(user)) = (matched, user) else {
            return Ok(unauthorized(&self.config.realm, true));
        };
        context::set(context::CONSUMER, &name);
        context::set("consumer.groups", &user.groups.join(","));
        Ok(Action::Continue)
    }
}

export_plugin!(BasicAuth);

/// The user and password of a `Basic` value (scheme in any case).
fn credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    (!name.is_empty()).then(|| (name.to_owned(), password.to_owned()))
}

fn unauthorized(realm: &str, presented: bool) -> Action {
    let detail = if presented {
        "The user name or password is not valid."
    } else {
        "Credentials are required: Authorization: Basic base64(user:password)."
    };
    let reply = Reply::problem(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        detail,
        env!("CARGO_PKG_NAME"),
    );
    Action::Respond(reply.header(
        "www-authenticate",
        format!("Basic realm=\"{realm}\", charset=\"UTF-8\""),
    ))
}

#[cfg(test)]
mod tests;
