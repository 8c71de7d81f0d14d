//! etcd in the config: the `[etcd]` table (the cluster that etcd discovery
//! reads), an `etcd://` location (where a config document and the cluster
//! registry live) and an upstream's `etcd = { prefix = ".." }` discovery.
//!
//! ```toml
//! [etcd]
//! endpoints = ["10.0.0.5:2379", "10.0.0.6:2379"]   # host:port or http://host:port
//! username = "portico"                              # etcd auth (optional)
//! password = { env = "PORTICO_ETCD_PASSWORD" }
//! timeout_ms = 2000                                 # per call, connecting included
//!
//! [upstreams.orders]
//! etcd = { prefix = "/services/orders/" }           # one key per target
//! ```
//!
//! A gateway configured from `etcd://HOST:PORT/PREFIX` that has no `[etcd]`
//! table reads discovery from that same cluster.

use std::fmt;

use serde::Deserialize;

use super::state::SecretRef;

/// The etcd user for an `etcd://` location.
pub const USERNAME_ENV: &str = "PORTICO_ETCD_USERNAME";
/// That user's password.
pub const PASSWORD_ENV: &str = "PORTICO_ETCD_PASSWORD";

/// `[etcd]`: how to reach the etcd cluster.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EtcdConfig {
    /// Cluster members, `host:port` or `http://host:port`.
    pub endpoints: Vec<String>,
    /// The etcd user, when the cluster has auth enabled.
    pub username: Option<String>,
    /// The user's password, by reference.
    pub password: Option<SecretRef>,
    /// Time allowed for one call (connecting included), ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    2_000
}

impl EtcdConfig {
    /// The cluster of `location`, with the default timeout and the
    /// credentials of the `PORTICO_ETCD_USERNAME` and
    /// `PORTICO_ETCD_PASSWORD` environment variables, when set.
    pub fn for_location(location: &EtcdLocation) -> Self {
        let username = std::env::var(USERNAME_ENV).ok().filter(|u| !u.is_empty());
        EtcdConfig {
            endpoints: location.endpoints.clone(),
            password: username
                .is_some()
                .then(|| SecretRef::Env(PASSWORD_ENV.to_owned())),
            username,
            timeout_ms: default_timeout_ms(),
        }
    }
}

/// `etcd = { prefix = "/services/orders/" }`: an upstream's targets are
/// the values under `prefix`, one key per target.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EtcdDiscoveryConfig {
    /// The key prefix; each key under it holds `host:port`,
    /// `host:port weight` or `{"addr": "host:port", "weight": 2}`.
    pub prefix: String,
}

/// An `etcd://host:port[,host:port...]/prefix` location: the cluster and
/// the key prefix a gateway's config document and its cluster registry
/// live under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdLocation {
    /// Cluster members, `host:port`.
    pub endpoints: Vec<String>,
    /// The key prefix, starting with `/`, without a trailing `/`.
    pub prefix: String,
}

/// An `etcd://` location that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an etcd location (etcd://HOST:PORT[,HOST:PORT]/PREFIX): {reason}")]
pub struct EtcdLocationError {
    text: String,
    reason: &'static str,
}

impl EtcdLocation {
    /// Whether `text` names an etcd location rather than a file.
    pub fn is_location(text: &str) -> bool {
        text.starts_with("etcd://")
    }

    /// Parses `etcd://host:port[,host:port...]/prefix`.
    pub fn parse(text: &str) -> Result<Self, EtcdLocationError> {
        let error = |reason| EtcdLocationError {
            text: text.to_owned(),
            reason,
        };
        let rest = text
            .strip_prefix("etcd://")
            .ok_or_else(|| error("it does not start with etcd://"))?;
        let (hosts, prefix) = rest
            .split_once('/')
            .ok_or_else(|| error("a key prefix is required after the endpoints"))?;
        let prefix = format!("/{}", prefix.trim_end_matches('/'));
        if prefix == "/" {
            return Err(error("a key prefix is required after the endpoints"));
        }
        if hosts.contains('@') {
            return Err(error(
                "credentials do not belong in the location: use the PORTICO_ETCD_USERNAME and PORTICO_ETCD_PASSWORD environment variables",
            ));
        }
        let endpoints: Vec<String> = hosts.split(',').map(str::to_owned).collect();
        for endpoint in &endpoints {
            if check_endpoint(endpoint).is_some() {
                return Err(error("each endpoint must be host:port"));
            }
        }
        Ok(EtcdLocation { endpoints, prefix })
    }

    /// The key holding the config document.
    pub fn config_key(&self) -> String {
        format!("{}/config", self.prefix)
    }

    /// The prefix under which running instances register.
    pub fn instances_prefix(&self) -> String {
        format!("{}/instances/", self.prefix)
    }
}

impl fmt::Display for EtcdLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "etcd://{}{}", self.endpoints.join(","), self.prefix)
    }
}

/// What is wrong with one endpoint, `None` when it is `host:port` (or
/// `http://host:port`).
fn check_endpoint(endpoint: &str) -> Option<&'static str> {
    let bare = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    if endpoint.starts_with("https://") {
        return Some("https:// endpoints are not supported yet (etcd over TLS)");
    }
    match bare.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => None,
        _ => Some("must be host:port or http://host:port"),
    }
}

/// Problems of `[etcd]`: a key under `etcd` and a message.
pub(crate) fn check(etcd: &EtcdConfig) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if etcd.endpoints.is_empty() {
        found.push(("etcd.endpoints".into(), "at least one endpoint".into()));
    }
    for (i, endpoint) in etcd.endpoints.iter().enumerate() {
        if let Some(problem) = check_endpoint(endpoint) {
            found.push((
                format!("etcd.endpoints[{i}]"),
                format!("`{endpoint}`: {problem}"),
            ));
        }
    }
    if etcd.timeout_ms == 0 {
        found.push(("etcd.timeout_ms".into(), "must be at least 1".into()));
    }
    match (&etcd.username, &etcd.password) {
        (Some(_), None) => found.push(("etcd.password".into(), "required with `username`".into())),
        (None, Some(_)) => found.push(("etcd.username".into(), "required with `password`".into())),
        _ => {}
    }
    if let Some(password) = &etcd.password
        && let Err(problem) = password.read()
    {
        found.push(("etcd.password".into(), problem));
    }
    found
}

/// Problems of an upstream's `etcd` discovery, under `key`.
pub(crate) fn check_discovery(
    key: &str,
    discovery: &EtcdDiscoveryConfig,
    cluster: Option<&EtcdConfig>,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if !discovery.prefix.starts_with('/') || discovery.prefix.len() < 2 {
        found.push((
            format!("{key}.prefix"),
            format!(
                "`{}` must be a key prefix starting with `/`",
                discovery.prefix
            ),
        ));
    }
    if cluster.is_none() {
        found.push((
            key.to_owned(),
            "needs an `[etcd]` table (or a config read from etcd://) to say which cluster".into(),
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations_and_refuses_bad_ones() {
        let location =
            EtcdLocation::parse("etcd://127.0.0.1:2379,10.0.0.2:2379/portico/prod/").unwrap();
        assert_eq!(location.endpoints, ["127.0.0.1:2379", "10.0.0.2:2379"]);
        assert_eq!(location.config_key(), "/portico/prod/config");
        assert_eq!(location.instances_prefix(), "/portico/prod/instances/");
        assert_eq!(
            location.to_string(),
            "etcd://127.0.0.1:2379,10.0.0.2:2379/portico/prod"
        );
        for bad in [
            "etcd://127.0.0.1:2379",
            "etcd://127.0.0.1:2379/",
            "etcd://127.0.0.1/portico",
            "etcd://user:pw@127.0.0.1:2379/portico",
            "http://127.0.0.1:2379/portico",
        ] {
            let error = EtcdLocation::parse(bad).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("`{bad}` is not an etcd location")),
                "{error}"
            );
        }
    }
}
