//! `cors`: Cross-Origin Resource Sharing at the gateway.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "cors"                    # first in the chain: preflights carry no credentials
//! config.allow_origins = ["https://app.example.com", "https://*.example.com"]
//! config.allow_methods = ["GET", "POST", "DELETE"]
//! config.allow_headers = ["content-type", "x-api-key"]
//! config.expose_headers = ["x-request-id"]
//! config.allow_credentials = true
//! config.max_age = "10m"
//! ```
//!
//! * A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   never reaches the upstream: an allowed origin gets 204 with the policy
//!   (see [`preflight::allowed`]), any other origin 403 with a problem+json
//!   body and no CORS headers.
//! * Any other request goes on. If its `Origin` is allowed, the response gets
//!   `Access-Control-Allow-Origin`, `-Allow-Credentials` and
//!   `-Expose-Headers`; otherwise the gateway removes those headers, should
//!   the upstream have sent them. The gateway owns the route's CORS policy.
//! * `Access-Control-Allow-Origin` is `*` only when `*` is allowed without
//!   credentials; otherwise the request's origin is echoed and `Vary: Origin`
//!   added (on every response, so shared caches keep origins apart).
//!
//! Needs no capabilities.

#![warn(missing_docs)]

pub mod config;
pub mod origin;
pub mod preflight;

use portico_sdk::http::Method;
use portico_sdk::{
    Action, Capability, Error, Plugin, Request, Response, ResponsePhase, export_plugin,
};

use crate::config::{Config, List};
use crate::preflight::Preflight;

/// Response headers this plugin decides about on actual requests.
const OWNED: [&str; 3] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
];

/// The plugin; per request, what `on_response` has to do.
pub struct Cors {
    config: &'static Config,
    state: State,
}

/// What the request was.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// A preflight this plugin answered: the reply is complete.
    Answered,
    /// A request from an allowed origin.
    Allowed(String),
    /// No origin, or one not allowed.
    NotAllowed,
}

impl Plugin for Cors {
    type Config = Config;
    /// Calls no host capability: its route grants none.
    const CAPABILITIES: &'static [Capability] = &[];

    fn new(config: &'static Config) -> Self {
        Cors {
            config,
            state: State::NotAllowed,
        }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        // The response phase of a request from no allowed origin only
        // removes headers: it needs nothing from this one.
        req.set_response_phase(ResponsePhase::AnyInstance);
        let Some(origin) = req.header("origin") else {
            return Ok(Action::Continue);
        };
        let allowed = self.config.allow_origins.allows(&origin);
        let requested = req.header("access-control-request-method");
        if let (Method::OPTIONS, Some(method)) = (req.method(), requested) {
            // Its reply passes back through this instance untouched.
            self.state = State::Answered;
            req.set_response_phase(ResponsePhase::SameInstance);
            let preflight = Preflight {
                origin,
                method,
                headers: req.header("access-control-request-headers"),
            };
            let reply = match allowed {
                true => preflight::allowed(self.config, &preflight),
                false => preflight::refused()?,
            };
            return Ok(Action::Respond(reply));
        }
        if allowed {
            self.state = State::Allowed(origin);
            req.set_response_phase(ResponsePhase::SameInstance);
        }
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        let config = self.config;
        let origin = match &self.state {
            State::Answered => return Ok(Action::Continue),
            State::Allowed(origin) => origin,
            State::NotAllowed => {
                OWNED.iter().for_each(|name| res.remove_header(name));
                add_vary_origin(config, res)?;
                return Ok(Action::Continue);
            }
        };
        let expose = match &config.expose_headers {
            // With credentials `*` is a literal name to browsers: list them.
            List::Any if config.allow_credentials => {
                let mut names = res.header_names();
                names.retain(|name| !name.starts_with("access-control-"));
                names.join(", ")
            }
            List::Any => "*".to_owned(),
            names => names.joined(),
        };
        res.set_header(OWNED[0], allow_origin(config, origin))?;
        match config.allow_credentials {
            true => res.set_header(OWNED[1], "true")?,
            false => res.remove_header(OWNED[1]),
        }
        match expose.is_empty() {
            true => res.remove_header(OWNED[2]),
            false => res.set_header(OWNED[2], &expose)?,
        }
        add_vary_origin(config, res)?;
        Ok(Action::Continue)
    }
}

export_plugin!(Cors);

/// `Access-Control-Allow-Origin` for an allowed `origin`: `*` when any
/// origin is allowed without credentials, else the origin itself.
pub fn allow_origin(config: &Config, origin: &str) -> String {
    match config.allow_origins.any() && !config.allow_credentials {
        true => "*".to_owned(),
        false => origin.to_owned(),
    }
}

/// Adds `Vary: Origin` unless the response is the same for every origin or
/// already varies by it.
fn add_vary_origin(config: &Config, res: &mut Response<'_>) -> Result<(), Error> {
    if config.allow_origins.any() && !config.allow_credentials {
        return Ok(());
    }
    let varies = res.header_all("vary").iter().any(|value| {
        value
            .split(',')
            .map(str::trim)
            .any(|name| name == "*" || name.eq_ignore_ascii_case("origin"))
    });
    if !varies {
        res.append_header("vary", "Origin")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
