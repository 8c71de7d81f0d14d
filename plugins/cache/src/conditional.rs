//! Conditional requests: the client's own (`If-None-Match`,
//! `If-Modified-Since`), answered from a stored response, and entity-tag
//! comparison.

use portico_sdk::Request;

use crate::directives::split_list;
use crate::entry::Entry;
use crate::freshness::parse_date_ms;

/// The client's preconditions that a stored response can answer with 304.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientConditions {
    /// `If-None-Match`, all field lines joined.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since` (ignored when `If-None-Match` is present,
    /// RFC 9110 §13.1.3).
    pub if_modified_since: Option<String>,
}

impl ClientConditions {
    /// The conditions `req` carries.
    pub fn of(req: &Request<'_>) -> Self {
        let inm = req.header_all("if-none-match");
        ClientConditions {
            if_none_match: (!inm.is_empty()).then(|| inm.join(", ")),
            if_modified_since: req.header("if-modified-since"),
        }
    }

    /// Whether the client already has `entry` (RFC 9110 §13.2.2 order:
    /// `If-None-Match` first, else `If-Modified-Since`).
    pub fn not_modified(&self, entry: &Entry) -> bool {
        if let Some(list) = &self.if_none_match {
            let Some(etag) = entry.header("etag") else {
                return false;
            };
            return list.trim() == "*" || split_list(list).iter().any(|tag| weak_eq(tag, etag));
        }
        let since = self.if_modified_since.as_deref().and_then(parse_date_ms);
        let modified = entry.header("last-modified").and_then(parse_date_ms);
        matches!((since, modified), (Some(since), Some(modified)) if modified <= since)
    }
}

/// Weak comparison of two entity tags (RFC 9110 §8.8.3.2): equal opaque
/// tags, whether or not either is weak.
pub fn weak_eq(a: &str, b: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    opaque(a) == opaque(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(headers: &[(&str, &str)]) -> Entry {
        Entry {
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
            response_time_ms: 0,
            initial_age_ms: 0,
            lifetime_ms: 0,
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_star() {
        let stored = entry(&[("etag", "\"v1\"")]);
        let inm = |value: &str| ClientConditions {
            if_none_match: Some(value.to_owned()),
            if_modified_since: Some("Sun, 06 Nov 2094 08:49:37 GMT".to_owned()),
        };
        assert!(inm("\"v0\", W/\"v1\"").not_modified(&stored));
        assert!(inm("*").not_modified(&stored));
        assert!(
            !inm("\"v2\"").not_modified(&stored),
            "If-Modified-Since is ignored"
        );
        assert!(!inm("*").not_modified(&entry(&[])));
        assert!(weak_eq("W/\"a\"", "\"a\"") && !weak_eq("\"a\"", "\"b\""));
    }

    #[test]
    fn if_modified_since_compares_dates() {
        let stored = entry(&[("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        let ims = |value: &str| ClientConditions {
            if_none_match: None,
            if_modified_since: Some(value.to_owned()),
        };
        assert!(ims("Sun, 06 Nov 1994 08:49:37 GMT").not_modified(&stored));
        assert!(!ims("Sat, 05 Nov 1994 08:49:37 GMT").not_modified(&stored));
        assert!(!ims("garbage").not_modified(&stored));
        assert!(!ClientConditions::default().not_modified(&stored));
    }
}
