//! A gateway with its monitor (live stats, alerts, analytics), whose
//! endpoints are on the admin listener, and a webhook receiver.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use portico::telemetry::monitor::Monitor;
use tokio::sync::mpsc;

use crate::support::{TestGateway, TestResponse};

/// The gateway (with the prelude's admin listener), its monitor and the
/// admin address.
pub struct Monitored {
    pub gateway: TestGateway,
    pub monitor: Arc<Monitor>,
    pub admin: SocketAddr,
}

/// Starts the gateway for `toml` (a config with `[admin]`, as the
/// prelude has).
pub async fn monitored(toml: &str) -> Monitored {
    let gateway = crate::support::gateway(toml).await;
    Monitored {
        monitor: gateway.monitor(),
        admin: gateway.admin.expect("the config has [admin]"),
        gateway,
    }
}

impl Monitored {
    /// `GET path` on the admin listener.
    pub async fn admin_get(&self, path: &str) -> TestResponse {
        self.gateway.admin_get(path).await
    }

    /// Stops the gateway (draining) and the monitor (writing analytics).
    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
    }
}

/// A webhook receiver on 127.0.0.1: every POST body, parsed as JSON, in
/// arrival order. The first `fail_first` requests are answered 503.
pub struct Receiver {
    pub url: String,
    pub posts: mpsc::UnboundedReceiver<serde_json::Value>,
    pub attempts: Arc<AtomicUsize>,
}

/// Starts a [`Receiver`].
pub async fn webhook_receiver(fail_first: usize) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, posts) = mpsc::unbounded_channel();
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let sender = sender.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let sender = sender.clone();
                    let seen = seen.clone();
                    async move {
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let attempt = seen.fetch_add(1, Ordering::SeqCst);
                        let status = if attempt < fail_first {
                            StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            let json = serde_json::from_slice(&body).expect("webhook body is JSON");
                            let _ = sender.send(json);
                            StatusCode::NO_CONTENT
                        };
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        posts,
        attempts,
    }
}
