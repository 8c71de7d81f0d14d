//! Connection lifetimes with real clients: idle HTTP/1 keep-alive and
//! HTTP/2 connections are closed (HTTP/2 with GOAWAY) after
//! `idle_timeout_ms`, but never while a request is in flight; a listener
//! keeps at most `max_connections` open and closes (and counts) the rest.

use crate::support;
use crate::support::origin;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use support::TestGateway;
use support::builder::Gateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IDLE: Duration = Duration::from_millis(400);

/// An upstream answering `done`, after a second for `/slow`.
async fn upstream() -> SocketAddr {
    origin::origin(|request: Request<hyper::body::Incoming>| async move {
        if request.uri().path() == "/slow" {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Response::new(Full::new(Bytes::from_static(b"done")))
    })
    .await
}

async fn limited_gateway(limits: &str) -> TestGateway {
    let upstream = upstream().await;
    Gateway::builder()
        .limits(limits)
        .upstream("o", &[upstream])
        .route("r", |r| r)
        .start()
        .await
}

/// Reads one response on a kept-alive connection (its body is `done`).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    while !seen.ends_with(b"done") {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("a response")
            .expect("read");
        assert!(n > 0, "closed before a response: {seen:?}");
        seen.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Waits until the server closes `stream`; returns what it sent first.
async fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection was not closed");
    rest
}

#[tokio::test]
async fn idle_http1_connections_are_closed_but_slow_responses_are_not_cut() {
    let gw = limited_gateway(&format!("idle_timeout_ms = {}", IDLE.as_millis())).await;
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    // A response that takes longer than the idle timeout arrives whole,
    // and the connection is reused.
    for path in ["/slow", "/"] {
        let request = format!("GET {path} HTTP/1.1\r\nhost: a\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    }
    let idle_since = Instant::now();
    let rest = closed_by_server(&mut stream).await;
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        idle_since.elapsed() >= IDLE - Duration::from_millis(100),
        "closed before the idle timeout"
    );
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reads HTTP/2 frames until the connection closes: (type, stream) each.
async fn frames_until_closed(stream: &mut TcpStream) -> Vec<(u8, u32)> {
    let mut frames = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut header = [0u8; 9];
        while stream.read_exact(&mut header).await.is_ok() {
            let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
            let mut payload = vec![0u8; len];
            if stream.read_exact(&mut payload).await.is_err() {
                break;
            }
            if header[3] == PING && header[4] & 0x1 == 0 {
                // As every HTTP/2 client does: acknowledge pings.
                let _ = stream.write_all(&frame(PING, 0x1, 0, &payload)).await;
            }
            frames.push((header[3], id & 0x7fff_ffff));
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the HTTP/2 connection was not closed: {frames:?}"
    );
    frames
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;

#[tokio::test]
async fn idle_http2_connections_get_goaway_but_not_while_a_stream_is_open() {
    let gw = limited_gateway(&format!("idle_timeout_ms = {}", IDLE.as_millis())).await;

    // No stream at all: GOAWAY, then closed.
    let mut idle = TcpStream::connect(gw.addr).await.unwrap();
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(0x4, 0, 0, &[]));
    idle.write_all(&hello).await.unwrap();
    let frames = frames_until_closed(&mut idle).await;
    assert!(frames.iter().any(|f| f.0 == GOAWAY), "{frames:?}");

    // A stream open longer than the idle timeout (GET /slow): its response
    // comes first, the GOAWAY only after.
    let mut busy = TcpStream::connect(gw.addr).await.unwrap();
    let mut request = hello.clone();
    request.extend(frame(0x4, 0x1, 0, &[])); // ACK the server's settings
    let mut block = vec![0x82, 0x86, 0x04, 0x05];
    block.extend_from_slice(b"/slow");
    block.extend_from_slice(&[0x01, 0x01, b'a']);
    request.extend(frame(HEADERS, 0x5, 1, &block));
    busy.write_all(&request).await.unwrap();
    let frames = frames_until_closed(&mut busy).await;
    let response = frames.iter().position(|f| *f == (HEADERS, 1));
    let goaway = frames.iter().position(|f| f.0 == GOAWAY);
    assert!(
        matches!((response, goaway), (Some(r), Some(g)) if r < g),
        "response, then GOAWAY: {frames:?}"
    );
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_and_counted() {
    let gw = limited_gateway("max_connections = 2").await;
    let request = b"GET / HTTP/1.1\r\nhost: a\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(gw.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        open.push(stream);
    }
    assert_eq!(gw.connection_stats().open, 2);

    // The third is closed without an answer.
    let mut third = TcpStream::connect(gw.addr).await.unwrap();
    let _ = third.write_all(request).await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), third.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection over the limit stays open");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert_eq!(gw.connection_stats().refused, 1);

    // Once one closes, a new connection is served again.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(gw.addr).await.unwrap();
        let _ = stream.write_all(request).await;
        let mut seen = vec![0u8; 12];
        let got = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut seen)).await;
        if matches!(got, Ok(Ok(_))) {
            assert!(seen.starts_with(b"HTTP/1.1 200"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection served after one closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn connection_limits_are_checked_with_their_key() {
    let toml = Gateway::builder()
        .limits("max_connections = 0\nidle_timeout_ms = 0\ntunnel_idle_timeout_ms = 0")
        .toml(&[]);
    let (_dir, config) = support::parse_config(&toml);
    let errors = config.expect_err("refused").to_string();
    for key in [
        "max_connections",
        "idle_timeout_ms",
        "tunnel_idle_timeout_ms",
    ] {
        assert!(
            errors.contains(&format!("`limits.{key}`: must be between")),
            "{errors}"
        );
    }
    assert!(errors.contains("portico.toml"), "{errors}");
}

#[tokio::test]
async fn the_admin_listener_caps_its_connections_and_times_out_slow_heads() {
    let upstream = upstream().await;
    let gw = Gateway::builder()
        .admin("max_connections = 2")
        .limits("header_read_timeout_ms = 300")
        .upstream("o", &[upstream])
        .route("r", |r| r)
        .start()
        .await;
    let admin = gw.admin.expect("the prelude has [admin]");
    let request = b"GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(admin).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut seen = vec![0u8; 12];
        stream.read_exact(&mut seen).await.unwrap();
        assert_eq!(&seen, b"HTTP/1.1 200");
        open.push(stream);
    }
    // A third connection is closed without an answer.
    let mut third = TcpStream::connect(admin).await.unwrap();
    let _ = third.write_all(request).await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), third.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the admin connection over the cap stays open");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    drop(open);

    // A head that never ends is cut off after header_read_timeout_ms.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut slow = loop {
        let mut stream = TcpStream::connect(admin).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a slow admin head is never cut off");
        // (Right after the capped connections close, the cap may still
        // count one of them: then this one was refused at once; try again.)
        if started.elapsed() >= Duration::from_millis(250) || Instant::now() > deadline {
            break (started.elapsed(), rest);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        slow.0 >= Duration::from_millis(250),
        "closed after {:?}",
        slow.0
    );
    assert!(!String::from_utf8_lossy(&std::mem::take(&mut slow.1)).contains("200"));
}
