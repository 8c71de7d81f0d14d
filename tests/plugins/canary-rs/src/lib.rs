//! `canary-rs`: the Rust twin of `plugins/canary-py`, with the same config
//! and behaviour, so the Python component's cost can be measured against
//! a Rust one doing the same work (see the README's "Writing a plugin in
//! Python").
//!
//! ```toml
//! config = { header = "x-canary", values = ["1"], percent = 0, hash_on = "client_addr", path_prefix = "/canary" }
//! ```
//!
//! A request whose `header` has one of `values`, or whose client address
//! (or context consumer) hashes (FNV-1a 64, mod 100) under `percent`, is
//! forwarded under `path_prefix` with `<header>: 1`, and its response gets
//! `<header>: 1`; other requests lose the header and keep their path.

#![warn(missing_docs)]

use portico_sdk::config::HeaderName;
use portico_sdk::{Action, Capability, Error, Plugin, Request, Response, context, export_plugin};
use serde::Deserialize;

/// The config table (every key optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The opt-in request header.
    #[serde(default = "default_header")]
    pub header: HeaderName,
    /// Its values that opt in.
    #[serde(default = "default_values")]
    pub values: Values,
    /// The share (0..=100) of the other requests sent to the canary.
    #[serde(default)]
    pub percent: Percent,
    /// What the share is hashed from.
    #[serde(default)]
    pub hash_on: HashOn,
    /// The path prefix canary requests are forwarded under.
    #[serde(default = "default_prefix")]
    pub path_prefix: PathPrefix,
}

fn default_header() -> HeaderName {
    HeaderName::from_static("x-canary")
}

fn default_values() -> Values {
    Values(vec!["1".to_owned()])
}

fn default_prefix() -> PathPrefix {
    PathPrefix("/canary".to_owned())
}

/// A non-empty list of non-empty header values.
#[derive(Debug, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct Values(Vec<String>);

impl TryFrom<Vec<String>> for Values {
    type Error = String;

    fn try_from(values: Vec<String>) -> Result<Self, String> {
        if values.is_empty() {
            return Err("expected a non-empty list of header values".into());
        }
        if let Some(i) = values
            .iter()
            .position(|v| v.is_empty() || v.trim() != v.as_str())
        {
            return Err(format!(
                "values[{i}]: expected a non-empty string without surrounding spaces"
            ));
        }
        Ok(Values(values))
    }
}

/// An integer percentage, 0..=100.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(try_from = "u64")]
pub struct Percent(u64);

impl TryFrom<u64> for Percent {
    type Error = String;

    fn try_from(percent: u64) -> Result<Self, String> {
        if percent > 100 {
            return Err("expected an integer from 0 to 100".into());
        }
        Ok(Percent(percent))
    }
}

/// What the percentage share is computed from.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashOn {
    /// The client's address.
    #[default]
    ClientAddr,
    /// The context's `consumer` (requests without one never take the share).
    Consumer,
}

/// A path like `/canary`: a leading `/`, no trailing `/`, no `?`, `#` or `//`.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct PathPrefix(String);

impl TryFrom<String> for PathPrefix {
    type Error = String;

    fn try_from(prefix: String) -> Result<Self, String> {
        let ok = prefix.starts_with('/')
            && prefix.len() >= 2
            && !prefix.ends_with('/')
            && !prefix.contains(['?', '#'])
            && !prefix.contains("//");
        if !ok {
            return Err(
                "expected a path like `/canary`: a leading `/`, no trailing `/`, no `?` or `#`"
                    .into(),
            );
        }
        Ok(PathPrefix(prefix))
    }
}

/// The key's stable bucket, 0..100: FNV-1a (64-bit) of its bytes, mod 100
/// (the same function as canary-py's `bucket`).
pub fn bucket(key: &str) -> u64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, byte| {
        (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash % 100
}

/// The plugin; `canary` carries the decision to the response phase.
pub struct Canary {
    config: &'static Config,
    canary: bool,
}

impl Plugin for Canary {
    type Config = Config;
    const CAPABILITIES: &'static [Capability] = &[Capability::Context];

    fn new(config: &'static Config) -> Self {
        Canary {
            config,
            canary: false,
        }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        let opted = req
            .header(&config.header)
            .is_some_and(|v| config.values.0.iter().any(|want| want == v.trim()));
        self.canary = opted
            || (config.percent.0 > 0 && {
                let key = match config.hash_on {
                    HashOn::ClientAddr => Some(req.client_addr().to_string()),
                    HashOn::Consumer => context::get(context::CONSUMER),
                };
                key.is_some_and(|key| bucket(&key) < config.percent.0)
            });
        if !self.canary {
            req.remove_header(&config.header);
            return Ok(Action::Continue);
        }
        let path = req.path();
        let prefix = config.path_prefix.0.as_str();
        let under = path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if !under {
            req.set_path(&format!("{prefix}{path}"))?;
        }
        req.set_header(&config.header, "1")?;
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        if self.canary {
            res.set_header(&self.config.header, "1")?;
        }
        Ok(Action::Continue)
    }
}

export_plugin!(Canary);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_the_python_plugin() {
        // The values canary-py's `bucket` gives for the same keys.
        assert_eq!(bucket("127.0.0.1"), 74);
        assert_eq!(bucket("alice"), 83);
        assert_eq!(bucket("erin"), 29);
    }
}
