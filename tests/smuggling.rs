//! Request framing on HTTP/1, with raw clients sending the offending bytes:
//! every request head is checked by the gateway before hyper parses it, so
//! ambiguous or malformed framing — `Content-Length` with
//! `Transfer-Encoding` in either order, on the first request or a later one
//! of a kept-alive or pipelined connection — is answered 400 problem+json
//! and the connection closed, and nothing after it reaches an upstream.
//! Well-framed bodies keep the connection usable.

use crate::support;
use crate::support::origin;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use support::builder::Gateway;
use support::{TestGateway, raw_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An upstream that answers `ok <path> <body length>` and counts requests.
async fn counting_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let addr = origin::origin(move |request: Request<hyper::body::Incoming>| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let path = request.uri().path().to_owned();
            let body = request.into_body().collect().await.map(|b| b.to_bytes());
            let length = body.map_or(usize::MAX, |b| b.len());
            Response::new(Full::new(Bytes::from(format!("ok {path} {length}"))))
        }
    })
    .await;
    (addr, seen)
}

async fn framing_gateway(upstream: SocketAddr) -> TestGateway {
    Gateway::builder()
        .upstream("o", &[upstream])
        .route("r", |r| r)
        .start()
        .await
}

/// Asserts that `raw` holds exactly the statuses `want`, in order, that the
/// last is a problem+json of `kind`, and that the server closed.
fn assert_responses(raw: &str, want: &[u16], kind: &str) {
    let statuses: Vec<u16> = raw
        .match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| raw.get(at + 9..at + 12)?.parse().ok())
        .collect();
    assert_eq!(statuses, want, "{raw}");
    let last = &raw[raw.rfind("HTTP/1.1 ").unwrap_or(0)..];
    assert!(
        last.contains("content-type: application/problem+json"),
        "{last}"
    );
    assert!(
        last.contains(&format!("\"type\":\"urn:portico:problem:{kind}\"")),
        "{last}"
    );
    assert!(
        !raw.contains("<timed out waiting for the server to close>"),
        "the connection stays open: {raw}"
    );
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nhost: a\r\n\r\n";

#[tokio::test]
async fn content_length_with_transfer_encoding_is_400_in_either_order() {
    let (origin, seen) = counting_upstream().await;
    let gw = framing_gateway(origin).await;
    for fields in [
        "content-length: 4\r\ntransfer-encoding: chunked",
        "transfer-encoding: chunked\r\ncontent-length: 4",
        "Transfer-Encoding: CHUNKED\r\nContent-Length: 0",
    ] {
        let raw = raw_request(
            gw.addr,
            &format!("POST / HTTP/1.1\r\nhost: a\r\n{fields}\r\n\r\n0\r\n\r\n{SMUGGLED}"),
        )
        .await;
        assert_responses(&raw, &[400], "bad-request");
        assert!(
            raw.contains("Content-Length and Transfer-Encoding"),
            "{raw}"
        );
        assert!(raw.contains("connection: close"), "announced: {raw}");
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn a_later_request_on_a_kept_alive_connection_is_checked_too() {
    let (origin, seen) = counting_upstream().await;
    let gw = framing_gateway(origin).await;

    // Sequential: a good request, its response read, then the attempt.
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    stream
        .write_all(b"GET /first HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut first = Vec::new();
    while !String::from_utf8_lossy(&first).ends_with("ok /first 0") {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("first response")
            .unwrap();
        assert!(n > 0, "closed after the first response");
        first.extend_from_slice(&chunk[..n]);
    }
    let attempt = format!(
        "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ncontent-length: 30\r\n\r\n0\r\n\r\n{SMUGGLED}"
    );
    stream.write_all(attempt.as_bytes()).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("the connection is closed")
        .unwrap();
    assert_responses(&String::from_utf8_lossy(&rest), &[400], "bad-request");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "only the first request");

    // Pipelined: both in one write; the first is served, in order.
    let raw = raw_request(
        gw.addr,
        &format!(
            "POST /p HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n\r\nabc{}",
            attempt.replace("POST /", "POST /second")
        ),
    )
    .await;
    assert_responses(&raw, &[200, 400], "bad-request");
    assert!(raw.contains("ok /p 3"), "{raw}");
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn well_framed_bodies_keep_the_connection_in_step() {
    let (origin, seen) = counting_upstream().await;
    let gw = framing_gateway(origin).await;
    // Chunked (with an extension and a trailer), sized, then bodiless, in
    // one write; a body that looks like a request is only a body.
    let raw = raw_request(
        gw.addr,
        &format!(
            "POST /a HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n{:x}\r\n{SMUGGLED}\r\n0\r\nx-trailer: 1\r\n\r\n\
             POST /b HTTP/1.1\r\nhost: a\r\ncontent-length: {}\r\n\r\n{SMUGGLED}\
             GET /c HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
            SMUGGLED.len(),
            SMUGGLED.len(),
        ),
    )
    .await;
    let body_len = 5 + SMUGGLED.len();
    for served in [
        format!("ok /a {body_len}"),
        format!("ok /b {}", SMUGGLED.len()),
        "ok /c 0".to_owned(),
    ] {
        assert!(raw.contains(&served), "{served} missing: {raw}");
    }
    assert!(!raw.contains("/smuggled"), "{raw}");
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn malformed_heads_are_answered_with_problem_json_and_closed() {
    let (origin, seen) = counting_upstream().await;
    let gw = framing_gateway(origin).await;
    let cases = [
        (
            "two different Content-Lengths",
            "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ncontent-length: 5\r\n\r\nabcde",
        ),
        (
            "a Content-Length that is not a number",
            "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: +5\r\n\r\nabcde",
        ),
        (
            "chunked that is not the final encoding",
            "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            "POST / HTTP/1.0\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "whitespace before the colon",
            "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding : chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "an obsolete folded header",
            "GET / HTTP/1.1\r\nhost: a\r\nx-folded: a\r\n b\r\n\r\n",
        ),
        (
            "a malformed request line",
            "GET /a b HTTP/1.1\r\nhost: a\r\n\r\n",
        ),
        (
            "a malformed chunk size",
            "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        ),
    ];
    for (what, request) in cases {
        let raw = raw_request(gw.addr, request).await;
        assert!(raw.starts_with("HTTP/1.1 400 "), "{what}: {raw}");
        assert_responses(&raw, &[400], "bad-request");
    }
    // Only the malformed chunked body got as far as an upstream (its head
    // is well formed; the body fails while it streams).
    assert!(seen.load(Ordering::SeqCst) <= 1);
}

#[tokio::test]
async fn two_host_fields_or_a_host_other_than_the_target_is_400() {
    let (origin, seen) = counting_upstream().await;
    let gw = framing_gateway(origin).await;
    for (target, fields, reason) in [
        ("/", "host: a\r\nhost: b", "more than one Host field"),
        ("/", "host: a\r\nhost: a", "more than one Host field"),
        (
            "http://a.example/",
            "host: b.example",
            "another host than the request target",
        ),
        (
            "http://a.example:8080/",
            "host: a.example",
            "another host than the request target",
        ),
    ] {
        let raw = raw_request(
            gw.addr,
            &format!("GET {target} HTTP/1.1\r\n{fields}\r\nconnection: close\r\n\r\n"),
        )
        .await;
        assert!(raw.starts_with("HTTP/1.1 400"), "{target} {fields}: {raw}");
        assert!(raw.contains("urn:portico:problem:bad-request"), "{raw}");
        assert!(raw.contains(reason), "{raw}");
    }
    // The same host said twice the same way is fine.
    let raw = raw_request(
        gw.addr,
        "GET http://a.example/ok HTTP/1.1\r\nhost: A.example:80\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "only the good one was forwarded"
    );
}
