//! A minimal HTTP/1 listener that serves only the monitor's endpoints: a
//! stand-in until the admin listener mounts [`super::http::respond`].
//! Bind it to loopback; it has no authentication.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::Monitor;
use crate::body;

/// Serves the monitor's endpoints on `listener` until the task is aborted.
pub fn spawn(listener: TcpListener, monitor: Arc<Monitor>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let monitor = monitor.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<Incoming>| {
                    let monitor = monitor.clone();
                    async move {
                        let response = match super::http::respond(&monitor, &request).await {
                            Some(response) => response,
                            None => {
                                let mut response = Response::new(body::full("not found\n"));
                                *response.status_mut() = StatusCode::NOT_FOUND;
                                response
                            }
                        };
                        Ok::<_, Infallible>(response)
                    }
                });
                let io = TokioIo::new(stream);
                if let Err(error) = http1::Builder::new().serve_connection(io, service).await {
                    tracing::debug!(%error, "monitor connection ended");
                }
            });
        }
    })
}

/// Binds `addr` and serves the monitor there; returns the bound address.
pub async fn bind(
    addr: SocketAddr,
    monitor: Arc<Monitor>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, spawn(listener, monitor)))
}
