//! The admin API with credentials: bearer tokens (kept as SHA-256) with
//! the `read` and `write` roles, 401 and 403 as problem+json, and every
//! admin action and config change in the hash-chained audit log, which
//! `portico audit verify` (the real binary) checks and names the line
//! where an edit breaks it.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portico::app::App;
use serde_json::Value;
use sha2::{Digest, Sha256};

const WRITE_TOKEN: &str = "ops-token-0123456789";
const READ_TOKEN: &str = "grafana-token-0123456789";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The config, with `extra` routes appended (an invalid one refuses the
/// reload).
fn config(extra: &str) -> String {
    format!(
        r#"version = 1
plugin_dir = "plugins"

[runtime]
cache_dir = "{cache}"

[[listeners]]
name = "traffic"
addr = "127.0.0.1:0"

[admin]
addr = "127.0.0.1:0"
tokens = [
  {{ name = "ops", sha256 = "{write}", role = "write" }},
  {{ name = "grafana", sha256 = "{read}" }},
]
audit = {{ path = "audit/audit.jsonl" }}

[reload]
watch = false

[upstreams.u]
targets = ["127.0.0.1:1"]

[[routes]]
name = "r"
upstream = "u"
{extra}"#,
        cache = support::root().join("target/test-cache").display(),
        write = sha256_hex(WRITE_TOKEN),
        read = sha256_hex(READ_TOKEN),
    )
}

async fn call(
    admin: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, http::HeaderMap, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{admin}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("admin answered");
    let (head, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (
        head.status,
        head.headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

fn verify(files: &[&Path]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["audit", "verify"])
        .args(files)
        .output()
        .expect("run portico audit verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tokens_and_roles_are_enforced_and_every_action_is_audited() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("plugins")).expect("plugins");
    let path = dir.path().join("portico.toml");
    std::fs::write(&path, config("")).expect("config");
    let app = App::start(&path).await.expect("gateway starts");
    let admin = app.admin_addr().expect("admin");

    // No token, a wrong token: 401 with a Bearer challenge, problem+json.
    let (status, headers, body) = call(admin, Method::GET, "/plugins", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"portico-admin\"")
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert_eq!(body["status"], 401);
    let (status, _, _) = call(admin, Method::GET, "/plugins", Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Open: the health check and the dashboard's page (which holds no data).
    assert_eq!(
        call(admin, Method::GET, "/healthz", None).await.0,
        StatusCode::OK
    );
    assert_eq!(call(admin, Method::GET, "/", None).await.0, StatusCode::OK);
    assert_eq!(
        call(admin, Method::GET, "/api/live", None).await.0,
        StatusCode::UNAUTHORIZED,
        "the dashboard's data needs the token"
    );
    // The read role reads, but may not reload.
    assert_eq!(
        call(admin, Method::GET, "/plugins", Some(READ_TOKEN))
            .await
            .0,
        StatusCode::OK
    );
    let (status, _, body) = call(admin, Method::POST, "/reload", Some(READ_TOKEN)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("read role")),
        "{body}"
    );
    // The write role reloads; a refused reload is recorded too.
    assert_eq!(
        call(admin, Method::POST, "/reload", Some(WRITE_TOKEN))
            .await
            .0,
        StatusCode::OK
    );
    std::fs::write(
        &path,
        config("[[routes]]\nname = \"r2\"\nupstream = \"nowhere\"\n"),
    )
    .expect("bad config");
    assert_eq!(
        call(admin, Method::POST, "/reload", Some(WRITE_TOKEN))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, _, _) = call(
        admin,
        Method::POST,
        "/plugins/nothing/rollback",
        Some(WRITE_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The audit log, paged through with the read role.
    let (status, _, page) = call(
        admin,
        Method::GET,
        "/audit?after=0&limit=100",
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let records = page["records"].as_array().expect("records").clone();
    let summary: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            let who = match r["actor"]["kind"].as_str() {
                Some("token") => r["actor"]["name"].as_str().unwrap_or_default().to_owned(),
                Some(kind) => kind.to_owned(),
                None => String::new(),
            };
            (
                who,
                r["action"].as_str().unwrap_or_default().to_owned(),
                r["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("system", "startup", "applied"),
        ("anonymous", "denied", "unauthenticated"),
        ("anonymous", "denied", "unauthenticated"),
        ("anonymous", "denied", "unauthenticated"),
        ("grafana", "denied", "forbidden"),
        ("ops", "reload", "unchanged"),
        ("ops", "reload", "refused"),
        ("ops", "rollback", "error"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(summary, expected);
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<u64>>());
    assert!(
        records[1]["actor"]["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:"))
    );
    assert_eq!(records[4]["detail"]["path"], "/reload");
    assert!(
        records[6]["detail"]["errors"][0]["key"]
            .as_str()
            .is_some_and(|k| k.contains("upstream")),
        "{}",
        records[6]
    );
    // Reads are not audited: after 6 come 7 and 8 only.
    let (_, _, later) = call(admin, Method::GET, "/audit?after=6", Some(READ_TOKEN)).await;
    assert_eq!(
        later["records"].as_array().map(Vec::len),
        Some(2),
        "{later}"
    );
    assert_eq!(later["next_after"], 8);
    app.shutdown().await;

    // The chain verifies; an edited line is named.
    let audit = dir.path().join("audit/audit.jsonl");
    let (ok, text) = verify(&[&audit]);
    assert!(ok, "{text}");
    assert!(text.contains("8 records"), "{text}");
    let original = std::fs::read_to_string(&audit).expect("read audit");
    let edited = original.replacen("\"grafana\"", "\"mallory\"", 1);
    std::fs::write(&audit, edited).expect("edit");
    let (ok, text) = verify(&[&audit]);
    assert!(!ok, "an edited record verified: {text}");
    assert!(
        text.contains("audit.jsonl:5:") && text.contains("edited"),
        "{text}"
    );
    let mut lines: Vec<&str> = original.lines().collect();
    lines.remove(2);
    std::fs::write(&audit, lines.join("\n") + "\n").expect("delete a line");
    let (ok, text) = verify(&[&audit]);
    assert!(!ok);
    assert!(
        text.contains("audit.jsonl:3:") && text.contains("record 4 follows record 2"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_the_dashboard_asks_for_one_instead_of_showing_data() {
    let Some(browser) = crate::dashboard::chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is required under CI=true (apt-get install chromium)"
        );
        eprintln!("skipped: chromium not found (set CHROMIUM or install it)");
        return;
    };
    let gw = support::builder::Gateway::builder()
        .admin(&format!(
            "tokens = [{{ name = \"ops\", sha256 = \"{}\" }}]",
            sha256_hex(READ_TOKEN)
        ))
        .echo("origin")
        .route("hello", |r| r.prefix("/hello").upstream("origin"))
        .start()
        .await;
    let admin = gw.admin.expect("admin");
    let dom = crate::dashboard::dump_dom(browser, format!("http://{admin}/"), 3000).await;
    // The page loaded (it needs no token), its first data request got 401,
    // and the token form is shown (no longer `hidden`).
    assert!(dom.contains("<form id=\"login\">"), "{dom}");
    assert!(dom.contains("needs a token"), "{dom}");
    gw.shutdown().await;
}
