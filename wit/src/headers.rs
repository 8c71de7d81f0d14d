//! Which header names and values a plugin may set on a request, a response
//! or a reply: what HTTP allows (RFC 9110 field names and values), checked
//! with the `http` crate the gateway sends them with.

use http::{HeaderName, HeaderValue};

/// Why a header was refused, with the offending name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The name is not a valid field name.
    InvalidName(String),
    /// The value of this (valid) header name is not a valid field value.
    InvalidValue(String),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::InvalidName(name) => {
                write!(f, "invalid header name `{}`", name.escape_debug())
            }
            HeaderError::InvalidValue(name) => write!(f, "invalid value for header `{name}`"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// A header value as `header` and `header-all` hand it to a plugin: UTF-8,
/// with bytes that are not (obs-text from a client) replaced by U+FFFD;
/// `header-bytes` gives the bytes themselves.
pub fn text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// Parses a header a plugin sets into what goes on the wire.
pub fn parse(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), HeaderError> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| HeaderError::InvalidName(name.to_owned()))?;
    let value = HeaderValue::from_str(value)
        .map_err(|_| HeaderError::InvalidValue(name.as_str().to_owned()))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_are_not_utf8_read_as_replacement_characters() {
        let value = HeaderValue::from_bytes(b"caf\xe9").unwrap();
        assert_eq!(text(&value), "caf\u{fffd}");
        assert_eq!(text(&HeaderValue::from_static("plain")), "plain");
    }

    #[test]
    fn names_are_lowercased_and_bad_ones_refused() {
        let (name, value) = parse("X-Hello", "world").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("x-hello", "world")
        );
        assert_eq!(
            parse("bad name", "v"),
            Err(HeaderError::InvalidName("bad name".into()))
        );
        assert_eq!(
            parse("x-a", "line\r\nbreak"),
            Err(HeaderError::InvalidValue("x-a".into()))
        );
    }
}
