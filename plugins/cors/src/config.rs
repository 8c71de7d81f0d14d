//! The route's `config` table, validated when the route loads.

use portico_sdk::config::{Duration, HeaderName};
use portico_sdk::http::Method;
use serde::{Deserialize, Deserializer, de};

use crate::origin::OriginRule;

/// ```toml
/// allow_origins = ["https://app.example.com", "https://*.example.com"]   # or ["*"]
/// allow_methods = ["GET", "POST"]               # default GET, HEAD, POST; ["*"]: any
/// allow_headers = ["content-type", "x-api-key"] # default none; ["*"]: any
/// expose_headers = ["x-request-id"]             # default none; ["*"]: all
/// allow_credentials = true                      # default false
/// max_age = "10m"                             # whole seconds; default: not sent
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Origins allowed to read responses.
    pub allow_origins: Origins,
    /// Methods a preflight allows.
    #[serde(default = "default_methods")]
    pub allow_methods: List<MethodName>,
    /// Request headers a preflight allows.
    #[serde(default)]
    pub allow_headers: List<HeaderName>,
    /// Response headers the browser lets scripts read.
    #[serde(default)]
    pub expose_headers: List<HeaderName>,
    /// Whether requests with cookies or HTTP authentication may read the
    /// response (`Access-Control-Allow-Credentials: true`).
    #[serde(default)]
    pub allow_credentials: bool,
    /// How long a browser may cache a preflight answer.
    pub max_age: Option<MaxAge>,
}

/// `max_age`: a whole number of seconds, as `Access-Control-Max-Age` sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Duration")]
pub struct MaxAge(pub u64);

impl TryFrom<Duration> for MaxAge {
    type Error = String;

    fn try_from(duration: Duration) -> Result<Self, String> {
        duration
            .whole_seconds()
            .map(MaxAge)
            .ok_or_else(|| format!("{duration} is not a whole number of seconds"))
    }
}

fn default_methods() -> List<MethodName> {
    let names = ["GET", "HEAD", "POST"].map(|m| MethodName(m.to_owned()));
    List::Names(names.to_vec())
}

/// `allow_origins`: a non-empty list.
#[derive(Debug, Deserialize)]
#[serde(try_from = "Vec<OriginRule>")]
pub struct Origins(pub Vec<OriginRule>);

impl TryFrom<Vec<OriginRule>> for Origins {
    type Error = String;

    fn try_from(rules: Vec<OriginRule>) -> Result<Self, String> {
        match rules.is_empty() {
            true => Err("at least one origin (or `*`) is required".to_owned()),
            false => Ok(Origins(rules)),
        }
    }
}

impl Origins {
    /// Whether `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|rule| rule.allows(origin))
    }

    /// Whether any origin is allowed (`*` is in the list).
    pub fn any(&self) -> bool {
        self.0.contains(&OriginRule::Any)
    }
}

/// A list of names, or `["*"]` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum List<T> {
    /// `["*"]`.
    Any,
    /// These names.
    Names(Vec<T>),
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List::Names(Vec::new())
    }
}

impl<'de, T: TryFrom<String, Error: std::fmt::Display>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        List::try_from(names).map_err(de::Error::custom)
    }
}

impl<T: AsRef<str>> List<T> {
    /// The names, comma-separated (empty for [`List::Any`]).
    pub fn joined(&self) -> String {
        match self {
            List::Any => String::new(),
            List::Names(names) => {
                let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
                names.join(", ")
            }
        }
    }
}

impl<T: TryFrom<String, Error: std::fmt::Display>> TryFrom<Vec<String>> for List<T> {
    type Error = String;

    fn try_from(names: Vec<String>) -> Result<Self, String> {
        if names.iter().any(|n| n == "*") {
            return match names.len() {
                1 => Ok(List::Any),
                _ => Err("`*` must be the only entry".to_owned()),
            };
        }
        names
            .into_iter()
            .enumerate()
            .map(|(i, name)| T::try_from(name).map_err(|e| format!("[{i}]: {e}")))
            .collect::<Result<_, _>>()
            .map(List::Names)
    }
}

/// An HTTP method token, as written (methods are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodName(pub String);

impl TryFrom<String> for MethodName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        match Method::from_bytes(name.as_bytes()) {
            Ok(_) if !name.is_empty() => Ok(MethodName(name)),
            _ => Err(format!("invalid method {name:?}")),
        }
    }
}

impl AsRef<str> for MethodName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
