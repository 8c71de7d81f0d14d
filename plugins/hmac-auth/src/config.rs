//! The route's `config` table, checked at load.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portico_sdk::config::Duration;
use serde::Deserialize;

/// The shortest secret accepted, bytes (the output size of SHA-256, as RFC
/// 2104 advises for HMAC keys).
pub const MIN_SECRET_BYTES: usize = 32;

/// The plugin's config.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    /// Clients by key id (`keyid`).
    pub clients: BTreeMap<String, Client>,
    /// Components every signature must cover.
    pub components: Vec<String>,
    /// Most seconds `created` may be away from now, either way.
    pub max_skew_s: u64,
    /// Whether a request with a body must cover `content-digest`.
    pub digest_bodies: bool,
    /// Whether a signature seen once is refused again while it could pass.
    pub replay_protection: bool,
    /// The only label verified, if set.
    pub label: Option<String>,
}

/// One client's shared secret and identity.
#[derive(Debug)]
pub struct Client {
    /// The HMAC key.
    pub secret: Vec<u8>,
    /// The context's `consumer` for its requests.
    pub consumer: String,
    /// The context's `consumer.groups`.
    pub groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    keys: Vec<RawKey>,
    #[serde(default = "default_components")]
    components: Vec<String>,
    #[serde(default = "default_skew")]
    max_skew: Duration,
    #[serde(default = "yes")]
    digest_bodies: bool,
    #[serde(default = "yes")]
    replay_protection: bool,
    label: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    id: String,
    secret: Option<String>,
    secret_base64: Option<String>,
    consumer: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

fn default_components() -> Vec<String> {
    ["@method", "@authority", "@path", "@query"]
        .map(str::to_owned)
        .to_vec()
}

fn default_skew() -> Duration {
    Duration::from_secs(300)
}

fn yes() -> bool {
    true
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        if raw.keys.is_empty() {
            return Err("`keys`: at least one key".into());
        }
        let mut clients = BTreeMap::new();
        for (i, key) in raw.keys.into_iter().enumerate() {
            let at = |e: &str| format!("keys[{i}]: {e}");
            if key.id.is_empty() || key.id.chars().any(char::is_control) {
                return Err(at("`id` must be non-empty text"));
            }
            let secret = match (key.secret, key.secret_base64) {
                (Some(text), None) => text.into_bytes(),
                (None, Some(encoded)) => STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| at("`secret_base64` is not base64"))?,
                _ => return Err(at("set exactly one of `secret` and `secret_base64`")),
            };
            if secret.len() < MIN_SECRET_BYTES {
                return Err(at(&format!(
                    "the secret has {} bytes; at least {MIN_SECRET_BYTES}",
                    secret.len()
                )));
            }
            for group in &key.groups {
                if group.is_empty() || group.contains(',') || group.chars().any(char::is_control) {
                    return Err(at(&format!(
                        "group {group:?}: no commas or control characters"
                    )));
                }
            }
            let consumer = key.consumer.unwrap_or_else(|| key.id.clone());
            let client = Client {
                secret,
                consumer,
                groups: key.groups,
            };
            if clients.insert(key.id.clone(), client).is_some() {
                return Err(at(&format!("the id `{}` is used twice", key.id)));
            }
        }
        for component in &raw.components {
            let derived = [
                "@method",
                "@target-uri",
                "@authority",
                "@scheme",
                "@request-target",
                "@path",
                "@query",
            ];
            let field = !component.is_empty()
                && component
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
            if !derived.contains(&component.as_str()) && !field {
                return Err(format!(
                    "`components`: `{component}` is neither a derived request component nor a lowercase field name"
                ));
            }
        }
        let max_skew_s = match raw.max_skew.whole_seconds() {
            Some(seconds) if seconds >= 1 => seconds,
            _ => return Err("`max_skew` must be whole seconds, at least 1s".into()),
        };
        Ok(Config {
            clients,
            components: raw.components,
            max_skew_s,
            digest_bodies: raw.digest_bodies,
            replay_protection: raw.replay_protection,
            label: raw.label,
        })
    }
}
