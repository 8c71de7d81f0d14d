//! The request and response as plugins see them: host-owned values that the
//! WIT `request` and `response` resources point at while a phase runs.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;

use super::bindings::types::{BodyError, HeaderError};
use crate::body::{self, Body};

/// Facts about the request fixed when it was routed.
#[derive(Debug)]
pub struct RequestInfo {
    /// Name of the matched route.
    pub route: Arc<str>,
    /// Named captures of the route's path regex.
    pub params: Vec<(String, String)>,
    /// The client's address.
    pub client_ip: IpAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Largest body a plugin may read.
    pub max_body_bytes: u64,
}

/// The request on its way through the chain to the upstream.
pub struct ProxyRequest {
    /// Method, URI, version and headers.
    pub head: http::request::Parts,
    /// The body, streaming until a plugin reads it.
    pub body: MessageBody,
    /// Routing facts.
    pub info: Arc<RequestInfo>,
}

/// The response on its way back through the chain to the client.
pub struct ProxyResponse {
    /// Status, version and headers.
    pub head: http::response::Parts,
    /// The body, streaming until a plugin reads it.
    pub body: MessageBody,
    /// Largest body a plugin may read.
    pub max_body_bytes: u64,
}

impl ProxyResponse {
    /// A response with `status`, `headers` and a buffered `body`.
    pub fn new(
        status: http::StatusCode,
        headers: HeaderMap,
        body: Bytes,
        max_body_bytes: u64,
    ) -> Self {
        let mut response = http::Response::new(());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        let (head, ()) = response.into_parts();
        let mut message = ProxyResponse {
            head,
            body: MessageBody::Stream(body::empty()),
            max_body_bytes,
        };
        message.body.replace(&mut message.head.headers, body);
        message
    }

    /// Turns the response into the one hyper sends.
    pub(crate) fn into_http(self) -> http::Response<Body> {
        http::Response::from_parts(self.head, self.body.into_body())
    }
}

/// A message body as plugins left it.
pub enum MessageBody {
    /// Not read by any plugin: streams through.
    Stream(Body),
    /// Read or replaced by a plugin.
    Buffered(Bytes),
    /// A plugin tried to read it and it was larger than the bound; the
    /// gateway answers 413 (or 502 for a response).
    TooLarge(u64),
    /// Reading it failed.
    Failed(String),
}

impl MessageBody {
    /// Reads the whole body (once), bounded by `limit` bytes. Returns the time
    /// spent waiting, which does not count against the plugin's deadline.
    pub async fn read(
        &mut self,
        headers: &HeaderMap,
        limit: u64,
    ) -> (Result<Bytes, BodyError>, Duration) {
        let started = Instant::now();
        let result = match std::mem::replace(self, MessageBody::Failed(String::new())) {
            MessageBody::Buffered(bytes) => Ok(bytes),
            MessageBody::TooLarge(size) => Err(BodyError::TooLarge(size)),
            MessageBody::Failed(reason) => Err(BodyError::ReadFailed(reason)),
            MessageBody::Stream(stream) => {
                let declared = headers
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                match declared {
                    Some(size) if size > limit => Err(BodyError::TooLarge(limit)),
                    _ => collect_bounded(stream, limit).await,
                }
            }
        };
        *self = match &result {
            Ok(bytes) => MessageBody::Buffered(bytes.clone()),
            Err(BodyError::TooLarge(limit)) => MessageBody::TooLarge(*limit),
            Err(BodyError::ReadFailed(reason)) => MessageBody::Failed(reason.clone()),
        };
        (result, started.elapsed())
    }

    /// Replaces the body and fixes the framing headers to match.
    pub fn replace(&mut self, headers: &mut HeaderMap, bytes: Bytes) {
        headers.remove(http::header::TRANSFER_ENCODING);
        headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        *self = MessageBody::Buffered(bytes);
    }

    /// Why the body cannot be sent, if a read failed.
    pub fn failure(&self) -> Option<BodyError> {
        match self {
            MessageBody::TooLarge(limit) => Some(BodyError::TooLarge(*limit)),
            MessageBody::Failed(reason) => Some(BodyError::ReadFailed(reason.clone())),
            _ => None,
        }
    }

    /// The body to send on.
    pub fn into_body(self) -> Body {
        match self {
            MessageBody::Stream(stream) => stream,
            MessageBody::Buffered(bytes) => body::full(bytes),
            MessageBody::TooLarge(_) | MessageBody::Failed(_) => body::empty(),
        }
    }
}

/// How long a plugin's read of a whole body may wait for the peer.
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads a body stream to its end, refusing more than `limit` bytes or
/// waiting more than [`BODY_READ_TIMEOUT`] in all.
async fn collect_bounded(stream: Body, limit: u64) -> Result<Bytes, BodyError> {
    tokio::time::timeout(BODY_READ_TIMEOUT, collect_all(stream, limit))
        .await
        .unwrap_or_else(|_| Err(BodyError::ReadFailed("timed out reading the body".into())))
}

async fn collect_all(mut stream: Body, limit: u64) -> Result<Bytes, BodyError> {
    let mut collected = BytesMut::new();
    while let Some(frame) = stream.frame().await {
        let frame = frame.map_err(|e| BodyError::ReadFailed(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if (collected.len() + data.len()) as u64 > limit {
                return Err(BodyError::TooLarge(limit));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

/// Header operations shared by requests and responses.
pub mod headers {
    use super::*;

    /// The first value of `name`, decoded as the contract says.
    pub fn get(map: &HeaderMap, name: &str) -> Option<String> {
        map.get(name).map(portico_contract::headers::text)
    }

    /// Every value of `name`, decoded.
    pub fn get_all(map: &HeaderMap, name: &str) -> Vec<String> {
        map.get_all(name)
            .iter()
            .map(portico_contract::headers::text)
            .collect()
    }

    /// The first value of `name`, as bytes.
    pub fn get_bytes(map: &HeaderMap, name: &str) -> Option<Vec<u8>> {
        map.get(name).map(|v| v.as_bytes().to_vec())
    }

    /// Every value of `name`, as bytes.
    pub fn get_all_bytes(map: &HeaderMap, name: &str) -> Vec<Vec<u8>> {
        map.get_all(name)
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect()
    }

    /// The distinct header names.
    pub fn names(map: &HeaderMap) -> Vec<String> {
        map.keys().map(|k| k.as_str().to_owned()).collect()
    }

    /// Replaces `name` with one `value`.
    pub fn set(map: &mut HeaderMap, name: &str, value: &str) -> Result<(), HeaderError> {
        let (name, value) = parse(name, value)?;
        map.insert(name, value);
        Ok(())
    }

    /// Appends `value` to `name`.
    pub fn append(map: &mut HeaderMap, name: &str, value: &str) -> Result<(), HeaderError> {
        let (name, value) = parse(name, value)?;
        map.append(name, value);
        Ok(())
    }

    /// Removes every value of `name`.
    pub fn remove(map: &mut HeaderMap, name: &str) {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            map.remove(name);
        }
    }

    /// Validates a header name and value from a plugin.
    pub fn parse(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), HeaderError> {
        use portico_contract::headers::{self, HeaderError as Refused};
        headers::parse(name, value).map_err(|refused| match refused {
            Refused::InvalidName(name) => HeaderError::InvalidName(name),
            Refused::InvalidValue(name) => HeaderError::InvalidValue(name),
        })
    }
}
