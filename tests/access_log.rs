//! The access log through the real gateway: one JSON line per request in
//! the configured file, read back and checked field by field, with secrets
//! redacted, control characters escaped, sampling and field selection.

use crate::support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::Value;
use support::builder::{Cap, Gateway, PluginBuilder, RouteBuilder, auth_probe, plugin};
use support::{parse_config, upstream};

/// A gateway logging to `<dir>/access.log` with `[observability.access_log]`
/// keys `log`, a route `logged` to an echo upstream through `chain`, and a
/// route `down` (path `/down`) to a closed port.
async fn logged_gateway(
    log: &str,
    chain: Option<PluginBuilder>,
) -> (support::TestGateway, PathBuf, String) {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let file = dir.join("access.log");
    let origin = upstream("origin").await;
    let closed: SocketAddr = "127.0.0.1:1".parse().expect("address");
    let gw = Gateway::builder()
        .table(&format!(
            "[observability.access_log]\nenabled = true\nfile = \"{}\"\n{log}",
            file.display()
        ))
        .upstream("origin", &[origin])
        .upstream("closed", &[closed])
        .route("down", |r| r.prefix("/down").upstream("closed"))
        .route("logged", |r| {
            chain
                .into_iter()
                .fold(r.upstream("origin"), RouteBuilder::plugin)
        })
        .start()
        .await;
    (gw, file, origin.to_string())
}

/// Waits (up to 5 s) until `file` holds `count` lines and returns them
/// parsed; every line must be one JSON object.
async fn lines(file: &Path, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.lines().count() >= count {
            assert!(text.ends_with('\n'), "lines end with a newline: {text:?}");
            return text
                .lines()
                .map(|line| {
                    serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line:?}"))
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(file).unwrap_or_default();
    panic!(
        "expected {count} lines in {}, found: {text:?}",
        file.display()
    );
}

#[tokio::test]
async fn each_request_is_one_json_line_with_every_field() {
    let (gw, file, origin) = logged_gateway(
        r#"request_headers = ["authorization", "x-user", "cookie", "x-trace-note"]
response_headers = ["x-upstream", "content-type"]"#,
        Some(auth_probe()),
    )
    .await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = gw
        .send(
            Method::POST,
            "/a/../items?token=s3cret&page=2",
            &[
                ("x-user", "alice"),
                ("authorization", "Bearer top-secret"),
                ("cookie", "session=abc"),
                ("traceparent", traceparent),
            ],
            "hello",
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);

    let line = &lines(&file, 1).await[0];
    assert_eq!(line["route"], "logged");
    assert_eq!(line["method"], "POST");
    assert_eq!(
        line["path"], "/items?token=[redacted]&page=[redacted]",
        "normalized, query values redacted by default"
    );
    assert_eq!(line["status"], 200);
    assert_eq!(line["request_bytes"], 5);
    assert_eq!(line["response_bytes"], response.body.len() as u64);
    assert_eq!(line["upstream_addr"], origin);
    assert_eq!(line["consumer"], "alice", "set by the auth plugin");
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let client = line["client"].as_str().expect("client");
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    let timestamp = line["timestamp"].as_str().expect("timestamp");
    assert_eq!(
        timestamp.len(),
        "2025-01-01T00:00:00.000Z".len(),
        "{timestamp}"
    );
    assert!(timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T');

    let total = line["duration_us"].as_u64().expect("duration_us");
    let upstream = line["upstream_us"].as_u64().expect("upstream_us");
    let probe = line["plugins"]["probe"].as_u64().expect("plugins.probe");
    assert!(upstream <= total && probe <= total, "{line}");

    assert_eq!(
        line["request_headers"],
        serde_json::json!({
            "authorization": "[redacted]",
            "cookie": "[redacted]",
            "x-user": "alice",
        }),
        "secrets redacted, absent headers left out"
    );
    assert_eq!(line["response_headers"]["x-upstream"], "origin");
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains("top-secret")
    );
}

#[tokio::test]
async fn control_characters_and_raw_bytes_are_escaped() {
    // A plugin may put anything in the context: here a consumer with a
    // newline, a quote and an escape character.
    let probe = plugin("probe")
        .grant([Cap::Log, Cap::Clock, Cap::Kv, Cap::Cache, Cap::Context])
        .config_toml(
            "context_set",
            r#"{ consumer = "mallory\n{\"forged\":1}\u001b[31m" }"#,
        );
    let (gw, file, _) = logged_gateway(r#"request_headers = ["x-note"]"#, Some(probe)).await;
    let note = http::HeaderValue::from_bytes(b"tab\there \xff\xfe end").unwrap();
    let mut request = http::Request::get(format!("http://{}/x", gw.addr));
    request = request.header("x-note", note);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client
        .request(request.body(http_body_util::Empty::new()).unwrap())
        .await
        .expect("gateway answered");
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    gw.get("/second").await;

    let lines = lines(&file, 2).await;
    assert_eq!(lines.len(), 2, "one line per request, none forged");
    assert_eq!(lines[0]["consumer"], "mallory\n{\"forged\":1}\u{1b}[31m");
    // A value that is not UTF-8 is logged byte-escaped as a whole.
    assert_eq!(
        lines[0]["request_headers"]["x-note"],
        r"tab\there \xff\xfe end"
    );
    let raw = std::fs::read_to_string(&file).unwrap();
    assert!(
        raw.contains(r#"mallory\n{\"forged\":1}\u001b[31m"#),
        "{raw}"
    );
    assert!(!raw.contains('\u{1b}') && !raw.contains('\t'));
}

#[tokio::test]
async fn sampling_drops_successes_but_keeps_errors() {
    let (gw, file, _) = logged_gateway("sample_rate = 0.0", None).await;
    for _ in 0..3 {
        assert_eq!(gw.get("/ok").await.status, StatusCode::OK);
    }
    for _ in 0..2 {
        assert_eq!(gw.get("/down").await.status, StatusCode::BAD_GATEWAY);
    }
    // Sent last: once it is in the file, nothing sampled in comes later.
    let lines = lines(&file, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    for line in &lines {
        assert_eq!(line["status"], 502);
        assert_eq!(line["route"], "down");
        assert!(line.get("upstream_addr").is_none(), "no target answered");
    }
}

#[tokio::test]
async fn only_the_selected_fields_are_written() {
    let (gw, file, _) = logged_gateway(
        r#"fields = ["status", "route", "path"]
query = "keep"
redact_query_params = ["api_key"]"#,
        None,
    )
    .await;
    gw.get("/p?api_key=k&q=shoes").await;
    let line = &lines(&file, 1).await[0];
    let mut keys: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["path", "route", "status"]);
    assert_eq!(line["path"], "/p?api_key=[redacted]&q=shoes");
}

/// The `client` field of one request's line under `[observability]` keys
/// `observability`.
async fn logged_client(observability: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("access.log");
    let origin = upstream("origin").await;
    let gw = Gateway::builder()
        .table(&format!(
            "[observability]\n{observability}\n[observability.access_log]\nenabled = true\nfile = \"{}\"",
            file.display()
        ))
        .upstream("origin", &[origin])
        .route("logged", |r| r.upstream("origin"))
        .start()
        .await;
    gw.get("/p").await;
    let line = &lines(&file, 1).await[0];
    gw.shutdown().await;
    line["client"].as_str().expect("client").to_owned()
}

#[tokio::test]
async fn client_addresses_can_be_truncated_or_hashed() {
    assert!(
        logged_client("").await.starts_with("127.0.0.1:"),
        "full by default"
    );
    assert_eq!(
        logged_client(r#"client_address = "truncated""#).await,
        "127.0.0.0"
    );
    // SAFETY: only this test reads or writes this variable.
    unsafe { std::env::set_var("PORTICO_TEST_CLIENT_KEY", "a key for client addresses") };
    let hashed = logged_client(
        "client_address = \"hashed\"\nclient_address_key = { env = \"PORTICO_TEST_CLIENT_KEY\" }",
    )
    .await;
    assert!(
        hashed.starts_with("h:") && !hashed.contains("127.0.0"),
        "{hashed}"
    );
    let again = logged_client(
        "client_address = \"hashed\"\nclient_address_key = { env = \"PORTICO_TEST_CLIENT_KEY\" }",
    )
    .await;
    assert_eq!(hashed, again, "the same client, the same value");
}

#[test]
fn bad_access_log_config_is_refused_with_its_key() {
    let cases = [
        ("sample_rate = 1.5", "observability.access_log.sample_rate"),
        (
            "fields = [\"status\", \"nope\"]",
            "observability.access_log.fields[1]",
        ),
        (
            "request_headers = [\"bad name\"]",
            "observability.access_log.request_headers[0]",
        ),
        ("colour = true", "observability.access_log"),
        ("query = \"hide\"", "observability.access_log.query"),
    ];
    for (keys, key) in cases {
        let (_dir, config) = parse_config(
            &Gateway::builder()
                .table(&format!("[observability.access_log]\n{keys}"))
                .toml(&[]),
        );
        let errors = config.expect_err(keys).to_string();
        assert!(errors.contains(&format!("`{key}")), "{keys}: {errors}");
        assert!(errors.contains("portico.toml"), "{errors}");
    }
}

#[tokio::test]
async fn an_unwritable_log_file_fails_the_build_naming_the_key() {
    let error = Gateway::builder()
        .table("[observability.access_log]\nenabled = true\nfile = \"/nonexistent-dir/a.log\"")
        .try_start()
        .await
        .err()
        .expect("refused");
    assert!(error.contains("observability.access_log.file"), "{error}");
    assert!(error.contains("/nonexistent-dir/a.log"), "{error}");
}
