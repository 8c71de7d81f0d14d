//! The route's `config` table, validated when the route loads.

use portico_sdk::config::HeaderName;
use serde::Deserialize;

use crate::net::Net;

/// ```toml
/// allow = ["10.0.0.0/8", "2001:db8::/32"]   # empty (default): every address not denied
/// deny = ["10.0.0.13"]                      # wins over allow
/// client_address = { header = "x-real-ip", trusted_proxies = ["10.1.0.0/16"] }   # optional
/// ```
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    /// Addresses allowed; empty: all not denied.
    pub allow: Vec<Net>,
    /// Addresses refused, whatever `allow` says.
    pub deny: Vec<Net>,
    /// Where a trusted proxy reports the client address, if anywhere.
    pub client_address: Option<ClientAddress>,
}

/// The table as written; [`Config`] adds the checks across keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    allow: Vec<Net>,
    #[serde(default)]
    deny: Vec<Net>,
    client_address: Option<ClientAddress>,
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        if raw.allow.is_empty() && raw.deny.is_empty() {
            return Err("give `allow`, `deny` or both: with neither, every request passes".into());
        }
        Ok(Config {
            allow: raw.allow,
            deny: raw.deny,
            client_address: raw.client_address,
        })
    }
}

/// `client_address`: read the client from `header` when the connection
/// comes from one of `trusted_proxies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAddress {
    /// A header the proxies set, a comma-separated list of addresses, the
    /// nearest hop last (`X-Forwarded-For` syntax; one address is a list).
    pub header: ProxyHeader,
    /// The proxies whose header is believed.
    pub trusted_proxies: TrustedProxies,
}

/// The proxy header's name. `X-Forwarded-For` and `Forwarded` are refused:
/// the gateway replaces both with the connection's address before plugins
/// run, so they could never carry a proxy's report.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct ProxyHeader(pub HeaderName);

impl TryFrom<String> for ProxyHeader {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        let name = HeaderName::new(&name).map_err(|e| e.to_string())?;
        match name.as_str() {
            "x-forwarded-for" | "forwarded" => Err(format!(
                "`{name}` is set by the gateway from the connection before plugins run; \
                 name a header your trusted proxy sets, e.g. `x-real-ip`"
            )),
            _ => Ok(ProxyHeader(name)),
        }
    }
}

/// `trusted_proxies`: at least one address or range.
#[derive(Debug, Deserialize)]
#[serde(try_from = "Vec<Net>")]
pub struct TrustedProxies(pub Vec<Net>);

impl TryFrom<Vec<Net>> for TrustedProxies {
    type Error = String;

    fn try_from(nets: Vec<Net>) -> Result<Self, String> {
        match nets.is_empty() {
            true => Err("at least one trusted proxy address or range is required".into()),
            false => Ok(TrustedProxies(nets)),
        }
    }
}
