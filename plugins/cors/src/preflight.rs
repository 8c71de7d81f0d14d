//! Preflight answers: 204 with the policy for an allowed origin, 403 for
//! any other.

use portico_sdk::config::HeaderName;
use portico_sdk::http::{Method, StatusCode};
use portico_sdk::{Error, Reply};
use serde_json::json;

use crate::config::{Config, List};

/// A preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// `Origin`.
    pub origin: String,
    /// `Access-Control-Request-Method`.
    pub method: String,
    /// `Access-Control-Request-Headers`, as sent.
    pub headers: Option<String>,
}

/// The 204 for an allowed origin. It states the policy; the browser
/// compares the requested method and headers with it (so a method not
/// allowed still gets a 204, which the browser then refuses to use).
pub fn allowed(config: &Config, preflight: &Preflight) -> Reply {
    let mut reply = Reply::new(StatusCode::NO_CONTENT)
        .header(
            "access-control-allow-origin",
            crate::allow_origin(config, &preflight.origin),
        )
        .header(
            "vary",
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        );
    if config.allow_credentials {
        reply = reply.header("access-control-allow-credentials", "true");
    }
    let methods = match &config.allow_methods {
        // With credentials `*` is a literal name to browsers: echo instead.
        List::Any if config.allow_credentials => valid_method(&preflight.method),
        List::Any => Some("*".to_owned()),
        names => Some(names.joined()),
    };
    if let Some(methods) = methods.filter(|m| !m.is_empty()) {
        reply = reply.header("access-control-allow-methods", methods);
    }
    let headers = match &config.allow_headers {
        List::Any if config.allow_credentials => {
            preflight.headers.as_deref().and_then(valid_header_list)
        }
        List::Any => Some("*".to_owned()),
        names => Some(names.joined()),
    };
    if let Some(headers) = headers.filter(|h| !h.is_empty()) {
        reply = reply.header("access-control-allow-headers", headers);
    }
    if let Some(max_age) = config.max_age {
        reply = reply.header("access-control-max-age", max_age.0.to_string());
    }
    reply
}

/// The 403 for an origin not allowed: no CORS headers, a problem+json body.
pub fn refused() -> Result<Reply, Error> {
    let body = json!({
        "type": "urn:portico:problem:cors-origin-not-allowed",
        "title": "Origin not allowed",
        "status": 403,
        "detail": "The request's origin is not allowed by this route's CORS policy.",
        "source": "plugin",
        "retryable": false,
        "plugin": env!("CARGO_PKG_NAME"),
    });
    Ok(Reply::new(StatusCode::FORBIDDEN)
        .header("content-type", "application/problem+json")
        .header("vary", "Origin")
        .body(serde_json::to_vec(&body)?))
}

/// The requested method, if it is a valid token.
fn valid_method(method: &str) -> Option<String> {
    Method::from_bytes(method.as_bytes())
        .ok()
        .map(|_| method.to_owned())
}

/// The requested header names, normalized, if every one is valid.
fn valid_header_list(list: &str) -> Option<String> {
    let names: Result<Vec<HeaderName>, _> = list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(HeaderName::new)
        .collect();
    let names: Vec<String> = names.ok()?.iter().map(|n| n.as_str().to_owned()).collect();
    Some(names.join(", "))
}
