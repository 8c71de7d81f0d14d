//! A real `redis-server` (Debian package `redis-server`) on an ephemeral
//! port of 127.0.0.1, its data in a temporary directory, persistence off.
//! It can be killed and started again on the same port.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) Redis server.
pub struct RedisServer {
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server, or `None` (with a note) when `redis-server` is not
    /// installed; under `CI=true` a missing server fails the test.
    pub fn start() -> Option<RedisServer> {
        if !super::installed("redis-server", "apt-get install redis-server") {
            return None;
        }
        let addr = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            probe.local_addr().expect("addr")
        };
        let mut server = RedisServer {
            addr,
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        server.restart();
        Some(server)
    }

    /// The `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    /// Kills the server (as a crash would: SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): its port still accepts connections
    /// and takes commands, but nothing is answered until [`Self::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} redis-server failed");
    }

    /// Starts the server (again) on the same port, empty, and waits until
    /// it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.addr.port().to_string())
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `[state]` tables pointing kv and cache at this server.
    pub fn state_table(&self) -> String {
        format!(
            "[state]\nbackend = \"redis\"\n\n[state.redis]\nurl = \"{}\"\ntimeout_ms = 100\nkey_prefix = \"test:\"",
            self.url()
        )
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
