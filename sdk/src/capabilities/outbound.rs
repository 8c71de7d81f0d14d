//! Capability `http`: requests to other services (an identity provider, a
//! JWKS endpoint), with the `http` crate's types, to the destinations the
//! route's grant allows (`http = { allow = [..] }` on the plugin entry).
//!
//! A call returns the whole response: the gateway awaits it while only this
//! request waits, bounded by the grant's `timeout_ms` (that wait does not
//! count toward the phase deadline). Redirects are returned, not followed.
//! (The module is `outbound` because `portico_sdk::http` is the `http`
//! crate itself.)
//!
//! ```
//! # let host = portico_sdk::testing::MockHost::with_grants(&["http"]);
//! # host.stub_http("GET", "https://idp.example.com/keys",
//! #     portico_sdk::http::Response::new(b"{}".to_vec()));
//! use portico_sdk::outbound;
//!
//! let response = outbound::get("https://idp.example.com/keys")?;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), portico_sdk::outbound::HttpError>(())
//! ```

use std::fmt;

use http::{HeaderName, HeaderValue, Request, Response, StatusCode};

use crate::imports::outbound as host;

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The destination is not in the grant's `allow` list; nothing was sent.
    Denied(String),
    /// The URL, method, a header or the body size is not acceptable;
    /// nothing was sent.
    InvalidRequest(String),
    /// No complete response within the grant's `timeout_ms`.
    Timeout,
    /// The connection could not be made.
    Connect(String),
    /// The TLS handshake failed.
    Tls(String),
    /// The response body is larger than the grant's `max_response_bytes`.
    TooLarge,
    /// The exchange failed otherwise.
    Other(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Denied(why) => write!(f, "denied: {why}"),
            HttpError::InvalidRequest(why) => write!(f, "invalid request: {why}"),
            HttpError::Timeout => f.write_str("no complete response within the timeout"),
            HttpError::Connect(why) => write!(f, "cannot connect: {why}"),
            HttpError::Tls(why) => write!(f, "TLS: {why}"),
            HttpError::TooLarge => f.write_str("the response is larger than max_response_bytes"),
            HttpError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<host::HttpError> for HttpError {
    fn from(error: host::HttpError) -> Self {
        match error {
            host::HttpError::Denied(why) => HttpError::Denied(why),
            host::HttpError::InvalidRequest(why) => HttpError::InvalidRequest(why),
            host::HttpError::Timeout => HttpError::Timeout,
            host::HttpError::Connect(why) => HttpError::Connect(why),
            host::HttpError::Tls(why) => HttpError::Tls(why),
            host::HttpError::TooLarge => HttpError::TooLarge,
            host::HttpError::Other(why) => HttpError::Other(why),
        }
    }
}

/// Sends `request` (an absolute URL) and waits for the whole response.
pub fn send(request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
    let (head, body) = request.into_parts();
    let mut headers = Vec::with_capacity(head.headers.len());
    for (name, value) in &head.headers {
        let value = value.to_str().map_err(|_| {
            HttpError::InvalidRequest(format!("the value of `{name}` is not visible ASCII"))
        })?;
        headers.push((name.as_str().to_owned(), value.to_owned()));
    }
    let outgoing = host::OutgoingRequest {
        method: head.method.as_str().to_owned(),
        url: head.uri.to_string(),
        headers,
        body,
    };
    let incoming = host::send(&outgoing).map_err(HttpError::from)?;
    let status = StatusCode::from_u16(incoming.status)
        .map_err(|_| HttpError::Other(format!("status {} is not valid", incoming.status)))?;
    let mut response = Response::new(incoming.body);
    *response.status_mut() = status;
    for (name, value) in incoming.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response<Vec<u8>>, HttpError> {
    let request = Request::get(url)
        .body(Vec::new())
        .map_err(|e| HttpError::InvalidRequest(e.to_string()))?;
    send(request)
}
