//! The mock host's side of the `http` capability: answers stubbed per
//! method and URL, and every request the plugin sent, for assertions.
//!
//! It refuses what the gateway refuses before sending: a URL that is not
//! absolute `http` or `https`, and the headers the host owns (`host`,
//! `content-length`, `connection`, ...). A request with no stub is denied,
//! as the gateway denies a destination its grant does not allow.

use super::errors::HttpError;
use super::imports::outbound::{IncomingResponse, OutgoingRequest};
use crate::outbound::HttpError as SdkError;

/// A request the plugin sent through the mock host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// The method.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl SentRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A stubbed answer.
#[derive(Debug, Clone)]
enum Stub {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Error(SdkError),
}

/// The stubs and the requests sent.
#[derive(Debug, Default)]
pub(crate) struct HttpStubs {
    stubs: Vec<(String, String, Stub)>,
    pub(crate) sent: Vec<SentRequest>,
}

const HOST_OWNED: [&str; 9] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "upgrade",
    "keep-alive",
    "te",
    "trailer",
    "proxy-connection",
];

impl HttpStubs {
    /// Answers `method url` with `response` from now on.
    pub(crate) fn stub(&mut self, method: &str, url: &str, response: http::Response<Vec<u8>>) {
        let (head, body) = response.into_parts();
        let headers = head
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        self.set(
            method,
            url,
            Stub::Response {
                status: head.status.as_u16(),
                headers,
                body,
            },
        );
    }

    /// Fails `method url` with `error` from now on.
    pub(crate) fn fail(&mut self, method: &str, url: &str, error: SdkError) {
        self.set(method, url, Stub::Error(error));
    }

    fn set(&mut self, method: &str, url: &str, stub: Stub) {
        let method = method.to_ascii_uppercase();
        self.stubs.retain(|(m, u, _)| !(*m == method && u == url));
        self.stubs.push((method, url.to_owned(), stub));
    }

    /// The answer to `request`, recording it when it would be sent.
    pub(crate) fn answer(
        &mut self,
        request: &OutgoingRequest,
    ) -> Result<IncomingResponse, HttpError> {
        if !(request.url.starts_with("https://") || request.url.starts_with("http://")) {
            return Err(HttpError::InvalidRequest(format!(
                "`{}` is not an absolute http or https URL",
                request.url
            )));
        }
        if let Some((name, _)) = request
            .headers
            .iter()
            .find(|(n, _)| HOST_OWNED.contains(&n.to_ascii_lowercase().as_str()))
        {
            return Err(HttpError::InvalidRequest(format!(
                "`{name}` is set by the host"
            )));
        }
        let method = request.method.to_ascii_uppercase();
        let Some((_, _, stub)) = self
            .stubs
            .iter()
            .find(|(m, u, _)| *m == method && *u == request.url)
        else {
            return Err(HttpError::Denied(format!(
                "MockHost: no stub for {method} {} (add one with MockHost::stub_http; the gateway denies a destination its grant does not allow)",
                request.url
            )));
        };
        let stub = stub.clone();
        self.sent.push(SentRequest {
            method,
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        });
        match stub {
            Stub::Response {
                status,
                headers,
                body,
            } => Ok(IncomingResponse {
                status,
                headers,
                body,
            }),
            Stub::Error(error) => Err(match error {
                SdkError::Denied(why) => HttpError::Denied(why),
                SdkError::InvalidRequest(why) => HttpError::InvalidRequest(why),
                SdkError::Timeout => HttpError::Timeout,
                SdkError::Connect(why) => HttpError::Connect(why),
                SdkError::Tls(why) => HttpError::Tls(why),
                SdkError::TooLarge => HttpError::TooLarge,
                SdkError::Other(why) => HttpError::Other(why),
            }),
        }
    }
}
