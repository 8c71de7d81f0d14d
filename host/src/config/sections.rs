//! Every type error of a config, not just the first: when the whole file
//! does not deserialize, each top-level section (and each listener, route,
//! alert and upstream on its own) is deserialized again by itself, so one
//! `portico check` lists every broken key with its path.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::{
    AdminConfig, AlertRule, AlertingConfig, AnalyticsConfig, ConfigError, LimitsConfig,
    ListenerConfig, ObservabilityConfig, ReloadConfig, RouteConfig, RuntimeConfig, UpstreamConfig,
    shape_error,
};

/// The type errors of `text` (which is valid TOML), one per broken key.
pub(super) fn problems(path: &Path, text: &str) -> Vec<ConfigError> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for required in ["version", "listeners"] {
        if !table.contains_key(required) {
            errors.push(ConfigError::new(
                path,
                "",
                format!("missing field `{required}`"),
            ));
        }
    }
    for (key, value) in table {
        let mut check = Checker {
            path,
            errors: &mut errors,
        };
        match key.as_str() {
            "version" => check.one::<u32>(&key, value),
            "plugin_dir" => check.one::<std::path::PathBuf>(&key, value),
            "runtime" => check.one::<RuntimeConfig>(&key, value),
            "limits" => check.one::<LimitsConfig>(&key, value),
            "listeners" => check.each::<ListenerConfig>(&key, value),
            "upstreams" => check.entries::<UpstreamConfig>(&key, value),
            "routes" => check.each::<RouteConfig>(&key, value),
            "analytics" => check.one::<AnalyticsConfig>(&key, value),
            "alerting" => check.one::<AlertingConfig>(&key, value),
            "alerts" => check.each::<AlertRule>(&key, value),
            "admin" => check.one::<AdminConfig>(&key, value),
            "reload" => check.one::<ReloadConfig>(&key, value),
            "observability" => check.one::<ObservabilityConfig>(&key, value),
            "state" => check.one::<super::StateConfig>(&key, value),
            "etcd" => check.one::<super::EtcdConfig>(&key, value),
            "encryption" => check.one::<super::EncryptionConfig>(&key, value),
            _ => errors.push(ConfigError::new(
                path,
                key.as_str(),
                format!("unknown field `{key}`"),
            )),
        }
    }
    errors
}

struct Checker<'a> {
    path: &'a Path,
    errors: &'a mut Vec<ConfigError>,
}

impl Checker<'_> {
    /// `value` as one `T`.
    fn one<T: DeserializeOwned>(&mut self, key: &str, value: toml::Value) {
        if let Err(error) = serde_path_to_error::deserialize::<_, T>(value) {
            self.errors.push(shape_error(self.path, key, error));
        }
    }

    /// `value` as an array of `T`, each element on its own.
    fn each<T: DeserializeOwned>(&mut self, key: &str, value: toml::Value) {
        match value {
            toml::Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    self.one::<T>(&format!("{key}[{i}]"), item);
                }
            }
            other => self.one::<Vec<T>>(key, other),
        }
    }

    /// `value` as a table of named `T`s, each entry on its own.
    fn entries<T: DeserializeOwned>(&mut self, key: &str, value: toml::Value) {
        match value {
            toml::Value::Table(entries) => {
                for (name, entry) in entries {
                    self.one::<T>(&format!("{key}.{name}"), entry);
                }
            }
            other => self.one::<std::collections::BTreeMap<String, T>>(key, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_broken_section_is_reported_at_its_own_key() {
        let text = r#"
            version = 1
            colour = "blue"
            [[listeners]]
            name = "a"
            addr = "not an address"
            [upstreams.u]
            targets = ["127.0.0.1:1"]
            bogus = 1
            [[routes]]
            name = "r"
            upstream = "u"
            path = { prefix = "/", extra = 2 }
            [[routes]]
            name = "s"
            upstream = "u"
            timeout = 5
        "#;
        let keys: Vec<String> = problems(Path::new("p.toml"), text)
            .into_iter()
            .map(|e| e.key)
            .collect();
        for key in [
            "colour",
            "listeners[0].addr",
            "upstreams.u.bogus",
            "routes[0].path.extra",
            "routes[1].timeout",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert_eq!(keys.len(), 5, "{keys:?}");
    }
}
