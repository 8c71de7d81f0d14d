//! The real `portico` binary as a child process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Runs `portico run --log-json --config <config>` and waits (up to 60 s)
/// for its first listener's address, read from the `listening` log line.
pub fn spawn_portico(config: &Path) -> (Child, SocketAddr) {
    let (child, addr, _) = spawn(&[config.as_os_str()], false);
    (child, addr)
}

/// A `portico run` child process and its addresses.
pub struct Running {
    /// The process.
    pub child: Child,
    /// Its first traffic listener.
    pub addr: SocketAddr,
    /// Its admin listener.
    pub admin: SocketAddr,
}

/// Runs `portico run --log-json --config <args...>` and waits (up to 60 s)
/// for its first traffic listener's address and its admin address, read
/// from the `listening` and `admin listening` log lines.
pub fn spawn_run(args: &[&std::ffi::OsStr]) -> Running {
    let (child, addr, admin) = spawn(args, true);
    Running {
        child,
        addr,
        admin: admin.expect("the gateway logs its admin address"),
    }
}

fn spawn(args: &[&std::ffi::OsStr], want_admin: bool) -> (Child, SocketAddr, Option<SocketAddr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["run", "--log-json", "--config"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start portico");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let message = event["fields"]["message"].as_str().unwrap_or_default();
            if let ("listening" | "admin listening", Some(addr)) =
                (message, event["fields"]["addr"].as_str())
                && let Ok(addr) = addr.parse::<SocketAddr>()
            {
                let _ = addr_tx.send((message == "admin listening", addr));
            }
        }
    });
    let (mut addr, mut admin) = (None, None);
    while addr.is_none() || (want_admin && admin.is_none()) {
        let (is_admin, found) = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the gateway logs its addresses");
        if is_admin {
            admin = Some(found);
        } else {
            addr = addr.or(Some(found));
        }
    }
    (child, addr.expect("traffic address"), admin)
}

/// Sends `signal` to `child`.
pub fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: `kill` has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
}

/// Runs the real `portico` with `args` to completion: whether it exited 0,
/// and its stdout followed by its stderr.
pub fn output_of(args: &[&std::ffi::OsStr]) -> (bool, String) {
    ran(Command::new(env!("CARGO_BIN_EXE_portico")).args(args))
}

/// Runs `command` to completion: whether it exited 0, and its stdout
/// followed by its stderr.
pub fn ran(command: &mut Command) -> (bool, String) {
    let output = command.output().expect("run a command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
