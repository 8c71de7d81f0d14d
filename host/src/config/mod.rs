//! The gateway's configuration: a strict TOML file.
//!
//! Parsing ([`load`]) rejects unknown keys and wrong types with the key path,
//! and parses values such as methods, header names, path regexes, hosts and
//! targets once, into [`checked::Checked`] values that keep their problem;
//! `validate` then reports those problems at their keys and checks what
//! types cannot (names that refer to each other, ranges, addresses). The
//! router and the upstreams take the parsed values. Plugin configs are
//! checked later by the plugins' own `init`, when the gateway is built.

pub mod admin;
pub mod checked;
pub mod encryption;
mod error;
pub mod etcd;
pub mod limits;
pub mod monitor;
pub mod observability;
pub mod outbound;
mod salvage;
pub mod secrets;
mod sections;
pub mod state;
pub mod target;
pub mod tls;
mod types;
mod upstream;
mod upstream_check;
pub(crate) mod validate;

use std::path::{Path, PathBuf};

pub use admin::{AdminClient, AdminRole, AdminToken, AuditConfig};
pub use encryption::{EncryptionConfig, EncryptionKey, keyring};
pub use error::{ConfigError, ConfigErrors};
pub use etcd::{EtcdConfig, EtcdDiscoveryConfig, EtcdLocation};
pub use limits::LimitsConfig;
pub use monitor::{AlertKind, AlertRule, AlertingConfig, AnalyticsConfig};
pub use observability::{
    AccessField, AccessLogConfig, ClientAddressMode, ObservabilityConfig, OtlpConfig, QueryMode,
};
pub use salvage::salvage;
pub use state::{RedisConfig, SecretRef, StateBackend, StateConfig};
pub use tls::ClientAuth;
pub use tls::{CertificateConfig, TlsConfig};
pub use types::*;
pub use upstream::*;

/// Reads, parses and validates a config file.
///
/// Relative paths inside it (`plugin_dir`, `runtime.cache_dir`,
/// `analytics.dir`, upstream files, TLS files, plugins' `config_files` and
/// the access log file) are resolved
/// against the file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::one(ConfigError::new(path, "", format!("cannot read file: {e}")))
    })?;
    parse(path, &text)
}

/// Parses and validates config text as if it were read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let config = deserialize(path, text)?;
    validate::validate(&config)?;
    Ok(config)
}

/// Parses and validates a config document for etcd at `location`, named
/// `source` in errors (`etcd://.../config@REVISION`, or the file being
/// pushed): its relative paths are resolved against `base` (the
/// instance's working directory unless told otherwise), and without an
/// `[etcd]` table, etcd discovery reads the location's cluster.
pub fn parse_document(
    location: &EtcdLocation,
    source: &Path,
    base: &Path,
    text: &str,
) -> Result<Config, ConfigErrors> {
    let mut config = deserialize_at(source, base, text)?;
    if config.etcd.is_none() {
        config.etcd = Some(EtcdConfig::for_location(location));
    }
    validate::validate(&config)?;
    Ok(config)
}

/// Parses config text into its types, with relative paths resolved, but
/// does not validate it.
fn deserialize(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    deserialize_at(path, &base, text)
}

/// [`deserialize`] with relative paths resolved against `base`.
fn deserialize_at(path: &Path, base: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|e| ConfigErrors::one(syntax_error(path, text, &e)))?;
    let mut config: Config = match serde_path_to_error::deserialize(deserializer) {
        Ok(config) => config,
        Err(first) => {
            let first = shape_error(path, "", first);
            let mut every = sections::problems(path, text);
            if every.is_empty() {
                every.push(first);
            }
            return Err(ConfigErrors(every));
        }
    };
    config.source = path.to_path_buf();
    let base = base.to_path_buf();
    config.plugin_dir = resolve(&base, &config.plugin_dir);
    config.runtime.cache_dir = Some(match &config.runtime.cache_dir {
        Some(dir) => resolve(&base, dir),
        None => base.join(".portico").join("cache"),
    });
    config.analytics.dir = Some(match &config.analytics.dir {
        Some(dir) => resolve(&base, dir),
        None => base.join(".portico").join("analytics"),
    });
    config.observability.resolve_paths(&base);
    if let Some(encryption) = &mut config.encryption {
        encryption.resolve_paths(&base);
    }
    if let Some(audit) = config.admin.as_mut().and_then(|a| a.audit.as_mut()) {
        audit.path = resolve(&base, &audit.path);
    }

    if let Some(password) = config
        .state
        .redis
        .as_mut()
        .and_then(|r| r.password.as_mut())
    {
        password.resolve(&base);
    }
    if let Some(password) = config.etcd.as_mut().and_then(|e| e.password.as_mut()) {
        password.resolve(&base);
    }
    for upstream in config.upstreams.values_mut() {
        upstream.resolve_paths(&base);
    }
    for plugin in config.routes.iter_mut().flat_map(|r| r.plugins.iter_mut()) {
        secrets::resolve_paths(&mut plugin.config, &base);
        for file in plugin.config_files.values_mut() {
            *file = resolve(&base, file);
        }
        if let Some(ca) = plugin.http.as_mut().and_then(|h| h.ca_file.as_mut()) {
            *ca = resolve(&base, ca);
        }
    }
    let admin_tls = config.admin.as_mut().and_then(|a| a.tls.as_mut());
    let listener_tls = config.listeners.iter_mut().filter_map(|l| l.tls.as_mut());
    for tls in listener_tls.chain(admin_tls) {
        for certificate in &mut tls.certificates {
            certificate.cert = resolve(&base, &certificate.cert);
            certificate.key = resolve(&base, &certificate.key);
        }
        tls.client_ca = tls.client_ca.as_ref().map(|ca| resolve(&base, ca));
    }
    Ok(config)
}

fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let message = clean_message(error);
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            ConfigError::new(path, "", format!("line {line}, column {column}: {message}"))
        }
        None => ConfigError::new(path, "", message),
    }
}

/// toml's messages end with a newline and sometimes repeat the input; keep the
/// first line, which says what is wrong.
/// A type error at `prefix` + the error's own path. serde reports an
/// unknown key at the table that holds it; the key's own path is clearer
/// (`routes[0].timeout`, not `routes[0]`).
fn shape_error(
    path: &Path,
    prefix: &str,
    error: serde_path_to_error::Error<toml::de::Error>,
) -> ConfigError {
    let inner_path = error.path().to_string();
    let mut key = match (prefix, inner_path.as_str()) {
        (prefix, ".") => prefix.to_owned(),
        ("", inner) => inner.to_owned(),
        (prefix, inner) if inner.starts_with('[') => format!("{prefix}{inner}"),
        (prefix, inner) => format!("{prefix}.{inner}"),
    };
    let message = clean_message(&error.into_inner());
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name)
        && !key.ends_with(&format!(".{unknown}"))
        && key != unknown
    {
        key = if key.is_empty() {
            unknown.to_owned()
        } else {
            format!("{key}.{unknown}")
        };
    }
    ConfigError::new(path, key, message)
}

fn clean_message(error: &toml::de::Error) -> String {
    error
        .message()
        .trim()
        .lines()
        .next()
        .unwrap_or("invalid")
        .to_string()
}
