//! Encryption at rest through the real gateway: consumer names in the
//! analytics file are sealed (no name in any of SQLite's files, scanned as
//! bytes) yet every query answers with them, across a key rotation (rows
//! under the old key still read and merge while it is configured); cache
//! values kept in a real Redis are sealed, shared by gateways holding the
//! key and a miss for one holding another key under the same id; a
//! missing or malformed key fails `portico check` naming its config path,
//! never its value.

use crate::support;
use crate::support::monitor::Monitored;
use crate::support::origin;
use crate::support::redis::RedisServer;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use support::builder::{Cap, Gateway, auth_probe, plugin};

const CONSUMER: &str = "alice.personal@example.com";

/// Writes a 32-byte key of `byte`s, as hex, to `dir/name.key`; its path.
fn key_file(dir: &Path, name: &str, byte: u8) -> String {
    let path = dir.join(format!("{name}.key"));
    std::fs::write(&path, format!("{}\n", format!("{byte:02x}").repeat(32))).expect("key");
    path.display().to_string()
}

/// `[encryption]` with `active` and `keys` (id, key file).
fn encryption(active: &str, keys: &[(&str, &str)]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|(id, file)| format!(r#"{{ id = "{id}", key = {{ secret = "file:{file}" }} }}"#))
        .collect();
    format!(
        "[encryption]\nactive = \"{active}\"\nkeys = [{}]\n",
        keys.join(", ")
    )
}

async fn analytics_gateway(data: &Path, encryption: &str) -> Monitored {
    Gateway::builder()
        .table(&format!(
            "[analytics]\ndir = \"{}\"\nflush_interval_s = 60\n\n{encryption}",
            data.display()
        ))
        .echo("origin")
        .route("api", |r| r.prefix("/api").plugin(auth_probe()))
        .start_monitored()
        .await
}

/// `n` requests as `consumer`, then their rollups written.
async fn send_as(gw: &Monitored, consumer: &str, n: usize) {
    for _ in 0..n {
        let r = gw
            .gateway
            .send(Method::GET, "/api/x", &[("x-user", consumer)], "")
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    gw.monitor
        .analytics
        .as_ref()
        .expect("analytics")
        .flush()
        .await;
}

/// `{name: requests}` of the top consumers.
async fn top_consumers(gw: &Monitored) -> BTreeMap<String, u64> {
    let top = gw.admin_get("/analytics/top-consumers").await;
    assert_eq!(top.status, StatusCode::OK);
    top.json()["top"]
        .as_array()
        .expect("a top list")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_owned(),
                e["requests"].as_u64().expect("requests"),
            )
        })
        .collect()
}

/// Every byte of every file under `dir` (SQLite's file, its WAL and shm).
fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            all.extend(std::fs::read(&path).expect("read"));
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn analytics_consumers_are_sealed_on_disk_and_read_back_across_a_key_rotation() {
    let data = tempfile::tempdir().expect("data");
    let keys = tempfile::tempdir().expect("keys");
    let (k1, k2) = (
        key_file(keys.path(), "k1", 0x11),
        key_file(keys.path(), "k2", 0x22),
    );

    let gw = analytics_gateway(data.path(), &encryption("k1", &[("k1", &k1)])).await;
    send_as(&gw, CONSUMER, 3).await;
    assert_eq!(
        top_consumers(&gw).await[CONSUMER],
        3,
        "queries answer with the name"
    );
    gw.shutdown().await;
    let on_disk = bytes_under(data.path());
    assert!(on_disk.len() > 4096, "the store was written");
    assert!(
        !contains(&on_disk, CONSUMER),
        "the consumer name is on disk"
    );
    assert!(!contains(&on_disk, "alice"), "part of the name is on disk");
    assert!(
        !contains(&on_disk, "127.0.0.1"),
        "a client address is on disk"
    );

    // Rotation: k2 seals new rows, k1's rows still read and add up.
    let rotated = encryption("k2", &[("k2", &k2), ("k1", &k1)]);
    let gw = analytics_gateway(data.path(), &rotated).await;
    send_as(&gw, CONSUMER, 2).await;
    assert_eq!(
        top_consumers(&gw).await[CONSUMER],
        5,
        "rows under k1 and k2 merge"
    );
    gw.shutdown().await;
    assert!(!contains(&bytes_under(data.path()), CONSUMER));

    // With k1 retired, its rows no longer open; they are not shown as a
    // name, and k2's rows still are.
    let gw = analytics_gateway(data.path(), &encryption("k2", &[("k2", &k2)])).await;
    let top = top_consumers(&gw).await;
    assert_eq!(top[CONSUMER], 2, "{top:?}");
    assert_eq!(top["(sealed under key k1)"], 3, "{top:?}");
    gw.shutdown().await;

    // An erasure with both keys configured removes the rows under each.
    let gw = analytics_gateway(data.path(), &rotated).await;
    let erased = gw
        .gateway
        .send_to(
            gw.admin,
            Method::DELETE,
            &format!("/analytics/consumers/{CONSUMER}"),
            &[],
            "",
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK);
    assert!(erased.json()["erased_rows"].as_u64().expect("rows") >= 2);
    assert!(!top_consumers(&gw).await.contains_key(CONSUMER));
    gw.shutdown().await;
}

/// Every (key, value) in `redis`, read over RESP.
fn redis_entries(addr: SocketAddr) -> Vec<(String, Vec<u8>)> {
    let stream = TcpStream::connect(addr).expect("connect redis");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut command = |args: &[&[u8]]| -> Value {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend(format!("${}\r\n", arg.len()).as_bytes());
            out.extend(*arg);
            out.extend(b"\r\n");
        }
        writer.write_all(&out).expect("write");
        read_resp(&mut reader)
    };
    let keys: Vec<String> = match command(&[b"KEYS", b"*"]) {
        Value::Array(keys) => keys
            .iter()
            .map(|k| k.as_str().expect("key").to_owned())
            .collect(),
        other => panic!("KEYS: {other}"),
    };
    keys.into_iter()
        .filter_map(|key| match command(&[b"GET", key.as_bytes()]) {
            // Bulk strings come back as arrays of bytes (binary values).
            Value::Array(bytes) => Some((
                key,
                bytes
                    .iter()
                    .map(|b| b.as_u64().unwrap_or(0) as u8)
                    .collect(),
            )),
            _ => None,
        })
        .collect()
}

/// One RESP reply: arrays of keys as strings, a bulk string's bytes as an
/// array of numbers, anything else as null.
fn read_resp(reader: &mut BufReader<TcpStream>) -> Value {
    let mut line = String::new();
    reader.read_line(&mut line).expect("reply");
    let line = line.trim_end();
    let (kind, rest) = line.split_at(1);
    match kind {
        "*" => {
            let n: i64 = rest.parse().expect("count");
            let items = (0..n.max(0))
                .map(|_| match read_resp(reader) {
                    Value::Array(bytes) => {
                        let bytes: Vec<u8> = bytes
                            .iter()
                            .map(|b| b.as_u64().unwrap_or(0) as u8)
                            .collect();
                        Value::String(String::from_utf8_lossy(&bytes).into_owned())
                    }
                    other => other,
                })
                .collect();
            Value::Array(items)
        }
        "$" => {
            let n: i64 = rest.parse().expect("length");
            if n < 0 {
                return Value::Null;
            }
            let mut bytes = vec![0u8; n as usize + 2];
            reader.read_exact(&mut bytes).expect("bulk");
            bytes.truncate(n as usize);
            Value::Array(bytes.into_iter().map(Value::from).collect())
        }
        _ => Value::Null,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_values_in_redis_are_sealed_and_open_only_under_the_same_key() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    const BODY: &str = "patient record of jane-doe-4711";
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let origin = origin::origin(move |_request| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Response::builder()
                .header("cache-control", "public, max-age=60")
                .body(Full::new(Bytes::from(BODY)))
                .expect("response")
        }
    })
    .await;
    let keys = tempfile::tempdir().expect("keys");
    let (right, wrong) = (
        key_file(keys.path(), "right", 0x5a),
        key_file(keys.path(), "wrong", 0xa5),
    );
    let gateway = |key: &str| {
        Gateway::builder()
            .table(&redis.state_table())
            .table(&encryption("k1", &[("k1", key)]))
            .upstream("origin", &[origin])
            .route("cached", |r| {
                r.plugin(plugin("cache").grant([Cap::Cache, Cap::Clock, Cap::Metrics]))
            })
            .start()
    };
    let (a, b, impostor) = (
        gateway(&right).await,
        gateway(&right).await,
        gateway(&wrong).await,
    );
    let host = [("host", "records.example.com")];

    let first = a.send(Method::GET, "/records/1", &host, "").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body, BODY);
    assert_eq!(first.headers["cache-status"], "portico; fwd=miss; stored");
    let entries = redis_entries(redis.addr);
    let cached: Vec<_> = entries
        .iter()
        .filter(|(k, _)| k.contains("cache"))
        .collect();
    assert!(
        !cached.is_empty(),
        "the response went to Redis: {entries:?}"
    );
    for (key, value) in &entries {
        assert!(
            !contains(value, "jane-doe"),
            "{key} holds the body in plain text"
        );
        assert!(
            !contains(value, "records.example.com"),
            "{key} holds the host"
        );
    }

    let second = b.send(Method::GET, "/records/1", &host, "").await;
    assert_eq!(second.body, BODY);
    let status = second.headers["cache-status"].to_str().expect("text");
    assert!(status.starts_with("portico; hit"), "{status}");
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "the gateway with the key read it"
    );

    // Another key under the same id opens nothing: a miss, not garbage.
    let third = impostor.send(Method::GET, "/records/1", &host, "").await;
    assert_eq!(third.status, StatusCode::OK);
    assert_eq!(third.body, BODY);
    let status = third.headers["cache-status"].to_str().expect("text");
    assert!(status.contains("fwd=miss"), "{status}");
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}

/// `portico check` on a config whose one key is `key_text` (or absent):
/// (ok, output).
fn check_with_key(key_text: Option<&str>) -> (bool, String) {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("portico.toml");
    let text = Gateway::builder()
        .table(concat!(
            "[encryption]\nactive = \"main\"\n",
            "keys = [{ id = \"main\", key = { secret = \"env:PORTICO_TEST_AT_REST_KEY\" } }]"
        ))
        .upstream("origin", &["127.0.0.1:9".parse().expect("addr")])
        .route("r", |r| r.upstream("origin"))
        .toml(&[]);
    std::fs::write(&config, text).expect("config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_portico"));
    command.args(["check", "--config"]).arg(&config);
    match key_text {
        Some(key) => command.env("PORTICO_TEST_AT_REST_KEY", key),
        None => command.env_remove("PORTICO_TEST_AT_REST_KEY"),
    };
    let output = command.output().expect("portico check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn a_missing_or_malformed_key_fails_the_check_by_its_path_not_its_value() {
    let good = "ab".repeat(32);
    let (ok, output) = check_with_key(Some(&good));
    assert!(ok, "{output}");
    assert!(!output.contains(&good), "{output}");

    let (ok, output) = check_with_key(None);
    assert!(!ok);
    assert!(output.contains("encryption.keys[0].key"), "{output}");
    assert!(output.contains("PORTICO_TEST_AT_REST_KEY"), "{output}");

    let short = "0123456789abcdef-not-a-key";
    let (ok, output) = check_with_key(Some(short));
    assert!(!ok);
    assert!(output.contains("encryption.keys[0].key"), "{output}");
    assert!(output.contains("32 bytes"), "{output}");
    assert!(!output.contains(short), "the value is echoed: {output}");
}
