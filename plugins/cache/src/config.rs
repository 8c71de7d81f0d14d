//! The route's `config` table, validated when the route loads.

use portico_sdk::config::Duration;
use portico_sdk::http::Method;
use serde::Deserialize;

/// The host drops cache values over an eighth of its 64 MiB.
const MAX_ENTRY_BYTES: u64 = 8 * 1024 * 1024;

/// ```toml
/// methods = ["GET", "HEAD"]     # cached methods (a subset of these two)
/// max_body_bytes = 1048576      # larger responses are not stored
/// stale_margin = "10m"         # how long a stale entry with a validator is kept for revalidation
/// cache_name = "portico"        # this cache's name in `Cache-Status`
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Methods answered from the cache. `HEAD` is answered from the stored
    /// `GET` response; only `GET` responses are stored.
    #[serde(default = "default_methods")]
    pub methods: Methods,
    /// Responses with a larger (or no) `Content-Length` are not stored.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: BodyLimit,
    /// How long a stale entry with `ETag` or `Last-Modified` stays in the
    /// host's cache after its freshness ends, so it can be revalidated.
    #[serde(default = "default_margin")]
    pub stale_margin: Duration,
    /// The cache's name in `Cache-Status`.
    #[serde(default = "default_name")]
    pub cache_name: CacheName,
}

fn default_methods() -> Methods {
    Methods {
        get: true,
        head: true,
    }
}

fn default_max_body() -> BodyLimit {
    BodyLimit(1024 * 1024)
}

fn default_margin() -> Duration {
    Duration::from_secs(600)
}

fn default_name() -> CacheName {
    CacheName("portico".to_owned())
}

/// `methods`: a non-empty subset of `GET` and `HEAD`, the methods whose
/// responses HTTP lets a cache reuse for the target URI alone.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct Methods {
    /// `GET` requests use the cache.
    pub get: bool,
    /// `HEAD` requests use the cache.
    pub head: bool,
}

impl Methods {
    /// Whether requests with `method` use the cache.
    pub fn contains(&self, method: &Method) -> bool {
        (*method == Method::GET && self.get) || (*method == Method::HEAD && self.head)
    }
}

impl TryFrom<Vec<String>> for Methods {
    type Error = String;

    fn try_from(names: Vec<String>) -> Result<Self, String> {
        if names.is_empty() {
            return Err("list at least one method (or remove the plugin)".to_owned());
        }
        let mut methods = Methods {
            get: false,
            head: false,
        };
        for name in names {
            match name.as_str() {
                "GET" => methods.get = true,
                "HEAD" => methods.head = true,
                _ => {
                    return Err(format!(
                        "method {name:?} is not cacheable: only \"GET\" and \"HEAD\" responses \
                         are reused for their URI alone"
                    ));
                }
            }
        }
        Ok(methods)
    }
}

/// `max_body_bytes`: 1 ..= 8 MiB.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "u64")]
pub struct BodyLimit(pub u64);

impl TryFrom<u64> for BodyLimit {
    type Error = String;

    fn try_from(bytes: u64) -> Result<Self, String> {
        if bytes == 0 || bytes > MAX_ENTRY_BYTES {
            return Err(format!(
                "must be between 1 and {MAX_ENTRY_BYTES} (the host's per-entry limit), not {bytes}"
            ));
        }
        Ok(BodyLimit(bytes))
    }
}

/// `cache_name`: an sf-token (RFC 8941), e.g. `portico` or `edge-1`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct CacheName(pub String);

impl TryFrom<String> for CacheName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        let mut bytes = name.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'*');
        let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b));
        if !(first_ok && rest_ok) {
            return Err(format!(
                "{name:?} is not a token (a letter, then letters, digits or `!#$%&'*+-.^_`|~:/`)"
            ));
        }
        Ok(CacheName(name))
    }
}
