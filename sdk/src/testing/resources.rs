//! In-memory `request` and `response` resources with the methods (and
//! validation) of the gateway's, plus the WIT error types they return.

use http::header::{CONTENT_LENGTH, HOST};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

/// Mirror of the WIT `header-error`.
pub(crate) enum HeaderError {
    InvalidName(String),
    InvalidValue(String),
}

/// Mirror of the WIT `body-error`.
pub(crate) enum BodyError {
    TooLarge(u64),
    // Never produced by the mock; here so the shared conversion matches the
    // bindings' variants.
    #[allow(dead_code, reason = "never produced by the mock")]
    ReadFailed(String),
}

/// Header storage with the gateway's semantics.
#[derive(Debug, Clone, Default)]
pub(crate) struct Headers(HeaderMap);

impl Headers {
    /// Validates with the gateway's rules (the contract's).
    pub(crate) fn parse(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), HeaderError> {
        use portico_contract::headers::{self, HeaderError as Refused};
        headers::parse(name, value).map_err(|refused| match refused {
            Refused::InvalidName(name) => HeaderError::InvalidName(name),
            Refused::InvalidValue(name) => HeaderError::InvalidValue(name),
        })
    }

    pub(crate) fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        let (name, value) = Headers::parse(name, value)?;
        self.0.insert(name, value);
        Ok(())
    }

    pub(crate) fn append(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        let (name, value) = Headers::parse(name, value)?;
        self.0.append(name, value);
        Ok(())
    }

    pub(crate) fn remove(&mut self, name: &str) {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            self.0.remove(name);
        }
    }

    /// Appends a value given as bytes (a client's obs-text), checked as the
    /// `http` crate checks what it receives.
    pub(crate) fn append_bytes(&mut self, name: &str, value: &[u8]) -> Result<(), HeaderError> {
        let (name, _) = Headers::parse(name, "")?;
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| HeaderError::InvalidValue(name.as_str().to_owned()))?;
        self.0.append(name, value);
        Ok(())
    }

    /// Every value of `name` as stored.
    pub(crate) fn raw<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a HeaderValue> {
        self.0.get_all(name).into_iter()
    }

    /// The values of `name` that are UTF-8 (for a test's assertions; a
    /// value added with bytes that are not is left out).
    pub(crate) fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.raw(name)
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(HeaderName::as_str)
    }

    fn set_content_length(&mut self, len: usize) {
        self.0.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}

/// A body, with the route's `max_body_bytes`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Body {
    pub(crate) bytes: Vec<u8>,
    pub(crate) limit: Option<u64>,
}

impl Body {
    fn read(&self) -> Result<Vec<u8>, BodyError> {
        match self.limit {
            Some(limit) if self.bytes.len() as u64 > limit => Err(BodyError::TooLarge(limit)),
            _ => Ok(self.bytes.clone()),
        }
    }
}

/// The methods (headers, body) both resources have, as the WIT declares them.
macro_rules! shared_resource_methods {
    () => {
        pub(crate) fn header(&self, name: &str) -> Option<String> {
            self.headers
                .raw(name)
                .next()
                .map(portico_contract::headers::text)
        }

        pub(crate) fn header_all(&self, name: &str) -> Vec<String> {
            self.headers
                .raw(name)
                .map(portico_contract::headers::text)
                .collect()
        }

        pub(crate) fn header_bytes(&self, name: &str) -> Option<Vec<u8>> {
            self.headers.raw(name).next().map(|v| v.as_bytes().to_vec())
        }

        pub(crate) fn header_all_bytes(&self, name: &str) -> Vec<Vec<u8>> {
            self.headers
                .raw(name)
                .map(|v| v.as_bytes().to_vec())
                .collect()
        }

        pub(crate) fn header_names(&self) -> Vec<String> {
            self.headers.names().map(str::to_owned).collect()
        }

        pub(crate) fn set_header(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
            self.headers.set(name, value)
        }

        pub(crate) fn append_header(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
            self.headers.append(name, value)
        }

        pub(crate) fn remove_header(&mut self, name: &str) {
            self.headers.remove(name)
        }

        pub(crate) fn body(&self) -> Result<Vec<u8>, BodyError> {
            self.body.read()
        }

        pub(crate) fn set_body(&mut self, body: &[u8]) {
            self.body.bytes = body.to_vec();
            self.headers.set_content_length(body.len());
        }
    };
}

/// The mock `request` resource.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) scheme: String,
    pub(crate) authority: Option<String>,
    pub(crate) target: PathAndQuery,
    pub(crate) headers: Headers,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) client_addr: String,
    pub(crate) route_name: String,
    pub(crate) body: Body,
    /// What the plugin running on it said its response phase needs.
    pub(crate) response_phase: Option<crate::ResponsePhase>,
}

/// Parses `path` and `query` into a request target like the gateway does.
pub(crate) fn target(path: &str, query: Option<&str>) -> Result<PathAndQuery, String> {
    let target = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    target
        .parse()
        .map_err(|_| format!("`{target}` is not a valid path and query"))
}

impl Request {
    pub(crate) fn method(&self) -> String {
        self.method.as_str().to_owned()
    }

    pub(crate) fn scheme(&self) -> String {
        self.scheme.clone()
    }

    pub(crate) fn authority(&self) -> Option<String> {
        self.authority
            .clone()
            .or_else(|| self.header(HOST.as_str()))
    }

    pub(crate) fn path(&self) -> String {
        self.target.path().to_owned()
    }

    /// As the gateway: `?` and `#` refused, the path normalized (the
    /// contract's rules).
    pub(crate) fn set_path(&mut self, path: &str) -> Result<(), String> {
        let path = portico_contract::path::plugin_path(path)?;
        self.target = target(&path, self.target.query())?;
        Ok(())
    }

    pub(crate) fn query(&self) -> Option<String> {
        self.target.query().map(str::to_owned)
    }

    pub(crate) fn set_query(&mut self, query: Option<&str>) -> Result<(), String> {
        self.target = target(self.target.path(), query)?;
        Ok(())
    }

    shared_resource_methods!();

    pub(crate) fn route_param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn client_addr(&self) -> String {
        self.client_addr.clone()
    }

    pub(crate) fn route_name(&self) -> String {
        self.route_name.clone()
    }

    pub(crate) fn set_response_phase(&mut self, phase: crate::ResponsePhase) {
        self.response_phase = Some(phase);
    }
}

/// The mock `response` resource.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: Headers,
    pub(crate) body: Body,
}

impl Response {
    pub(crate) fn status(&self) -> u16 {
        self.status.as_u16()
    }

    pub(crate) fn set_status(&mut self, status: u16) -> Result<(), String> {
        self.status = StatusCode::from_u16(status)
            .map_err(|_| format!("{status} is not a valid status code"))?;
        Ok(())
    }

    shared_resource_methods!();
}
