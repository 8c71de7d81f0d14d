//! Values parsed once, while the config file is read.
//!
//! A [`Checked`] value keeps the text as written and what parsing it gave:
//! the typed value (a method, a header name, a compiled path regex, a
//! target, a host match) or the problem with it. Reading the file never
//! fails on such a value, so one bad value does not hide the others:
//! validation reports every problem at its own key, and the layers above
//! (the router, the upstreams) take the typed values and parse nothing
//! again.

use std::fmt;

use regex::Regex;
use serde::Deserialize;

use super::target::Target;

/// A config value as written, with the result of parsing it.
#[derive(Clone)]
pub struct Checked<T> {
    text: String,
    parsed: Result<T, String>,
}

/// How a config value is parsed from its text.
pub trait ParseValue: Sized {
    /// The typed value, or what is wrong with `text` (a message for the
    /// config error at the value's key).
    fn parse_value(text: &str) -> Result<Self, String>;
}

impl<T: ParseValue> Checked<T> {
    /// Parses `text`.
    pub fn parse(text: impl Into<String>) -> Self {
        let text = text.into();
        let parsed = T::parse_value(&text);
        Checked { text, parsed }
    }
}

impl<T> Checked<T> {
    /// The value as written in the config.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed value, or the problem with it.
    pub fn value(&self) -> Result<&T, &str> {
        self.parsed.as_ref().map_err(String::as_str)
    }

    /// The problem with the value, if any.
    pub fn problem(&self) -> Option<&str> {
        self.parsed.as_ref().err().map(String::as_str)
    }
}

impl<'de, T: ParseValue> Deserialize<'de> for Checked<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Checked::parse)
    }
}

/// Two values are the same config when they are written the same.
impl<T> PartialEq for Checked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<T> Eq for Checked<T> {}

impl<T> fmt::Debug for Checked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parsed {
            Ok(_) => write!(f, "{:?}", self.text),
            Err(problem) => write!(f, "{:?} ({problem})", self.text),
        }
    }
}

impl ParseValue for http::Method {
    fn parse_value(text: &str) -> Result<Self, String> {
        http::Method::from_bytes(text.as_bytes())
            .map_err(|_| format!("`{text}` is not an HTTP method"))
    }
}

impl ParseValue for http::HeaderName {
    fn parse_value(text: &str) -> Result<Self, String> {
        http::HeaderName::from_bytes(text.as_bytes())
            .map_err(|_| format!("`{text}` is not a valid header name"))
    }
}

impl ParseValue for http::HeaderValue {
    fn parse_value(text: &str) -> Result<Self, String> {
        http::HeaderValue::from_str(text)
            .map_err(|_| format!("`{text}` is not a valid header value"))
    }
}

impl ParseValue for Target {
    fn parse_value(text: &str) -> Result<Self, String> {
        Target::parse(text).map_err(|error| error.to_string())
    }
}

/// A route's path regex, compiled to match the whole path.
#[derive(Clone, Debug)]
pub struct PathRegex(Regex);

impl PathRegex {
    /// The compiled regex (anchored at both ends).
    pub fn regex(&self) -> &Regex {
        &self.0
    }
}

impl ParseValue for PathRegex {
    fn parse_value(text: &str) -> Result<Self, String> {
        Regex::new(&format!("^(?:{text})$"))
            .map(PathRegex)
            // The message quotes the pattern as the user wrote it.
            .map_err(|_| match Regex::new(text) {
                Err(error) => format!("invalid regex: {error}"),
                Ok(_) => "invalid regex".to_owned(),
            })
    }
}

/// A route's host: exact (`api.example.com`) or a wildcard over one or
/// more labels (`*.example.com`); lowercase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// The whole host.
    Exact(String),
    /// `*.example.com`, kept as `.example.com`.
    Suffix(String),
}

impl ParseValue for HostMatch {
    fn parse_value(text: &str) -> Result<Self, String> {
        let host = text.to_ascii_lowercase();
        let (bare, wildcard) = match host.strip_prefix("*.") {
            Some(bare) => (bare, true),
            None => (host.as_str(), false),
        };
        let valid = !bare.is_empty()
            && bare.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        match (valid, wildcard) {
            (false, _) => Err(format!("`{text}` is not a host name or `*.` wildcard")),
            (true, true) => Ok(HostMatch::Suffix(format!(".{bare}"))),
            (true, false) => Ok(HostMatch::Exact(host)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_keeps_its_text_and_its_parse() {
        let get = Checked::<http::Method>::parse("GET");
        assert_eq!(get.text(), "GET");
        assert_eq!(get.value(), Ok(&http::Method::GET));
        assert_eq!(get.problem(), None);
        let bad = Checked::<http::Method>::parse("G ET");
        assert_eq!(bad.problem(), Some("`G ET` is not an HTTP method"));
        assert_eq!(bad, Checked::parse("G ET"), "compared as written");
    }

    #[test]
    fn path_regexes_match_the_whole_path_and_quote_the_users_pattern() {
        let regex = Checked::<PathRegex>::parse(r"/u/\d+");
        let regex = regex.value().expect("valid").regex();
        assert!(regex.is_match("/u/42"));
        assert!(!regex.is_match("/x/u/42") && !regex.is_match("/u/42/x"));
        let bad = Checked::<PathRegex>::parse("(");
        let problem = bad.problem().expect("invalid");
        assert!(problem.starts_with("invalid regex:"), "{problem}");
        assert!(!problem.contains("^(?:"), "{problem}");
    }

    #[test]
    fn hosts_are_exact_or_wildcards() {
        let parse = |h: &str| {
            Checked::<HostMatch>::parse(h)
                .value()
                .cloned()
                .map_err(str::to_owned)
        };
        assert_eq!(
            parse("API.example.com"),
            Ok(HostMatch::Exact("api.example.com".into()))
        );
        assert_eq!(
            parse("*.example.com"),
            Ok(HostMatch::Suffix(".example.com".into()))
        );
        for bad in ["", "*.", "a..b", "a b", "*example.com"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
