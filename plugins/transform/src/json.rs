//! JSON body changes by JSON pointer (RFC 6901): remove, rename, set.

use std::collections::BTreeMap;

use portico_sdk::Error;
use serde::Deserialize;
use serde_json::Value;

use crate::template::{Template, Vars};

/// `[request.body]` or `[response.body]`, applied in the order remove,
/// rename, set, to bodies whose `content-type` is JSON (`application/json`
/// or `*/*+json`) and that are not empty.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyRules {
    /// Members removed (absent ones are ignored).
    #[serde(default)]
    pub remove: Vec<Pointer>,
    /// Members moved, old pointer to new (absent ones are ignored).
    #[serde(default)]
    pub rename: BTreeMap<Pointer, Pointer>,
    /// Members set, creating missing parent objects: a string is a
    /// template (the result is a JSON string), any other value is set as is.
    #[serde(default)]
    pub set: BTreeMap<Pointer, SetValue>,
}

/// What `set` puts at a pointer.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Value")]
pub enum SetValue {
    /// A string template.
    Template(Template),
    /// Any other JSON value.
    Json(Value),
}

impl TryFrom<Value> for SetValue {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Template::parse(&text).map(SetValue::Template),
            value => Ok(SetValue::Json(value)),
        }
    }
}

impl SetValue {
    /// The template, if this is one.
    pub fn template(&self) -> Option<&Template> {
        match self {
            SetValue::Template(t) => Some(t),
            SetValue::Json(_) => None,
        }
    }
}

impl BodyRules {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.rename.is_empty() && self.set.is_empty()
    }

    /// Applies the rules to `doc`.
    pub fn apply(&self, doc: &mut Value, vars: &Vars) -> Result<(), Error> {
        for pointer in &self.remove {
            pointer.take(doc);
        }
        for (from, to) in &self.rename {
            if let Some(value) = from.take(doc) {
                to.put(doc, value);
            }
        }
        for (pointer, value) in &self.set {
            let value = match value {
                SetValue::Template(t) => match t.render(vars)? {
                    Some(text) => Value::String(text),
                    None => continue,
                },
                SetValue::Json(value) => value.clone(),
            };
            pointer.put(doc, value);
        }
        Ok(())
    }
}

/// Whether a `content-type` value is JSON.
pub fn is_json(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.contains('/') && essence.ends_with("+json"))
}

/// A JSON pointer to a member (not the whole document): `/a/b/0`, with
/// `~1` for `/` and `~0` for `~`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Pointer {
    source: String,
    tokens: Vec<String>,
}

impl TryFrom<String> for Pointer {
    type Error = String;

    fn try_from(source: String) -> Result<Self, String> {
        let Some(rest) = source.strip_prefix('/') else {
            return Err(format!(
                "JSON pointer {source:?} must start with `/` (the whole document cannot be changed)"
            ));
        };
        let mut tokens = Vec::new();
        for token in rest.split('/') {
            let bad_escape = token
                .match_indices('~')
                .any(|(i, _)| !matches!(token.as_bytes().get(i + 1), Some(b'0' | b'1')));
            if bad_escape {
                return Err(format!(
                    "JSON pointer {source:?}: `~` must be followed by 0 or 1"
                ));
            }
            tokens.push(token.replace("~1", "/").replace("~0", "~"));
        }
        Ok(Pointer { source, tokens })
    }
}

impl Pointer {
    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parent container, if it exists, and the last token.
    fn parent<'v>(&self, doc: &'v mut Value, create: bool) -> Option<(&'v mut Value, &str)> {
        let (last, path) = self.tokens.split_last()?;
        let mut node = doc;
        for token in path {
            node = match node {
                Value::Object(map) => match create {
                    true => map
                        .entry(token.clone())
                        .or_insert_with(|| Value::Object(Default::default())),
                    false => map.get_mut(token)?,
                },
                Value::Array(items) => items.get_mut(index(token)?)?,
                _ => return None,
            };
        }
        Some((node, last))
    }

    /// Removes and returns the member, if present.
    pub fn take(&self, doc: &mut Value) -> Option<Value> {
        match self.parent(doc, false)? {
            (Value::Object(map), key) => map.remove(key),
            (Value::Array(items), key) => {
                let i = index(key)?;
                (i < items.len()).then(|| items.remove(i))
            }
            _ => None,
        }
    }

    /// Sets the member, creating missing parent objects. In an array, `-`
    /// or the length appends and an index replaces; a parent that is
    /// neither an object nor an array (or an index past the end) leaves the
    /// document unchanged.
    pub fn put(&self, doc: &mut Value, value: Value) {
        match self.parent(doc, true) {
            Some((Value::Object(map), key)) => {
                map.insert(key.to_owned(), value);
            }
            Some((Value::Array(items), "-")) => items.push(value),
            Some((Value::Array(items), key)) => match index(key) {
                Some(i) if i < items.len() => items[i] = value,
                Some(i) if i == items.len() => items.push(value),
                _ => {}
            },
            _ => {}
        }
    }
}

/// An array index token: digits, no leading zero.
fn index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    let canonical = token == "0" || !token.starts_with('0');
    (digits && canonical).then(|| token.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pointer(text: &str) -> Pointer {
        match Pointer::try_from(text.to_owned()) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn pointers_parse_and_reject_the_whole_document() {
        assert_eq!(pointer("/a~1b/~0c").tokens, ["a/b", "~c"]);
        assert_eq!(pointer("/").tokens, [""]);
        for bad in ["", "a", "/a~2", "/a~"] {
            assert!(Pointer::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn take_and_put_in_objects_and_arrays() {
        let mut doc = json!({ "a": { "b": 1 }, "list": [1, 2, 3] });
        assert_eq!(pointer("/a/b").take(&mut doc), Some(json!(1)));
        assert_eq!(pointer("/a/missing").take(&mut doc), None);
        assert_eq!(pointer("/list/1").take(&mut doc), Some(json!(2)));
        assert_eq!(pointer("/list/9").take(&mut doc), None);
        pointer("/x/y/z").put(&mut doc, json!("deep"));
        pointer("/list/-").put(&mut doc, json!(4));
        pointer("/list/0").put(&mut doc, json!(0));
        pointer("/list/07").put(&mut doc, json!("no"));
        pointer("/a/b/c").put(&mut doc, json!("created"));
        assert_eq!(
            doc,
            json!({ "a": { "b": { "c": "created" } }, "list": [0, 3, 4], "x": { "y": { "z": "deep" } } })
        );
        let mut scalar = json!({ "s": "text" });
        pointer("/s/t").put(&mut scalar, json!(1));
        assert_eq!(
            scalar,
            json!({ "s": "text" }),
            "a scalar parent is left alone"
        );
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(is_json(Some("application/problem+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("+json")));
        assert!(!is_json(None));
    }
}
