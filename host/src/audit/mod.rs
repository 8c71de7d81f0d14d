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
//!
//! With `[encryption]` on, the actor's personal fields (`addr`, a
//! certificate's `subject`) are written sealed, as `{"sealed": "<base64>",
//! "key": "<key id>"}`; the chain covers the sealed text, so `portico
//! audit verify` needs no key, and `GET /audit` opens what the configured
//! keys can.

mod verify;

pub use verify::{Verified, VerifyError, verify_files};

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::AuditConfig;
use crate::seal::Keyring;

/// The actor's fields that can name a person, sealed at rest.
const PERSONAL: &[&str] = &["addr", "subject"];

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
    /// An admin request with a verified client certificate.
    Certificate {
        /// The certificate's subject DN.
        subject: String,
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
    entry: &'a Value,
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
    keyring: std::sync::Arc<Keyring>,
    state: Mutex<Tail>,
}

struct Tail {
    file: File,
    bytes: u64,
    seq: u64,
    hash: String,
    /// When retention was last applied.
    retained_at: Option<std::time::Instant>,
}

/// How often retention is applied while the gateway runs.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl AuditLog {
    /// Opens (or creates) the file, continuing the chain from its last
    /// record (or, when it is empty, from the last record of `path.1`);
    /// personal fields are sealed with `keyring` when it is on.
    pub fn open(
        config: &AuditConfig,
        keyring: std::sync::Arc<Keyring>,
    ) -> Result<AuditLog, AuditError> {
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
        let log = AuditLog {
            config: config.clone(),
            keyring,
            state: Mutex::new(Tail {
                file,
                bytes,
                seq,
                hash,
                retained_at: None,
            }),
        };
        log.retain(&mut log.state.lock()).map_err(io)?;
        Ok(log)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// Appends `entry` and syncs it to disk; its sequence number.
    pub fn append(&self, entry: &Entry) -> Result<u64, AuditError> {
        let mut tail = self.state.lock();
        let io = |error| AuditError::Io {
            path: self.config.path.clone(),
            error,
        };
        if tail
            .retained_at
            .is_none_or(|at| at.elapsed() >= RETENTION_EVERY)
        {
            self.retain(&mut tail).map_err(io)?;
        }
        self.append_locked(&mut tail, entry)
    }

    fn append_locked(&self, tail: &mut Tail, entry: &Entry) -> Result<u64, AuditError> {
        let path = &self.config.path;
        let io = |error| AuditError::Io {
            path: path.clone(),
            error,
        };
        if tail.bytes >= self.config.max_bytes {
            self.rotate(tail).map_err(io)?;
        }
        let mut entry = serde_json::to_value(entry).map_err(|e| io(e.into()))?;
        self.seal_personal(&mut entry);
        let record = Record {
            seq: tail.seq + 1,
            at_unix_ms: now_ms(),
            prev: &tail.hash,
            entry: &entry,
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
            let mut record = value["record"].take();
            self.open_personal(&mut record);
            if record["seq"].as_u64().is_some_and(|seq| seq > after) {
                records.push(record);
                if records.len() == limit {
                    break;
                }
            }
        }
        Ok(records)
    }

    /// Applies `retention_days`: rotates the current file once its oldest
    /// record is past it, deletes the rotated files whose newest record
    /// is, and records what went — the last deleted record's `seq` and
    /// hash, so the chain from the oldest kept record on still verifies
    /// against a record of its own.
    fn retain(&self, tail: &mut Tail) -> std::io::Result<()> {
        tail.retained_at = Some(std::time::Instant::now());
        let Some(days) = self.config.retention_days else {
            return Ok(());
        };
        let cutoff = now_ms().saturating_sub(u64::from(days) * 86_400_000);
        let path = &self.config.path;
        if tail.bytes > 0 && first_at(path).is_some_and(|at| at < cutoff) {
            self.rotate(tail)?;
        }
        let mut removed = Vec::new();
        let mut through: Option<(u64, String)> = None;
        for n in (1..=self.config.keep).rev() {
            let file = rotated(path, n);
            let Ok(Some((seq, hash, at))) = last_record_at(&file) else {
                continue;
            };
            if at >= cutoff {
                break;
            }
            std::fs::remove_file(&file)?;
            removed.push(file.display().to_string());
            if through.as_ref().is_none_or(|(s, _)| seq > *s) {
                through = Some((seq, hash));
            }
        }
        let Some((through_seq, through_hash)) = through else {
            return Ok(());
        };
        let entry = Entry {
            actor: Actor::System {
                trigger: "retention".into(),
            },
            action: "retention".into(),
            outcome: "applied".into(),
            detail: serde_json::json!({
                "retention_days": days,
                "removed_files": removed,
                "removed_through_seq": through_seq,
                "removed_through_hash": through_hash,
            }),
        };
        self.append_locked(tail, &entry)
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// The actor's personal fields of `entry` sealed, when encryption is on.
    fn seal_personal(&self, entry: &mut Value) {
        for field in PERSONAL {
            let Some(value) = entry["actor"].get_mut(*field) else {
                continue;
            };
            let text = match value.as_str() {
                Some(text) => text.to_owned(),
                None => value.to_string(),
            };
            if let Some(sealed) = self.keyring.seal(&context(field), text.as_bytes()) {
                *value = serde_json::json!({
                    "sealed": base64::engine::general_purpose::STANDARD.encode(&sealed),
                    "key": Keyring::key_id_of(&sealed),
                });
            }
        }
    }

    /// The actor's sealed fields of `record` opened, where a configured key
    /// can (the others stay sealed).
    fn open_personal(&self, record: &mut Value) {
        for field in PERSONAL {
            let Some(value) = record["actor"].get_mut(*field) else {
                continue;
            };
            let opened = value["sealed"]
                .as_str()
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .and_then(|sealed| self.keyring.open(&context(field), &sealed).ok())
                .and_then(|plain| String::from_utf8(plain).ok());
            if let Some(plain) = opened {
                *value = Value::String(plain);
            }
        }
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `at_unix_ms` of `path`'s first record.
fn first_at(path: &Path) -> Option<u64> {
    let file = File::open(path).ok()?;
    let line = BufReader::new(file).lines().next()?.ok()?;
    let (_, record) = verify::split(&line).ok()?;
    record["at_unix_ms"].as_u64()
}

/// What a sealed actor field is bound to.
fn context(field: &str) -> Vec<u8> {
    format!("audit.actor.{field}").into_bytes()
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
    Ok(last_record_at(path)?.map(|(seq, hash, _)| (seq, hash)))
}

/// The `seq`, hash and `at_unix_ms` of the last line of `path`.
fn last_record_at(path: &Path) -> Result<Option<(u64, String, u64)>, AuditError> {
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
    let at = record["at_unix_ms"].as_u64().unwrap_or(0);
    Ok(Some((seq, hash.to_owned(), at)))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
