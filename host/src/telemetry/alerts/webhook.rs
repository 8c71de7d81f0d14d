//! Delivery of alert transitions: one task per webhook POSTs each event as
//! JSON, in order, with a timeout per attempt and retries with doubling
//! backoff. Runs off the request path; a webhook that stays down only
//! delays its own queue (bounded; the oldest undelivered events are
//! dropped with a warning).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use crate::config::AlertingConfig;

/// Events waiting per webhook.
const QUEUE: usize = 256;

/// Senders to every webhook's task.
#[derive(Clone, Default)]
pub struct Webhooks {
    queues: Vec<mpsc::Sender<Bytes>>,
}

/// How one webhook is reached.
#[derive(Clone)]
struct Delivery {
    url: http::Uri,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Webhooks {
    /// Starts one delivery task per configured webhook (URLs were checked
    /// by config validation; one that does not parse is skipped, logged).
    pub fn start(config: &AlertingConfig) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        let mut queues = Vec::new();
        for url in &config.webhooks {
            let Ok(uri) = url.parse::<http::Uri>() else {
                tracing::warn!(%url, "alert webhook is not a URL; skipped");
                continue;
            };
            let delivery = Delivery {
                url: uri,
                timeout: Duration::from_millis(config.timeout_ms),
                retries: config.retries,
                backoff: Duration::from_millis(config.backoff_ms),
                client: client.clone(),
            };
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(delivery.run(receiver));
            queues.push(sender);
        }
        Webhooks { queues }
    }

    /// Queues `payload` (JSON) for every webhook.
    pub fn send(&self, payload: Bytes) {
        for queue in &self.queues {
            if queue.try_send(payload.clone()).is_err() {
                tracing::warn!("alert webhook queue full; event dropped");
            }
        }
    }
}

impl Delivery {
    async fn run(self, mut events: mpsc::Receiver<Bytes>) {
        while let Some(payload) = events.recv().await {
            self.deliver(payload).await;
        }
    }

    async fn deliver(&self, payload: Bytes) {
        let mut backoff = self.backoff;
        for attempt in 0..=self.retries {
            match self.post(payload.clone()).await {
                Ok(()) => return,
                Err(reason) if attempt < self.retries => {
                    tracing::debug!(url = %self.url, attempt, %reason, "alert webhook failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(reason) => {
                    tracing::warn!(url = %self.url, attempts = attempt + 1, %reason, "alert webhook failed; event not delivered");
                }
            }
        }
    }

    async fn post(&self, payload: Bytes) -> Result<(), String> {
        let request = Request::post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "portico-alerts")
            .body(Full::new(payload))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            // Read the body so the connection can be reused.
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("answered {status}"))
            }
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }
}
