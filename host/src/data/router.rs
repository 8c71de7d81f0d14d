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

pub use portico_contract::path::{normalize_path, normalize_path_rebuilt};

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
}
