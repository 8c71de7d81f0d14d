//! `transform`: rewrites requests and responses: headers, the path, query
//! parameters, JSON body fields and the response status.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "transform"
//! capabilities = ["context"]                 # for `{ctx.<key>}` templates
//! config.request.path = "/v2/users/{id}"     # `{id}`: capture from the route's path regex
//! config.request.headers = { remove = ["x-debug"], set = { "x-user-id" = "{id}" }, add = { "x-via" = "portico" } }
//! config.request.query = { remove = ["debug"], rename = { q = "search" }, set = { consumer = "{ctx.consumer}" } }
//! config.request.body = { remove = ["/password"], set = { "/meta/user" = "{header.x-user}" } }
//! config.response.status_map = { "404" = 410 }
//! config.response.headers = { set = { "cache-control" = "no-store" } }
//! config.response.body = { rename = { "/id" = "/user_id" } }
//! ```
//!
//! The request is changed in the order headers (`remove`, `set`, `add`),
//! path, query (`remove`, `rename`, `set`), JSON body (`remove`, `rename`,
//! `set`); the response in the order status, headers, JSON body. Values are
//! [templates](template::Template) filled from route captures, request
//! context values (`{ctx.consumer}`) and request headers (`{header.x-user}`),
//! all read when the request arrives at this plugin. Body rules apply to
//! non-empty bodies with a JSON `content-type`; a request body that is not
//! valid JSON gets 400, a response body 502 (both `application/problem+json`).
//! Everything is checked when the route loads.

#![warn(missing_docs)]

pub mod config;
pub mod json;
pub mod problem;
pub mod query;
pub mod status;
pub mod template;

use portico_sdk::{Action, Capability, Error, Plugin, Request, Response, context, export_plugin};

use crate::config::{Config, HeaderRules};
use crate::json::BodyRules;
use crate::template::{Part, Vars};

/// The plugin; per request, it keeps the values its templates use (and is
/// held for the response phase only when a response template reads them).
pub struct Transform {
    config: &'static Config,
    vars: Vars,
}

impl Plugin for Transform {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["context"]`.
    const CAPABILITIES: &'static [Capability] = &[Capability::Context];

    fn new(config: &'static Config) -> Self {
        Transform {
            config,
            vars: Vars::default(),
        }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        // Without response rules that read request values, the instance is
        // free for other requests while this one waits for the upstream.
        req.set_response_phase(self.config.response.phase());
        for placeholder in self.config.placeholders() {
            let value = match placeholder {
                Part::Capture(name) => req.param(name),
                Part::Context(key) => context::get(key),
                Part::Header(name) => req.header(name),
                Part::Literal(_) => continue,
            };
            self.vars.insert(placeholder.clone(), value);
        }
        let rules = &self.config.request;
        apply_headers(&rules.headers, req, &self.vars)?;
        if let Some(path) = &rules.path
            && let Some(path) = path.0.render(&self.vars)?
        {
            req.set_path(&path)?;
        }
        if !rules.query.is_empty() {
            let query = rules.query.apply(req.query().as_deref(), &self.vars)?;
            req.set_query(query.as_deref())?;
        }
        if applies(&rules.body, || req.header("content-type")) {
            let body = req.body()?;
            if !body.is_empty() {
                match serde_json::from_slice(&body) {
                    Ok(mut doc) => {
                        rules.body.apply(&mut doc, &self.vars)?;
                        req.set_body(serde_json::to_vec(&doc)?);
                    }
                    Err(err) => return Ok(Action::Respond(problem::bad_request_body(&err)?)),
                }
            }
        }
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        let rules = &self.config.response;
        // Each read is a call into the gateway: only what a rule needs.
        if !rules.status_map.is_empty()
            && let Some(status) = rules.status_map.get(res.status())
        {
            res.set_status(status)?;
        }
        apply_headers(&rules.headers, res, &self.vars)?;
        if applies(&rules.body, || res.header("content-type")) {
            let body = res.body()?;
            if !body.is_empty() {
                match serde_json::from_slice(&body) {
                    Ok(mut doc) => {
                        rules.body.apply(&mut doc, &self.vars)?;
                        res.set_body(serde_json::to_vec(&doc)?);
                    }
                    Err(_) => return Ok(Action::Respond(problem::bad_response_body()?)),
                }
            }
        }
        Ok(Action::Continue)
    }
}

export_plugin!(Transform);

/// Whether body `rules` apply to a message with this `content-type` (read
/// only when there are rules: each read is a call into the gateway).
fn applies(rules: &BodyRules, content_type: impl FnOnce() -> Option<String>) -> bool {
    !rules.is_empty() && json::is_json(content_type().as_deref())
}

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

/// Applies `rules` in the order remove, set, add; a rule whose template
/// uses an absent context value or header is skipped.
fn apply_headers(
    rules: &HeaderRules,
    message: &mut impl Headers,
    vars: &Vars,
) -> Result<(), Error> {
    for name in &rules.remove {
        message.remove(name.as_str());
    }
    for (name, value) in &rules.set {
        if let Some(value) = value.0.render(vars)? {
            message.set(name.as_str(), &value)?;
        }
    }
    for (name, value) in &rules.add {
        if let Some(value) = value.0.render(vars)? {
            message.append(name.as_str(), &value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_query_body;
