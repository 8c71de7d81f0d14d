//! A real `etcd` (Debian package `etcd-server`) on ephemeral ports of
//! 127.0.0.1, its data in a temporary directory that survives a restart
//! (so revisions go on where they stopped), and a client for the test's
//! own writes.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::Client;

/// A running (or stopped) single-member etcd cluster.
pub struct EtcdServer {
    /// Where clients connect.
    pub addr: SocketAddr,
    peer: SocketAddr,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn free_port() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    probe.local_addr().expect("addr")
}

impl EtcdServer {
    /// Starts a server, or `None` (with a note) when `etcd` is not
    /// installed; under `CI=true` a missing server fails the test.
    pub async fn start() -> Option<EtcdServer> {
        if !super::installed("etcd", "apt-get install etcd-server") {
            return None;
        }
        let mut server = EtcdServer {
            addr: free_port(),
            peer: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        server.restart().await;
        Some(server)
    }

    /// `etcd://HOST:PORT/prefix` for this server.
    pub fn location(&self, prefix: &str) -> String {
        format!("etcd://{}{prefix}", self.addr)
    }

    /// A client of the server.
    pub async fn client(&self) -> Client {
        Client::connect([format!("http://{}", self.addr)], None)
            .await
            .expect("etcd client")
    }

    /// Writes `value` at `key`.
    pub async fn put(&self, key: &str, value: &str) -> i64 {
        let response = self
            .client()
            .await
            .put(key, value, None)
            .await
            .expect("etcd put");
        response.header().expect("header").revision()
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &str) {
        self.client()
            .await
            .delete(key, None)
            .await
            .expect("etcd delete");
    }

    /// Kills the server (as a crash would: SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same ports and data, and waits
    /// until it answers a read.
    pub async fn restart(&mut self) {
        self.kill();
        let client = format!("http://{}", self.addr);
        let peer = format!("http://{}", self.peer);
        let child = Command::new("etcd")
            .args(["--name", "test", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("test={peer}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut client) = Client::connect([client.as_str()], None).await
                && client.get("/", None).await.is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "etcd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill();
    }
}
