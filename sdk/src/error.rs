//! [`Error`]: why a plugin failed to handle a request.

use std::fmt;

use crate::imports::types::{BodyError, HeaderError};

/// Why a plugin failed to handle a request (as opposed to answering it).
///
/// Returned from [`Plugin::on_request`](crate::Plugin::on_request) or
/// [`Plugin::on_response`](crate::Plugin::on_response), it becomes the WIT
/// `plugin-error`: the gateway fails the request as it would for a trap
/// (fail-closed or fail-open, as the route says) and logs the message. The
/// client never sees it; to answer the client, return
/// [`Action::Respond`](crate::Action::Respond) instead.
///
/// Most errors a plugin meets convert with `?`: header and body errors from
/// [`Request`](crate::Request)/[`Response`](crate::Response), [`KvError`](crate::kv::KvError),
/// `serde_json`, `http`, parse errors from `std`, `String` and `&str`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error {
            message: message.to_string(),
        }
    }

    /// The message, as the gateway logs it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error { message }
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::msg(message)
    }
}

/// `From` impls for errors whose `Display` is the whole story.
macro_rules! from_display {
    ($($source:ty),* $(,)?) => {
        $(
            impl From<$source> for Error {
                fn from(err: $source) -> Self {
                    Error::msg(err)
                }
            }
        )*
    };
}

from_display!(
    crate::kv::KvError,
    crate::ConfigError,
    serde_json::Error,
    http::Error,
    http::header::InvalidHeaderName,
    http::header::InvalidHeaderValue,
    http::header::ToStrError,
    http::method::InvalidMethod,
    http::status::InvalidStatusCode,
    http::uri::InvalidUri,
    std::fmt::Error,
    std::io::Error,
    std::net::AddrParseError,
    std::num::ParseFloatError,
    std::num::ParseIntError,
    std::str::ParseBoolError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
);

// Written once against `imports::types`: the WIT bindings on wasm32, their
// in-memory mirror natively (same shape).
impl From<HeaderError> for Error {
    fn from(err: HeaderError) -> Self {
        match err {
            HeaderError::InvalidName(name) => Error::msg(format!("invalid header name `{name}`")),
            HeaderError::InvalidValue(name) => {
                Error::msg(format!("invalid value for header `{name}`"))
            }
        }
    }
}

impl From<BodyError> for Error {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::TooLarge(limit) => {
                Error::msg(format!("body exceeds the route's limit of {limit} bytes"))
            }
            BodyError::ReadFailed(reason) => {
                Error::msg(format!("reading the body failed: {reason}"))
            }
        }
    }
}
