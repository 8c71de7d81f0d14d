//! The audit log: one JSON line per admin action and per configuration or
//! plugin change, each chained to the one before by its hash, written and
//! fsynced before the action's answer goes out.
//!
//! A line is `{"hash":"<hex>","record":{...}}`: `hash` is the SHA-256 of
//! the `record` text exactly as written, and every record carries `seq`
//! (one more than the previous) and `prev` (the previous line's hash; 64
//! zeros for the first record ever). Editing, deleting, inserting or
//! reordering a line breaks the chain at that line, which [`verify_files`]
//! names. Past `max_bytes` the file is renamed `path.1` (older ones shift
//! up, at most `keep` kept) and the next record, in a new file, still
//! chains to the last one of the old.

mod verify;

pub use verify::{Verified, VerifyError, verify_files};

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::AuditConfig;

/// The `prev` of the first record ever.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Actor {
    /// An admin request with a valid token.
    Token {
        /// The token's name.
        name: String,
        /// The client's address.
        addr: SocketAddr,
    },
    /// An admin request without a (valid) token, or with none configured.
    Anonymous {
        /// The client's address.
        addr: SocketAddr,
    },
    /// The gateway itself: a watched file, a signal, etcd.
    System {
        /// What started it (the reload trigger's kind).
        trigger: String,
    },
}

/// What is recorded about one action (the chain fields are added).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Who.
    pub actor: Actor,
    /// What: `reload`, `rollback`, `config_file`, `denied`, ...
    pub action: String,
    /// How it ended: `applied`, `unchanged`, `refused`, `denied`, ...
    pub outcome: String,
    /// The rest (the request, plugin hashes, config revision), as JSON.
    pub detail: Value,
}

#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    at_unix_ms: u64,
    prev: &'a str,
    #[serde(flatten)]
    entry: &'a Entry,
}

/// Why the audit log could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, read, written or synced.
    #[error("audit log {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// Its last line is not a record this gateway wrote.
    #[error("audit log {path}: the last line is not an audit record: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// An open audit log.
pub struct AuditLog {
    config: AuditConfig,
    state: Mutex<Tail>,
}

struct Tail {
    file: File,
    bytes: u64,
    seq: u64,
    hash: String,
}

impl AuditLog {
    /// Opens (or creates) the file, continuing the chain from its last
    /// record (or, when it is empty, from the last record of `path.1`).
    pub fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        let path = &config.path;
        let io = |error| AuditError::Io {
            path: path.clone(),
            error,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        let (seq, hash) = match last_record(path)? {
            Some(last) => last,
            None => last_record(&rotated(path, 1))?.unwrap_or((0, GENESIS.to_owned())),
        };
        Ok(AuditLog {
            config: config.clone(),
            state: Mutex::new(Tail {
                file,
                bytes,
                seq,
                hash,
            }),
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// Appends `entry` and syncs it to disk; its sequence number.
    pub fn append(&self, entry: &Entry) -> Result<u64, AuditError> {
        let mut tail = self.state.lock();
        let path = &self.config.path;
        let io = |error| AuditError::Io {
            path: path.clone(),
            error,
        };
        if tail.bytes >= self.config.max_bytes {
            self.rotate(&mut tail).map_err(io)?;
        }
        let record = Record {
            seq: tail.seq + 1,
            at_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            prev: &tail.hash,
            entry,
        };
        let text = serde_json::to_string(&record).map_err(|e| io(e.into()))?;
        let hash = hex(&Sha256::digest(text.as_bytes()));
        let line = format!("{{\"hash\":\"{hash}\",\"record\":{text}}}\n");
        tail.file.write_all(line.as_bytes()).map_err(io)?;
        tail.file.sync_data().map_err(io)?;
        tail.bytes += line.len() as u64;
        tail.seq += 1;
        tail.hash = hash;
        Ok(tail.seq)
    }

    /// Appends `entry`; a failure is logged (the action already happened).
    pub fn record(&self, entry: Entry) {
        if let Err(error) = self.append(&entry) {
            tracing::error!(%error, action = %entry.action, "audit record not written");
        }
    }

    /// Records with `seq` above `after`, at most `limit`, from the current
    /// file (oldest first).
    pub fn page(&self, after: u64, limit: usize) -> Result<Vec<Value>, AuditError> {
        let _tail = self.state.lock();
        let path = &self.config.path;
        let file = File::open(path).map_err(|error| AuditError::Io {
            path: path.clone(),
            error,
        })?;
        let mut records = Vec::new();
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            let Ok(mut value) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let record = value["record"].take();
            if record["seq"].as_u64().is_some_and(|seq| seq > after) {
                records.push(record);
                if records.len() == limit {
                    break;
                }
            }
        }
        Ok(records)
    }

    /// `path` → `path.1` → `path.2` ..., the oldest past `keep` removed,
    /// and a new empty `path`.
    fn rotate(&self, tail: &mut Tail) -> std::io::Result<()> {
        let path = &self.config.path;
        let _ = std::fs::remove_file(rotated(path, self.config.keep));
        for n in (1..self.config.keep).rev() {
            let from = rotated(path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(path, n + 1))?;
            }
        }
        std::fs::rename(path, rotated(path, 1))?;
        tail.file = OpenOptions::new().create(true).append(true).open(path)?;
        tail.bytes = 0;
        Ok(())
    }
}

/// `path.n`.
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The `seq` and hash of the last line of `path`; `None` when the file is
/// absent or empty.
fn last_record(path: &Path) -> Result<Option<(u64, String)>, AuditError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(AuditError::Io {
                path: path.to_owned(),
                error,
            });
        }
    };
    let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    let corrupt = |why: String| AuditError::Corrupt {
        path: path.to_owned(),
        why,
    };
    let (hash, record) = verify::split(line).map_err(corrupt)?;
    let seq = record["seq"]
        .as_u64()
        .ok_or_else(|| corrupt("no `seq`".into()))?;
    Ok(Some((seq, hash.to_owned())))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
