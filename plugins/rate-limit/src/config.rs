//! The route's `config` table, validated when the route loads.

use std::collections::BTreeSet;
use std::fmt;

use portico_sdk::config::HeaderName;
use serde::Deserialize;

/// ```toml
/// key = "consumer"                      # or "client_addr", "route", "header:<name>", "context:<key>"
/// bucket = "orders"                     # optional: routes with the same bucket share counters
/// headers = true                        # RateLimit-Policy / RateLimit on every response
/// policies = [
///   { limit = 10, window = "1s" },
///   { limit = 1000, window = "1h", name = "hourly" },
/// ]
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The limits; a request must be within every one.
    pub policies: Policies,
    /// What the counters are kept per.
    #[serde(default)]
    pub key: KeySource,
    /// Counter namespace; default: the route's name.
    pub bucket: Option<Bucket>,
    /// Whether responses carry `RateLimit-Policy` and `RateLimit`.
    #[serde(default = "yes")]
    pub headers: bool,
}

fn yes() -> bool {
    true
}

/// What a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum KeySource {
    /// A request-context value (`consumer`, set by an auth plugin, or
    /// `context:<key>`); without one, the client address.
    Context(String),
    /// The client's IP address.
    ClientAddr,
    /// A request header's value (`header:<name>`); without one, the client
    /// address.
    Header(HeaderName),
    /// One counter for the whole route (or bucket).
    Route,
}

impl Default for KeySource {
    fn default() -> Self {
        KeySource::Context(portico_sdk::context::CONSUMER.to_owned())
    }
}

impl TryFrom<String> for KeySource {
    type Error = String;

    fn try_from(source: String) -> Result<Self, String> {
        match source.as_str() {
            "consumer" => return Ok(KeySource::default()),
            "client_addr" => return Ok(KeySource::ClientAddr),
            "route" => return Ok(KeySource::Route),
            _ => {}
        }
        if let Some(name) = source.strip_prefix("header:") {
            return HeaderName::new(name)
                .map(KeySource::Header)
                .map_err(|e| e.to_string());
        }
        match source.strip_prefix("context:") {
            Some(key) if !key.is_empty() => Ok(KeySource::Context(key.to_owned())),
            _ => Err(format!(
                "unknown key {source:?}: expected \"consumer\", \"client_addr\", \"route\", \
                 \"header:<name>\" or \"context:<key>\""
            )),
        }
    }
}

/// A counter namespace: 1 to 64 characters of `A-Z a-z 0-9 _ . -`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Bucket(pub String);

impl TryFrom<String> for Bucket {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        check_token(&name, "bucket")?;
        Ok(Bucket(name))
    }
}

/// At least one policy, with distinct names.
#[derive(Debug, Deserialize)]
#[serde(try_from = "Vec<Policy>")]
pub struct Policies(pub Vec<Policy>);

/// Most policies per route.
pub const MAX_POLICIES: usize = 8;

impl TryFrom<Vec<Policy>> for Policies {
    type Error = String;

    fn try_from(policies: Vec<Policy>) -> Result<Self, String> {
        if policies.is_empty() {
            return Err("at least one policy is required".to_owned());
        }
        if policies.len() > MAX_POLICIES {
            return Err(format!("at most {MAX_POLICIES} policies"));
        }
        let mut names = BTreeSet::new();
        for policy in &policies {
            if !names.insert(policy.name()) {
                return Err(format!(
                    "two policies are named {:?}: give them distinct `name`s",
                    policy.name()
                ));
            }
        }
        Ok(Policies(policies))
    }
}

/// `{ limit = 10, window = "1s", name = "burst" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawPolicy")]
pub struct Policy {
    /// Requests allowed per window.
    pub limit: Limit,
    /// The window.
    pub window: Window,
    /// The policy's name in headers and kv keys; default `<limit>-per-<window>`.
    pub name: String,
}

impl Policy {
    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A policy as written; `name` is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    limit: Limit,
    window: Window,
    name: Option<PolicyName>,
}

impl From<RawPolicy> for Policy {
    fn from(raw: RawPolicy) -> Self {
        let name = match raw.name {
            Some(name) => name.0,
            None => format!("{}-per-{}", raw.limit.0, raw.window),
        };
        Policy {
            limit: raw.limit,
            window: raw.window,
            name,
        }
    }
}

/// A limit: 1 to 10^12 requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct Limit(pub u64);

impl TryFrom<u64> for Limit {
    type Error = String;

    fn try_from(limit: u64) -> Result<Self, String> {
        if (1..=1_000_000_000_000).contains(&limit) {
            Ok(Limit(limit))
        } else {
            Err(format!("limit must be 1 to 10^12, not {limit}"))
        }
    }
}

/// A policy name: 1 to 64 characters of `A-Z a-z 0-9 _ . -`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PolicyName(String);

impl TryFrom<String> for PolicyName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        check_token(&name, "policy name")?;
        Ok(PolicyName(name))
    }
}

fn check_token(value: &str, what: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "{what} {value:?} must be 1 to 64 characters of A-Z a-z 0-9 _ . -"
        )),
    }
}

/// A window of whole seconds, written as a
/// [`Duration`](portico_sdk::config::Duration): `"1s"`, `"15m"`, `"1h"`,
/// `"1d"`, `"1m30s"`; 1 s to 365 d.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Window {
    seconds: u64,
    /// How it was written, for the default policy name (kv keys and
    /// `RateLimit-Policy` carry it, so it stays as written).
    text: String,
}

impl Window {
    /// The window in seconds (`w` in `RateLimit-Policy`).
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// The window in milliseconds.
    pub fn ms(&self) -> u64 {
        self.seconds * 1000
    }
}

impl TryFrom<String> for Window {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let duration: portico_sdk::config::Duration =
            text.parse().map_err(|e| format!("window: {e}"))?;
        match duration.whole_seconds() {
            Some(seconds) if (1..=365 * 86_400).contains(&seconds) => Ok(Window { seconds, text }),
            _ => Err(format!("window {text:?} must be whole seconds, 1s to 365d")),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
