//! Signals to the real `portico` binary: on SIGTERM it stops accepting at
//! once, lets an in-flight request finish, then exits cleanly; on SIGHUP it
//! reloads its config.

use crate::support::builder::Gateway;
use crate::support::origin;
use crate::support::process;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

/// An upstream that reports each request and answers only once released.
async fn held_upstream() -> (SocketAddr, mpsc::UnboundedReceiver<()>, Arc<Notify>) {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let addr = origin::origin(move |_request| {
        let (arrived, gate) = (arrived.clone(), gate.clone());
        async move {
            let released = gate.notified();
            let _ = arrived.send(());
            released.await;
            Response::new(Full::new(Bytes::from_static(b"finished")))
        }
    })
    .await;
    (addr, arrivals, release)
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_refuses_new_connections() {
    let (upstream, mut arrivals, release) = held_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portico.toml");
    std::fs::write(
        &config,
        Gateway::builder()
            .upstream("slow", &[upstream])
            .route("slow", |r| r)
            .toml(&[]),
    )
    .unwrap();
    let (mut gateway, addr) = process::spawn_portico(&config);

    // A request in flight, held by the upstream.
    let mut in_flight = TcpStream::connect(addr).await.unwrap();
    in_flight
        .write_all(b"GET /slow HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
        .await
        .expect("the request reaches the upstream");

    // SIGTERM: new connections are refused while the request is held.
    process::signal(&gateway, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        gateway.try_wait().unwrap().is_none(),
        "exited before draining"
    );

    // Released, the in-flight request completes; then the process exits.
    release.notify_one();
    let mut response = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        in_flight.read_to_end(&mut response),
    )
    .await
    .expect("the in-flight response arrives and the connection closes")
    .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("finished"), "{response}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = gateway.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not exit after draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn sighup_reloads_the_config() {
    let first =
        origin::origin(|_| async { Response::new(Full::new(Bytes::from_static(b"first"))) }).await;
    let second =
        origin::origin(|_| async { Response::new(Full::new(Bytes::from_static(b"second"))) }).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portico.toml");
    let write = |target: SocketAddr| {
        let text = Gateway::builder()
            .table("[reload]\nwatch = false")
            .upstream("u", &[target])
            .route("all", |r| r)
            .toml(&[]);
        let tmp = dir.path().join("portico.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &config).unwrap();
    };
    write(first);
    let (mut gateway, addr) = process::spawn_portico(&config);
    let body = || async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    };
    assert!(body().await.ends_with("first"));

    // With watching off, only the signal applies the new file.
    write(second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(body().await.ends_with("first"));
    process::signal(&gateway, libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !body().await.ends_with("second") {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the config"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        gateway.try_wait().unwrap().is_none(),
        "SIGHUP stopped the gateway"
    );
    process::signal(&gateway, libc::SIGTERM);
    assert!(gateway.wait().unwrap().success());
}
