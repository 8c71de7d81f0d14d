//! `pii-redact`: masks personal data in responses before the client (and a
//! cache earlier in the chain) sees them.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "pii-redact"
//! capabilities = ["log"]
//! config.pointers = ["/customer/ssn", "/orders/*/card"]  # replaced whole
//! config.detect = ["email", "card", "iban"]              # default: all three, inside every string
//! config.patterns = [{ name = "ssn", regex = '\b\d{3}-\d{2}-\d{4}\b' }]
//! config.headers = ["x-customer-email"]                  # values replaced whole
//! config.mask = "[redacted]"                             # default
//! ```
//!
//! JSON bodies (`application/json` or `...+json`) are parsed, the values at
//! `pointers` replaced by `mask` (a `*` segment matches every member or
//! element), then every string left is searched by the detectors
//! ([`detect`]) and each match replaced by `mask`. A body that is not JSON
//! or larger than `max_body_bytes` passes untouched and is logged. Response
//! phases run in reverse chain order, so to keep personal data out of a
//! `cache`, put `pii-redact` after `cache` in the chain.

#![warn(missing_docs)]

pub mod config;
pub mod detect;

use portico_sdk::{Action, Capability, Error, Plugin, Response, ResponsePhase, export_plugin, log};
use serde_json::Value;

use crate::config::Config;

/// The plugin. It keeps no per-request state.
pub struct PiiRedact {
    config: &'static Config,
}

impl Plugin for PiiRedact {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["log"]`.
    const CAPABILITIES: &'static [Capability] = &[Capability::Log];
    /// Only the response phase does anything, on any instance.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::AnyInstance;

    fn new(config: &'static Config) -> Self {
        PiiRedact { config }
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        let config = self.config;
        for header in &config.headers {
            if res.header(header.as_str()).is_some() {
                res.set_header(header.as_str(), &config.mask)?;
            }
        }
        let json = res.header("content-type").is_some_and(|t| {
            let t = t
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            t == "application/json" || t.ends_with("+json")
        });
        if !json || (config.pointers.is_empty() && config.detectors.is_empty()) {
            return Ok(Action::Continue);
        }
        let declared = res
            .header("content-length")
            .and_then(|n| n.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > config.max_body_bytes) {
            log::warn("a JSON body over max_body_bytes passed unredacted");
            return Ok(Action::Continue);
        }
        let body = res.body()?;
        if body.len() > config.max_body_bytes {
            log::warn("a JSON body over max_body_bytes passed unredacted");
            return Ok(Action::Continue);
        }
        let Ok(mut value) = serde_json::from_slice::<Value>(&body) else {
            log::warn("a response labelled JSON is not JSON; passed unredacted");
            return Ok(Action::Continue);
        };
        let mut changed = false;
        for pointer in &config.pointers {
            changed |= mask_at(&mut value, pointer, &config.mask);
        }
        changed |= scan(&mut value, config);
        if changed {
            res.set_body(serde_json::to_vec(&value).map_err(Error::msg)?);
        }
        Ok(Action::Continue)
    }
}

export_plugin!(PiiRedact);

/// Replaces the values `pointer` names in `value` by `mask`.
fn mask_at(value: &mut Value, pointer: &[String], mask: &str) -> bool {
    let Some((first, rest)) = pointer.split_first() else {
        if *value == Value::String(mask.to_owned()) {
            return false;
        }
        *value = Value::String(mask.to_owned());
        return true;
    };
    match value {
        Value::Object(members) if first == "*" => members
            .values_mut()
            .fold(false, |changed, v| mask_at(v, rest, mask) | changed),
        Value::Object(members) => members
            .get_mut(first)
            .is_some_and(|v| mask_at(v, rest, mask)),
        Value::Array(items) if first == "*" => items
            .iter_mut()
            .fold(false, |changed, v| mask_at(v, rest, mask) | changed),
        Value::Array(items) => first
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get_mut(i))
            .is_some_and(|v| mask_at(v, rest, mask)),
        _ => false,
    }
}

/// Runs the detectors over every string in `value`; whether one matched.
fn scan(value: &mut Value, config: &Config) -> bool {
    match value {
        Value::String(text) => {
            let mut changed = false;
            for detector in &config.detectors {
                if let Some(redacted) = detector.redact(text, &config.mask) {
                    *text = redacted;
                    changed = true;
                }
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, v| scan(v, config) | c),
        Value::Object(members) => members.values_mut().fold(false, |c, v| scan(v, config) | c),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
