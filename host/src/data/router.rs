//! Route matching and its precedence rule.
//!
//! A route matches when every condition it has matches: one of its hosts,
//! its path, one of its methods, and all of its headers. Among the routes
//! that match, the most specific wins, compared in this order:
//!
//! 1. host: exact (`api.example.com`) over wildcard (`*.example.com`, the
//!    longer suffix first) over routes without hosts;
//! 2. path: exact over regex over prefix (the longer prefix first);
//! 3. more conditions (methods given + number of headers) first;
//! 4. earlier in the config file first.

use std::cmp::Reverse;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use regex::Regex;

use crate::config::checked::{Checked, HostMatch};
use crate::config::{PathMatchConfig, RouteConfig};

/// A successful match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// Index of the route in the config's `routes`.
    pub index: usize,
    /// Named captures of the route's path regex.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com`, stored as `.example.com`.
    Suffix(String),
}

impl HostPattern {
    fn new(host: &HostMatch) -> Self {
        match host {
            HostMatch::Exact(host) => HostPattern::Exact(host.clone()),
            HostMatch::Suffix(suffix) => HostPattern::Suffix(suffix.clone()),
        }
    }

    fn matches(&self, host: Option<&str>) -> bool {
        match (self, host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Exact(exact), Some(host)) => exact == host,
            (HostPattern::Suffix(suffix), Some(host)) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
            (_, None) => false,
        }
    }

    fn rank(&self) -> (u8, usize) {
        match self {
            HostPattern::Any => (0, 0),
            HostPattern::Suffix(suffix) => (1, suffix.len()),
            HostPattern::Exact(_) => (2, 0),
        }
    }
}

#[derive(Debug, Clone)]
enum PathPattern {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

impl PathPattern {
    fn rank(&self) -> (u8, usize) {
        match self {
            PathPattern::Exact(_) => (3, 0),
            PathPattern::Regex(_) => (2, 0),
            PathPattern::Prefix(prefix) => (1, prefix.len()),
        }
    }

    fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        match self {
            PathPattern::Exact(exact) => (exact == path).then(Vec::new),
            PathPattern::Prefix(prefix) => prefix_matches(prefix, path).then(Vec::new),
            PathPattern::Regex(regex) => {
                let captures = regex.captures(path)?;
                Some(
                    regex
                        .capture_names()
                        .flatten()
                        .filter_map(|name| {
                            captures
                                .name(name)
                                .map(|m| (name.to_owned(), m.as_str().to_owned()))
                        })
                        .collect(),
                )
            }
        }
    }
}

/// Segment-aware prefix: `/api` matches `/api` and `/api/x`, not `/apix`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    index: usize,
    host: HostPattern,
    path: PathPattern,
    methods: Vec<Method>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Entry {
    fn matches(
        &self,
        method: &Method,
        host: Option<&str>,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Vec<(String, String)>> {
        if !self.host.matches(host) {
            return None;
        }
        if !self.methods.is_empty() && !self.methods.contains(method) {
            return None;
        }
        if !self
            .headers
            .iter()
            .all(|(name, value)| headers.get_all(name).iter().any(|v| v == value))
        {
            return None;
        }
        self.path.matches(path)
    }
}

/// The parsed value of `checked`, or the route's error naming its problem.
fn value<'a, T>(
    checked: &'a Checked<T>,
    error: &impl Fn(String) -> RouterError,
) -> Result<&'a T, RouterError> {
    checked
        .value()
        .map_err(|problem| error(format!("`{}`: {problem}", checked.text())))
}

/// The compiled routing table.
#[derive(Debug, Clone, Default)]
pub struct Router {
    entries: Vec<Entry>,
}

/// A route whose matcher could not be built (the config validator reports
/// these first; this guards direct use).
#[derive(Debug, thiserror::Error)]
#[error("route `{route}`: {message}")]
pub struct RouterError {
    route: String,
    message: String,
}

impl Router {
    /// Compiles the routes, ordered by the precedence rule.
    pub fn new(routes: &[RouteConfig]) -> Result<Self, RouterError> {
        let mut entries = Vec::new();
        for (index, route) in routes.iter().enumerate() {
            let error = |message: String| RouterError {
                route: route.name.clone(),
                message,
            };
            // The config parsed every value; one it refused (the validator
            // reports it first) is refused here too, not unwrapped.
            let path = match &route.path {
                PathMatchConfig::Exact(p) => PathPattern::Exact(p.clone()),
                PathMatchConfig::Prefix(p) => PathPattern::Prefix(p.clone()),
                PathMatchConfig::Regex(regex) => {
                    PathPattern::Regex(value(regex, &error)?.regex().clone())
                }
            };
            let methods = route
                .methods
                .iter()
                .map(|m| value(m, &error).cloned())
                .collect::<Result<Vec<_>, _>>()?;
            let headers = route
                .headers
                .iter()
                .map(|h| {
                    Ok((
                        value(&h.name, &error)?.clone(),
                        value(&h.value, &error)?.clone(),
                    ))
                })
                .collect::<Result<Vec<_>, RouterError>>()?;
            let hosts = if route.hosts.is_empty() {
                vec![HostPattern::Any]
            } else {
                route
                    .hosts
                    .iter()
                    .map(|h| value(h, &error).map(HostPattern::new))
                    .collect::<Result<Vec<_>, _>>()?
            };
            for host in hosts {
                entries.push(Entry {
                    index,
                    host,
                    path: path.clone(),
                    methods: methods.clone(),
                    headers: headers.clone(),
                });
            }
        }
        entries.sort_by_key(|e| {
            let conditions = usize::from(!e.methods.is_empty()) + e.headers.len();
            (
                Reverse(e.host.rank()),
                Reverse(e.path.rank()),
                Reverse(conditions),
                e.index,
            )
        });
        Ok(Router { entries })
    }

    /// The best route for a request. `host` is without port, lower-case;
    /// `path` is normalized.
    pub fn find(
        &self,
        method: &Method,
        host: Option<&str>,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<RouteMatch> {
        self.entries.iter().find_map(|entry| {
            entry
                .matches(method, host, path, headers)
                .map(|params| RouteMatch {
                    index: entry.index,
                    params,
                })
        })
    }
}

/// Puts a request path in the one form routes are matched against and
/// upstreams receive, so that `/public/../admin`, `/%61dmin` and `//admin` all
/// become `/admin` and cannot slip past a route meant for `/admin`:
///
/// - percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are
///   decoded (RFC 3986 §6.2.2.2);
/// - repeated `/` are merged;
/// - `.` and `..` segments are removed (RFC 3986 §5.2.4).
///
/// Refuses (with the reason) a path that does not start with `/`, has a
/// malformed escape, or encodes `/`, `\` or NUL, which upstreams disagree on.
pub fn normalize_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("the request target must be an absolute path".into());
    }
    if is_normal(path) {
        return Ok(path.to_owned());
    }
    normalize_slow(path)
}

/// Whether `path` (starting with `/`) is already in normal form: no
/// escapes, no empty segment but a trailing one, no `.` or `..` segment.
/// Most paths are, and skip the rebuilding.
fn is_normal(path: &str) -> bool {
    if path.contains('%') {
        return false;
    }
    let mut segments = path[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        match segment {
            "." | ".." => return false,
            "" if segments.peek().is_some() => return false,
            _ => {}
        }
    }
    true
}

/// [`normalize_path`] without its fast path: every path rebuilt. For the
/// fuzz target that checks the two agree.
#[doc(hidden)]
pub fn normalize_path_rebuilt(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("the request target must be an absolute path".into());
    }
    normalize_slow(path)
}

fn normalize_slow(path: &str) -> Result<String, String> {
    let decoded = decode_unreserved(path)?;
    let ends_with_slash = decoded.ends_with('/');
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing = ends_with_slash;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => trailing |= i == last,
            ".." => {
                out.pop();
                trailing |= i == last;
            }
            _ => out.push(segment),
        }
    }
    let mut normalized = format!("/{}", out.join("/"));
    if trailing && !normalized.ends_with('/') {
        normalized.push('/');
    }
    Ok(normalized)
}

fn decode_unreserved(path: &str) -> Result<String, String> {
    if !path.contains('%') {
        return Ok(path.to_owned());
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            // Everything up to the next escape as it is (UTF-8 included).
            let run = bytes[i..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(bytes.len(), |n| i + n);
            out.push_str(&path[i..run]);
            i = run;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
            .ok_or_else(|| "malformed percent-encoding in the path".to_string())?;
        match hex {
            b'/' | b'\\' | 0 => return Err("the path encodes `/`, `\\` or NUL".into()),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {
                out.push(char::from(b))
            }
            _ => out.push_str(&path[i..i + 3]),
        }
        i += 3;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, hosts: &[&str], path: PathMatchConfig, methods: &[&str]) -> RouteConfig {
        RouteConfig {
            name: name.into(),
            hosts: hosts.iter().map(|h| Checked::parse(*h)).collect(),
            path,
            methods: methods.iter().map(|m| Checked::parse(*m)).collect(),
            headers: Default::default(),
            upstream: "u".into(),
            plugins: vec![],
            max_body_bytes: 1024,
            timeout_ms: None,
        }
    }

    fn find(
        router: &Router,
        routes: &[RouteConfig],
        method: &str,
        host: Option<&str>,
        path: &str,
    ) -> Option<String> {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        router
            .find(&method, host, path, &HeaderMap::new())
            .map(|m| routes[m.index].name.clone())
    }

    #[test]
    fn precedence_follows_the_documented_order() {
        use PathMatchConfig::*;
        let routes = vec![
            route("catch-all", &[], Prefix("/".into()), &[]),
            route("api", &[], Prefix("/api".into()), &[]),
            route("api-v1", &[], Prefix("/api/v1".into()), &[]),
            route(
                "user",
                &[],
                Regex(Checked::parse(r"/api/v1/users/(?P<id>\d+)")),
                &[],
            ),
            route("health", &[], Exact("/api/v1/users/0".into()), &[]),
            route("wild", &["*.example.com"], Prefix("/".into()), &[]),
            route("deep-wild", &["*.eu.example.com"], Prefix("/".into()), &[]),
            route("exact-host", &["api.example.com"], Prefix("/".into()), &[]),
            route("post-only", &[], Prefix("/api".into()), &["POST"]),
        ];
        let router = Router::new(&routes).unwrap();
        let f = |m, h, p| find(&router, &routes, m, h, p);
        assert_eq!(f("GET", None, "/x").as_deref(), Some("catch-all"));
        assert_eq!(f("GET", None, "/api/x").as_deref(), Some("api"));
        assert_eq!(f("GET", None, "/apix").as_deref(), Some("catch-all"));
        assert_eq!(f("POST", None, "/api/x").as_deref(), Some("post-only"));
        assert_eq!(f("GET", None, "/api/v1/x").as_deref(), Some("api-v1"));
        assert_eq!(f("GET", None, "/api/v1/users/42").as_deref(), Some("user"));
        assert_eq!(f("GET", None, "/api/v1/users/0").as_deref(), Some("health"));
        assert_eq!(
            f("GET", Some("a.example.com"), "/api").as_deref(),
            Some("wild")
        );
        assert_eq!(
            f("GET", Some("a.eu.example.com"), "/").as_deref(),
            Some("deep-wild")
        );
        assert_eq!(
            f("GET", Some("example.com"), "/x").as_deref(),
            Some("catch-all")
        );
        assert_eq!(
            f("GET", Some("api.example.com"), "/api").as_deref(),
            Some("exact-host")
        );
    }

    #[test]
    fn regex_captures_become_params() {
        let routes = vec![route(
            "r",
            &[],
            PathMatchConfig::Regex(Checked::parse(r"/u/(?P<id>\d+)/(?P<tab>\w+)")),
            &[],
        )];
        let router = Router::new(&routes).unwrap();
        let m = router
            .find(&Method::GET, None, "/u/7/posts", &HeaderMap::new())
            .unwrap();
        assert_eq!(
            m.params,
            vec![("id".into(), "7".into()), ("tab".into(), "posts".into())]
        );
        assert!(
            router
                .find(&Method::GET, None, "/u/7/posts/extra", &HeaderMap::new())
                .is_none()
        );
    }

    #[test]
    fn header_conditions_must_all_match() {
        let mut r = route("h", &[], PathMatchConfig::Prefix("/".into()), &[]);
        r.headers.push(crate::config::HeaderCondition {
            name: Checked::parse("x-version"),
            value: Checked::parse("2"),
        });
        let routes = vec![
            route("plain", &[], PathMatchConfig::Prefix("/".into()), &[]),
            r,
        ];
        let router = Router::new(&routes).unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(
            router
                .find(&Method::GET, None, "/", &headers)
                .unwrap()
                .index,
            0
        );
        headers.insert("x-version", HeaderValue::from_static("2"));
        assert_eq!(
            router
                .find(&Method::GET, None, "/", &headers)
                .unwrap()
                .index,
            1
        );
    }

    #[test]
    fn paths_are_normalized_before_matching() {
        let n = |p: &str| normalize_path(p);
        assert_eq!(n("/a/b/../c").as_deref(), Ok("/a/c"));
        assert_eq!(n("/public/%2e%2E/admin").as_deref(), Ok("/admin"));
        assert_eq!(n("/../../etc").as_deref(), Ok("/etc"));
        assert_eq!(n("/a/./b/.").as_deref(), Ok("/a/b/"));
        assert_eq!(n("//admin").as_deref(), Ok("/admin"));
        assert_eq!(n("/%61dmin/x%7E").as_deref(), Ok("/admin/x~"));
        assert_eq!(
            n("/x/%20y").as_deref(),
            Ok("/x/%20y"),
            "reserved escapes are kept"
        );
        assert_eq!(n("/plain/path/").as_deref(), Ok("/plain/path/"));
        assert_eq!(n("/").as_deref(), Ok("/"));
        assert!(n("/x/..%2fadmin").is_err());
        assert!(n("/x%5cadmin").is_err());
        assert!(n("/x%00").is_err());
        assert!(n("/x%zz").is_err());
        assert!(n("/x%+1").is_err(), "a sign is not a hex digit");
        // Found by the request_path fuzz target: UTF-8 beside an escape was
        // re-encoded byte by byte, so normalising twice changed the path.
        let utf8 = n("/caf\u{e9}/%41").expect("normal");
        assert_eq!(utf8, "/caf\u{e9}/A");
        assert_eq!(n(&utf8).as_deref(), Ok(utf8.as_str()));
        assert!(n("*").is_err());
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_normalisation() {
        let paths = [
            "/", "/a", "/a/", "/a/b", "/a//b", "//", "/.", "/..", "/a/.", "/a/..", "/a/./b",
            "/a/../b/", "/.a", "/a.", "/..a/b..", "/a/b/", "/a b", "/%41", "/a//", "/a/b//",
        ];
        for path in paths {
            if is_normal(path) {
                assert_eq!(normalize_slow(path).as_deref(), Ok(path), "{path}");
            }
            assert_eq!(normalize_path(path), normalize_slow(path), "{path}");
        }
    }
}
