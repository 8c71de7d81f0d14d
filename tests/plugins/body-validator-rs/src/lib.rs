//! `body-validator-rs`: the Rust twin of `plugins/body-validator-js`, with
//! the same config and behaviour, so the JavaScript component's cost can
//! be measured against a Rust one doing the same work (see the README's
//! "Writing a plugin in JavaScript").
//!
//! ```toml
//! config = { required = { name = "string", "/address/zip" = "integer" }, max_body_bytes = 65536, content_types = ["application/json"], methods = ["POST", "PUT", "PATCH"] }
//! ```
//!
//! For the listed methods: a content type not listed is refused with 415, a
//! body over `max_body_bytes` with 413, a body that is not a JSON object or
//! lacks a required field (or has it with another type) with 400, each
//! `application/problem+json`. A body that passes is forwarded unchanged.

#![warn(missing_docs)]

use std::collections::BTreeMap;

use portico_sdk::http::StatusCode;
use portico_sdk::{Action, Error, Plugin, Reply, Request, export_plugin};
use serde::Deserialize;
use serde_json::Value;

/// The config table (every key optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Required fields (a member name, or a JSON pointer from `/`) and
    /// their types.
    #[serde(default)]
    pub required: BTreeMap<String, FieldType>,
    /// The largest body accepted.
    #[serde(default = "default_max")]
    pub max_body_bytes: u64,
    /// Accepted media types (`*/*+json`: any `+json` type).
    #[serde(default = "default_types")]
    pub content_types: Vec<String>,
    /// The methods whose bodies are checked.
    #[serde(default = "default_methods")]
    pub methods: Vec<String>,
}

fn default_max() -> u64 {
    65536
}

fn default_types() -> Vec<String> {
    vec!["application/json".to_owned()]
}

fn default_methods() -> Vec<String> {
    ["POST", "PUT", "PATCH"].map(str::to_owned).to_vec()
}

/// A JSON type a required field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// A string.
    String,
    /// Any number.
    Number,
    /// A number without a fraction.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// An object.
    Object,
    /// An array.
    Array,
    /// `null`.
    Null,
    /// Anything, as long as it is present.
    Any,
}

impl FieldType {
    fn name(self) -> &'static str {
        match self {
            FieldType::String => "a string",
            FieldType::Number => "a number",
            FieldType::Integer => "an integer",
            FieldType::Boolean => "a boolean",
            FieldType::Object => "an object",
            FieldType::Array => "an array",
            FieldType::Null => "a null",
            FieldType::Any => "a any",
        }
    }

    fn matches(self, value: &Value) -> bool {
        match self {
            FieldType::String => value.is_string(),
            FieldType::Number => value.is_number(),
            FieldType::Integer => value.as_f64().is_some_and(|n| n.fract() == 0.0),
            FieldType::Boolean => value.is_boolean(),
            FieldType::Object => value.is_object(),
            FieldType::Array => value.is_array(),
            FieldType::Null => value.is_null(),
            FieldType::Any => true,
        }
    }
}

/// The JSON type name of a value, as the problem details say it.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.as_f64().is_some_and(|n| n.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The plugin (stateless between phases).
pub struct BodyValidator {
    config: &'static Config,
}

const NAME: &str = env!("CARGO_PKG_NAME");

fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Action {
    Action::Respond(Reply::problem(status, kind, title, detail, NAME))
}

impl BodyValidator {
    fn too_large(&self, size: impl std::fmt::Display) -> Action {
        let detail = format!(
            "the request body is {size} bytes; this route accepts at most {}",
            self.config.max_body_bytes
        );
        problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            &detail,
        )
    }

    fn allowed(&self, media: &str) -> bool {
        self.config.content_types.iter().any(|allowed| {
            allowed.eq_ignore_ascii_case(media)
                || (allowed == "*/*+json"
                    && media.ends_with("+json")
                    && media.split('/').count() == 2)
        })
    }
}

impl Plugin for BodyValidator {
    type Config = Config;

    fn new(config: &'static Config) -> Self {
        BodyValidator { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let config = self.config;
        let method = req.method();
        if !config
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method.as_str()))
        {
            return Ok(Action::Continue);
        }
        let media = req.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        if !media.as_deref().is_some_and(|m| self.allowed(m)) {
            let shown = media.map_or("no content-type".to_owned(), |m| {
                format!("content-type `{m}`")
            });
            let detail = format!("{shown}; expected {}", config.content_types.join(" or "));
            return Ok(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                &detail,
            ));
        }
        if let Some(declared) = req
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            && declared > config.max_body_bytes
        {
            return Ok(self.too_large(declared));
        }
        let body = req.body()?;
        if body.len() as u64 > config.max_body_bytes {
            return Ok(self.too_large(body.len()));
        }
        let document: Value = match serde_json::from_slice(&body) {
            Ok(document) => document,
            Err(error) => {
                let detail = format!("the request body is not valid JSON: {error}");
                return Ok(problem(
                    StatusCode::BAD_REQUEST,
                    "invalid-json-body",
                    "Invalid JSON body",
                    &detail,
                ));
            }
        };
        if !document.is_object() {
            let detail = format!(
                "the request body is a JSON {}; expected an object",
                type_of(&document)
            );
            return Ok(problem(
                StatusCode::BAD_REQUEST,
                "invalid-json-body",
                "Invalid JSON body",
                &detail,
            ));
        }
        for (field, want) in &config.required {
            let value = if field.starts_with('/') {
                document.pointer(field)
            } else {
                document.get(field)
            };
            let detail = match value {
                None => {
                    let kind = want.name().split_once(' ').map_or("", |(_, kind)| kind);
                    format!("`{field}` is required ({kind})")
                }
                Some(value) if !want.matches(value) => {
                    format!("`{field}` must be {}, not {}", want.name(), type_of(value))
                }
                Some(_) => continue,
            };
            return Ok(problem(
                StatusCode::BAD_REQUEST,
                "invalid-request-body",
                "Invalid request body",
                &detail,
            ));
        }
        Ok(Action::Continue)
    }
}

export_plugin!(BodyValidator);
