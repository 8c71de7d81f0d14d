//! The replies the plugin sends itself: `application/problem+json`.

use portico_sdk::http::StatusCode;
use portico_sdk::{Error, Reply};
use serde_json::json;

/// The request's JSON body could not be parsed: 400.
pub fn bad_request_body(err: &serde_json::Error) -> Result<Reply, Error> {
    problem(
        StatusCode::BAD_REQUEST,
        "invalid-json-body",
        "Invalid JSON body",
        format!("The request body is not valid JSON ({err})."),
    )
}

/// The upstream's JSON body could not be parsed: 502.
pub fn bad_response_body() -> Result<Reply, Error> {
    problem(
        StatusCode::BAD_GATEWAY,
        "invalid-upstream-json",
        "Bad gateway",
        "The upstream's response body is not valid JSON.".to_owned(),
    )
}

fn problem(status: StatusCode, kind: &str, title: &str, detail: String) -> Result<Reply, Error> {
    let body = json!({
        "type": format!("urn:portico:problem:{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    Ok(Reply::new(status)
        .header("content-type", "application/problem+json")
        .body(serde_json::to_vec(&body)?))
}
