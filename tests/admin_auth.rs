//! The admin API with credentials: bearer tokens (kept as SHA-256) with
//! the `read` and `write` roles, 401 and 403 as problem+json, and every
//! admin action and config change in the hash-chained audit log, which
//! `portico audit verify` (the real binary) checks and names the line
//! where an edit breaks it; client certificates on the admin listener's
//! own TLS (mTLS) with their roles, recorded by certificate subject,
//! sealed in the file under `[encryption]`.

use crate::support;
use crate::support::pki::{self, Ca, Leaf};

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
    let mut args: Vec<&std::ffi::OsStr> = vec!["audit".as_ref(), "verify".as_ref()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    support::process::output_of(&args)
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

/// `method path` over the admin listener's TLS, presenting `client` (a
/// certificate) and `token` when given; the status and the JSON body, or
/// the handshake or connection error.
async fn tls_call(
    admin: SocketAddr,
    ca: &Ca,
    client: Option<&Leaf>,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Result<(StatusCode, Value), String> {
    let config = pki::client_config(Some(ca), client, &[b"h2", b"http/1.1"]);
    let stream = pki::handshake(admin, "localhost", config)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(
        pki::alpn(&stream).as_deref(),
        Some(&b"http/1.1"[..]),
        "the admin listener offers HTTP/1.1 only"
    );
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::new())).expect("request"))
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_carry_their_role_and_are_audited_by_subject_sealed_at_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("plugins")).expect("plugins");
    let ca = Ca::new("ops-ca");
    let (server_cert, server_key) = ca.server(&["localhost"]).write(dir.path(), "admin");
    std::fs::write(dir.path().join("ops-ca.pem"), ca.pem()).expect("ca");
    std::fs::write(dir.path().join("at-rest.key"), "42".repeat(32)).expect("key");
    let alice = ca.client("alice.ops", &["uri:spiffe://example.org/ops/alice"]);
    let bob = ca.client("bob.ops", &[]);
    let mallory = ca.client("mallory", &[]);
    let stranger = Ca::new("elsewhere").client("alice.ops", &[]);
    let admin_table = format!(
        r#"[admin]
addr = "127.0.0.1:0"
tokens = [{{ name = "ops", sha256 = "{write}", role = "write" }}]
clients = [
  {{ san = "URI:spiffe://example.org/ops/alice", role = "write" }},
  {{ cn = "bob.ops" }},
]
audit = {{ path = "audit/audit.jsonl" }}
tls = {{ certificates = [{{ cert = "{cert}", key = "{key}" }}], client_ca = "ops-ca.pem", client_auth = "optional" }}

[encryption]
active = "k1"
keys = [{{ id = "k1", key = {{ secret = "file:at-rest.key" }} }}]
"#,
        write = sha256_hex(WRITE_TOKEN),
        cert = server_cert.display(),
        key = server_key.display(),
    );
    let base = config("");
    let start = base.find("[admin]").expect("admin table");
    let end = base.find("[reload]").expect("reload table");
    let text = format!("{}{admin_table}\n{}", &base[..start], &base[end..]);
    let path = dir.path().join("portico.toml");
    std::fs::write(&path, &text).expect("config");

    // Client certificates are credentials: a non-loopback bind is allowed.
    let open = text.replace(
        "addr = \"127.0.0.1:0\"\ntokens",
        "addr = \"0.0.0.0:9901\"\ntokens",
    );
    let open_path = dir.path().join("open.toml");
    std::fs::write(&open_path, open).expect("config");
    portico::config::load(&open_path).expect("a non-loopback bind with client certificates");

    let app = App::start(&path).await.expect("gateway starts");
    let admin = app.admin_addr().expect("admin");
    let call = |client, method, path, token| tls_call(admin, &ca, client, method, path, token);

    assert_eq!(
        call(Some(&alice), Method::POST, "/reload", None)
            .await
            .expect("alice")
            .0,
        StatusCode::OK,
        "alice's SAN has the write role"
    );
    assert_eq!(
        call(Some(&bob), Method::GET, "/plugins", None)
            .await
            .expect("bob")
            .0,
        StatusCode::OK
    );
    let (status, body) = call(Some(&bob), Method::POST, "/reload", None)
        .await
        .expect("bob");
    assert_eq!(status, StatusCode::FORBIDDEN, "bob reads only: {body}");
    let (status, body) = call(Some(&mallory), Method::GET, "/plugins", None)
        .await
        .expect("m");
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("admin.clients")),
        "{body}"
    );
    // Without a certificate (client_auth = "optional"): a token, or 401.
    assert_eq!(
        call(None, Method::GET, "/plugins", None)
            .await
            .expect("none")
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(None, Method::POST, "/reload", Some(WRITE_TOKEN))
            .await
            .expect("token")
            .0,
        StatusCode::OK
    );
    // A certificate from another CA does not get through the handshake.
    assert!(
        call(Some(&stranger), Method::GET, "/plugins", None)
            .await
            .is_err(),
        "an unverified certificate was served"
    );

    let (status, page) = call(Some(&alice), Method::GET, "/audit?after=0", None)
        .await
        .expect("audit");
    assert_eq!(status, StatusCode::OK);
    let records = page["records"].as_array().expect("records");
    let summary: Vec<(String, String, String)> = records
        .iter()
        .skip(1)
        .map(|r| {
            let who = match r["actor"]["kind"].as_str() {
                Some("certificate") => r["actor"]["subject"].as_str().unwrap_or("?").to_owned(),
                Some("token") => r["actor"]["name"].as_str().unwrap_or("?").to_owned(),
                other => other.unwrap_or("?").to_owned(),
            };
            (
                who,
                r["action"].as_str().unwrap_or("?").into(),
                r["outcome"].as_str().unwrap_or("?").into(),
            )
        })
        .collect();
    let subject = |cn: &str| format!("CN={cn}, O=Portico Tests");
    assert_eq!(
        summary,
        vec![
            (subject("alice.ops"), "reload".into(), "unchanged".into()),
            (subject("bob.ops"), "denied".into(), "forbidden".into()),
            (subject("mallory"), "denied".into(), "forbidden".into()),
            (
                "anonymous".into(),
                "denied".into(),
                "unauthenticated".into()
            ),
            ("ops".into(), "reload".into(), "unchanged".into()),
        ]
    );
    assert!(
        records[1]["actor"]["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "GET /audit opens the sealed address"
    );
    app.shutdown().await;

    // On disk, subjects and addresses are sealed; the chain still verifies.
    let audit = dir.path().join("audit/audit.jsonl");
    let on_disk = std::fs::read_to_string(&audit).expect("audit");
    assert!(
        !on_disk.contains("alice.ops") && !on_disk.contains("mallory"),
        "{on_disk}"
    );
    assert!(!on_disk.contains("127.0.0.1"), "{on_disk}");
    assert!(on_disk.contains(r#""key":"k1""#), "{on_disk}");
    let (ok, text) = verify(&[&audit]);
    assert!(ok, "{text}");
}
