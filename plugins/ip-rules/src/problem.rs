//! The 403 reply: an `application/problem+json` body (RFC 9457) shaped like
//! the gateway's own errors. It never echoes the address.

use portico_sdk::http::StatusCode;
use portico_sdk::{Error, Reply};
use serde_json::json;

/// The 403 for a refused (or unknown) client address.
pub fn forbidden() -> Result<Reply, Error> {
    let body = json!({
        "type": "urn:portico:problem:forbidden",
        "title": "Forbidden",
        "status": 403,
        "detail": "Requests from this address are not allowed.",
        "source": "plugin",
        "retryable": false,
        "plugin": env!("CARGO_PKG_NAME"),
    });
    Ok(Reply::new(StatusCode::FORBIDDEN)
        .header("content-type", "application/problem+json")
        .body(serde_json::to_vec(&body)?))
}
