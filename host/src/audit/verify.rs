//! `portico audit verify`: walks the chain through one or more files
//! (oldest first) and names the first line that breaks it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{GENESIS, hex};

/// A chain that held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub records: u64,
    /// The first record's `seq`.
    pub first_seq: u64,
    /// The last record's `seq`.
    pub last_seq: u64,
    /// The last record's hash (what the next one must carry as `prev`).
    pub head: String,
}

/// Where and why the chain broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {why}", file.display())]
pub struct VerifyError {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

/// A line's hash and record, the hash checked against the record's text.
pub(super) fn split(line: &str) -> Result<(&str, Value), String> {
    let rest = line
        .strip_prefix("{\"hash\":\"")
        .ok_or("not an audit line")?;
    let (hash, rest) = rest.split_at_checked(64).ok_or("a short hash")?;
    let text = rest
        .strip_prefix("\",\"record\":")
        .and_then(|r| r.strip_suffix('}'))
        .ok_or("not an audit line")?;
    if hex(&Sha256::digest(text.as_bytes())) != hash {
        return Err("the record does not match its hash (edited)".into());
    }
    let record: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    Ok((hash, record))
}

/// Verifies `files` in order as one chain. The first record must chain to
/// the genesis unless `files[0]` is a rotated file whose predecessor is
/// gone (its `prev` is then taken as given, and reported in `Verified`).
pub fn verify_files(files: &[PathBuf]) -> Result<Verified, VerifyError> {
    let mut previous: Option<(u64, String)> = None;
    let mut verified = Verified {
        records: 0,
        first_seq: 0,
        last_seq: 0,
        head: GENESIS.to_owned(),
    };
    for file in files {
        let fail = |line: usize, why: String| VerifyError {
            file: file.clone(),
            line,
            why,
        };
        let text = std::fs::read_to_string(file).map_err(|e| fail(0, e.to_string()))?;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.trim().is_empty() {
                return Err(fail(line_no, "an empty line".into()));
            }
            let (hash, record) = split(line).map_err(|why| fail(line_no, why))?;
            let seq = record["seq"]
                .as_u64()
                .ok_or_else(|| fail(line_no, "no `seq`".into()))?;
            let prev = record["prev"]
                .as_str()
                .ok_or_else(|| fail(line_no, "no `prev`".into()))?;
            match &previous {
                Some((last_seq, last_hash)) => {
                    if seq != last_seq + 1 {
                        return Err(fail(
                            line_no,
                            format!(
                                "record {seq} follows record {last_seq} (a record is missing or out of order)"
                            ),
                        ));
                    }
                    if prev != last_hash {
                        return Err(fail(
                            line_no,
                            format!("record {seq} does not chain to record {last_seq}"),
                        ));
                    }
                }
                None => {
                    if first_may_start_anywhere(file) {
                        verified.first_seq = seq;
                    } else if seq != 1 || prev != GENESIS {
                        return Err(fail(
                            line_no,
                            format!(
                                "the chain starts at record {seq}, not at record 1 (earlier records are missing)"
                            ),
                        ));
                    } else {
                        verified.first_seq = 1;
                    }
                }
            }
            previous = Some((seq, hash.to_owned()));
            verified.records += 1;
            verified.last_seq = seq;
            verified.head = hash.to_owned();
        }
    }
    Ok(verified)
}

/// A rotated file (`audit.jsonl.3`) may begin mid-chain: its predecessor
/// may have been rotated away.
fn first_may_start_anywhere(file: &Path) -> bool {
    file.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Actor, AuditLog, Entry};
    use crate::config::AuditConfig;

    fn entry(action: &str) -> Entry {
        Entry {
            actor: Actor::System {
                trigger: "test".into(),
            },
            action: action.into(),
            outcome: "applied".into(),
            detail: serde_json::json!({}),
        }
    }

    fn log_with(n: usize, max_bytes: u64) -> (tempfile::TempDir, AuditConfig) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = AuditConfig {
            path: dir.path().join("audit.jsonl"),
            max_bytes,
            keep: 3,
        };
        let log = AuditLog::open(&config).expect("open");
        for i in 0..n {
            log.append(&entry(&format!("a{i}"))).expect("append");
        }
        (dir, config)
    }

    fn rewrite(path: &Path, change: impl FnOnce(&mut Vec<String>)) {
        let mut lines: Vec<String> = std::fs::read_to_string(path)
            .expect("read")
            .lines()
            .map(str::to_owned)
            .collect();
        change(&mut lines);
        std::fs::write(path, lines.join("\n") + "\n").expect("write");
    }

    #[test]
    fn a_chain_verifies_and_breaks_at_an_edited_deleted_or_moved_line() {
        let (_dir, config) = log_with(5, 1 << 20);
        let files = [config.path.clone()];
        let ok = verify_files(&files).expect("verifies");
        assert_eq!((ok.records, ok.first_seq, ok.last_seq), (5, 1, 5));

        let original = std::fs::read_to_string(&config.path).expect("read");
        rewrite(&config.path, |lines| {
            lines[2] = lines[2].replace("\"a2\"", "\"a9\"");
        });
        let edited = verify_files(&files).expect_err("edited");
        assert_eq!(edited.line, 3);
        assert!(edited.why.contains("edited"), "{edited}");

        std::fs::write(&config.path, &original).expect("restore");
        rewrite(&config.path, |lines| {
            lines.remove(1);
        });
        let deleted = verify_files(&files).expect_err("deleted");
        assert_eq!(deleted.line, 2);
        assert!(
            deleted.why.contains("record 3 follows record 1"),
            "{deleted}"
        );

        std::fs::write(&config.path, &original).expect("restore");
        rewrite(&config.path, |lines| lines.swap(3, 4));
        let moved = verify_files(&files).expect_err("reordered");
        assert_eq!(moved.line, 4);

        std::fs::write(&config.path, &original).expect("restore");
        rewrite(&config.path, |lines| {
            lines.remove(0);
        });
        let head_cut = verify_files(&files).expect_err("first record gone");
        assert_eq!(head_cut.line, 1);
    }

    #[test]
    fn rotation_keeps_the_chain_across_files_and_a_reopened_log_continues_it() {
        let (_dir, config) = log_with(40, 4096);
        let rotated_1 = crate::audit::rotated(&config.path, 1);
        assert!(rotated_1.exists(), "rotated past 4 KiB");
        let reopened = AuditLog::open(&config).expect("reopen");
        reopened.append(&entry("after-restart")).expect("append");
        let mut files: Vec<PathBuf> = (1..=3)
            .rev()
            .map(|n| crate::audit::rotated(&config.path, n))
            .filter(|p| p.exists())
            .collect();
        files.push(config.path.clone());
        let ok = verify_files(&files).expect("one chain across the files");
        assert_eq!(ok.last_seq, 41);
        // The current file alone does not start at record 1.
        assert!(verify_files(std::slice::from_ref(&config.path)).is_err());
    }
}
