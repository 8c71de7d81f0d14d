//! The real `portico` binary as a child process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Runs `portico run --log-json --config <config>` and waits (up to 60 s)
/// for its first listener's address, read from the `listening` log line.
pub fn spawn_portico(config: &Path) -> (Child, SocketAddr) {
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["run", "--log-json", "--config"])
        .arg(config)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start portico");
    let stderr = gateway.stderr.take().expect("stderr is piped");
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if event["fields"]["message"] == "listening"
                && let Some(addr) = event["fields"]["addr"].as_str()
                && let Ok(addr) = addr.parse::<SocketAddr>()
            {
                let _ = addr_tx.send(addr);
            }
        }
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the gateway logs its address");
    (gateway, addr)
}

/// Sends `signal` to `child`.
pub fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: `kill` has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
}
