//! The pooled HTTP client of an upstream: keep-alive connections per
//! target, closed after `idle_timeout_ms`; HTTP/2 when configured.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::connector::Connector;
use super::stats::UpstreamStats;
use super::tls::UpstreamTls;
use crate::body::Body;
use crate::config::{UpstreamConfig, UpstreamProtocol};

/// The client requests to an upstream's targets go through.
pub type UpstreamClient = Client<Connector, Body>;

/// Builds a pooled client for `config`; connections are counted into
/// `stats` when given.
pub fn build(
    config: &UpstreamConfig,
    tls: Option<UpstreamTls>,
    stats: Option<Arc<UpstreamStats>>,
) -> UpstreamClient {
    let plain = tls.is_none();
    let connector = Connector::new(tls, Duration::from_millis(config.connect_timeout_ms), stats);
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_millis(config.idle_timeout_ms))
        .pool_max_idle_per_host(config.max_idle_per_target);
    // Over TLS, ALPN decides; in clear text h2 needs prior knowledge.
    if config.protocol == UpstreamProtocol::H2 && plain {
        builder.http2_only(true);
    }
    builder.build(connector)
}
