//! [`Template`]: text with `{name}` placeholders filled from route captures.

use std::collections::BTreeMap;
use std::fmt;

use portico_sdk::Error;

/// Text with `{name}` placeholders, each filled with the route capture of
/// that name (`(?P<name>...)` in the route's path regex). `{{` and `}}` are
/// literal braces. The syntax is checked when the config loads; a capture
/// missing at request time fails the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Capture(String),
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
                    let name = &rest[..end];
                    if !is_capture_name(name) {
                        return Err(format!(
                            "`{{{name}}}` in template {source:?} is not a capture name (letters, digits, `_`)"
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Capture(name.to_owned()));
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
            Part::Literal(_) => None,
        })
    }

    /// The text with every placeholder replaced by `fill`.
    pub fn with_placeholders(&self, fill: &str) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.as_str(),
                Part::Capture(_) => fill,
            })
            .collect()
    }

    /// The text with the captures filled in.
    pub fn render(&self, captures: &BTreeMap<String, String>) -> Result<String, Error> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Capture(name) => match captures.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        return Err(Error::msg(format!(
                            "route capture `{name}` used by {:?} is missing",
                            self.source
                        )));
                    }
                },
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
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
        let captures = captures
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Template::parse(template)?
            .render(&captures)
            .map_err(|e| e.to_string())
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
