//! The route's `config` table, validated when the route loads.

use portico_sdk::config::HeaderName;
use serde::Deserialize;

use crate::keys::KeyHash;

/// ```toml
/// header = "x-api-key"          # default
/// query = "api_key"             # optional; off by default
/// realm = "orders"              # default "portico"
/// keys = [
///   { sha256 = "4c8f…64 hex digits…", consumer = "alice", groups = ["admin"] },
/// ]
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The request header carrying the key.
    #[serde(default = "default_header")]
    pub header: HeaderName,
    /// A query parameter carrying the key, if keys may come in the URL. The
    /// header wins when both are present.
    pub query: Option<QueryName>,
    /// The realm named in `WWW-Authenticate`.
    #[serde(default = "default_realm")]
    pub realm: Realm,
    /// The accepted keys.
    pub keys: Keys,
}

fn default_header() -> HeaderName {
    HeaderName::from_static("x-api-key")
}

fn default_realm() -> Realm {
    Realm("portico".to_owned())
}

/// One accepted key: its hash and who presents it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// SHA-256 of the key, 64 hex digits (`printf %s "$KEY" | sha256sum`).
    pub sha256: KeyHash,
    /// The consumer the key belongs to, set as context `consumer`.
    pub consumer: Name,
    /// The consumer's groups, set as context `consumer.groups`
    /// (comma-separated).
    #[serde(default)]
    pub groups: Vec<Group>,
}

/// The key list: at least one entry, no hash twice.
#[derive(Debug, Deserialize)]
#[serde(try_from = "Vec<KeyEntry>")]
pub struct Keys(pub Vec<KeyEntry>);

impl TryFrom<Vec<KeyEntry>> for Keys {
    type Error = String;

    fn try_from(entries: Vec<KeyEntry>) -> Result<Self, String> {
        if entries.is_empty() {
            return Err("at least one key is required".to_owned());
        }
        for (i, entry) in entries.iter().enumerate() {
            if let Some(j) = entries[..i].iter().position(|e| e.sha256 == entry.sha256) {
                // No hash in the message: it is a key's fingerprint.
                return Err(format!("keys[{i}] has the same sha256 as keys[{j}]"));
            }
        }
        Ok(Keys(entries))
    }
}

/// A consumer name: non-empty, printable, no commas or quotes, at most 128
/// bytes (it travels in headers and in the context).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Name(pub String);

impl TryFrom<String> for Name {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        check_token(&name, "consumer name")?;
        Ok(Name(name))
    }
}

/// A group name: like a consumer name.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Group(pub String);

impl TryFrom<String> for Group {
    type Error = String;

    fn try_from(group: String) -> Result<Self, String> {
        check_token(&group, "group name")?;
        Ok(Group(group))
    }
}

/// Non-empty visible ASCII without `,` or `"`, at most 128 bytes.
fn check_token(value: &str, what: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b'"' && b != b'\\');
    match ok {
        true => Ok(()),
        false => Err(format!(
            "{what} {value:?} must be 1 to 128 visible ASCII characters without `,`, `\"` or `\\`"
        )),
    }
}

/// A query parameter name: non-empty, no `&`, `=`, `#` or spaces.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct QueryName(pub String);

impl TryFrom<String> for QueryName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"&=#?+%".contains(&b));
        match ok {
            true => Ok(QueryName(name)),
            false => Err(format!(
                "query parameter name {name:?} must be visible ASCII without `&=#?+%`"
            )),
        }
    }
}

/// The `WWW-Authenticate` realm: visible ASCII or spaces, no `"` or `\`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Realm(pub String);

impl TryFrom<String> for Realm {
    type Error = String;

    fn try_from(realm: String) -> Result<Self, String> {
        let ok = realm
            .bytes()
            .all(|b| (b.is_ascii_graphic() || b == b' ') && b != b'"' && b != b'\\');
        match ok {
            true => Ok(Realm(realm)),
            false => Err(format!(
                "realm {realm:?} must be visible ASCII or spaces, without `\"` or `\\`"
            )),
        }
    }
}
