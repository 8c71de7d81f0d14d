//! Edge limits with real clients sending the offending requests: header
//! size and count (431), body size declared or streamed (413, before or
//! while forwarding), slow or silent clients (disconnected), and the
//! HTTP/2 settings and rapid-reset defence, and load shedding past
//! `max_requests_in_flight`. Request smuggling is in
//! `smuggling.rs`; idle timeouts and connection limits in `connections.rs`.

use crate::support;
use crate::support::origin;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::builder::Gateway;
use support::{TestGateway, raw_request, upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The gateway-wide limits these tests push against, HTTP/2's included.
const LIMITS: &str = r#"max_headers = 20
max_header_bytes = 4096
max_body_bytes = 1024
header_read_timeout_ms = 300

[limits.http2]
max_concurrent_streams = 7
initial_stream_window_bytes = 32768
max_pending_accept_reset_streams = 5"#;

async fn limited_gateway(upstream: SocketAddr) -> TestGateway {
    Gateway::builder()
        .limits(LIMITS)
        .upstream("o", &[upstream])
        .route("r", |r| r)
        .start()
        .await
}

/// The status of the first response in raw response text.
fn status(raw: &str) -> u16 {
    raw.get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {raw:?}"))
}

/// Whether the raw exchange ended with the server closing the connection.
fn closed(raw: &str) -> bool {
    !raw.contains("<timed out waiting for the server to close>")
}

#[tokio::test]
async fn too_many_or_too_large_headers_are_431() {
    let gw = limited_gateway(upstream("o").await).await;
    let many: String = (0..30).map(|i| format!("x-h{i}: v\r\n")).collect();
    let raw = raw_request(gw.addr, &format!("GET / HTTP/1.1\r\nhost: a\r\n{many}\r\n")).await;
    assert_eq!(status(&raw), 431, "{raw}");
    assert!(
        raw.contains("urn:portico:problem:header-fields-too-large") && closed(&raw),
        "{raw}"
    );

    // Over the limit, within or past the read buffer: refused while parsing.
    for size in [6000, 20_000] {
        let big = "v".repeat(size);
        let raw = raw_request(
            gw.addr,
            &format!("GET / HTTP/1.1\r\nhost: a\r\nx-big: {big}\r\n\r\n"),
        )
        .await;
        assert_eq!(status(&raw), 431, "{size}-byte header");
        assert!(
            raw.contains("application/problem+json") && closed(&raw),
            "{raw}"
        );
    }
    // Chunked trailers count against the same limit.
    let trailer = "v".repeat(6000);
    let raw = raw_request(
        gw.addr,
        &format!(
            "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\nx-trailer: {trailer}\r\n\r\n"
        ),
    )
    .await;
    assert!(
        [400, 431].contains(&status(&raw)) && closed(&raw),
        "an oversized trailer: {raw}"
    );

    // HTTP/2: the count by the gateway, the size by the HTTP/2 layer.
    let h2: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let mut request = Request::get(format!("http://{}/", gw.addr));
    for i in 0..30 {
        request = request.header(format!("x-h{i}"), "v");
    }
    let response = h2
        .request(request.body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("urn:portico:problem:header-fields-too-large"),
        "{body}"
    );
    let request = Request::get(format!("http://{}/", gw.addr))
        .header("x-big", "v".repeat(8000))
        .body(Full::default())
        .unwrap();
    let response = h2.request(request).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
}

/// An upstream counting requests that arrived and bodies read to the end.
async fn counting_upstream() -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let (s, c) = (started.clone(), completed.clone());
    let addr = origin::origin(move |request: Request<hyper::body::Incoming>| {
        let (started, completed) = (s.clone(), c.clone());
        async move {
            started.fetch_add(1, Ordering::SeqCst);
            if request.into_body().collect().await.is_ok() {
                completed.fetch_add(1, Ordering::SeqCst);
            }
            Response::new(Full::new(Bytes::from_static(b"ok")))
        }
    })
    .await;
    (addr, started, completed)
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_declared_or_streamed() {
    let (origin, started, completed) = counting_upstream().await;
    let gw = limited_gateway(origin).await;

    // Declared too large: refused from the head alone, nothing forwarded,
    // the body never sent.
    let raw = raw_request(
        gw.addr,
        "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5000\r\n\r\n",
    )
    .await;
    assert_eq!(status(&raw), 413, "{raw}");
    assert!(
        raw.contains("urn:portico:problem:payload-too-large"),
        "{raw}"
    );
    assert_eq!(started.load(Ordering::SeqCst), 0);

    // Chunked, under the limit: forwarded whole.
    let chunk = format!("200\r\n{}\r\n", "a".repeat(512));
    let raw = raw_request(
        gw.addr,
        &format!("POST / HTTP/1.1\r\nhost: a\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n{chunk}0\r\n\r\n"),
    )
    .await;
    assert_eq!(status(&raw), 200, "{raw}");
    assert_eq!(completed.load(Ordering::SeqCst), 1);

    // Chunked, growing past the limit after forwarding started: the
    // upstream request is aborted and the client gets 413.
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    for _ in 0..4 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let read =
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let raw = String::from_utf8_lossy(&response);
    assert!(read.is_ok(), "the connection is closed after the 413");
    assert_eq!(status(&raw), 413, "{raw}");
    assert_eq!(
        completed.load(Ordering::SeqCst),
        1,
        "the oversized body never completed upstream"
    );
}

#[tokio::test]
async fn slow_and_silent_clients_are_disconnected() {
    let gw = limited_gateway(upstream("o").await).await;
    for (what, sent) in [
        ("a head that never ends", "GET / HTTP/1.1\r\nhost: a\r\n"),
        ("nothing at all", ""),
        ("half an HTTP/2 preface", "PRI * HTTP/2.0\r\n"),
    ] {
        let mut stream = TcpStream::connect(gw.addr).await.unwrap();
        stream.write_all(sent.as_bytes()).await.unwrap();
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "{what}: the connection was not closed");
    }
    // A client that completes its head in time is served.
    let raw = raw_request(
        gw.addr,
        "GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&raw), 200);
}

/// Reads HTTP/2 frames: (type, flags, stream, payload).
async fn read_frame(stream: &mut TcpStream) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut header = [0u8; 9];
    stream.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    Some((header[3], header[4], id, payload))
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[tokio::test]
async fn http2_settings_follow_the_limits_and_rapid_reset_is_cut_off() {
    let gw = limited_gateway(upstream("o").await).await;
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(0x4, 0, 0, &[]));
    stream.write_all(&hello).await.unwrap();
    let (kind, _, _, payload) = read_frame(&mut stream).await.expect("server SETTINGS");
    assert_eq!(kind, 0x4);
    let settings: Vec<(u16, u32)> = payload
        .chunks(6)
        .map(|s| {
            (
                u16::from_be_bytes([s[0], s[1]]),
                u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
            )
        })
        .collect();
    assert!(
        settings.contains(&(0x3, 7)),
        "MAX_CONCURRENT_STREAMS: {settings:?}"
    );
    assert!(
        settings.contains(&(0x4, 32768)),
        "INITIAL_WINDOW_SIZE: {settings:?}"
    );
    assert!(
        settings.contains(&(0x6, 4096 + 32 * 20)),
        "MAX_HEADER_LIST_SIZE: {settings:?}"
    );

    // Rapid reset: open and cancel many streams in one burst.
    let headers = [0x82, 0x86, 0x84, 0x01, 0x01, b'a']; // GET http / :authority a
    let mut burst = frame(0x4, 0x1, 0, &[]); // ACK the server's settings
    for i in 0..50u32 {
        let id = 2 * i + 1;
        burst.extend(frame(0x1, 0x5, id, &headers));
        burst.extend(frame(0x3, 0, id, &8u32.to_be_bytes())); // RST_STREAM CANCEL
    }
    stream.write_all(&burst).await.unwrap();
    let goaway = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some((kind, _, _, payload)) = read_frame(&mut stream).await {
            if kind == 0x7 {
                return Some(u32::from_be_bytes([
                    payload[4], payload[5], payload[6], payload[7],
                ]));
            }
        }
        None
    })
    .await
    .expect("the server answers the flood");
    assert_eq!(goaway, Some(0xb), "GOAWAY with ENHANCE_YOUR_CALM");
}

#[test]
fn limit_values_are_checked_with_their_key() {
    let toml = Gateway::builder()
        .listener("limits.http2 = { initial_connection_window_bytes = 10 }")
        .limits("max_headers = 0")
        .toml(&[]);
    let (_dir, config) = support::parse_config(&toml);
    let errors = config.expect_err("refused").to_string();
    assert!(
        errors.contains("`limits.max_headers`: must be between 1 and 10000"),
        "{errors}"
    );
    assert!(
        errors.contains("`listeners[0].limits.http2.initial_connection_window_bytes`"),
        "{errors}"
    );

    let toml = Gateway::builder().limits("max_header_size = 1").toml(&[]);
    let (_dir, config) = support::parse_config(&toml);
    let errors = config.expect_err("refused").to_string();
    assert!(errors.contains("limits"), "{errors}");
    assert!(errors.contains("max_header_size"), "{errors}");
}

/// A flood of 20 concurrent requests against an upstream that takes 1 s,
/// on a listener that serves 4 at once: 4 are served in about the
/// upstream's time (not queued behind each other), 16 are refused at once
/// with 503 `overloaded` and `Retry-After`, and once the flood is over the
/// gateway serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_max_requests_in_flight_is_shed_fast_and_the_gateway_recovers() {
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let slow = origin::origin(move |_request: Request<hyper::body::Incoming>| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(1)).await;
            Response::new(Full::new(Bytes::from_static(b"slow")))
        }
    })
    .await;
    let gw = Gateway::builder()
        .limits("max_requests_in_flight = 4")
        .upstream("o", &[slow])
        .route("r", |r| r)
        .start()
        .await;
    let flood = (0..20).map(|_| async {
        let started = std::time::Instant::now();
        let response = gw.get("/work").await;
        (response, started.elapsed())
    });
    let answers = futures::future::join_all(flood).await;
    let (ok, shed): (Vec<_>, Vec<_>) = answers
        .into_iter()
        .partition(|(response, _)| response.status == StatusCode::OK);
    assert_eq!(ok.len(), 4, "as many served as the bound");
    assert_eq!(shed.len(), 16);
    for (response, took) in &ok {
        assert_eq!(response.body, "slow");
        assert!(*took < Duration::from_millis(2500), "admitted: {took:?}");
    }
    for (response, took) in &shed {
        let problem = response.problem(StatusCode::SERVICE_UNAVAILABLE, "overloaded");
        assert_eq!(problem["retryable"], true);
        assert_eq!(response.header("retry-after"), Some("1"));
        assert!(*took < Duration::from_millis(900), "refused late: {took:?}");
    }
    assert_eq!(
        served.load(Ordering::SeqCst),
        4,
        "the shed ones never reached it"
    );
    // Nothing was queued: the next request is served.
    let after = gw.get("/work").await;
    assert_eq!(after.status, StatusCode::OK);
}
