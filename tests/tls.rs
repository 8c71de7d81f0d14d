//! TLS termination through the real gateway: SNI picks the certificate,
//! ALPN picks HTTP/2 or HTTP/1.1, TLS 1.2 is the floor and only the
//! Mozilla "intermediate" suites are spoken, certificates reload while
//! serving, and client certificates (mTLS) are verified with the client's
//! identity handed to plugins. Clients: rustls (tokio-rustls), a hand-built
//! TLS 1.1 ClientHello, and `curl` / `openssl s_client` when installed.

use crate::support;
use crate::support::pki;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use pki::{Ca, Leaf, client_config, get, handshake, served};
use support::TestGateway;
use support::builder::{Cap, Gateway, GatewayBuilder, RouteBuilder, plugin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A gateway whose traffic listener has TLS (the keys of its `tls` table)
/// in front of an echo upstream; `route` shapes the one route.
fn tls_config(tls: &str, route: impl FnOnce(RouteBuilder) -> RouteBuilder) -> GatewayBuilder {
    Gateway::builder()
        .listener_tls(tls)
        .echo("origin")
        .route("r", route)
}

async fn tls_gateway(tls: &str, route: impl FnOnce(RouteBuilder) -> RouteBuilder) -> TestGateway {
    tls_config(tls, route).start().await
}

fn pair(dir: &Path, leaf: &Leaf, name: &str) -> String {
    let (cert, key) = leaf.write(dir, name);
    format!(
        "{{ cert = \"{}\", key = \"{}\" }}",
        cert.display(),
        key.display()
    )
}

#[tokio::test]
async fn sni_picks_the_certificate_and_alpn_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Portico Test CA");
    let a = ca.server(&["a.test"]);
    let b = ca.server(&["b.test", "*.b.test"]);
    let fallback = ca.server(&["fallback.test"]);
    let (fallback_cert, fallback_key) = fallback.write(dir.path(), "fallback");
    let tls = format!(
        "certificates = [{}, {}, {{ cert = \"{}\", key = \"{}\", default = true }}]",
        pair(dir.path(), &a, "a"),
        pair(dir.path(), &b, "b"),
        fallback_cert.display(),
        fallback_key.display()
    );
    let gw = tls_gateway(&tls, |r| r).await;

    let h2 = client_config(Some(&ca), None, &[b"h2", b"http/1.1"]);
    let stream = handshake(gw.addr, "a.test", h2.clone()).await.unwrap();
    assert_eq!(served(&stream), a.der, "SNI a.test gets a's certificate");
    assert_eq!(pki::alpn(&stream).as_deref(), Some(&b"h2"[..]));
    let answer = get(stream, "a.test", "/over-tls").await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.version, http::Version::HTTP_2);
    assert_eq!(answer.upstream_saw("x-forwarded-proto"), ["https"]);

    let stream = handshake(gw.addr, "x.b.test", h2.clone()).await.unwrap();
    assert_eq!(
        served(&stream),
        b.der,
        "the wildcard *.b.test serves x.b.test"
    );

    let any = client_config(None, None, &[b"h2"]);
    for name in ["unknown.test", "y.x.b.test", "127.0.0.1"] {
        let stream = handshake(gw.addr, name, any.clone()).await.unwrap();
        assert_eq!(served(&stream), fallback.der, "{name} gets the default");
    }

    let h1 = client_config(Some(&ca), None, &[b"http/1.1"]);
    let stream = handshake(gw.addr, "a.test", h1).await.unwrap();
    assert_eq!(pki::alpn(&stream).as_deref(), Some(&b"http/1.1"[..]));
    let answer = get(stream, "a.test", "/h1").await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.version, http::Version::HTTP_11);
    assert_eq!(answer.upstream_saw("x-forwarded-proto"), ["https"]);
}

/// A minimal ClientHello: `version` as the only version offered (no
/// `supported_versions` extension), the given cipher suites, P-256/X25519
/// and ECDSA/RSA-PSS signatures.
fn client_hello(version: [u8; 2], suites: &[u16]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[7; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    let extensions: &[(u16, &[u8])] = &[
        (0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]), // supported_groups
        (0x000b, &[1, 0]),                         // ec_point_formats
        (0x000d, &[0, 4, 0x04, 0x03, 0x08, 0x04]), // signature_algorithms
    ];
    let mut ext = Vec::new();
    for (kind, data) in extensions {
        ext.extend_from_slice(&kind.to_be_bytes());
        ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
        ext.extend_from_slice(data);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut handshake = vec![1, 0];
    handshake.extend_from_slice(&(body.len() as u16).to_be_bytes());
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends a ClientHello and returns the first record the server answers
/// with: (content type, first bytes of its payload).
async fn first_record(addr: SocketAddr, hello: &[u8]) -> (u8, Vec<u8>) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut header = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut header))
        .await
        .expect("the server answers the hello")
        .expect("a record");
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut payload = vec![0u8; len.min(64)];
    tcp.read_exact(&mut payload).await.unwrap();
    (header[0], payload)
}

const ECDHE_ECDSA_AES128_GCM: u16 = 0xc02b;
const ECDHE_ECDSA_AES128_CBC_SHA: u16 = 0xc009;
const ECDHE_RSA_AES128_CBC_SHA: u16 = 0xc013;
const RSA_AES128_CBC_SHA: u16 = 0x002f;

#[tokio::test]
async fn tls_1_1_and_suites_outside_the_profile_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Portico Test CA");
    let tls = format!(
        "certificates = [{}]",
        pair(dir.path(), &ca.server(&["a.test"]), "a")
    );
    let gw = tls_gateway(&tls, |r| r).await;
    let (kind, payload) =
        first_record(gw.addr, &client_hello([3, 3], &[ECDHE_ECDSA_AES128_GCM])).await;
    assert_eq!(
        (kind, payload[0]),
        (0x16, 2),
        "a TLS 1.2 hello with an intermediate suite gets a ServerHello"
    );
    let (kind, payload) = first_record(
        gw.addr,
        &client_hello([3, 2], &[ECDHE_ECDSA_AES128_CBC_SHA, RSA_AES128_CBC_SHA]),
    )
    .await;
    assert_eq!(kind, 0x15, "TLS 1.1 is answered with an alert");
    assert_eq!(payload[1], 70, "alert protocol_version");
    let (kind, payload) = first_record(
        gw.addr,
        &client_hello(
            [3, 3],
            &[
                ECDHE_ECDSA_AES128_CBC_SHA,
                ECDHE_RSA_AES128_CBC_SHA,
                RSA_AES128_CBC_SHA,
            ],
        ),
    )
    .await;
    assert_eq!(kind, 0x15, "CBC-only TLS 1.2 is answered with an alert");
    assert_eq!(payload[1], 40, "alert handshake_failure");
}

fn installed(tool: &str) -> bool {
    let found = Command::new("which")
        .arg(tool)
        .output()
        .is_ok_and(|o| o.status.success());
    // CI installs both tools (.ci/run): there a missing one is a failure,
    // not a skip.
    assert!(
        found || std::env::var_os("CI").is_none(),
        "`{tool}` is not installed; .ci/run installs it"
    );
    if !found {
        eprintln!("skipped: `{tool}` is not installed");
    }
    found
}

/// Runs a command off the async runtime; (success, stdout + stderr).
async fn run(program: &str, args: Vec<String>) -> (bool, String) {
    let program = program.to_owned();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(&program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run tool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn curl_and_openssl_agree() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Portico Test CA");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let tls = format!(
        "certificates = [{}, {}]",
        pair(dir.path(), &ca.server(&["a.test"]), "a"),
        pair(dir.path(), &ca.server(&["b.test"]), "b"),
    );
    let gw = tls_gateway(&tls, |r| r).await;
    let port = gw.addr.port();
    let ca_arg = ca_file.display().to_string();

    if installed("curl") {
        for (flag, expected) in [("--http2", "2 200"), ("--http1.1", "1.1 200")] {
            let (ok, out) = run(
                "curl",
                vec![
                    "-sS".into(),
                    flag.into(),
                    "--cacert".into(),
                    ca_arg.clone(),
                    "--resolve".into(),
                    format!("b.test:{port}:127.0.0.1"),
                    "-o".into(),
                    "/dev/null".into(),
                    "-w".into(),
                    "%{http_version} %{http_code}".into(),
                    format!("https://b.test:{port}/curl"),
                ],
            )
            .await;
            assert!(ok, "curl {flag} failed: {out}");
            assert_eq!(out.trim(), expected, "curl {flag}");
        }
    }

    if installed("openssl") {
        let s_client = |extra: &[&str]| {
            let mut args: Vec<String> = vec![
                "s_client".into(),
                "-connect".into(),
                format!("127.0.0.1:{port}"),
                "-CAfile".into(),
                ca_arg.clone(),
                "-verify_return_error".into(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            run("openssl", args)
        };
        let (ok, out) = s_client(&[
            "-servername",
            "a.test",
            "-tls1_2",
            "-cipher",
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "-alpn",
            "h2",
        ])
        .await;
        assert!(ok, "TLS 1.2 with an intermediate suite: {out}");
        assert!(
            out.contains("CN = a.test") || out.contains("CN=a.test"),
            "{out}"
        );
        assert!(out.contains("ALPN protocol: h2"), "{out}");
        let (ok, out) = s_client(&["-servername", "b.test", "-tls1_3"]).await;
        assert!(ok, "TLS 1.3: {out}");
        assert!(
            out.contains("CN = b.test") || out.contains("CN=b.test"),
            "{out}"
        );
        let (ok, out) = s_client(&["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"]).await;
        assert!(!ok, "a CBC suite must be refused: {out}");
        let (ok, out) = s_client(&["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]).await;
        assert!(!ok, "TLS 1.1 must be refused: {out}");
    }
}

#[tokio::test]
async fn certificates_reload_while_serving_without_a_failed_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Portico Test CA");
    let first = ca.server(&["a.test"]);
    let tls = format!(
        "certificates = [{}]\nreload_interval_ms = 50",
        pair(dir.path(), &first, "a")
    );
    let gw = tls_gateway(&tls, |r| r).await;
    let config = client_config(Some(&ca), None, &[b"h2"]);

    // Handshakes back to back while the files change underneath.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let hammer = {
        let (stop, done, config, addr) = (stop.clone(), done.clone(), config.clone(), gw.addr);
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match handshake(addr, "a.test", config.clone()).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(error) => {
                        failures.push(error.to_string());
                        0
                    }
                };
            }
            failures
        })
    };
    let wait_for = |leaf: &Leaf| {
        let (der, config, addr) = (leaf.der.clone(), config.clone(), gw.addr);
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let stream = handshake(addr, "a.test", config.clone()).await.unwrap();
                if served(&stream) == der {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "the new certificate was never served"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    // A new certificate and key (the certificate lands first: for a moment
    // the pair does not match, and the old one must keep serving).
    let second = ca.server(&["a.test"]);
    second.write(dir.path(), "a");
    wait_for(&second).await;

    // A broken certificate file is refused; the current one keeps serving.
    pki::write_atomic(&dir.path().join("a.pem"), b"not a certificate");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stream = handshake(gw.addr, "a.test", config.clone()).await.unwrap();
    assert_eq!(served(&stream), second.der);

    // ... and a good one after it is picked up.
    let third = ca.server(&["a.test"]);
    third.write(dir.path(), "a");
    wait_for(&third).await;

    stop.store(true, Ordering::Relaxed);
    let failures = hammer.await.unwrap();
    assert!(
        failures.is_empty(),
        "handshakes failed during reload: {failures:?}"
    );
    assert!(done.load(Ordering::Relaxed) > 0);
}

/// An mTLS listener trusting `clients`, whose route copies the identity
/// context keys into request headers with the `probe` plugin.
async fn mtls_gateway(dir: &Path, clients: &Ca, mode: &str) -> (TestGateway, Ca) {
    let ca = Ca::new("Portico Server CA");
    let client_ca = dir.join("clients.pem");
    std::fs::write(&client_ca, clients.pem()).unwrap();
    let tls = format!(
        "certificates = [{}]\nclient_ca = \"{}\"\nclient_auth = \"{mode}\"",
        pair(dir, &ca.server(&["a.test"]), "a"),
        client_ca.display()
    );
    let probe = plugin("probe").grant([Cap::Context, Cap::Kv]).config_toml(
        "context_to_header",
        r#"{ "tls.client.cn" = "x-client-cn", "tls.client.san" = "x-client-san", "tls.client.subject" = "x-client-subject" }"#,
    );
    (tls_gateway(&tls, |r| r.plugin(probe)).await, ca)
}

/// Whether a request over a new connection presenting `client` is served.
async fn served_with(
    gw: &TestGateway,
    ca: &Ca,
    client: Option<&Leaf>,
) -> Result<pki::Answer, String> {
    let config = client_config(Some(ca), client, &[b"http/1.1"]);
    let stream = handshake(gw.addr, "a.test", config)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    // With TLS 1.3 the client finishes first: a refusal arrives as an alert
    // on the first read.
    get(stream, "a.test", "/whoami")
        .await
        .map_err(|e| format!("request: {e}"))
}

#[tokio::test]
async fn mtls_required_accepts_a_valid_client_and_passes_its_identity_to_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let clients = Ca::new("Portico Client CA");
    let (gw, ca) = mtls_gateway(dir.path(), &clients, "required").await;
    let alice = clients.client(
        "alice",
        &["dns:alice.internal", "uri:spiffe://portico/alice"],
    );

    let answer = served_with(&gw, &ca, Some(&alice)).await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.upstream_saw("x-client-cn"), ["alice"]);
    assert_eq!(
        answer.upstream_saw("x-client-san"),
        ["DNS:alice.internal, URI:spiffe://portico/alice"]
    );
    let subject = answer.upstream_saw("x-client-subject");
    assert!(subject[0].contains("CN=alice"), "{subject:?}");

    let refused = served_with(&gw, &ca, None).await;
    assert!(
        refused.is_err(),
        "no client certificate: {:?}",
        refused.map(|a| a.status)
    );
    let stranger = Ca::new("Somebody Else").client("mallory", &[]);
    let refused = served_with(&gw, &ca, Some(&stranger)).await;
    assert!(
        refused.is_err(),
        "untrusted client certificate: {:?}",
        refused.map(|a| a.status)
    );
}

#[tokio::test]
async fn mtls_optional_serves_anonymous_clients_without_an_identity() {
    let dir = tempfile::tempdir().unwrap();
    let clients = Ca::new("Portico Client CA");
    let (gw, ca) = mtls_gateway(dir.path(), &clients, "optional").await;

    let anonymous = served_with(&gw, &ca, None).await.unwrap();
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(anonymous.upstream_saw("x-client-cn").is_empty());

    let bob = clients.client("bob", &[]);
    let known = served_with(&gw, &ca, Some(&bob)).await.unwrap();
    assert_eq!(known.upstream_saw("x-client-cn"), ["bob"]);

    let stranger = Ca::new("Somebody Else").client("mallory", &[]);
    assert!(served_with(&gw, &ca, Some(&stranger)).await.is_err());
}

#[tokio::test]
async fn tls_config_problems_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let tls = format!(
        "certificates = [{{ cert = \"{0}\", key = \"{0}\" }}]",
        missing.display()
    );
    let error = tls_config(&tls, |r| r).try_start().await.err().unwrap();
    assert!(
        error.contains("listeners[0].tls.certificates[0].cert"),
        "{error}"
    );

    let ca = Ca::new("CA");
    let tls = format!(
        "certificates = [{}]\nclient_auth = \"optional\"",
        pair(dir.path(), &ca.server(&["a.test"]), "a")
    );
    let error = tls_config(&tls, |r| r).try_start().await.err().unwrap();
    assert!(error.contains("listeners[0].tls.client_auth"), "{error}");

    let other = ca.server(&["a.test"]);
    let (cert, _) = ca.server(&["a.test"]).write(dir.path(), "mismatch");
    let (_, key) = other.write(dir.path(), "other");
    let tls = format!(
        "certificates = [{{ cert = \"{}\", key = \"{}\" }}]",
        cert.display(),
        key.display()
    );
    let error = tls_config(&tls, |r| r).try_start().await.err().unwrap();
    assert!(
        error.contains("listeners[0].tls.certificates[0].key"),
        "{error}"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Portico Test CA");
    let tls = format!(
        "certificates = [{}]\nhandshake_timeout_ms = 200",
        pair(dir.path(), &ca.server(&["a.test"]), "a")
    );
    let gw = tls_gateway(&tls, |r| r).await;
    for sent in [
        &b""[..],
        &client_hello([3, 3], &[ECDHE_ECDSA_AES128_GCM])[..20],
    ] {
        let mut tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        tcp.write_all(sent).await.unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "a stalled handshake ({} bytes) was not dropped",
            sent.len()
        );
    }
}
