//! Active health checks: every `interval_ms`, a `GET path` to each target
//! of the current set; a check passes when response headers with an
//! expected status arrive within `timeout_ms`. `unhealthy_threshold`
//! failures in a row take a target out, `healthy_threshold` passes in a row
//! bring it back (and end a passive ejection).

use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::body;
use crate::config::HealthCheckConfig;
use crate::data::upstream::backend::Backend;
use crate::data::upstream::client::UpstreamClient;
use crate::data::upstream::set::Targets;

/// Checks the targets of one upstream.
#[derive(Clone)]
pub struct HealthChecker {
    upstream: Arc<str>,
    client: UpstreamClient,
    scheme: &'static str,
    config: Arc<HealthCheckConfig>,
}

impl HealthChecker {
    /// A checker sending its requests through `client` (its own pool, so
    /// checks do not count in the upstream's connection stats).
    pub fn new(
        upstream: Arc<str>,
        client: UpstreamClient,
        scheme: &'static str,
        config: &HealthCheckConfig,
    ) -> Self {
        HealthChecker {
            upstream,
            client,
            scheme,
            config: Arc::new(config.clone()),
        }
    }

    /// Checks every target each interval, forever.
    pub async fn run(self, targets: Arc<Targets>) {
        let mut ticker = tokio::time::interval(Duration::from_millis(self.config.interval_ms));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let mut checks = JoinSet::new();
            for backend in targets.load().backends() {
                let (checker, backend) = (self.clone(), backend.clone());
                checks.spawn(async move { checker.check(&backend).await });
            }
            while checks.join_next().await.is_some() {}
        }
    }

    async fn check(&self, backend: &Backend) -> bool {
        let uri = format!(
            "{}://{}{}",
            self.scheme, backend.target.addr, self.config.path
        );
        let Ok(request) = Request::get(uri).body(body::empty()) else {
            return false;
        };
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let passed = match tokio::time::timeout(timeout, self.client.request(request)).await {
            Ok(Ok(response)) => self.expected(response.status()),
            Ok(Err(_)) | Err(_) => false,
        };
        let (healthy, unhealthy) = (
            self.config.healthy_threshold,
            self.config.unhealthy_threshold,
        );
        match backend.health.record_check(passed, healthy, unhealthy) {
            Some(true) => {
                tracing::info!(upstream = %self.upstream, target = %backend.target.addr, "target healthy again")
            }
            Some(false) => {
                tracing::warn!(upstream = %self.upstream, target = %backend.target.addr, "target unhealthy")
            }
            None => {}
        }
        passed
    }

    fn expected(&self, status: StatusCode) -> bool {
        if self.config.expected_status.is_empty() {
            status.is_success()
        } else {
            self.config.expected_status.contains(&status.as_u16())
        }
    }
}
