//! The route's `config` table, checked at load.

use portico_sdk::config::HeaderName;
use serde::Deserialize;

use crate::detect::Detector;

/// The plugin's config.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    /// JSON pointers (RFC 6901, `*` matching every member or element) whose
    /// values are replaced whole.
    pub pointers: Vec<Vec<String>>,
    /// Detectors run over every string in the body.
    pub detectors: Vec<Detector>,
    /// Response headers whose values are replaced whole.
    pub headers: Vec<HeaderName>,
    /// What a masked value becomes.
    pub mask: String,
    /// Largest body inspected; larger ones pass untouched (and are logged).
    pub max_body_bytes: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    pointers: Vec<String>,
    #[serde(default = "default_detect")]
    detect: Vec<String>,
    #[serde(default)]
    patterns: Vec<Pattern>,
    #[serde(default)]
    headers: Vec<HeaderName>,
    #[serde(default = "default_mask")]
    mask: String,
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pattern {
    name: String,
    regex: String,
}

fn default_detect() -> Vec<String> {
    ["email", "card", "iban"].map(str::to_owned).to_vec()
}

fn default_mask() -> String {
    "[redacted]".to_owned()
}

fn default_max_body() -> usize {
    1024 * 1024
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        let mut pointers = Vec::new();
        for (i, pointer) in raw.pointers.iter().enumerate() {
            pointers.push(parse_pointer(pointer).map_err(|e| format!("pointers[{i}]: {e}"))?);
        }
        let mut detectors = Vec::new();
        for (i, name) in raw.detect.iter().enumerate() {
            detectors.push(Detector::builtin(name).ok_or_else(|| {
                format!("detect[{i}]: `{name}` is not a detector (email, card, iban)")
            })?);
        }
        for (i, pattern) in raw.patterns.iter().enumerate() {
            detectors.push(
                Detector::custom(&pattern.name, &pattern.regex)
                    .map_err(|e| format!("patterns[{i}].regex: {e}"))?,
            );
        }
        if pointers.is_empty() && detectors.is_empty() && raw.headers.is_empty() {
            return Err(
                "nothing to redact: set `pointers`, `detect`, `patterns` or `headers`".into(),
            );
        }
        Ok(Config {
            pointers,
            detectors,
            headers: raw.headers,
            mask: raw.mask,
            max_body_bytes: raw.max_body_bytes,
        })
    }
}

/// `/a/b~1c/0` → `["a", "b/c", "0"]` (RFC 6901 escapes `~0` and `~1`).
fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "`{pointer}` is not a JSON pointer (it starts with `/`)"
        ));
    };
    rest.split('/')
        .map(|token| {
            if token.contains('~')
                && !token
                    .replace("~0", "")
                    .replace("~1", "")
                    .chars()
                    .all(|c| c != '~')
            {
                return Err(format!("`{pointer}`: `~` must be `~0` or `~1`"));
            }
            Ok(token.replace("~1", "/").replace("~0", "~"))
        })
        .collect()
}
