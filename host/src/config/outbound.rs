//! A plugin entry's `http` table: the grant of the `http` capability,
//! naming where the plugin may send requests and how long and how much
//! each may take.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "oauth2-introspection"
//! capabilities = ["http", "cache", "context", "clock"]
//! http = { allow = ["https://idp.example.com"], timeout_ms = 2000, max_response_bytes = 1048576, ca_file = "idp-ca.pem" }
//! ```
//!
//! An `allow` entry is `scheme://host[:port]`: `http` or `https`, a host
//! name or IP address (`*.example.com` for any subdomain), and a port
//! (the scheme's default when omitted, `*` for any). A request to anything
//! else is refused before a connection is made.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// `http = { .. }` on a plugin entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpGrantConfig {
    /// Destinations the plugin may reach.
    pub allow: Vec<String>,
    /// Time allowed for one request, connecting and reading the whole
    /// response included, ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Largest response body accepted, bytes.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Largest request body sent, bytes.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// CA certificates (PEM) that HTTPS destinations are verified against,
    /// instead of the system's roots; relative to the config file.
    pub ca_file: Option<PathBuf>,
}

fn default_timeout_ms() -> u64 {
    2_000
}
fn default_max_response_bytes() -> usize {
    1024 * 1024
}
fn default_max_request_bytes() -> usize {
    64 * 1024
}

/// One parsed `allow` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    https: bool,
    /// Lowercase; `Suffix(".example.com")` for `*.example.com`.
    host: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    Suffix(String),
}

impl Destination {
    /// Parses `scheme://host[:port]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("`{text}` is not `http[s]://host[:port]`: {why}");
        let (https, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("the scheme must be http or https"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad("give only the scheme, host and port"));
        }
        let (host, port) =
            split_host_port(rest).ok_or_else(|| bad("the port is not a number or `*`"))?;
        let port = match port {
            None => Some(if https { 443 } else { 80 }),
            Some("*") => None,
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("the port is not a number or `*`"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        let host = match host.strip_prefix("*.") {
            Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => {
                HostPattern::Suffix(format!(".{suffix}"))
            }
            _ if host.is_empty() || host.contains('*') => {
                return Err(bad(
                    "the host is empty or has a `*` other than a leading `*.`",
                ));
            }
            _ => HostPattern::Exact(host),
        };
        Ok(Destination { https, host, port })
    }

    /// Whether a request to `https`, `host` (lowercase, IPv6 in brackets)
    /// and `port` is allowed by this entry.
    pub fn allows(&self, https: bool, host: &str, port: u16) -> bool {
        self.https == https
            && self.port.is_none_or(|p| p == port)
            && match &self.host {
                HostPattern::Exact(exact) => exact == host,
                HostPattern::Suffix(suffix) => host.ends_with(suffix.as_str()),
            }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let host = match &self.host {
            HostPattern::Exact(host) => host.clone(),
            HostPattern::Suffix(suffix) => format!("*{suffix}"),
        };
        match self.port {
            Some(port) => write!(f, "{scheme}://{host}:{port}"),
            None => write!(f, "{scheme}://{host}:*"),
        }
    }
}

/// `host[:port]` with IPv6 literals in brackets.
fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if text.starts_with('[') {
        let end = text.find(']')?;
        let (host, rest) = text.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((text, None)),
    }
}

/// Problems of one plugin entry's `http` table (`key` names it) given
/// whether the entry grants the `http` capability.
pub(crate) fn check(
    key: &str,
    grant: Option<&HttpGrantConfig>,
    granted: bool,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    match (grant, granted) {
        (None, true) => found.push((
            key.to_owned(),
            "required by capability `http`: say where the plugin may send requests (`http = { allow = [\"https://idp.example.com\"] }`)".into(),
        )),
        (Some(_), false) => found.push((
            key.to_owned(),
            "only used with capability `http`, which this entry does not grant".into(),
        )),
        _ => {}
    }
    let Some(grant) = grant else {
        return found;
    };
    if grant.allow.is_empty() {
        found.push((format!("{key}.allow"), "at least one destination".into()));
    }
    for (i, entry) in grant.allow.iter().enumerate() {
        if let Err(problem) = Destination::parse(entry) {
            found.push((format!("{key}.allow[{i}]"), problem));
        }
    }
    if grant.timeout_ms == 0 {
        found.push((format!("{key}.timeout_ms"), "must be at least 1".into()));
    }
    if grant.max_response_bytes == 0 {
        found.push((
            format!("{key}.max_response_bytes"),
            "must be at least 1".into(),
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_match_scheme_host_and_port() {
        let idp = Destination::parse("https://IdP.example.com").unwrap();
        assert!(idp.allows(true, "idp.example.com", 443));
        assert!(!idp.allows(false, "idp.example.com", 443), "scheme");
        assert!(!idp.allows(true, "idp.example.com", 8443), "port");
        assert!(!idp.allows(true, "evil.idp.example.com", 443), "host");
        let any = Destination::parse("http://*.svc.local:*").unwrap();
        assert!(any.allows(false, "a.svc.local", 8080));
        assert!(!any.allows(false, "svc.local", 8080));
        let local = Destination::parse("http://127.0.0.1:8081/").unwrap();
        assert!(local.allows(false, "127.0.0.1", 8081));
        assert_eq!(local.to_string(), "http://127.0.0.1:8081");
        let v6 = Destination::parse("http://[::1]:9000").unwrap();
        assert!(v6.allows(false, "[::1]", 9000));
        for bad in [
            "ftp://x",
            "https://x/path",
            "https://x:0",
            "https://a*b.com",
            "http://",
            "https://u@x",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
    }
}
