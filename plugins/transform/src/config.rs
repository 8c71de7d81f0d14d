//! The route's `config` table, validated when the route loads.

use std::collections::BTreeMap;

use portico_sdk::config::{HeaderName, HeaderValue};
use portico_sdk::http::uri::PathAndQuery;
use serde::Deserialize;

use crate::template::Template;

/// ```toml
/// [request]
/// path = "/v2/{id}"                        # optional rewrite
/// [request.headers]
/// remove = ["x-internal"]
/// set = { "x-user-id" = "{id}" }
/// add = { "x-via" = "portico" }
/// [response.headers]
/// set = { "cache-control" = "no-store" }
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
}

/// `[response]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseRules {
    /// Header changes.
    #[serde(default)]
    pub headers: HeaderRules,
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
        let request = &self.request.headers;
        let response = &self.response.headers;
        self.request
            .path
            .iter()
            .map(|path| &path.0)
            .chain(
                request
                    .set
                    .values()
                    .chain(request.add.values())
                    .map(|v| &v.0),
            )
            .chain(
                response
                    .set
                    .values()
                    .chain(response.add.values())
                    .map(|v| &v.0),
            )
    }
}
