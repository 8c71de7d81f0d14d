//! Test upstreams for the upstream tests: echo servers that can be killed
//! and brought back on the same address, slowed down, or served over TLS.
//! Each answers every path `200` with `x-upstream: <name>`, `x-version`
//! (the HTTP version it received) and a JSON echo of method, path and body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A running (or killed) echo upstream.
pub struct EchoServer {
    /// Where it listens (kept across kill and restart).
    pub addr: SocketAddr,
    name: String,
    delay: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    task: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// An echo upstream on 127.0.0.1 and a free port.
    pub async fn start(name: &str) -> Self {
        Self::start_with(name, "127.0.0.1:0".parse().unwrap(), Duration::ZERO, None).await
    }

    /// An echo upstream that waits `delay` before answering.
    pub async fn slow(name: &str, delay: Duration) -> Self {
        Self::start_with(name, "127.0.0.1:0".parse().unwrap(), delay, None).await
    }

    /// An echo upstream speaking TLS with `config` (ALPN decides h2).
    pub async fn tls(name: &str, config: rustls::ServerConfig) -> Self {
        let addr = "127.0.0.1:0".parse().unwrap();
        Self::start_with(name, addr, Duration::ZERO, Some(Arc::new(config))).await
    }

    /// An echo upstream on `addr` (a port of 0 picks one).
    pub async fn start_with(
        name: &str,
        addr: SocketAddr,
        delay: Duration,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let mut server = EchoServer {
            addr,
            name: name.to_owned(),
            delay,
            tls,
            task: None,
        };
        server.restart().await;
        server
    }

    /// Stops listening and closes every open connection.
    pub fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same address.
    pub async fn restart(&mut self) {
        self.kill();
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(error) if attempts < 50 => {
                    attempts += 1;
                    eprintln!("rebinding {}: {error}", self.addr);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot bind {}: {error}", self.addr),
            }
        };
        self.addr = listener.local_addr().unwrap();
        let (name, delay, tls) = (self.name.clone(), self.delay, self.tls.clone());
        self.task = Some(tokio::spawn(serve(listener, name, delay, tls)));
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn serve(
    listener: TcpListener,
    name: String,
    delay: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    // Dropped with the task: aborting it closes every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (name, tls) = (name.clone(), tls.clone());
                connections.spawn(async move {
                    let service = service_fn(move |request| echo(request, name.clone(), delay));
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(config) => {
                            let Ok(stream) = TlsAcceptor::from(config).accept(stream).await else {
                                return;
                            };
                            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn echo(
    request: Request<Incoming>,
    name: String,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (head, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = serde_json::json!({
        "upstream": name,
        "method": head.method.as_str(),
        "path": head.uri.path(),
        "body": String::from_utf8_lossy(&body),
    });
    let response = Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", name.as_str())
        .header("x-version", format!("{:?}", head.version))
        .body(Full::new(Bytes::from(reply.to_string())))
        .unwrap();
    Ok(response)
}

/// A port on 127.0.0.1 with nothing listening.
pub fn dead_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A server that reads a request and closes the connection without
/// answering: the request was sent, the exchange failed.
pub async fn hangup() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            });
        }
    });
    (addr, task)
}
