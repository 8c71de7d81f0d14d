//! What `portico check` can still build of a refused config, so that one
//! run reports the plugins' `init` errors too, not only the config's: the
//! config without its broken routes, upstreams, listeners and sections (and
//! without the routes whose upstream was left out, and the alert rules).

use std::path::Path;

use super::{Config, ConfigError, ConfigErrors, deserialize, validate};

/// A refused config's valid part.
#[derive(Debug)]
pub struct Salvaged {
    /// The config without what had errors.
    pub config: Config,
    /// `routes[i]` of [`Salvaged::config`] is `routes[original[i]]` of the
    /// file.
    original: Vec<usize>,
}

impl Salvaged {
    /// `errors` found building [`Salvaged::config`], with the file's route
    /// numbers in their keys.
    pub fn renumber(&self, errors: Vec<ConfigError>) -> Vec<ConfigError> {
        errors
            .into_iter()
            .map(|mut error| {
                if let Some((index, rest)) = route_index(&error.key)
                    && let Some(original) = self.original.get(index)
                {
                    error.key = format!("routes[{original}]{rest}");
                }
                error
            })
            .collect()
    }
}

/// `routes[<i>]...` as `(i, "...")`.
fn route_index(key: &str) -> Option<(usize, &str)> {
    let rest = key.strip_prefix("routes[")?;
    let (index, rest) = rest.split_once(']')?;
    Some((index.parse().ok()?, rest))
}

/// The first name of a key path: `upstreams.u.bogus` → (`upstreams`,
/// `Some("u")`); `routes[3].path` → (`routes`, `Some("3")`); `runtime.x`
/// → (`runtime`, `None` or its field).
fn head(key: &str) -> (&str, Option<&str>) {
    let end = key.find(['.', '[']).unwrap_or(key.len());
    let (section, rest) = key.split_at(end);
    let item = if let Some(rest) = rest.strip_prefix('[') {
        rest.split_once(']').map(|(i, _)| i)
    } else if let Some(rest) = rest.strip_prefix('.') {
        Some(rest.split(['.', '[']).next().unwrap_or(rest))
    } else {
        None
    };
    (section, item)
}

/// The part of the config in `text` (from `path`) that `errors` leave
/// intact, validated; `None` when nothing useful is left (a syntax error,
/// no listener, or what is left still does not validate).
pub fn salvage(path: &Path, text: &str, errors: &ConfigErrors) -> Option<Salvaged> {
    let mut table = text.parse::<toml::Table>().ok()?;
    let mut broken_upstreams = Vec::new();
    let broken = |section: &str| -> Vec<String> {
        errors
            .0
            .iter()
            .filter_map(|e| match head(&e.key) {
                (s, Some(item)) if s == section => Some(item.to_owned()),
                _ => None,
            })
            .collect()
    };
    let (bad_routes, bad_listeners, bad_upstreams) =
        (broken("routes"), broken("listeners"), broken("upstreams"));
    for error in &errors.0 {
        match head(&error.key) {
            ("" | "version" | "routes" | "listeners" | "upstreams", _) => {}
            (section, _) => {
                table.remove(section);
            }
        }
    }
    if errors.0.iter().any(|e| e.key.is_empty()) {
        return None;
    }
    if let Some(toml::Value::Table(upstreams)) = table.get_mut("upstreams") {
        for name in bad_upstreams {
            if upstreams.remove(&name).is_some() {
                broken_upstreams.push(name);
            }
        }
    }
    let mut original = Vec::new();
    if let Some(toml::Value::Array(routes)) = table.get_mut("routes") {
        let mut kept = Vec::new();
        for (i, route) in std::mem::take(routes).into_iter().enumerate() {
            let upstream_broken = route
                .get("upstream")
                .and_then(toml::Value::as_str)
                .is_some_and(|u| broken_upstreams.iter().any(|b| b == u));
            if !bad_routes.contains(&i.to_string()) && !upstream_broken {
                original.push(i);
                kept.push(route);
            }
        }
        *routes = kept;
    }
    if let Some(toml::Value::Array(listeners)) = table.get_mut("listeners") {
        let kept: Vec<toml::Value> = std::mem::take(listeners)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !bad_listeners.contains(&i.to_string()))
            .map(|(_, listener)| listener)
            .collect();
        if kept.is_empty() {
            return None;
        }
        *listeners = kept;
    }
    table.remove("alerts");
    let text = toml::to_string(&table).ok()?;
    let config = deserialize(path, &text).ok()?;
    validate::validate(&config).ok()?;
    Some(Salvaged { config, original })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_heads_and_route_numbers() {
        assert_eq!(head("upstreams.u.bogus"), ("upstreams", Some("u")));
        assert_eq!(head("routes[3].path.extra"), ("routes", Some("3")));
        assert_eq!(head("runtime"), ("runtime", None));
        assert_eq!(
            route_index("routes[12].plugins[0].name"),
            Some((12, ".plugins[0].name"))
        );
        assert_eq!(route_index("listeners[0]"), None);
    }

    #[test]
    fn the_valid_routes_survive_with_their_numbers() {
        let text = r#"
            version = 1
            [[listeners]]
            name = "a"
            addr = "127.0.0.1:0"
            [upstreams.good]
            targets = ["127.0.0.1:1"]
            [upstreams.bad]
            targets = ["127.0.0.1:1"]
            bogus = 1
            [[routes]]
            name = "broken"
            upstream = "good"
            timeout = 5
            [[routes]]
            name = "orphan"
            upstream = "bad"
            [[routes]]
            name = "kept"
            upstream = "good"
        "#;
        let path = Path::new("/nonexistent/p.toml");
        let errors = super::super::parse(path, text).expect_err("refused");
        let salvaged = salvage(path, text, &errors).expect("something is left");
        let names: Vec<&str> = salvaged.config.routes.iter().map(|r| &*r.name).collect();
        assert_eq!(names, ["kept"]);
        let renumbered =
            salvaged.renumber(vec![ConfigError::new(path, "routes[0].plugins[0]", "x")]);
        assert_eq!(renumbered[0].key, "routes[2].plugins[0]");
    }
}
