//! The 401 reply: `WWW-Authenticate` and an `application/problem+json` body
//! (RFC 9457) shaped like the gateway's own errors.

use portico_sdk::http::StatusCode;
use portico_sdk::{Error, Reply};
use serde_json::json;

use crate::config::Config;

/// Why the request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key in the header or the query parameter.
    Missing,
    /// A key that matches no configured hash.
    Invalid,
}

/// The 401 for `refusal`. The body says where a key is expected, never
/// anything about the key that was presented.
pub fn unauthorized(config: &Config, refusal: Refusal) -> Result<Reply, Error> {
    let realm = &config.realm.0;
    let (challenge, detail) = match refusal {
        Refusal::Missing => (
            format!("ApiKey realm=\"{realm}\""),
            "An API key is required.",
        ),
        Refusal::Invalid => (
            format!("ApiKey realm=\"{realm}\", error=\"invalid_key\""),
            "The API key is not valid.",
        ),
    };
    let mut detail = format!("{detail} Send it in the `{}` header", config.header);
    if let Some(query) = &config.query {
        detail.push_str(&format!(" or the `{}` query parameter", query.0));
    }
    detail.push('.');
    let body = json!({
        "type": "urn:portico:problem:unauthorized",
        "title": "Unauthorized",
        "status": 401,
        "detail": detail,
        "source": "plugin",
        "retryable": false,
        "plugin": env!("CARGO_PKG_NAME"),
    });
    Ok(Reply::new(StatusCode::UNAUTHORIZED)
        .header("www-authenticate", challenge)
        .header("content-type", "application/problem+json")
        .header("cache-control", "no-store")
        .body(serde_json::to_vec(&body)?))
}
