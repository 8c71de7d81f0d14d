//! `probe`: a test-only plugin whose effects show up in headers, for
//! integration tests of plugin chains. Every option is optional, and a
//! capability is only called when its option is set.
//!
//! ```toml
//! tag = "a"                        # request: append `x-chain: a`; response: append `x-chain-response: a`
//! respond_if_header = "x-stop"     # request has it: answer 403 "stopped by a", `x-stopped-by: a`
//! context_set = { consumer = "from-header:x-user" }  # context from a header (skipped if absent) or a literal
//! context_to_header = { consumer = "x-consumer" }    # context value into an upstream request header
//! count_key = "hits"               # kv increment; the new value goes in response header `x-count`
//! body_to_header = false           # read the request body, put its length in `x-body-len`
//! bytes_of = "x-raw"               # that header's first value in hex, as bytes (`x-bytes-hex`) and as text (`x-text-hex`)
//! ```
//!
//! `on_request` runs the options in this order: `context_set`,
//! `context_to_header`, `count_key`, `body_to_header`, `bytes_of`, `tag`,
//! `respond_if_header`.

#![warn(missing_docs)]

use std::collections::BTreeMap;

use portico_sdk::config::{HeaderName, HeaderValue};
use portico_sdk::http::StatusCode;
use portico_sdk::{
    Action, Capability, Error, Plugin, Reply, Request, Response, ResponsePhase, context,
    export_plugin, kv,
};
use serde::Deserialize;

/// The config table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Marks this plugin in `x-chain` / `x-chain-response` and in replies.
    pub tag: Option<HeaderValue>,
    /// A request header that makes the plugin answer 403.
    pub respond_if_header: Option<HeaderName>,
    /// Context keys to set, and where their values come from.
    #[serde(default)]
    pub context_set: BTreeMap<String, Source>,
    /// Context keys to copy into request headers.
    #[serde(default)]
    pub context_to_header: BTreeMap<String, HeaderName>,
    /// A kv key to increment once per request.
    pub count_key: Option<String>,
    /// Whether to read the request body and report its length.
    #[serde(default)]
    pub body_to_header: bool,
    /// A request header whose first value is reported in hex, read with
    /// `header-bytes` (`x-bytes-hex`) and with `header` (`x-text-hex`).
    pub bytes_of: Option<HeaderName>,
    /// What the response phase needs (`same-instance`, the default,
    /// `any-instance` or `skip`), said on every request.
    pub response_phase: Option<Phase>,
}

/// `response_phase`, as the config spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// [`ResponsePhase::SameInstance`].
    SameInstance,
    /// [`ResponsePhase::AnyInstance`].
    AnyInstance,
    /// [`ResponsePhase::Skip`].
    Skip,
}

impl From<Phase> for ResponsePhase {
    fn from(phase: Phase) -> Self {
        match phase {
            Phase::SameInstance => ResponsePhase::SameInstance,
            Phase::AnyInstance => ResponsePhase::AnyInstance,
            Phase::Skip => ResponsePhase::Skip,
        }
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a `context_set` value comes from: `from-header:<name>` or a literal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Source {
    /// The value of this request header.
    Header(HeaderName),
    /// This text.
    Literal(String),
}

impl TryFrom<String> for Source {
    type Error = Error;

    fn try_from(source: String) -> Result<Self, Error> {
        match source.strip_prefix("from-header:") {
            Some(name) => Ok(Source::Header(HeaderName::new(name)?)),
            None => Ok(Source::Literal(source)),
        }
    }
}

/// The plugin; per request, it keeps the count to report on the response.
pub struct Probe {
    config: &'static Config,
    count: Option<i64>,
}

impl Probe {
    fn tag(&self) -> &str {
        self.config
            .tag
            .as_ref()
            .map_or("probe", HeaderValue::as_str)
    }
}

impl Plugin for Probe {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["kv", "context"]`.
    const CAPABILITIES: &'static [Capability] = &[Capability::Kv, Capability::Context];

    fn new(config: &'static Config) -> Self {
        Probe {
            config,
            count: None,
        }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        for (key, source) in &config.context_set {
            let value = match source {
                Source::Header(name) => req.header(name.as_str()),
                Source::Literal(value) => Some(value.clone()),
            };
            if let Some(value) = value {
                context::set(key, &value);
            }
        }
        for (key, header) in &config.context_to_header {
            if let Some(value) = context::get(key) {
                req.set_header(header.as_str(), &value)?;
            }
        }
        if let Some(key) = &config.count_key {
            self.count = Some(kv::increment(key, 1, None)?);
        }
        if config.body_to_header {
            let len = req.body()?.len();
            req.set_header("x-body-len", len.to_string())?;
        }
        if let Some(name) = &config.bytes_of {
            if let Some(bytes) = req.header_bytes(name) {
                req.set_header("x-bytes-hex", hex(&bytes))?;
            }
            if let Some(text) = req.header(name) {
                req.set_header("x-text-hex", hex(text.as_bytes()))?;
            }
        }
        if let Some(tag) = &config.tag {
            req.append_header("x-chain", tag.as_str())?;
        }
        if let Some(phase) = config.response_phase {
            req.set_response_phase(phase.into());
        }
        if let Some(stop) = &config.respond_if_header
            && req.header(stop.as_str()).is_some()
        {
            let reply = Reply::new(StatusCode::FORBIDDEN)
                .header("x-stopped-by", self.tag())
                .body(format!("stopped by {}", self.tag()));
            return Ok(Action::Respond(reply));
        }
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        if let Some(tag) = &self.config.tag {
            res.append_header("x-chain-response", tag.as_str())?;
        }
        if let Some(count) = self.count {
            res.set_header("x-count", count.to_string())?;
        }
        Ok(Action::Continue)
    }
}

export_plugin!(Probe);

#[cfg(test)]
mod tests;
