//! `transform`: rewrites request and response headers and the request path.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "transform"
//! config.request.path = "/v2/users/{id}"   # `{id}`: capture from the route's path regex
//! config.request.headers = { remove = ["x-debug"], set = { "x-user-id" = "{id}" }, add = { "x-via" = "portico" } }
//! config.response.headers = { set = { "cache-control" = "no-store" } }
//! ```
//!
//! For each message, headers are changed in the order `remove`, `set`, `add`;
//! the request path is rewritten after its headers. Values and the path are
//! [templates](template::Template): `{name}` is the route capture `name`
//! (captures from the request also fill response templates). Header names and
//! template syntax are checked when the route loads; a capture missing at
//! request time fails the request.

#![warn(missing_docs)]

pub mod config;
pub mod template;

use std::collections::BTreeMap;

use portico_sdk::{Action, Error, Plugin, Request, Response, export_plugin};

use crate::config::{Config, HeaderRules};

/// The plugin; per request, it keeps the route captures its templates use.
pub struct Transform {
    config: &'static Config,
    captures: BTreeMap<String, String>,
}

impl Plugin for Transform {
    type Config = Config;

    fn new(config: &'static Config) -> Self {
        Transform {
            config,
            captures: BTreeMap::new(),
        }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        for name in self.config.templates().flat_map(|t| t.captures()) {
            if let Some(value) = req.param(name) {
                self.captures.insert(name.to_owned(), value);
            }
        }
        let rules = &self.config.request;
        apply(&rules.headers, req, &self.captures)?;
        if let Some(path) = &rules.path {
            req.set_path(&path.0.render(&self.captures)?)?;
        }
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        apply(&self.config.response.headers, res, &self.captures)?;
        Ok(Action::Continue)
    }
}

export_plugin!(Transform);

/// The header changes [`Request`] and [`Response`] both allow.
trait Headers {
    fn remove(&mut self, name: &str);
    fn set(&mut self, name: &str, value: &str) -> Result<(), Error>;
    fn append(&mut self, name: &str, value: &str) -> Result<(), Error>;
}

macro_rules! impl_headers {
    ($($ty:ty),*) => {
        $(impl Headers for $ty {
            fn remove(&mut self, name: &str) {
                self.remove_header(name)
            }
            fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
                self.set_header(name, value)
            }
            fn append(&mut self, name: &str, value: &str) -> Result<(), Error> {
                self.append_header(name, value)
            }
        })*
    };
}

impl_headers!(Request<'_>, Response<'_>);

/// Applies `rules` in the order remove, set, add.
fn apply(
    rules: &HeaderRules,
    message: &mut impl Headers,
    captures: &BTreeMap<String, String>,
) -> Result<(), Error> {
    for name in &rules.remove {
        message.remove(name.as_str());
    }
    for (name, value) in &rules.set {
        message.set(name.as_str(), &value.0.render(captures)?)?;
    }
    for (name, value) in &rules.add {
        message.append(name.as_str(), &value.0.render(captures)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
