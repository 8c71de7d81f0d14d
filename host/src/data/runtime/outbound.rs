//! The `http` capability's client: one per plugin entry, built from its
//! grant (`http = { allow = [..], .. }`).
//!
//! A request is checked before anything is sent: an absolute `http` or
//! `https` URL whose scheme, host and port one of the grant's `allow`
//! entries names, a method and headers that parse, a body within
//! `max_request_bytes`. It then goes through a pooled hyper client (HTTPS
//! with rustls, verified against the system's roots or the grant's
//! `ca_file`), and the whole exchange, the response body included, is
//! bounded by `timeout_ms` and `max_response_bytes`. Redirects are
//! returned, not followed. Each request is counted per plugin and
//! destination (`portico_plugin_http_requests_total`, by outcome) and
//! timed (`portico_plugin_http_duration_seconds`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::outbound::{Destination, HttpGrantConfig};
use crate::data::observe::metrics::{PLUGIN_HTTP_DURATION, PLUGIN_HTTP_REQUESTS, status_class};

/// Why an outbound request got no response (the WIT `http-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OutboundError {
    /// Not a destination of the grant; nothing was sent.
    #[error("denied: {0}")]
    Denied(String),
    /// The request is not acceptable; nothing was sent.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// No complete response within the timeout.
    #[error("no complete response within the timeout")]
    Timeout,
    /// The connection could not be made.
    #[error("connect: {0}")]
    Connect(String),
    /// The TLS handshake failed.
    #[error("tls: {0}")]
    Tls(String),
    /// The response body is over the limit.
    #[error("the response body is larger than max_response_bytes")]
    TooLarge,
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl OutboundError {
    fn outcome(&self) -> &'static str {
        match self {
            OutboundError::Denied(_) => "denied",
            OutboundError::Invalid(_) => "invalid",
            OutboundError::Timeout => "timeout",
            OutboundError::Connect(_) => "connect",
            OutboundError::Tls(_) => "tls",
            OutboundError::TooLarge => "too_large",
            OutboundError::Other(_) => "error",
        }
    }
}

/// A response, body read whole.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One plugin entry's outbound client.
pub(crate) struct OutboundHttp {
    plugin: Arc<str>,
    allow: Vec<Destination>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_response: usize,
    max_request: usize,
}

impl OutboundHttp {
    /// The client of `plugin`'s grant; an error names what cannot be
    /// loaded (the `ca_file`).
    pub(crate) fn new(plugin: Arc<str>, grant: &HttpGrantConfig) -> Result<Self, String> {
        let allow = grant
            .allow
            .iter()
            .map(|entry| Destination::parse(entry))
            .collect::<Result<Vec<_>, _>>()?;
        let mut roots = rustls::RootCertStore::empty();
        match &grant.ca_file {
            Some(path) => {
                let certificates = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                if certificates.is_empty() {
                    return Err(format!("ca_file {}: no certificate", path.display()));
                }
                for certificate in certificates {
                    roots
                        .add(certificate)
                        .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                }
            }
            None => {
                for certificate in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(certificate);
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let timeout = Duration::from_millis(grant.timeout_ms);
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(16)
            .build(connector);
        Ok(OutboundHttp {
            plugin,
            allow,
            client,
            timeout,
            max_response: grant.max_response_bytes,
            max_request: grant.max_request_bytes,
        })
    }

    /// Checks and sends one request, and reads its whole response.
    pub(crate) async fn send(
        &self,
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Answer, OutboundError> {
        let (request, destination) = match self.check(method, url, headers, body) {
            Ok(checked) => checked,
            Err(error) => {
                self.count("-", error.outcome());
                return Err(error);
            }
        };
        let started = Instant::now();
        let exchange = async {
            let response = self.client.request(request).await.map_err(classify)?;
            let (head, body) = response.into_parts();
            let body = Limited::new(body, self.max_response)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        OutboundError::TooLarge
                    } else {
                        OutboundError::Other(e.to_string())
                    }
                })?
                .to_bytes();
            let headers = head
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect();
            Ok(Answer {
                status: head.status.as_u16(),
                headers,
                body: body.to_vec(),
            })
        };
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(OutboundError::Timeout),
        };
        let labels = [
            ("plugin", self.plugin.to_string()),
            ("destination", destination.clone()),
        ];
        metrics::histogram!(PLUGIN_HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(answer) => status_class(answer.status),
            Err(error) => error.outcome(),
        };
        self.count(&destination, outcome);
        result
    }

    /// The request to send and its destination (`scheme://host:port`), or
    /// why it may not be sent.
    fn check(
        &self,
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(Request<Full<Bytes>>, String), OutboundError> {
        let invalid = |what: String| OutboundError::Invalid(what);
        let uri: Uri = url
            .parse()
            .map_err(|e| invalid(format!("`{url}` is not a URL: {e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(invalid(format!(
                    "`{url}` is not an absolute http or https URL"
                )));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid(format!("`{url}` has no host")))?
            .to_ascii_lowercase();
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(invalid(
                "credentials in the URL are not sent; use a header".into(),
            ));
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let scheme = if https { "https" } else { "http" };
        let destination = format!("{scheme}://{host}:{port}");
        if !self.allow.iter().any(|d| d.allows(https, &host, port)) {
            return Err(OutboundError::Denied(format!(
                "{destination} is not in this plugin entry's `http.allow`"
            )));
        }
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| invalid(format!("`{method}` is not an HTTP method")))?;
        if body.len() > self.max_request {
            return Err(invalid(format!(
                "the body ({} bytes) is larger than max_request_bytes ({})",
                body.len(),
                self.max_request
            )));
        }
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
            if is_connection_header(&name) {
                return Err(invalid(format!("`{name}` is set by the host")));
            }
            let value = HeaderValue::from_str(&value)
                .map_err(|_| invalid(format!("the value of `{name}` is not a header value")))?;
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| invalid(e.to_string()))?;
        Ok((request, destination))
    }

    fn count(&self, destination: &str, outcome: &'static str) {
        metrics::counter!(
            PLUGIN_HTTP_REQUESTS,
            "plugin" => self.plugin.to_string(),
            "destination" => destination.to_owned(),
            "outcome" => outcome,
        )
        .increment(1);
    }
}

/// Headers about the connection or the message's framing, which the host
/// owns.
fn is_connection_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
            | "connection"
            | "content-length"
            | "transfer-encoding"
            | "upgrade"
            | "keep-alive"
            | "te"
            | "trailer"
            | "proxy-connection"
    )
}

/// A client error as the WIT's: TLS and connect failures told apart by
/// their causes.
fn classify(error: hyper_util::client::legacy::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&error);
    let mut tls = None;
    let mut text = error.to_string();
    while let Some(cause) = source {
        if cause.downcast_ref::<rustls::Error>().is_some() {
            tls = Some(cause.to_string());
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && inner.downcast_ref::<rustls::Error>().is_some()
        {
            tls = Some(inner.to_string());
        }
        text = cause.to_string();
        source = cause.source();
    }
    match tls {
        Some(reason) => OutboundError::Tls(reason),
        None if error.is_connect() => OutboundError::Connect(text),
        None => OutboundError::Other(text),
    }
}
