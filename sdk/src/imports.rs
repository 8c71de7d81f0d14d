//! The host's functions, as the rest of the SDK calls them: the component's
//! WIT imports on wasm32, the in-memory mock host natively. Both have the same
//! shape, so everything above this module is written once.

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::imports::{
    cache, clock, context, kv, log, metrics, outbound, types,
};
#[cfg(target_arch = "wasm32")]
pub(crate) use crate::wit::bindings::portico::plugin::{
    cache, clock, context, http as outbound, kv, log, metrics, types,
};

/// How [`Request`](crate::Request) holds the host's request for one call.
#[cfg(target_arch = "wasm32")]
pub(crate) type RequestHandle<'a> = &'a types::Request;
/// How [`Request`](crate::Request) holds the host's request for one call.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type RequestHandle<'a> = &'a mut types::Request;

/// How [`Response`](crate::Response) holds the host's response for one call.
#[cfg(target_arch = "wasm32")]
pub(crate) type ResponseHandle<'a> = &'a types::Response;
/// How [`Response`](crate::Response) holds the host's response for one call.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type ResponseHandle<'a> = &'a mut types::Response;
