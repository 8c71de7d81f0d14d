//! Config field types that validate while deserializing.

use std::fmt;

use serde::{Deserialize, Deserializer, de};

use crate::Error;

/// A header name from a plugin's config, checked when the config is loaded
/// (so a typo is a config error naming the key, not a failed request) and
/// stored lower-case.
///
/// ```
/// # use portico_sdk::config::HeaderName;
/// let name: HeaderName = serde_json::from_str(r#""X-Request-Id""#)?;
/// assert_eq!(name.as_str(), "x-request-id");
/// assert!(serde_json::from_str::<HeaderName>(r#""bad name""#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeaderName(String);

impl HeaderName {
    /// Validates `name` as an HTTP header name.
    pub fn new(name: &str) -> Result<Self, Error> {
        http::HeaderName::from_bytes(name.as_bytes())
            .map(|name| HeaderName(name.as_str().to_owned()))
            .map_err(|_| Error::msg(format!("invalid header name `{name}`")))
    }

    /// A name known at compile time, e.g. for `#[serde(default = ...)]`.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name (a bug in the plugin, like
    /// [`http::HeaderName::from_static`]).
    pub fn from_static(name: &'static str) -> Self {
        match HeaderName::new(name) {
            Ok(name) => name,
            Err(err) => panic!("{err}"),
        }
    }

    /// The name, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A header value from a plugin's config, checked when the config is loaded:
/// no control characters other than tab (so no CR, LF or NUL).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeaderValue(String);

impl HeaderValue {
    /// Validates `value` as an HTTP header value.
    pub fn new(value: &str) -> Result<Self, Error> {
        http::HeaderValue::from_str(value)
            .map(|_| HeaderValue(value.to_owned()))
            .map_err(|_| Error::msg(format!("invalid header value {value:?}")))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Display`, `AsRef<str>`, `TryFrom<String>` and `Deserialize` through `new`.
macro_rules! string_field {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = Error;

            fn try_from(value: String) -> Result<Self, Error> {
                $ty::new(&value)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                $ty::new(&raw).map_err(de::Error::custom)
            }
        }
    };
}

string_field!(HeaderName);
string_field!(HeaderValue);
