//! What an access log line may show: the normalized path with the query as
//! configured, and header values with secrets replaced.

use http::{HeaderMap, HeaderName};

use crate::config::{AccessLogConfig, QueryMode};
use crate::data::router::normalize_path;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// Headers whose values are never logged.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
];

/// The redaction rules of one access log.
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    query: QueryMode,
    secret_params: Vec<String>,
    secret_headers: Vec<HeaderName>,
}

impl Redactor {
    /// Rules from the config (its header names were parsed, and refused
    /// ones reported, by `config`).
    pub fn new(config: &AccessLogConfig) -> Self {
        let mut secret_headers: Vec<HeaderName> = SECRET_HEADERS
            .iter()
            .map(|name| HeaderName::from_static(name))
            .collect();
        secret_headers.extend(
            config
                .redact_headers
                .iter()
                .filter_map(|name| name.value().ok().cloned()),
        );
        Redactor {
            query: config.query,
            secret_params: config.redact_query_params.clone(),
            secret_headers,
        }
    }

    /// The request target as logged: the path normalized as it was routed
    /// (as received when it could not be normalized), and the query as the
    /// `query` mode says.
    pub fn path(&self, uri: &http::Uri) -> String {
        let raw = uri.path();
        let mut path = normalize_path(raw).unwrap_or_else(|_| raw.to_owned());
        let Some(query) = uri.query() else {
            return path;
        };
        if self.query == QueryMode::Drop {
            return path;
        }
        path.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                path.push('&');
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let secret = self.query == QueryMode::Redact
                || self
                    .secret_params
                    .iter()
                    .any(|p| *p == percent_decode(name));
            path.push_str(name);
            if pair.contains('=') {
                path.push('=');
                path.push_str(if secret { REDACTED } else { value });
            }
        }
        path
    }

    /// The `names` headers of `headers` as a JSON object, secrets redacted,
    /// repeated values joined with `, `, bytes outside visible ASCII and
    /// UTF-8 escaped (`\xNN`).
    pub fn headers(&self, headers: &HeaderMap, names: &[HeaderName]) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        for name in names {
            let mut values = headers.get_all(name).iter().peekable();
            if values.peek().is_none() {
                continue;
            }
            let value = if self.secret_headers.contains(name) {
                REDACTED.to_owned()
            } else {
                values
                    .map(|v| match v.to_str() {
                        Ok(text) => text.to_owned(),
                        Err(_) => v.as_bytes().escape_ascii().to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            object.insert(name.as_str().to_owned(), serde_json::Value::String(value));
        }
        serde_json::Value::Object(object)
    }
}

/// `%XX` escapes decoded (invalid ones kept), for comparing names.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(query: QueryMode, params: &[&str], headers: &[&str]) -> Redactor {
        Redactor::new(&AccessLogConfig {
            query,
            redact_query_params: params.iter().map(|p| p.to_string()).collect(),
            redact_headers: headers
                .iter()
                .map(|p| crate::config::checked::Checked::parse(*p))
                .collect(),
            ..AccessLogConfig::default()
        })
    }

    #[test]
    fn query_values_are_redacted_kept_or_dropped() {
        let uri: http::Uri = "/a/../b?token=s3cret&page=2&flag".parse().unwrap();
        let redact = redactor(QueryMode::Redact, &[], &[]);
        assert_eq!(
            redact.path(&uri),
            "/b?token=[redacted]&page=[redacted]&flag"
        );
        let keep = redactor(QueryMode::Keep, &["token"], &[]);
        assert_eq!(keep.path(&uri), "/b?token=[redacted]&page=2&flag");
        let encoded: http::Uri = "/b?%74oken=x".parse().unwrap();
        assert_eq!(keep.path(&encoded), "/b?%74oken=[redacted]");
        assert_eq!(redactor(QueryMode::Drop, &[], &[]).path(&uri), "/b");
    }

    #[test]
    fn secret_headers_are_redacted_and_bytes_escaped() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        headers.insert("x-secret", "s".parse().unwrap());
        headers.append("accept", "a".parse().unwrap());
        headers.append("accept", "b".parse().unwrap());
        headers.insert(
            "x-bytes",
            http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        let names: Vec<HeaderName> = ["authorization", "x-secret", "accept", "x-bytes", "absent"]
            .iter()
            .map(|n| HeaderName::from_static(n))
            .collect();
        let logged = redactor(QueryMode::Redact, &[], &["x-secret"]).headers(&headers, &names);
        assert_eq!(
            logged,
            serde_json::json!({
                "authorization": REDACTED,
                "x-secret": REDACTED,
                "accept": "a, b",
                "x-bytes": "caf\\xe9",
            })
        );
    }
}
