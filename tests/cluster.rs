//! Many gateways, one etcd: configs pushed with `portico config push` reach
//! every instance configured from `etcd://`, bad documents are refused
//! (by `config push` before writing, and by every instance when written
//! into etcd directly) while the last good one serves, a write over a
//! stale revision is a conflict, and `GET /cluster` lists the instances
//! and whether each runs the latest revision. Upstream targets registered
//! in etcd change the serving set under load without a failed request,
//! and an etcd restart loses nothing.
//!
//! All of it against a real `etcd` (Debian `etcd-server`), real `portico`
//! processes and the real `portico config` command.

use crate::support;
use crate::support::etcd::EtcdServer;
use crate::support::live;
use crate::support::process::{self, Running};

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use support::builder::Gateway;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A `portico run --config etcd://...` child process, stopped (SIGTERM,
/// then waited for) when dropped.
struct Instance {
    running: Running,
}

impl Instance {
    fn run(location: &str, id: &str) -> Instance {
        let running =
            process::spawn_run(&[location.as_ref(), "--instance-id".as_ref(), id.as_ref()]);
        Instance { running }
    }

    async fn get(&self, path: &str) -> StatusCode {
        match live::send(&client(), Method::GET, self.running.addr, path).await {
            Ok(response) => response.status,
            Err(error) => panic!("GET {path}: {error}"),
        }
    }

    async fn admin(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let response = live::send(&client(), Method::GET, self.running.admin, path)
            .await
            .unwrap_or_else(|e| panic!("admin GET {path}: {e}"));
        let json = serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
        (response.status, json)
    }

    /// Stops the process as an operator would (SIGTERM) and waits for it.
    fn stop(mut self) {
        process::signal(&self.running.child, libc::SIGTERM);
        let _ = self.running.child.wait();
        // Dropped with the process gone: nothing left to kill.
        let _ = self.running.child.kill();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.running.child.kill();
        let _ = self.running.child.wait();
    }
}

/// Runs `portico config ARGS...`: success, stdout, stderr.
fn portico_config(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_portico"))
        .arg("config")
        .args(args)
        .output()
        .expect("run portico config");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A config document serving `/v1` (and `/v2` when `second`) from an echo
/// upstream at `echo`, written to `dir/name`.
fn write_config(dir: &Path, name: &str, echo: SocketAddr, second: bool) -> String {
    let mut builder = Gateway::builder()
        .upstream("echo", &[echo])
        .route("v1", |r| r.prefix("/v1"));
    if second {
        builder = builder.route("v2", |r| r.prefix("/v2"));
    }
    let path = dir.join(name);
    std::fs::write(&path, builder.toml(&[])).expect("write config");
    path.display().to_string()
}

/// Waits (up to 15 s) until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The revision `portico config get` reports (on stderr).
fn revision_of(location: &str) -> i64 {
    let (ok, _, stderr) = portico_config(&["get", "--from", location]);
    assert!(ok, "config get: {stderr}");
    stderr
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no revision in {stderr:?}"))
}

/// Each instance id in `GET /cluster` and whether it is current.
async fn cluster_view(instance: &Instance) -> (i64, BTreeMap<String, (i64, bool)>) {
    let (status, view) = instance.admin("/cluster").await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let instances = view["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| {
            let id = i["id"].as_str().expect("id").to_owned();
            let revision = i["config_revision"].as_i64().expect("revision");
            (id, (revision, i["current"].as_bool().expect("current")))
        })
        .collect();
    (view["latest_revision"].as_i64().expect("latest"), instances)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_pushed_to_etcd_reach_every_instance_and_bad_ones_are_refused() {
    let Some(etcd) = EtcdServer::start().await else {
        return;
    };
    let location = etcd.location("/portico/test");
    let echo = support::upstream("echo").await;
    let dir = tempfile::tempdir().expect("tempdir");

    // No document yet: an instance refuses to start, naming the fix.
    let output = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["run", "--config", &location])
        .output()
        .expect("run portico");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no config document at `/portico/test/config`")
            && stderr.contains("portico config push"),
        "{stderr}"
    );

    let first = write_config(dir.path(), "first.toml", echo, false);
    let (ok, out, err) = portico_config(&["push", &first, "--to", &location]);
    assert!(ok, "{err}");
    assert!(
        out.contains("OK (1 routes") && out.contains("(the first)"),
        "{out}"
    );
    let first_revision = revision_of(&location);
    // `portico check` checks the stored document as an instance would.
    let check = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["check", "--config", &location])
        .output()
        .expect("run portico check");
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{said}");
    assert!(
        said.contains(&format!("{location}/config@{first_revision}: OK (1 routes")),
        "{said}"
    );

    let a = Instance::run(&location, "a");
    let b = Instance::run(&location, "b");
    for instance in [&a, &b] {
        assert_eq!(instance.get("/v1/x").await, StatusCode::OK);
        assert_eq!(instance.get("/v2/x").await, StatusCode::NOT_FOUND);
    }
    // Registration is written by a background task once an instance
    // runs, so an instance that serves may not be listed yet.
    let both = BTreeMap::from([
        ("a".to_owned(), (first_revision, true)),
        ("b".to_owned(), (first_revision, true)),
    ]);
    eventually(
        "both instances registered at the first revision",
        || async { cluster_view(&a).await.1 == both },
    )
    .await;
    let (latest, view) = cluster_view(&a).await;
    assert_eq!(latest, first_revision);
    assert_eq!(view, both);

    // A new document reaches both running instances.
    let second = write_config(dir.path(), "second.toml", echo, true);
    let (ok, out, err) = portico_config(&["push", &second, "--to", &location]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("(replacing {first_revision})")),
        "{out}"
    );
    let second_revision = revision_of(&location);
    for instance in [&a, &b] {
        eventually("the second document on every instance", || async {
            instance.get("/v2/x").await == StatusCode::OK
        })
        .await;
    }
    eventually(
        "both instances registered at the second revision",
        || async {
            cluster_view(&b)
                .await
                .1
                .values()
                .all(|v| *v == (second_revision, true))
        },
    )
    .await;

    // `config push` checks before it writes: nothing reaches etcd.
    let broken = dir.path().join("broken.toml");
    let text = std::fs::read_to_string(&second).expect("read");
    std::fs::write(
        &broken,
        text.replace("upstream = \"echo\"", "upstream = \"nowhere\""),
    )
    .expect("write");
    let (ok, _, err) =
        portico_config(&["push", broken.to_str().expect("utf-8"), "--to", &location]);
    assert!(!ok);
    assert!(err.contains("no upstream named `nowhere`"), "{err}");
    assert_eq!(
        revision_of(&location),
        second_revision,
        "nothing was written"
    );

    // A write over a stale revision is a conflict, and changes nothing.
    let (ok, _, err) = portico_config(&[
        "push",
        &first,
        "--to",
        &location,
        "--expect-revision",
        &first_revision.to_string(),
    ]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "conflict: `/portico/test/config` is at revision {second_revision}, not {first_revision}"
        )),
        "{err}"
    );
    assert_eq!(revision_of(&location), second_revision);

    // A bad document written into etcd directly: every instance refuses it
    // (reported in /reloads) and keeps serving the second one.
    let bad_revision = etcd
        .put("/portico/test/config", "version = 1\n[[routes]\n")
        .await;
    for instance in [&a, &b] {
        eventually("the bad document refused", || async {
            let (_, reloads) = instance.admin("/reloads").await;
            reloads["last"]["config_revision"] == bad_revision
                && reloads["last"]["outcome"] == "refused"
        })
        .await;
        let (_, reloads) = instance.admin("/reloads").await;
        let problem = &reloads["last"]["errors"][0];
        assert_eq!(
            problem["file"],
            format!("{location}/config@{bad_revision}"),
            "{reloads}"
        );
        assert!(
            problem["message"]
                .as_str()
                .is_some_and(|m| m.contains("line 2")),
            "{problem}"
        );
        assert_eq!(instance.get("/v2/x").await, StatusCode::OK);
        let metrics = live::send(&client(), Method::GET, instance.running.admin, "/metrics")
            .await
            .expect("metrics");
        let metrics = String::from_utf8_lossy(&metrics.body);
        assert!(
            metrics.contains("portico_config_reloads_total{outcome=\"refused\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains(&format!("portico_config_revision {second_revision}")),
            "{metrics}"
        );
    }
    let (latest, view) = cluster_view(&a).await;
    assert_eq!(latest, bad_revision);
    assert_eq!(
        view,
        BTreeMap::from([
            ("a".to_owned(), (second_revision, false)),
            ("b".to_owned(), (second_revision, false)),
        ]),
        "neither instance runs the latest (refused) revision"
    );
    // The dashboard shows the same, in a real browser.
    match crate::dashboard::chromium() {
        Some(browser) => {
            let url = format!("http://{}/", a.running.admin);
            let dom = crate::dashboard::dump_dom(browser, url, 1500).await;
            let behind = format!("behind (latest {bad_revision})");
            for id in ["a", "b"] {
                let row = crate::dashboard::row(&dom, "data-instance", id);
                assert_eq!(crate::dashboard::cell(row, "state"), behind, "{row}");
                assert_eq!(
                    crate::dashboard::cell(row, "revision"),
                    second_revision.to_string()
                );
            }
            assert!(dom.contains("a (this)"), "the page marks its own instance");
        }
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "chromium is required under CI=true (apt-get install chromium)"
            );
            eprintln!("note: chromium not found; the dashboard's cluster panel is not checked");
        }
    }

    // A stopped instance leaves the registry at once (its lease revoked).
    b.stop();
    let (_, view) = cluster_view(&a).await;
    assert_eq!(view.keys().collect::<Vec<_>>(), ["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn targets_registered_in_etcd_change_the_set_under_load_and_survive_an_etcd_restart() {
    let Some(mut etcd) = EtcdServer::start().await else {
        return;
    };
    let mut backends = BTreeMap::new();
    for name in ["one", "two", "three", "four"] {
        backends.insert(name, support::upstream(name).await);
    }
    etcd.put("/services/pool/one", &backends["one"].to_string())
        .await;
    let gw = Gateway::builder()
        .table(&format!(
            "[etcd]\nendpoints = [\"{}\"]\ntimeout_ms = 500",
            etcd.addr
        ))
        .upstream_toml("pool", "etcd = { prefix = \"/services/pool/\" }")
        .route("r", |r| r)
        .start()
        .await;
    let addr = gw.addr;

    // Eight clients send requests back to back for the whole test; every
    // answer must be a 200, and we note who answered.
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (stop, failed, served, seen) =
                (stop.clone(), failed.clone(), served.clone(), seen.clone());
            tokio::spawn(async move {
                let client = client();
                while !stop.load(Ordering::Relaxed) {
                    match live::send(&client, Method::GET, addr, "/").await {
                        Ok(response) if response.status == StatusCode::OK => {
                            served.fetch_add(1, Ordering::Relaxed);
                            if let Some(name) = response.header("x-upstream") {
                                seen.lock().push(name.to_owned());
                            }
                        }
                        Ok(_) | Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    // The set answering lately is `want`.
    let serving = |want: &'static [&'static str]| {
        let seen = seen.clone();
        async move {
            let want: HashSet<&str> = want.iter().copied().collect();
            eventually(&format!("{want:?} serving"), || {
                let seen = seen.clone();
                let want = want.clone();
                async move {
                    seen.lock().clear();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let lately: HashSet<String> = seen.lock().iter().cloned().collect();
                    lately.len() == want.len() && want.iter().all(|w| lately.contains(*w))
                }
            })
            .await;
        }
    };
    serving(&["one"]).await;
    etcd.put(
        "/services/pool/two",
        &format!("{{\"addr\": \"{}\", \"weight\": 2}}", backends["two"]),
    )
    .await;
    serving(&["one", "two"]).await;
    etcd.delete("/services/pool/one").await;
    serving(&["two"]).await;
    // A value that is not a target is left out; the others keep serving.
    etcd.put("/services/pool/junk", "not a target").await;
    etcd.put("/services/pool/three", &backends["three"].to_string())
        .await;
    serving(&["two", "three"]).await;

    // etcd goes away: the last set keeps serving.
    etcd.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    serving(&["two", "three"]).await;
    // Back on the same data: the watch resumes and sees new writes.
    etcd.restart().await;
    etcd.put("/services/pool/four", &backends["four"].to_string())
        .await;
    etcd.delete("/services/pool/two").await;
    serving(&["three", "four"]).await;

    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("client");
    }
    let (served, failed) = (
        served.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    eprintln!(
        "served {served} requests while the targets changed and etcd restarted; {failed} failed"
    );
    assert!(served > 500, "the load ran ({served} requests)");
    assert_eq!(failed, 0, "no request failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etcd_with_auth_is_reached_with_the_credentials_from_the_environment() {
    let Some(etcd) = EtcdServer::start().await else {
        return;
    };
    let location = etcd.location("/portico/auth");
    let echo = support::upstream("echo").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "config.toml", echo, false);
    // Auth on: root may do anything, nobody else anything.
    let mut admin = etcd.client().await;
    admin
        .user_add("root", "root-pw", None)
        .await
        .expect("user root");
    admin
        .user_grant_role("root", "root")
        .await
        .expect("grant root");
    admin.auth_enable().await.expect("auth enable");

    let with = |user: Option<(&str, &str)>, args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portico"));
        command
            .args(args)
            .env_remove("PORTICO_ETCD_USERNAME")
            .env_remove("PORTICO_ETCD_PASSWORD");
        if let Some((name, password)) = user {
            command
                .env("PORTICO_ETCD_USERNAME", name)
                .env("PORTICO_ETCD_PASSWORD", password);
        }
        let output = command.output().expect("run portico");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let push = ["config", "push", config.as_str(), "--to", location.as_str()];
    let (ok, out) = with(None, &push);
    assert!(!ok, "no credentials: refused\n{out}");
    assert!(out.contains("etcdserver: user name is empty"), "{out}");
    assert_eq!(
        out.matches("grpc request error").count(),
        1,
        "said once: {out}"
    );
    let (ok, out) = with(Some(("root", "wrong")), &push);
    assert!(!ok, "a wrong password: refused\n{out}");
    assert!(
        out.contains("authentication failed, invalid user ID or password"),
        "{out}"
    );
    let (ok, out) = with(Some(("root", "root-pw")), &push);
    assert!(ok, "{out}");
    assert!(out.contains("pushed revision"), "{out}");
    let (ok, out) = with(
        Some(("root", "root-pw")),
        &["config", "get", "--from", location.as_str()],
    );
    assert!(ok && out.contains("[[routes]]"), "{out}");
}
