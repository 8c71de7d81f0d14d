//! [`MockRequest`] and [`MockResponse`]: messages to drive a
//! [`MockPlugin`](super::MockPlugin) with, built in the test and inspected
//! after the plugin ran.

use http::{Method, StatusCode};

use super::resources::{self, Body, Headers};
use crate::Reply;

/// Builder methods and inspectors both mock messages have.
macro_rules! mock_message_methods {
    ($ty:ident) => {
        /// Adds a header (appended to any earlier values).
        ///
        /// # Panics
        ///
        /// If the name or value is invalid.
        pub fn header(mut self, name: &str, value: &str) -> Self {
            if self.inner.headers.append(name, value).is_err() {
                panic!(
                    "{}::header: invalid header {name:?}: {value:?}",
                    stringify!($ty)
                );
            }
            self
        }

        /// Adds a header whose value is bytes, as a client may send them
        /// (obs-text, 0x80-0xFF, which [`header`](crate::Request::header)
        /// decodes with U+FFFD and
        /// [`header_bytes`](crate::Request::header_bytes) returns as is).
        ///
        /// # Panics
        ///
        /// If the name is invalid or the value has control characters.
        pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
            if self.inner.headers.append_bytes(name, value).is_err() {
                panic!(
                    "{}::header_bytes: invalid header {name:?}: {value:?}",
                    stringify!($ty)
                );
            }
            self
        }

        /// Sets the body the plugin reads.
        pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
            self.inner.body.bytes = body.into();
            self
        }

        /// Sets the route's `max_body_bytes`: reading a longer body fails as
        /// in the gateway (default: no limit).
        pub fn max_body_bytes(mut self, limit: u64) -> Self {
            self.inner.body.limit = Some(limit);
            self
        }

        /// The first value of the named header now (case-insensitive).
        pub fn header_value(&self, name: &str) -> Option<&str> {
            self.inner.headers.values(name).next()
        }

        /// Every value of the named header now, in order.
        pub fn header_values(&self, name: &str) -> Vec<&str> {
            self.inner.headers.values(name).collect()
        }

        /// The names of all headers now, lower-case, without repeats.
        pub fn header_names(&self) -> Vec<&str> {
            self.inner.headers.names().collect()
        }

        /// The body now.
        pub fn body_bytes(&self) -> &[u8] {
            &self.inner.body.bytes
        }
    };
}

/// A request for [`MockPlugin::on_request`](super::MockPlugin::on_request).
///
/// Defaults: scheme `http`, no authority, client `127.0.0.1`, route `test`,
/// no headers, empty body.
///
/// ```
/// # use portico_sdk::testing::MockRequest;
/// let req = MockRequest::post("/users/7?verbose=1")
///     .header("content-type", "application/json")
///     .param("id", "7")
///     .body(r#"{"name":"alice"}"#);
/// assert_eq!(req.path(), "/users/7");
/// assert_eq!(req.query(), Some("verbose=1"));
/// ```
#[derive(Debug, Clone)]
pub struct MockRequest {
    pub(crate) inner: resources::Request,
}

impl MockRequest {
    /// A request with `method` for `target` (path and optional `?query`).
    ///
    /// # Panics
    ///
    /// If `target` is not a valid path and query starting with `/`, or
    /// its path is one the gateway refuses (see the README's "Routing";
    /// e.g. an encoded `/`). The path is normalized as the gateway
    /// normalizes it before any plugin sees it: `/a/../b` is `/b`.
    pub fn new(method: Method, target: &str) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        let parsed = portico_contract::path::normalize_path(path)
            .and_then(|path| resources::target(&path, query));
        let target = match parsed {
            Ok(target) => target,
            Err(why) => panic!("MockRequest: invalid request target {target:?}: {why}"),
        };
        MockRequest {
            inner: resources::Request {
                method,
                scheme: "http".to_owned(),
                authority: None,
                target,
                headers: Headers::default(),
                params: Vec::new(),
                client_addr: "127.0.0.1".to_owned(),
                route_name: "test".to_owned(),
                body: Body::default(),
                response_phase: None,
            },
        }
    }

    /// A `GET` request.
    pub fn get(target: &str) -> Self {
        MockRequest::new(Method::GET, target)
    }

    /// A `POST` request.
    pub fn post(target: &str) -> Self {
        MockRequest::new(Method::POST, target)
    }

    /// A `PUT` request.
    pub fn put(target: &str) -> Self {
        MockRequest::new(Method::PUT, target)
    }

    /// A `DELETE` request.
    pub fn delete(target: &str) -> Self {
        MockRequest::new(Method::DELETE, target)
    }

    /// Sets the scheme (`http` or `https`).
    pub fn scheme(mut self, scheme: &str) -> Self {
        self.inner.scheme = scheme.to_owned();
        self
    }

    /// Sets the authority from the request target (without one, the `Host`
    /// header is the authority).
    pub fn authority(mut self, authority: &str) -> Self {
        self.inner.authority = Some(authority.to_owned());
        self
    }

    /// Adds a route capture, as the route's path regex would.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.inner.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the client's IP address.
    pub fn client_addr(mut self, addr: &str) -> Self {
        self.inner.client_addr = addr.to_owned();
        self
    }

    /// Sets the name of the matched route.
    pub fn route_name(mut self, name: &str) -> Self {
        self.inner.route_name = name.to_owned();
        self
    }

    mock_message_methods!(MockRequest);

    /// The method.
    pub fn method(&self) -> &Method {
        &self.inner.method
    }

    /// The path now (after any `set_path`).
    pub fn path(&self) -> &str {
        self.inner.target.path()
    }

    /// The query now, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.inner.target.query()
    }
}

/// A response for [`MockPlugin::on_response`](super::MockPlugin::on_response).
///
/// ```
/// # use portico_sdk::testing::MockResponse;
/// let res = MockResponse::new(404).header("content-type", "text/plain").body("nope");
/// assert_eq!(res.status().as_u16(), 404);
/// ```
#[derive(Debug, Clone)]
pub struct MockResponse {
    pub(crate) inner: resources::Response,
}

impl MockResponse {
    /// A response with `status`, no headers and an empty body.
    ///
    /// # Panics
    ///
    /// If `status` is not in 100..=999.
    pub fn new(status: u16) -> Self {
        let Ok(status) = StatusCode::from_u16(status) else {
            panic!("MockResponse: invalid status {status}");
        };
        MockResponse {
            inner: resources::Response {
                status,
                headers: Headers::default(),
                body: Body::default(),
            },
        }
    }

    /// The response the gateway makes of a plugin's [`Reply`], e.g. to pass
    /// it back through the `on_response` of earlier plugins.
    ///
    /// # Panics
    ///
    /// If a header of the reply is invalid.
    pub fn from_reply(reply: &Reply) -> Self {
        let res = MockResponse::new(reply.status().as_u16()).body(reply.body_bytes());
        reply
            .headers()
            .iter()
            .fold(res, |res, (name, value)| res.header(name, value))
    }

    mock_message_methods!(MockResponse);

    /// The status now.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }
}
