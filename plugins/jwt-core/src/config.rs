//! The route's `config` table, validated when the route loads: every key is
//! parsed (PEM, JWK, JWKS) and bound to its algorithm before any request.
//!
//! Both plugins read the same table. [`Config`] (`jwt`) takes its keys
//! from `keys` and `jwks` and refuses the remote ones; [`OidcConfig`]
//! (`jwt-oidc`) takes `issuer` discovery or `jwks_uri` and refuses written
//! keys, so a route never mixes the two by accident.

use std::collections::BTreeMap;

use portico_sdk::config::{Duration, HeaderName};
use serde::Deserialize;
use serde_json::Value;

use crate::alg::Alg;
use crate::keys::{self, Key};

/// The plugin's config; see the crate docs for an example.
#[derive(Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    /// Every key, from `keys` and `jwks` together.
    pub keys: Vec<Key>,
    /// Accepted `iss` values.
    pub issuers: Vec<String>,
    /// Accepted audiences: the token's `aud` must name one.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, milliseconds.
    pub leeway_ms: u64,
    /// Whether a token without `exp` is refused.
    pub require_exp: bool,
    /// Claims every token must carry.
    pub required_claims: Vec<String>,
    /// Claim → request header forwarded upstream.
    pub forward_claims: BTreeMap<String, HeaderName>,
    /// The claim whose (string) value becomes the context's `consumer`.
    pub consumer_claim: String,
    /// The claim whose values (an array of strings, or a space-separated
    /// string such as `scope`) become the context's `consumer.groups`.
    pub groups_claim: Option<String>,
    /// Where the token is read from.
    pub token: TokenSource,
    /// The realm in `WWW-Authenticate`.
    pub realm: String,
}

/// Where the token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A request header; with a scheme (`Bearer`), the value must be
    /// `<scheme> <token>` (scheme compared case-insensitively).
    Header {
        /// The header.
        name: HeaderName,
        /// The auth scheme, or `None` when the value is the bare token.
        scheme: Option<String>,
    },
    /// A query parameter.
    Query(String),
}

/// `jwt-oidc`'s config: the shared part (its `keys` empty) and where the
/// keys come from.
#[derive(Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct OidcConfig {
    /// Claims, forwarding, token source and realm, as for `jwt`.
    pub config: Config,
    /// The key set's source and refresh bounds.
    pub remote: Remote,
}

/// Where `jwt-oidc` fetches its key set, and how often at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The issuer discovery is done for (the first `issuer`).
    pub issuer: String,
    /// The JWKS URL; `None`: from the issuer's
    /// `/.well-known/openid-configuration`.
    pub jwks_uri: Option<String>,
    /// Fewest milliseconds between two fetches (an unknown `kid` refetches
    /// no sooner).
    pub refresh_interval_ms: u64,
    /// A key set older than this is fetched again before use (the old one
    /// still serves if the fetch fails).
    pub max_age_ms: u64,
}

/// The table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    keys: Vec<KeyEntry>,
    jwks: Option<Jwks>,
    jwks_uri: Option<String>,
    refresh_interval: Option<Duration>,
    max_age: Option<Duration>,
    issuer: OneOrMany,
    audience: OneOrMany,
    #[serde(default = "default_leeway")]
    leeway: Duration,
    #[serde(default = "default_true")]
    require_exp: bool,
    #[serde(default)]
    required_claims: Vec<String>,
    #[serde(default)]
    forward_claims: BTreeMap<String, HeaderName>,
    #[serde(default = "default_consumer_claim")]
    consumer_claim: String,
    groups_claim: Option<String>,
    #[serde(default)]
    token: RawToken,
    #[serde(default = "default_realm")]
    realm: Realm,
}

fn default_leeway() -> Duration {
    Duration::from_secs(30)
}
fn default_true() -> bool {
    true
}
fn default_consumer_claim() -> String {
    "sub".into()
}
fn default_realm() -> Realm {
    Realm("api".into())
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    fn try_from(mut raw: RawConfig) -> Result<Self, String> {
        if raw.jwks_uri.is_some() || raw.refresh_interval.is_some() || raw.max_age.is_some() {
            return Err(
                "`jwks_uri`, `refresh_interval` and `max_age` are `jwt-oidc` keys: \
                 that plugin fetches the issuer's keys over the `http` capability"
                    .into(),
            );
        }
        let mut keys: Vec<Key> = std::mem::take(&mut raw.keys)
            .into_iter()
            .map(|k| k.0)
            .collect();
        keys.extend(raw.jwks.take().into_iter().flat_map(|j| j.0));
        if keys.is_empty() {
            return Err("no keys: set `keys`, `jwks`, or both".into());
        }
        shared(raw, keys)
    }
}

/// Default shortest time between two key set fetches.
const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// Default age after which a key set is fetched again.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

impl TryFrom<RawConfig> for OidcConfig {
    type Error = String;

    fn try_from(mut raw: RawConfig) -> Result<Self, String> {
        if !raw.keys.is_empty() || raw.jwks.is_some() {
            return Err(
                "`keys` and `jwks` are `jwt` keys: `jwt-oidc` takes its keys \
                 from the issuer (`jwks_uri`, or discovery)"
                    .into(),
            );
        }
        let jwks_uri = raw.jwks_uri.take().map(checked_url).transpose()?;
        let issuer = raw.issuer.0[0].clone();
        if jwks_uri.is_none() {
            checked_url(issuer.clone()).map_err(|e| format!("`issuer` for discovery: {e}"))?;
        }
        let refresh_interval = raw.refresh_interval.unwrap_or(DEFAULT_REFRESH_INTERVAL);
        let max_age = raw.max_age.unwrap_or(DEFAULT_MAX_AGE);
        if refresh_interval.as_millis() < 1000 {
            return Err("`refresh_interval` must be at least 1s".into());
        }
        if max_age < refresh_interval {
            return Err("`max_age` must be at least `refresh_interval`".into());
        }
        let remote = Remote {
            issuer,
            jwks_uri,
            refresh_interval_ms: refresh_interval.as_millis(),
            max_age_ms: max_age.as_millis(),
        };
        Ok(OidcConfig {
            config: shared(raw, Vec::new())?,
            remote,
        })
    }
}

/// An `https://` URL (or `http://` to a loopback host, for development),
/// without a fragment.
pub fn checked_url(url: String) -> Result<String, String> {
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(format!("`{url}`: keys are fetched over https:// only"));
        }
        rest
    } else {
        return Err(format!("`{url}` is not an https:// URL"));
    };
    if rest.is_empty() || rest.starts_with('/') || url.contains('#') {
        return Err(format!("`{url}` is not a URL with a host and no fragment"));
    }
    Ok(url)
}

/// Everything but the keys, checked.
fn shared(raw: RawConfig, keys: Vec<Key>) -> Result<Config, String> {
    let token = match (raw.token.header, raw.token.query, raw.token.scheme) {
        (Some(_), Some(_), _) => {
            return Err("`token`: set `header` or `query`, not both".into());
        }
        (None, Some(_), Some(_)) => {
            return Err("`token.scheme` applies to `header` only".into());
        }
        (None, Some(query), None) if !query.is_empty() => TokenSource::Query(query),
        (None, Some(_), None) => return Err("`token.query` must not be empty".into()),
        (header, None, scheme) => TokenSource::Header {
            name: header.unwrap_or_else(|| HeaderName::from_static("authorization")),
            scheme: match scheme {
                None => Some("Bearer".into()),
                Some(s) if s.is_empty() => None,
                Some(s) if s.bytes().all(|b| b.is_ascii_graphic()) => Some(s),
                Some(s) => return Err(format!("`token.scheme` {s:?} is not a token")),
            },
        },
    };
    Ok(Config {
        keys,
        issuers: raw.issuer.0,
        audiences: raw.audience.0,
        leeway_ms: raw.leeway.as_millis(),
        require_exp: raw.require_exp,
        required_claims: raw.required_claims,
        forward_claims: raw.forward_claims,
        consumer_claim: raw.consumer_claim,
        groups_claim: raw.groups_claim,
        token,
        realm: raw.realm.0,
    })
}

/// `[[keys]]`: one key, bound to `alg`, from exactly one of `pem`, `secret`
/// or `jwk`.
#[derive(Deserialize)]
#[serde(try_from = "RawKey")]
struct KeyEntry(Key);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    kid: Option<String>,
    alg: Option<String>,
    pem: Option<String>,
    secret: Option<String>,
    jwk: Option<Value>,
}

impl TryFrom<RawKey> for KeyEntry {
    type Error = String;

    fn try_from(raw: RawKey) -> Result<Self, String> {
        let alg = raw.alg.map(Alg::try_from).transpose()?;
        let need_alg = || alg.ok_or_else(|| "`alg` is required with `pem` or `secret`".to_owned());
        let key = match (raw.pem, raw.secret, raw.jwk) {
            (Some(pem), None, None) => Key::from_pem(raw.kid, need_alg()?, &pem),
            (None, Some(secret), None) => Key::from_secret(raw.kid, need_alg()?, secret.as_bytes()),
            (None, None, Some(jwk)) => Key::from_jwk(&jwk, alg, raw.kid),
            _ => Err("set exactly one of `pem`, `secret` or `jwk`".into()),
        };
        key.map(KeyEntry)
    }
}

/// `jwks`: the text of a JWKS document (usually inserted by the gateway from
/// the route's `config_files = { jwks = "..." }`).
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct Jwks(Vec<Key>);

impl TryFrom<String> for Jwks {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        keys::from_jwks(&text).map(Jwks)
    }
}

/// A non-empty string, or a non-empty array of them.
#[derive(Deserialize)]
#[serde(try_from = "Value")]
struct OneOrMany(Vec<String>);

impl TryFrom<Value> for OneOrMany {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        let items = match value {
            Value::String(one) => vec![one],
            Value::Array(many) => many
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err("expected strings".to_owned()),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("expected a string or an array of strings".into()),
        };
        if items.is_empty() || items.iter().any(String::is_empty) {
            return Err("expected non-empty strings".into());
        }
        Ok(OneOrMany(items))
    }
}

/// `[token]` as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    header: Option<HeaderName>,
    scheme: Option<String>,
    query: Option<String>,
}

/// A realm that fits in a quoted string: printable ASCII without `"` or `\`.
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct Realm(String);

impl TryFrom<String> for Realm {
    type Error = String;

    fn try_from(realm: String) -> Result<Self, String> {
        if realm
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            Ok(Realm(realm))
        } else {
            Err("printable ASCII without `\"` or `\\` only".into())
        }
    }
}
