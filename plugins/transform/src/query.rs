//! Query parameter changes: remove, rename, set.

use std::collections::BTreeMap;

use portico_sdk::Error;
use serde::Deserialize;

use crate::template::{Template, Vars};

/// A query parameter value template: any text (it is percent-encoded).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct ParamValue(pub Template);

impl TryFrom<String> for ParamValue {
    type Error = String;

    fn try_from(source: String) -> Result<Self, String> {
        Template::parse(&source).map(ParamValue)
    }
}

/// `[request.query]`, applied in the order remove, rename, set. Names are
/// compared after percent-decoding; values set are percent-encoded.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRules {
    /// Parameters removed (every occurrence).
    #[serde(default)]
    pub remove: Vec<ParamName>,
    /// Parameters renamed, old name to new (every occurrence, values kept).
    #[serde(default)]
    pub rename: BTreeMap<ParamName, ParamName>,
    /// Parameters replaced (or added) with one value, a template.
    #[serde(default)]
    pub set: BTreeMap<ParamName, ParamValue>,
}

impl QueryRules {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.rename.is_empty() && self.set.is_empty()
    }

    /// The query after the rules (`None`: no parameters left).
    pub fn apply(&self, query: Option<&str>, vars: &Vars) -> Result<Option<String>, Error> {
        let mut pairs: Vec<(String, String)> = query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => (pair.to_owned(), String::new()),
            })
            .collect();
        pairs.retain(|(name, _)| !self.remove.iter().any(|r| r.0 == decode(name)));
        for (name, _) in &mut pairs {
            if let Some(new) = self.rename.get(&ParamName(decode(name))) {
                *name = encode(&new.0);
            }
        }
        for (name, value) in &self.set {
            let Some(value) = value.0.render(vars)? else {
                continue;
            };
            pairs.retain(|(n, _)| decode(n) != name.0);
            pairs.push((encode(&name.0), encode(&value)));
        }
        let query: Vec<String> = pairs
            .into_iter()
            .map(|(name, value)| match value.is_empty() {
                true => name,
                false => format!("{name}={value}"),
            })
            .collect();
        Ok((!query.is_empty()).then(|| query.join("&")))
    }
}

/// A query parameter name from the config: not empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct ParamName(pub String);

impl TryFrom<String> for ParamName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        match name.is_empty() {
            true => Err("a query parameter name cannot be empty".to_owned()),
            false => Ok(ParamName(name)),
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XX` and `+` (form encoding); a malformed escape stays as is.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                std::str::from_utf8(&[*h, *l])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            }
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
