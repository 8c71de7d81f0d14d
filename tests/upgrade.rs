//! `Upgrade` pass-through: a WebSocket handshake goes through the gateway to
//! an upstream that answers 101 and echoes bytes; only then do both
//! connections become a tunnel. An upstream that declines leaves the
//! client's connection plain HTTP. A tunnel closes after
//! `tunnel_idle_timeout_ms` without a byte either way, and at shutdown once
//! the drain period is over.

use crate::support;
use crate::support::origin;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONNECTION, UPGRADE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use support::builder::Gateway;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Upgrades `/ws` to an echo of the bytes it receives; declines anything
/// else with 426. Echoes what it saw of the handshake in `x-saw-*`.
async fn websocket_upstream() -> SocketAddr {
    origin::origin(|mut request: Request<Incoming>| async move {
        let seen = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (connection, key) = (seen("connection"), seen("sec-websocket-key"));
        if request.uri().path() != "/ws" || seen("upgrade") != "websocket" {
            let mut declined = Response::new(Full::new(Bytes::from_static(b"no upgrade here")));
            *declined.status_mut() = StatusCode::UPGRADE_REQUIRED;
            return declined;
        }
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else { return };
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 1024];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(CONNECTION, "upgrade")
            .header(UPGRADE, "websocket")
            .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            .header("x-saw-connection", connection)
            .header("x-saw-key", key)
            .body(Full::default())
            .unwrap()
    })
    .await
}

/// Reads a response head (status line and headers) from `reader`.
async fn read_head(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let status = line[9..12].parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

const HANDSHAKE: &str = "GET /ws HTTP/1.1\r\nhost: chat.example\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n";

async fn ws_gateway() -> support::TestGateway {
    ws_gateway_with("").await
}

async fn ws_gateway_with(limits: &str) -> support::TestGateway {
    let origin = websocket_upstream().await;
    Gateway::builder()
        .limits(limits)
        .upstream("ws", &[origin])
        .route("ws", |r| r)
        .start()
        .await
}

#[tokio::test]
async fn a_websocket_upgrade_becomes_a_tunnel_after_the_upstream_answers_101() {
    let gw = ws_gateway().await;
    let mut client = BufReader::new(TcpStream::connect(gw.addr).await.unwrap());
    client
        .get_mut()
        .write_all(HANDSHAKE.as_bytes())
        .await
        .unwrap();
    let (status, headers) = read_head(&mut client).await;
    assert_eq!(status, 101, "{headers:?}");
    assert_eq!(header(&headers, "upgrade"), Some("websocket"));
    assert_eq!(header(&headers, "connection"), Some("upgrade"));
    assert_eq!(
        header(&headers, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(header(&headers, "x-saw-connection"), Some("upgrade"));
    assert_eq!(
        header(&headers, "x-saw-key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );

    for message in ["hello through the tunnel", "and a second frame"] {
        client
            .get_mut()
            .write_all(message.as_bytes())
            .await
            .unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut echoed))
            .await
            .expect("echo arrives")
            .unwrap();
        assert_eq!(echoed, message.as_bytes());
    }
}

#[tokio::test]
async fn a_declined_upgrade_leaves_the_connection_plain_http() {
    let gw = ws_gateway().await;
    let mut client = BufReader::new(TcpStream::connect(gw.addr).await.unwrap());
    let declined = HANDSHAKE.replace("GET /ws", "GET /elsewhere");
    client
        .get_mut()
        .write_all(declined.as_bytes())
        .await
        .unwrap();
    let (status, headers) = read_head(&mut client).await;
    assert_eq!(status, 426);
    assert!(header(&headers, "upgrade").is_none(), "{headers:?}");
    let length: usize = header(&headers, "content-length").unwrap().parse().unwrap();
    let mut body = vec![0u8; length];
    client.read_exact(&mut body).await.unwrap();

    // The same connection still speaks HTTP.
    client
        .get_mut()
        .write_all(b"GET /ws HTTP/1.1\r\nhost: chat.example\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = read_head(&mut client).await;
    assert_eq!(status, 426, "a plain request on the same connection");
}

/// Opens a tunnel through `gw` and checks that it echoes.
async fn open_tunnel(gw: &support::TestGateway) -> BufReader<TcpStream> {
    let mut client = BufReader::new(TcpStream::connect(gw.addr).await.unwrap());
    client
        .get_mut()
        .write_all(HANDSHAKE.as_bytes())
        .await
        .unwrap();
    let (status, _) = read_head(&mut client).await;
    assert_eq!(status, 101);
    echo(&mut client, "ping").await;
    client
}

async fn echo(client: &mut BufReader<TcpStream>, message: &str) {
    client
        .get_mut()
        .write_all(message.as_bytes())
        .await
        .unwrap();
    let mut echoed = vec![0u8; message.len()];
    tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut echoed))
        .await
        .expect("echo arrives")
        .unwrap();
    assert_eq!(echoed, message.as_bytes());
}

/// Waits (up to 10 s) for the gateway to close the tunnel.
async fn closed(client: &mut BufReader<TcpStream>) {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the tunnel stays open");
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn a_tunnel_is_closed_once_idle_but_not_while_bytes_flow() {
    let idle = Duration::from_millis(500);
    let gw = ws_gateway_with(&format!("tunnel_idle_timeout_ms = {}", idle.as_millis())).await;
    let mut client = open_tunnel(&gw).await;
    // Traffic every 100 ms for three idle periods keeps it open.
    let busy_until = Instant::now() + 3 * idle;
    loop {
        echo(&mut client, "still here").await;
        if Instant::now() >= busy_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let quiet_since = Instant::now();
    closed(&mut client).await;
    assert!(
        quiet_since.elapsed() >= idle - Duration::from_millis(100),
        "closed before the idle timeout"
    );
}

#[tokio::test]
async fn shutdown_closes_tunnels_after_the_drain_period() {
    let drain = Duration::from_millis(500);
    let gw = ws_gateway_with(&format!("drain_timeout_ms = {}", drain.as_millis())).await;
    let mut client = open_tunnel(&gw).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), gw.shutdown())
        .await
        .expect("shutdown does not wait for the tunnel forever");
    assert!(
        started.elapsed() >= drain,
        "the tunnel got its drain period"
    );
    closed(&mut client).await;
}
