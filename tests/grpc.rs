//! gRPC through the real gateway, with a real gRPC server and client
//! (Python `grpcio`, see `support/grpc_peer.py`; `cargo xtask test`
//! installs it): unary and streaming calls over h2c and TLS, large
//! messages, status and trailers from the server, a plugin chain in the
//! path, the route's timeout, and the gateway's own errors answered the
//! way gRPC clients expect (HTTP 200, `grpc-status` and `grpc-message`).

// Only the CA and its server certificates are used here.
use crate::support;
#[allow(dead_code)]
use crate::support::pki;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use pki::Ca;
use serde_json::Value;
use support::builder::{Cap, Gateway, GatewayBuilder, plugin};
use support::root;

const KEY: &str = "grpc-test-key";

fn peer_script() -> PathBuf {
    root().join("tests/support/grpc_peer.py")
}

fn require_grpcio() {
    let found = Command::new("python3")
        .args(["-c", "import grpc"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "Python grpcio is missing: `cargo xtask test` installs it (python3 -m pip install grpcio)"
    );
}

/// The gRPC server, killed when dropped.
struct GrpcServer {
    child: Child,
    addr: SocketAddr,
}

impl GrpcServer {
    fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(peer_script())
            .arg("server")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the gRPC server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the gRPC server prints its port");
        let port: u16 = line.trim().parse().expect("a port");
        GrpcServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the client's scenarios against `target`; returns what it saw.
async fn run_client(target: String, run: &'static str, ca: Option<PathBuf>) -> Value {
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("python3");
        command
            .arg(peer_script())
            .arg("client")
            .arg(&target)
            .arg(run);
        if let Some(ca) = &ca {
            command.arg(ca);
        }
        command.output().expect("run the gRPC client")
    })
    .await
    .expect("client thread");
    assert!(
        output.status.success(),
        "gRPC client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// The gRPC gateway: the prelude's h2c listener and a TLS listener `tls`;
/// upstream `grpc` (h2, the Python server) behind routes `echo` (with
/// `transform` setting a request and a response header), `keyed`
/// (`api-key`), `limited` (`rate-limit`, one call a minute per `x-run`) and
/// `slow` (a 300 ms timeout); route `down` to a closed h2 upstream.
fn config(server: SocketAddr, dir: &Path, ca: &Ca) -> GatewayBuilder {
    let (cert, key) = ca.server(&["localhost"]).write(dir, "server");
    let sha = sha256_hex(KEY);
    Gateway::builder()
        .table(&format!(
            r#"[[listeners]]
name = "tls"
addr = "127.0.0.1:0"
[listeners.tls]
certificates = [{{ cert = "{}", key = "{}" }}]"#,
            cert.display(),
            key.display()
        ))
        .upstream_with("grpc", &[server], r#"protocol = "h2""#)
        .upstream_with("down", &[closed_port()], r#"protocol = "h2""#)
        .route("echo", |r| {
            r.prefix("/portico.test.Echo/").upstream("grpc").plugin(
                plugin("transform")
                    .grant([Cap::Context])
                    .config_toml("request.headers.set", r#"{ "x-consumer" = "grpc-client" }"#)
                    .config_toml("response.headers.set", r#"{ "x-gateway" = "portico" }"#),
            )
        })
        .route("keyed", |r| {
            r.prefix("/keyed.Echo/").upstream("grpc").plugin(
                plugin("api-key").grant([Cap::Context]).config_toml(
                    "keys",
                    &format!(r#"[{{ sha256 = "{sha}", consumer = "alice" }}]"#),
                ),
            )
        })
        .route("limited", |r| {
            r.prefix("/limited.Echo/").upstream("grpc").plugin(
                plugin("rate-limit")
                    .grant([Cap::Kv, Cap::Clock, Cap::Context, Cap::Metrics])
                    .config("key", "header:x-run")
                    .config_toml("policies", r#"[{ limit = 1, window = "1m" }]"#),
            )
        })
        .route("slow", |r| {
            r.prefix("/slow.Echo/")
                .upstream("grpc")
                .key("timeout_ms = 300")
        })
        .route("down", |r| r.prefix("/down.Echo/").upstream("down"))
}

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn code(seen: &Value, case: &str) -> String {
    seen[case]["code"].as_str().unwrap_or("?").to_owned()
}

/// Everything a gRPC user checks, on one transport.
fn assert_calls(seen: &Value, transport: &str) {
    let at = |case: &str| format!("{transport} {case}: {}", seen[case]);
    // Unary, through a chain whose request phase set a header the server
    // saw and whose response phase added one; trailers still arrive. (The
    // server refuses a call without `te: trailers`, which grpcio does not
    // show to handlers: the call succeeding is the check that it came.)
    let unary = &seen["unary"];
    assert_eq!(unary["code"], "OK", "{}", at("unary"));
    assert_eq!(unary["result"], "hello");
    assert_eq!(unary["initial"]["x-seen-consumer"], "grpc-client");
    assert_eq!(unary["initial"]["x-gateway"], "portico");
    assert_eq!(unary["trailing"]["x-trailer"], "kept", "{}", at("unary"));

    assert_eq!(seen["large"]["code"], "OK", "{}", at("large"));
    assert_eq!(seen["large"]["intact"], true, "5 MiB came back intact");
    assert_eq!(code(seen, "server_stream"), "OK", "{}", at("server_stream"));
    assert_eq!(
        seen["server_stream"]["result"],
        serde_json::json!(["0", "1", "2", "3", "4"])
    );
    assert_eq!(code(seen, "client_stream"), "OK", "{}", at("client_stream"));
    assert_eq!(seen["client_stream"]["result"], "abc");
    assert_eq!(code(seen, "bidi"), "OK", "{}", at("bidi"));
    assert_eq!(seen["bidi"]["result"], serde_json::json!(["X", "Y", "Z"]));

    // The server's error status and custom trailer pass through unchanged.
    assert_eq!(
        code(seen, "error"),
        "FAILED_PRECONDITION",
        "{}",
        at("error")
    );
    assert_eq!(seen["error"]["details"], "not today");
    assert_eq!(seen["error"]["trailing"]["x-detail"], "from-the-server");

    // The gateway's own answers, as gRPC statuses with the problem's text.
    assert_eq!(
        code(seen, "no_route"),
        "UNIMPLEMENTED",
        "{}",
        at("no_route")
    );
    assert!(
        seen["no_route"]["details"]
            .as_str()
            .is_some_and(|d| d.contains("No route")),
        "{}",
        at("no_route")
    );
    assert_eq!(
        code(seen, "upstream_down"),
        "UNAVAILABLE",
        "{}",
        at("upstream_down")
    );
    assert!(
        seen["upstream_down"]["details"]
            .as_str()
            .is_some_and(|d| d.contains("`down`")),
        "{}",
        at("upstream_down")
    );
    assert_eq!(code(seen, "no_key"), "UNAUTHENTICATED", "{}", at("no_key"));
    assert_eq!(code(seen, "with_key"), "OK", "{}", at("with_key"));
    assert_eq!(code(seen, "limited_first"), "OK", "{}", at("limited_first"));
    assert_eq!(
        code(seen, "limited_second"),
        "RESOURCE_EXHAUSTED",
        "{}",
        at("limited_second")
    );
    // The route's 300 ms timeout ends a 3 s call well before the client's
    // own 20 s deadline, as DEADLINE_EXCEEDED with the gateway's reason.
    let timeout = &seen["route_timeout"];
    assert_eq!(
        timeout["code"],
        "DEADLINE_EXCEEDED",
        "{}",
        at("route_timeout")
    );
    assert!(
        timeout["details"]
            .as_str()
            .is_some_and(|d| d.contains("did not respond in time")),
        "{}",
        at("route_timeout")
    );
    assert!(timeout["elapsed"].as_f64().is_some_and(|s| s < 2.5));
    assert_eq!(
        code(seen, "client_deadline"),
        "DEADLINE_EXCEEDED",
        "{}",
        at("client_deadline")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_pass_through_over_h2c_and_tls() {
    require_grpcio();
    let server = GrpcServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("Portico gRPC Test CA");
    let gateway = config(server.addr, dir.path(), &ca).start().await;
    let tls = gateway.listener("tls");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write CA");

    let seen = run_client(gateway.addr.to_string(), "h2c", None).await;
    assert_calls(&seen, "h2c");
    let seen = run_client(format!("localhost:{}", tls.port()), "tls", Some(ca_path)).await;
    assert_calls(&seen, "TLS");
}

/// An HTTP/1.1 upstream that answers every request with a chunked body
/// and a trailer field.
async fn chunked_trailer_upstream() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n\
                          5\r\nhello\r\n0\r\nx-checksum: 5d41402a\r\n\r\n",
                    )
                    .await;
                let _ = stream.flush().await;
                let _ = stream.read(&mut byte).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn trailers_from_an_http1_chunked_upstream_reach_an_http2_client() {
    use http_body_util::BodyExt;
    let origin = chunked_trailer_upstream().await;
    let gateway = Gateway::builder()
        .upstream("o", &[origin])
        .route("r", |r| r)
        .start()
        .await;
    let tcp = tokio::net::TcpStream::connect(gateway.addr)
        .await
        .expect("connect");
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(connection);
    let request = http::Request::builder()
        .uri(format!("http://{}/sum", gateway.addr))
        .header("te", "trailers")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    let collected = response.into_body().collect().await.expect("body");
    let trailers = collected.trailers().cloned().expect("trailers arrived");
    assert_eq!(trailers["x-checksum"], "5d41402a");
    assert_eq!(collected.to_bytes(), "hello");
}
