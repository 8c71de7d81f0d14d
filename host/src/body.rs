//! The body type that flows through the proxy: streamed or buffered.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};

/// Errors a body stream can yield.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request or response body: the client's or upstream's stream passed
/// through untouched, or bytes a plugin or the gateway produced.
pub(crate) type Body = BoxBody<Bytes, BoxError>;

/// Marks a response the gateway or a plugin made, not an upstream: a
/// problem+json error or a plugin's reply. Protocol adapters (gRPC) may
/// reshape such a response; an upstream's they pass on as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GatewayMade;

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Wraps a body received by hyper (from a client or an upstream).
pub fn stream<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed()
}
