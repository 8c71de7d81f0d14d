//! Allowed origins: `*`, exact origins, and subdomain patterns.

use serde::Deserialize;

/// One entry of `allow_origins`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum OriginRule {
    /// `*`: any origin.
    Any,
    /// `https://app.example.com[:port]`, compared case-insensitively.
    Exact(String),
    /// `https://*.example.com[:port]`: one or more labels before the
    /// suffix, same scheme and port. `scheme` ends with `://`, `suffix`
    /// starts with `.`.
    Subdomains {
        /// `https://`.
        scheme: String,
        /// `.example.com` or `.example.com:8443`.
        suffix: String,
    },
}

impl TryFrom<String> for OriginRule {
    type Error = String;

    fn try_from(rule: String) -> Result<Self, String> {
        if rule == "*" {
            return Ok(OriginRule::Any);
        }
        let lower = rule.to_ascii_lowercase();
        let invalid = || {
            format!(
                "origin {rule:?} must be `*`, `scheme://host[:port]` or \
                 `scheme://*.domain[:port]` (no path, no trailing `/`)"
            )
        };
        let (scheme, rest) = lower.split_once("://").ok_or_else(invalid)?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !scheme_ok {
            return Err(invalid());
        }
        match rest.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && is_host_port(&suffix[1..]) => {
                Ok(OriginRule::Subdomains {
                    scheme: format!("{scheme}://"),
                    suffix: suffix.to_owned(),
                })
            }
            Some(_) => Err(invalid()),
            None if is_host_port(rest) => Ok(OriginRule::Exact(lower)),
            None => Err(invalid()),
        }
    }
}

impl OriginRule {
    /// Whether `origin` (the request's `Origin` header) is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            OriginRule::Any => true,
            OriginRule::Exact(exact) => origin.eq_ignore_ascii_case(exact),
            OriginRule::Subdomains { scheme, suffix } => {
                let origin = origin.to_ascii_lowercase();
                let labels = origin
                    .strip_prefix(scheme.as_str())
                    .and_then(|rest| rest.strip_suffix(suffix.as_str()));
                labels.is_some_and(|labels| {
                    !labels.is_empty()
                        && !labels.starts_with('.')
                        && !labels.ends_with('.')
                        && labels
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                })
            }
        }
    }
}

/// `host[:port]`: a host of letters, digits, `-` and `.` (or a bracketed
/// IPv6 literal), then an optional numeric port.
fn is_host_port(text: &str) -> bool {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (text, None),
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !host.is_empty()
            && !host.starts_with('.')
            && !host.ends_with('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> OriginRule {
        match OriginRule::try_from(text.to_owned()) {
            Ok(rule) => rule,
            Err(err) => panic!("{err}"),
        }
    }

    #[test]
    fn exact_origins_match_case_insensitively_and_nothing_else() {
        let exact = rule("https://App.example.com");
        assert!(exact.allows("https://app.example.com"));
        assert!(exact.allows("HTTPS://APP.EXAMPLE.COM"));
        for other in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://app.example.com.evil.net",
            "https://xapp.example.com",
            "null",
        ] {
            assert!(!exact.allows(other), "{other}");
        }
    }

    #[test]
    fn subdomain_patterns_need_a_label_the_scheme_and_the_port() {
        let pattern = rule("https://*.example.com");
        assert!(pattern.allows("https://a.example.com"));
        assert!(pattern.allows("https://a.b-c.example.com"));
        for other in [
            "https://example.com",
            "https://.example.com",
            "http://a.example.com",
            "https://a.example.com:8443",
            "https://evil.net/.example.com",
            "https://evil.net?.example.com",
            "https://a.example.com.evil.net",
            "https://evilexample.com",
        ] {
            assert!(!pattern.allows(other), "{other}");
        }
        let with_port = rule("https://*.example.com:8443");
        assert!(with_port.allows("https://a.example.com:8443"));
        assert!(!with_port.allows("https://a.example.com"));
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            "example.com",
            "https://",
            "https://a.com/",
            "https://a.com/path",
            "https://*example.com",
            "https://a.*.com",
            "https://*",
            "https://a.com:99999",
            "null",
            "*://a.com",
        ] {
            assert!(OriginRule::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        assert_eq!(rule("*"), OriginRule::Any);
        assert_eq!(
            rule("http://[::1]:8080"),
            OriginRule::Exact("http://[::1]:8080".into())
        );
    }
}
