//! The route's `config` table, validated when the route loads.

use std::collections::BTreeMap;

use portico_sdk::config::{Duration, HeaderName};
use serde::Deserialize;

/// ```toml
/// endpoint = "https://idp.example.com/oauth2/introspect"
/// client_id = "portico"
/// client_secret = "..."                # better: config_files = { client_secret = "secrets/idp" }
/// auth_method = "basic"                # or "post" (client_id and client_secret in the form)
/// required_scopes = ["orders:read"]    # every one must be granted
/// audience = "orders-api"              # optional: `aud` must name it
/// max_cache = "5m"                    # active results cached until exp, at most this; "0s": never
/// realm = "orders"                     # in WWW-Authenticate; default "portico"
/// headers = { sub = "x-user", scope = "x-scopes" }   # introspection fields to request headers
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The introspection endpoint (RFC 7662), an absolute URL the entry's
    /// `http.allow` must cover.
    pub endpoint: Endpoint,
    /// The gateway's client id at the IdP.
    pub client_id: String,
    /// Its secret (whitespace around it, as a file's trailing newline, is
    /// ignored).
    pub client_secret: Secret,
    /// How the client authenticates to the endpoint.
    #[serde(default)]
    pub auth_method: AuthMethod,
    /// Scopes the token must carry, every one.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// An audience the token's `aud` must name.
    pub audience: Option<String>,
    /// Longest an active result is reused (never past `exp`; whole
    /// seconds count, as `exp` does).
    #[serde(default = "default_max_cache")]
    pub max_cache: Duration,
    /// The realm named in `WWW-Authenticate`.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Introspection fields (`sub`, `client_id`, `username`, `scope`) set as
    /// request headers, replacing whatever the client sent.
    #[serde(default)]
    pub headers: Headers,
}

/// `headers`: introspection field → request header.
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "BTreeMap<String, HeaderName>")]
pub struct Headers(pub BTreeMap<Field, HeaderName>);

impl TryFrom<BTreeMap<String, HeaderName>> for Headers {
    type Error = String;

    fn try_from(map: BTreeMap<String, HeaderName>) -> Result<Self, String> {
        let mut headers = BTreeMap::new();
        for (name, header) in map {
            let field = match name.as_str() {
                "sub" => Field::Sub,
                "client_id" => Field::ClientId,
                "username" => Field::Username,
                "scope" => Field::Scope,
                other => {
                    return Err(format!(
                        "unknown field `{other}`: expected `sub`, `client_id`, `username` or `scope`"
                    ));
                }
            };
            headers.insert(field, header);
        }
        Ok(Headers(headers))
    }
}

fn default_max_cache() -> Duration {
    Duration::from_secs(300)
}

fn default_realm() -> String {
    "portico".to_owned()
}

/// An `http` or `https` URL.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct Endpoint(pub String);

impl TryFrom<String> for Endpoint {
    type Error = String;

    fn try_from(url: String) -> Result<Self, String> {
        if url.starts_with("https://") || url.starts_with("http://") {
            Ok(Endpoint(url))
        } else {
            Err(format!("`{url}` is not an absolute http or https URL"))
        }
    }
}

/// The client secret, trimmed, never printed.
#[derive(Deserialize)]
#[serde(try_from = "String")]
pub struct Secret(pub String);

impl TryFrom<String> for Secret {
    type Error = String;

    fn try_from(secret: String) -> Result<Self, String> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err("the client secret is empty".to_owned());
        }
        Ok(Secret(secret.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// RFC 6749 §2.3.1 client authentication.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    Post,
}

/// An introspection field that can be forwarded in a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// `sub`.
    Sub,
    /// `client_id`.
    ClientId,
    /// `username`.
    Username,
    /// `scope` (space-separated).
    Scope,
}
