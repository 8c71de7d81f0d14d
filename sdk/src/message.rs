//! [`Request`] and [`Response`]: the message in flight, as the plugin sees it.
//!
//! Both are handles onto the host's copy, valid for one call: each method
//! asks the host (natively: the mock host) and copies only what it returns.

use http::{Method, StatusCode};

use crate::imports::{RequestHandle, ResponseHandle};
use crate::{Error, ResponsePhase};

/// The header methods [`Request`] and [`Response`] share; `self.inner` is the
/// host's resource, which has the same methods for both.
macro_rules! header_methods {
    () => {
        /// The first value of the named header (case-insensitive). Names
        /// and values may be `&str`, `String` or the config's
        /// [`HeaderName`](crate::config::HeaderName) and
        /// [`HeaderValue`](crate::config::HeaderValue), here and in the
        /// setters.
        pub fn header(&self, name: impl AsRef<str>) -> Option<String> {
            self.inner.header(name.as_ref())
        }

        /// Every value of the named header, in order.
        pub fn header_all(&self, name: impl AsRef<str>) -> Vec<String> {
            self.inner.header_all(name.as_ref())
        }

        /// The first value of the named header as it came, bytes. A value
        /// that is not UTF-8 (HTTP allows bytes 0x80-0xFF, obs-text) is
        /// decoded by [`header`](Self::header) with U+FFFD in place of the
        /// bytes; this is the value itself.
        pub fn header_bytes(&self, name: impl AsRef<str>) -> Option<Vec<u8>> {
            self.inner.header_bytes(name.as_ref())
        }

        /// Every value of the named header as it came, bytes, in order.
        pub fn header_all_bytes(&self, name: impl AsRef<str>) -> Vec<Vec<u8>> {
            self.inner.header_all_bytes(name.as_ref())
        }

        /// The names of all headers present, lower-case, without repeats.
        pub fn header_names(&self) -> Vec<String> {
            self.inner.header_names()
        }

        /// Replaces all values of the named header with one value. Fails if
        /// the name is not a valid header name or the value contains control
        /// characters (CR, LF, NUL, ...).
        pub fn set_header(
            &mut self,
            name: impl AsRef<str>,
            value: impl AsRef<str>,
        ) -> Result<(), Error> {
            Ok(self.inner.set_header(name.as_ref(), value.as_ref())?)
        }

        /// Adds a value to the named header, keeping existing ones. Fails like
        /// [`set_header`](Self::set_header).
        pub fn append_header(
            &mut self,
            name: impl AsRef<str>,
            value: impl AsRef<str>,
        ) -> Result<(), Error> {
            Ok(self.inner.append_header(name.as_ref(), value.as_ref())?)
        }

        /// Removes every value of the named header (nothing if absent).
        pub fn remove_header(&mut self, name: impl AsRef<str>) {
            self.inner.remove_header(name.as_ref())
        }
    };
}

/// The request as the gateway received it, with the changes made by the
/// plugins before this one in the chain. Changes go upstream.
pub struct Request<'a> {
    inner: RequestHandle<'a>,
    response_phase: Option<ResponsePhase>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(inner: RequestHandle<'a>) -> Self {
        Request {
            inner,
            response_phase: None,
        }
    }

    /// Says what this plugin's `on_response` needs for this request,
    /// overriding [`Plugin::RESPONSE_PHASE`](crate::Plugin::RESPONSE_PHASE);
    /// the last call counts. E.g. a rate limiter that adds no headers this
    /// time: `req.set_response_phase(ResponsePhase::Skip)`.
    pub fn set_response_phase(&mut self, phase: ResponsePhase) {
        self.response_phase = Some(phase);
    }

    /// The phase `set_response_phase` chose, if it was called.
    pub(crate) fn response_phase(&self) -> Option<ResponsePhase> {
        self.response_phase
    }

    /// Tells the host what the response phase needs (once, after
    /// `on_request`).
    pub(crate) fn send_response_phase(&mut self, phase: ResponsePhase) {
        // Natively the mock resource takes the SDK's type as it is.
        #[allow(clippy::useless_conversion)]
        self.inner.set_response_phase(phase.into());
    }

    /// The method.
    pub fn method(&self) -> Method {
        let method = self.inner.method();
        // The host sends `http::Method::as_str()`, always a valid token. Were
        // it ever not, a method no policy allows beats a panic.
        Method::from_bytes(method.as_bytes())
            .or_else(|_| Method::from_bytes(b"INVALID"))
            .unwrap_or_default()
    }

    /// `http` or `https`, as the client connected.
    pub fn scheme(&self) -> String {
        self.inner.scheme()
    }

    /// The authority (host and optional port) from the request target or the
    /// `Host` header.
    pub fn authority(&self) -> Option<String> {
        self.inner.authority()
    }

    /// The path, normalized (dot segments removed), without the query.
    pub fn path(&self) -> String {
        self.inner.path()
    }

    /// Replaces the path forwarded upstream (the query is kept). Must start
    /// with `/` and be a valid URI path.
    pub fn set_path(&mut self, path: &str) -> Result<(), Error> {
        self.inner.set_path(path).map_err(Error::from)
    }

    /// The query string without the leading `?`, if any.
    pub fn query(&self) -> Option<String> {
        self.inner.query()
    }

    /// Replaces (or with `None` removes) the query string forwarded upstream.
    pub fn set_query(&mut self, query: Option<&str>) -> Result<(), Error> {
        self.inner.set_query(query).map_err(Error::from)
    }

    header_methods!();

    /// A named capture from the route's path regex, e.g. `id` for
    /// `^/users/(?P<id>[0-9]+)$`.
    pub fn param(&self, name: &str) -> Option<String> {
        self.inner.route_param(name)
    }

    /// The client's IP address as the gateway's socket saw it (the
    /// unspecified address `0.0.0.0` should a host ever send something
    /// that is not one; the gateway always sends the socket's address).
    pub fn client_addr(&self) -> std::net::IpAddr {
        self.inner
            .client_addr()
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    /// The name of the route that matched.
    pub fn route_name(&self) -> String {
        self.inner.route_name()
    }

    /// Reads the whole body, up to the route's `max_body_bytes` (beyond it,
    /// the gateway answers 413 whatever the plugin does). The body streams
    /// upstream untouched unless a plugin calls this; later calls return the
    /// buffer.
    pub fn body(&self) -> Result<Vec<u8>, Error> {
        Ok(self.inner.body()?)
    }

    /// Replaces the body forwarded upstream; `content-length` is updated.
    pub fn set_body(&mut self, body: impl AsRef<[u8]>) {
        self.inner.set_body(body.as_ref())
    }
}

/// The upstream's response (or a plugin's reply), with the changes made by
/// the plugins after this one in the chain, which run first on the way back.
/// Changes go to the client.
pub struct Response<'a> {
    inner: ResponseHandle<'a>,
}

impl<'a> Response<'a> {
    pub(crate) fn new(inner: ResponseHandle<'a>) -> Self {
        Response { inner }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        // The host only holds valid codes (100..=999).
        StatusCode::from_u16(self.inner.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Replaces the status code.
    pub fn set_status(&mut self, status: StatusCode) -> Result<(), Error> {
        self.inner.set_status(status.as_u16()).map_err(Error::from)
    }

    header_methods!();

    /// Reads the whole body, up to the route's `max_body_bytes`.
    pub fn body(&self) -> Result<Vec<u8>, Error> {
        Ok(self.inner.body()?)
    }

    /// Replaces the body sent to the client; `content-length` is updated.
    pub fn set_body(&mut self, body: impl AsRef<[u8]>) {
        self.inner.set_body(body.as_ref())
    }
}
