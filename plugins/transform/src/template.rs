//! [`Template`]: text with placeholders filled from route captures, request
//! context values and request headers.

use std::collections::BTreeMap;
use std::fmt;

use portico_sdk::Error;
use portico_sdk::config::HeaderName;

/// Text with placeholders: `{name}` is the route capture of that name
/// (`(?P<name>...)` in the route's path regex), `{ctx.key}` the request
/// context value `key` (e.g. `{ctx.consumer}`, set by an auth plugin) and
/// `{header.name}` the request header `name` as this plugin received it.
/// `{{` and `}}` are literal braces. The syntax is checked when the config
/// loads. At request time a missing capture fails the request (the route's
/// regex and the template disagree); a missing context value or header
/// makes the rule using the template not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// `{name}`: a route capture.
    Capture(String),
    /// `{ctx.key}`: a request context value.
    Context(String),
    /// `{header.name}`: a request header (name lower-case).
    Header(String),
}

/// The values templates are filled with, gathered in the request phase.
#[derive(Debug, Default, Clone)]
pub struct Vars {
    /// Every placeholder found, with its value (`None`: absent).
    values: BTreeMap<Part, Option<String>>,
}

impl Vars {
    /// Records the value of `placeholder` (`None` if it is absent).
    pub fn insert(&mut self, placeholder: Part, value: Option<String>) {
        self.values.insert(placeholder, value);
    }

    fn get(&self, placeholder: &Part) -> Option<&str> {
        self.values.get(placeholder).and_then(|v| v.as_deref())
    }
}

impl Template {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.as_str().starts_with('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.as_str().starts_with('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = chars.as_str();
                    let Some(end) = rest.find('}') else {
                        return Err(format!("unclosed `{{` in template {source:?}"));
                    };
                    let placeholder = placeholder(&rest[..end], source)?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(placeholder);
                    chars = rest[end + 1..].chars();
                }
                '}' => {
                    return Err(format!(
                        "unmatched `}}` in template {source:?} (write `}}}}`)"
                    ));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
        })
    }

    /// The names of the captures the template uses.
    pub fn captures(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Capture(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The placeholders the template uses.
    pub fn placeholders(&self) -> impl Iterator<Item = &Part> {
        self.parts
            .iter()
            .filter(|part| !matches!(part, Part::Literal(_)))
    }

    /// The text with every placeholder replaced by `fill`.
    pub fn with_placeholders(&self, fill: &str) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.as_str(),
                _ => fill,
            })
            .collect()
    }

    /// The text with the placeholders filled in from `vars`: `None` when a
    /// context value or header it uses is absent.
    pub fn render(&self, vars: &Vars) -> Result<Option<String>, Error> {
        let mut out = String::new();
        for part in &self.parts {
            match (part, vars.get(part)) {
                (Part::Literal(text), _) => out.push_str(text),
                (_, Some(value)) => out.push_str(value),
                (Part::Capture(name), None) => {
                    return Err(Error::msg(format!(
                        "route capture `{name}` used by {:?} is missing",
                        self.source
                    )));
                }
                (Part::Context(_) | Part::Header(_), None) => return Ok(None),
            }
        }
        Ok(Some(out))
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses the text between braces.
fn placeholder(name: &str, source: &str) -> Result<Part, String> {
    if let Some(key) = name.strip_prefix("ctx.") {
        let ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        return match ok {
            true => Ok(Part::Context(key.to_owned())),
            false => Err(format!(
                "`{{{name}}}` in template {source:?} is not a context key (letters, digits, `_`, `.`, `-`)"
            )),
        };
    }
    if let Some(header) = name.strip_prefix("header.") {
        return HeaderName::new(header)
            .map(|h| Part::Header(h.as_str().to_owned()))
            .map_err(|e| format!("`{{{name}}}` in template {source:?}: {e}"));
    }
    if !is_capture_name(name) {
        return Err(format!(
            "`{{{name}}}` in template {source:?} is not a capture name (letters, digits, `_`), \
             `ctx.<key>` or `header.<name>`"
        ));
    }
    Ok(Part::Capture(name.to_owned()))
}

/// Whether `name` can name a regex capture group.
fn is_capture_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, captures: &[(&str, &str)]) -> Result<String, String> {
        let mut vars = Vars::default();
        for (k, v) in captures {
            vars.insert(Part::Capture(k.to_string()), Some(v.to_string()));
        }
        Template::parse(template)?
            .render(&vars)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "absent".to_owned())
    }

    #[test]
    fn context_and_header_placeholders() -> Result<(), String> {
        let t = Template::parse("{ctx.consumer}/{header.X-User}/{id}")?;
        assert_eq!(
            t.placeholders().cloned().collect::<Vec<_>>(),
            [
                Part::Context("consumer".into()),
                Part::Header("x-user".into()),
                Part::Capture("id".into())
            ]
        );
        let mut vars = Vars::default();
        vars.insert(Part::Capture("id".into()), Some("7".into()));
        vars.insert(Part::Header("x-user".into()), Some("bob".into()));
        vars.insert(Part::Context("consumer".into()), None);
        assert_eq!(
            t.render(&vars).map_err(|e| e.to_string())?,
            None,
            "absent context"
        );
        vars.insert(Part::Context("consumer".into()), Some("alice".into()));
        assert_eq!(
            t.render(&vars).map_err(|e| e.to_string())?.as_deref(),
            Some("alice/bob/7")
        );
        for bad in ["{ctx.}", "{ctx.a b}", "{header.bad name}", "{header.}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn fills_captures_and_unescapes_braces() {
        assert_eq!(
            render("/v2/{id}/x", &[("id", "7")]).as_deref(),
            Ok("/v2/7/x")
        );
        assert_eq!(
            render("{a}{b}", &[("a", "1"), ("b", "2")]).as_deref(),
            Ok("12")
        );
        assert_eq!(
            render("{{literal}} {x}", &[("x", "é")]).as_deref(),
            Ok("{literal} é")
        );
        assert_eq!(render("plain", &[]).as_deref(), Ok("plain"));
        assert_eq!(render("", &[]).as_deref(), Ok(""));
    }

    #[test]
    fn missing_capture_is_a_request_error() {
        assert_eq!(
            render("/v2/{id}", &[]),
            Err("route capture `id` used by \"/v2/{id}\" is missing".to_owned())
        );
    }

    #[test]
    fn bad_syntax_is_rejected() {
        for bad in ["/{id", "/{}", "/{1x}", "/{a-b}", "/x}", "{ id }"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_captures_and_placeholders() -> Result<(), String> {
        let t = Template::parse("/{a}/b/{c_2}")?;
        assert_eq!(t.captures().collect::<Vec<_>>(), ["a", "c_2"]);
        assert_eq!(t.with_placeholders("x"), "/x/b/x");
        assert_eq!(t.to_string(), "/{a}/b/{c_2}");
        Ok(())
    }
}
