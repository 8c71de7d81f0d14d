//! Plugin configuration: how the route's `config` table reaches
//! [`Plugin::Config`](crate::Plugin::Config), the [`ConfigError`] reported
//! when it is wrong, and field types that validate themselves.
//!
//! The gateway serializes the route's `config` table to JSON and calls the
//! plugin's `init` once per instance. The SDK deserializes it with serde; any
//! error (a missing or unknown key, a wrong type, a failed `try_from`) is
//! reported with the path of the offending key, e.g. `headers.add[0].name`,
//! and the gateway refuses the route. An absent table (empty or `null`) reads
//! as `{}`.
//!
//! Validate in the type: `#[serde(deny_unknown_fields)]`, newtypes with
//! `#[serde(try_from = "String")]`, or the ready-made [`HeaderName`],
//! [`HeaderValue`] and [`Duration`] (every span of time: `"30s"`, `"5m"`).

mod duration;
mod fields;

use std::fmt;

use serde::de::DeserializeOwned;
use serde_path_to_error::{Path, Segment};

pub use duration::{Duration, DurationError};
pub use fields::{HeaderName, HeaderValue};

/// The plugin's configuration was rejected: which key, and why.
///
/// Becomes the WIT `config-error`; the gateway refuses the route and shows
/// both to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    key: String,
    message: String,
}

impl ConfigError {
    /// An error about `key` (a path such as `headers.add[0].name`; empty for
    /// the whole table).
    pub fn new(key: impl Into<String>, message: impl fmt::Display) -> Self {
        ConfigError {
            key: key.into(),
            message: message.to_string(),
        }
    }

    /// Path of the offending key inside the config table; empty when the
    /// problem is the whole table.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong, for the operator.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Deserializes a plugin config from the JSON text the gateway passes to
/// `init`, reporting errors with the path of the offending key.
pub(crate) fn parse<C: DeserializeOwned>(json: &str) -> Result<C, ConfigError> {
    let json = match json.trim() {
        "" | "null" => "{}",
        _ => json,
    };
    let mut de = serde_json::Deserializer::from_str(json);
    let config = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let message = without_position(err.inner());
        ConfigError::new(key_path(err.path(), &message), message)
    })?;
    de.end().map_err(|err| ConfigError::new("", err))?;
    Ok(config)
}

/// serde_json's message without " at line L column C": positions in JSON the
/// gateway generated mean nothing to whoever wrote the TOML.
fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    if err.is_data() {
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            return stripped.to_owned();
        }
    }
    message
}

/// Renders `path` as `a.b[0].c` (keys that are not bare TOML keys are
/// quoted). serde reports a missing field at its parent, so the field named
/// by a "missing field" message is appended.
fn key_path(path: &Path, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
        .map(|field| Segment::Map {
            key: field.to_owned(),
        });
    let mut key = String::new();
    for segment in path.iter().chain(missing.as_ref()) {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if !key.is_empty() {
                    key.push('.');
                }
                if is_bare_key(name) {
                    key.push_str(name);
                } else {
                    key.push_str(&format!("{name:?}"));
                }
            }
            Segment::Unknown => key.push_str(if key.is_empty() { "?" } else { ".?" }),
        }
    }
    key
}

/// Whether `name` can be written unquoted in a TOML key path.
fn is_bare_key(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Config {
        #[serde(default)]
        headers: BTreeMap<String, Vec<Rule>>,
        #[serde(default)]
        limit: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Rule {
        name: HeaderName,
        value: Option<HeaderValue>,
    }

    fn error(json: &str) -> ConfigError {
        match parse::<Config>(json) {
            Ok(config) => panic!("accepted {json}: {config:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn errors_name_the_key_path() {
        let err = error(r#"{"headers": {"add": [{"name": "ok"}, {"name": "bad name"}]}}"#);
        assert_eq!(err.key(), "headers.add[1].name");
        assert_eq!(err.message(), "invalid header name `bad name`");
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let err = error(r#"{"limt": 3}"#);
        assert_eq!(err.key(), "limt");
        assert!(err.message().starts_with("unknown field `limt`"), "{err}");

        let err = error(r#"{"headers": {"x.y": [{"value": "v"}]}}"#);
        assert_eq!(err.key(), r#"headers."x.y"[0].name"#);
        assert_eq!(err.message(), "missing field `name`");
    }

    #[test]
    fn wrong_types_and_whole_table_errors() {
        let err = error(r#"{"limit": "many"}"#);
        assert_eq!(err.key(), "limit");
        assert!(err.message().starts_with("invalid type: string"), "{err}");

        assert_eq!(error("3").key(), "");
        assert_eq!(error("{} x").key(), "");
    }

    #[test]
    fn absent_config_reads_as_empty_table() {
        for json in ["", "  ", "null", "{}"] {
            let config = parse::<Config>(json).map_err(|e| e.to_string());
            assert_eq!(config.map(|c| c.limit), Ok(0), "{json:?}");
        }
    }

    #[test]
    fn display_includes_the_key() {
        assert_eq!(ConfigError::new("a.b", "nope").to_string(), "`a.b`: nope");
        assert_eq!(ConfigError::new("", "nope").to_string(), "nope");
    }
}
