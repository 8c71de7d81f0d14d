//! The route's `config` table, validated when the route loads.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use portico_sdk::ResponsePhase;
use portico_sdk::config::{HeaderName, HeaderValue};
use portico_sdk::http::uri::PathAndQuery;
use serde::Deserialize;

use crate::json::BodyRules;
use crate::query::QueryRules;
use crate::status::StatusMap;
use crate::template::{Part, Template};

/// ```toml
/// [request]
/// path = "/v2/{id}"                        # optional rewrite
/// [request.headers]
/// remove = ["x-internal"]
/// set = { "x-user-id" = "{id}", "x-consumer" = "{ctx.consumer}" }
/// add = { "x-via" = "portico" }
/// [request.query]
/// remove = ["debug"]
/// rename = { q = "search" }
/// set = { api_version = "2" }
/// [request.body]                           # JSON bodies, by JSON pointer
/// remove = ["/password"]
/// rename = { "/user/name" = "/username" }
/// set = { "/meta/user" = "{header.x-user}", "/meta/version" = 2 }
/// [response]
/// status_map = { "404" = 410 }
/// [response.headers]
/// set = { "cache-control" = "no-store" }
/// [response.body]
/// remove = ["/internal"]
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Changes to the request forwarded upstream.
    #[serde(default)]
    pub request: RequestRules,
    /// Changes to the response sent to the client.
    #[serde(default)]
    pub response: ResponseRules,
    /// Every placeholder the templates use, gathered once.
    #[serde(skip)]
    placeholders: OnceLock<Vec<Part>>,
}

/// `[request]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRules {
    /// Header changes.
    #[serde(default)]
    pub headers: HeaderRules,
    /// The new path, a template.
    pub path: Option<PathTemplate>,
    /// Query parameter changes.
    #[serde(default)]
    pub query: QueryRules,
    /// JSON body changes.
    #[serde(default)]
    pub body: BodyRules,
}

/// `[response]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseRules {
    /// Status codes replaced, applied first.
    #[serde(default)]
    pub status_map: StatusMap,
    /// Header changes.
    #[serde(default)]
    pub headers: HeaderRules,
    /// JSON body changes.
    #[serde(default)]
    pub body: BodyRules,
}

/// `[request.headers]` or `[response.headers]`, applied in the order
/// remove, set, add.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRules {
    /// Headers removed.
    #[serde(default)]
    pub remove: Vec<HeaderName>,
    /// Headers replaced (or created) with one value.
    #[serde(default)]
    pub set: BTreeMap<HeaderName, ValueTemplate>,
    /// Values appended, keeping existing ones.
    #[serde(default)]
    pub add: BTreeMap<HeaderName, ValueTemplate>,
}

/// A header value template: its literal text must be a valid header value.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct ValueTemplate(pub Template);

impl TryFrom<String> for ValueTemplate {
    type Error = String;

    fn try_from(source: String) -> Result<Self, String> {
        let template = Template::parse(&source)?;
        HeaderValue::new(&template.with_placeholders("")).map_err(|e| e.to_string())?;
        Ok(ValueTemplate(template))
    }
}

/// A path template: starts with `/`, no query or fragment.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct PathTemplate(pub Template);

impl TryFrom<String> for PathTemplate {
    type Error = String;

    fn try_from(source: String) -> Result<Self, String> {
        let template = Template::parse(&source)?;
        let sample = template.with_placeholders("x");
        if !sample.starts_with('/') {
            return Err(format!("path {source:?} must start with `/`"));
        }
        if sample.contains(['?', '#']) || sample.parse::<PathAndQuery>().is_err() {
            return Err(format!("path {source:?} is not a valid URI path"));
        }
        Ok(PathTemplate(template))
    }
}

impl Config {
    /// Every template in the config.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        let (request, response) = (&self.request, &self.response);
        request
            .path
            .iter()
            .map(|path| &path.0)
            .chain(header_templates(&request.headers))
            .chain(header_templates(&response.headers))
            .chain(request.query.set.values().map(|v| &v.0))
            .chain(body_templates(&request.body))
            .chain(body_templates(&response.body))
    }

    /// Every placeholder the templates use, without repeats.
    pub fn placeholders(&self) -> &[Part] {
        self.placeholders.get_or_init(|| {
            let mut all: Vec<Part> = self
                .templates()
                .flat_map(|t| t.placeholders().cloned())
                .collect();
            all.sort();
            all.dedup();
            all
        })
    }
}

impl ResponseRules {
    /// Whether there is nothing to change in responses.
    pub fn is_empty(&self) -> bool {
        self.status_map.is_empty() && self.headers.is_empty() && self.body.is_empty()
    }

    /// Whether a response template reads a value the request phase gathers
    /// (a capture, a context value or a request header).
    pub fn uses_request_values(&self) -> bool {
        header_templates(&self.headers)
            .chain(body_templates(&self.body))
            .any(|t| t.placeholders().next().is_some())
    }

    /// What the response phase needs from the request phase: nothing at all
    /// without rules, no instance in particular when no template reads a
    /// request value, else the values this instance gathered.
    pub fn phase(&self) -> ResponsePhase {
        if self.is_empty() {
            ResponsePhase::Skip
        } else if self.uses_request_values() {
            ResponsePhase::SameInstance
        } else {
            ResponsePhase::AnyInstance
        }
    }
}

impl HeaderRules {
    /// Whether there is no header change.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty() && self.add.is_empty()
    }
}

fn header_templates(rules: &HeaderRules) -> impl Iterator<Item = &Template> {
    rules.set.values().chain(rules.add.values()).map(|v| &v.0)
}

fn body_templates(rules: &BodyRules) -> impl Iterator<Item = &Template> {
    rules.set.values().filter_map(|v| v.template())
}
