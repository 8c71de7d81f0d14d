//! Upstreams: named sets of targets reached through a pooled keep-alive
//! client. (Static targets with round robin; discovery, health and other
//! balancing algorithms build on this.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::body::Body;
use crate::config::UpstreamConfig;
use crate::error::ProxyError;

/// A named upstream.
pub struct Upstream {
    name: String,
    targets: Vec<String>,
    next: AtomicUsize,
    client: Client<HttpConnector, Body>,
    response_timeout: Duration,
}

impl Upstream {
    /// Builds an upstream and its connection pool.
    pub fn new(name: &str, config: &UpstreamConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_millis(config.connect_timeout_ms)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(config.max_idle_per_target)
            .build(connector);
        Upstream {
            name: name.to_owned(),
            targets: config.targets.clone(),
            next: AtomicUsize::new(0),
            client,
            response_timeout: Duration::from_millis(config.response_timeout_ms),
        }
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next target, round robin.
    pub fn pick(&self) -> &str {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.targets[i % self.targets.len()]
    }

    /// Sends a request whose URI already names the target, waiting at most
    /// the response timeout for the response headers.
    pub async fn send(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<Incoming>, ProxyError> {
        match tokio::time::timeout(self.response_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(ProxyError::UpstreamUnreachable {
                upstream: self.name.clone(),
                reason: error_chain(&error),
            }),
            Err(_) => Err(ProxyError::UpstreamTimeout {
                upstream: self.name.clone(),
                after: self.response_timeout,
            }),
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
