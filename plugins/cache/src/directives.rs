//! `Cache-Control` directives (RFC 9111 §5.2), from requests and responses.

/// The largest delta-seconds value kept (RFC 9111 §1.2.2: 2^31).
const MAX_DELTA: u64 = 1 << 31;

/// The directives this cache acts on; any other directive is ignored.
/// Repeated directives keep their first occurrence; a malformed
/// delta-seconds reads as 0 (RFC 9111 §4.2.1: invalid freshness is stale).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// `max-age=N`.
    pub max_age: Option<u64>,
    /// `s-maxage=N` (responses): wins over `max-age` for a shared cache.
    pub s_maxage: Option<u64>,
    /// `min-fresh=N` (requests).
    pub min_fresh: Option<u64>,
    /// `max-stale[=N]` (requests): `Some(None)` accepts any staleness.
    pub max_stale: Option<Option<u64>>,
    /// `no-store`.
    pub no_store: bool,
    /// `no-cache` (any form): use only after validation.
    pub no_cache: bool,
    /// `private` (any form): a shared cache does not store it.
    pub private: bool,
    /// `public`.
    pub public: bool,
    /// `must-revalidate`.
    pub must_revalidate: bool,
    /// `proxy-revalidate`.
    pub proxy_revalidate: bool,
    /// `only-if-cached` (requests).
    pub only_if_cached: bool,
}

impl CacheControl {
    /// Parses every `Cache-Control` field line of a message.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Self {
        let mut cc = CacheControl::default();
        for line in lines {
            for item in split_list(line.as_ref()) {
                let (name, value) = match item.split_once('=') {
                    Some((name, value)) => (name.trim(), Some(unquote(value.trim()))),
                    None => (item, None),
                };
                cc.apply(&name.to_ascii_lowercase(), value);
            }
        }
        cc
    }

    fn apply(&mut self, name: &str, value: Option<&str>) {
        let delta = || value.map_or(0, parse_delta);
        match name {
            "max-age" => _ = self.max_age.get_or_insert_with(delta),
            "s-maxage" => _ = self.s_maxage.get_or_insert_with(delta),
            "min-fresh" => _ = self.min_fresh.get_or_insert_with(delta),
            "max-stale" => _ = self.max_stale.get_or_insert(value.map(parse_delta)),
            "no-store" => self.no_store = true,
            "no-cache" => self.no_cache = true,
            "private" => self.private = true,
            "public" => self.public = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            "only-if-cached" => self.only_if_cached = true,
            _ => {}
        }
    }

    /// Whether a stale response must not be served without validation
    /// (`must-revalidate`, `proxy-revalidate`, or `s-maxage`, which implies
    /// `proxy-revalidate`).
    pub fn revalidate_when_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate || self.s_maxage.is_some()
    }
}

/// Delta-seconds: digits only, capped at 2^31; anything else is 0.
fn parse_delta(value: &str) -> u64 {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    value.parse::<u64>().unwrap_or(MAX_DELTA).min(MAX_DELTA)
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// Splits a comma-separated field value, ignoring commas inside quoted
/// strings; elements are trimmed, empty ones dropped.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(value[start..].trim());
    items.retain(|item| !item.is_empty());
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directives_quotes_and_repeats() {
        let cc = CacheControl::parse(&[
            r#"Public, MAX-AGE=60, private="set-cookie, x-a", no-cache"#,
            "max-age=5, s-maxage=\"30\", max-stale",
        ]);
        assert!(cc.public && cc.private && cc.no_cache);
        assert_eq!(cc.max_age, Some(60), "first occurrence wins");
        assert_eq!(cc.s_maxage, Some(30));
        assert_eq!(cc.max_stale, Some(None));
        assert!(cc.revalidate_when_stale());
    }

    #[test]
    fn malformed_and_huge_deltas() {
        let cc = CacheControl::parse(&["max-age=ten, s-maxage=99999999999999999999, min-fresh"]);
        assert_eq!(cc.max_age, Some(0));
        assert_eq!(cc.s_maxage, Some(MAX_DELTA));
        assert_eq!(cc.min_fresh, Some(0));
        assert_eq!(CacheControl::parse::<&str>(&[]), CacheControl::default());
    }

    #[test]
    fn list_splitting_respects_quotes() {
        assert_eq!(
            split_list(r#" "a,b" , W/"c\"d,e",, f "#),
            [r#""a,b""#, r#"W/"c\"d,e""#, "f"]
        );
    }
}
