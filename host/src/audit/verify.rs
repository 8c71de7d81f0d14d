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
    /// When the chain starts after record 1 because retention deleted the
    /// records before it: the last deleted `seq`, as a later `retention`
    /// record of the chain states it.
    pub removed_by_retention: Option<u64>,
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
/// the genesis, unless a `retention` record of the chain names the record
/// before it as the last one deleted (its `seq` and hash), or `files[0]`
/// is a rotated file whose predecessor is gone (its `prev` is then taken
/// as given, and reported in `Verified`).
pub fn verify_files(files: &[PathBuf]) -> Result<Verified, VerifyError> {
    let mut previous: Option<(u64, String)> = None;
    let mut verified = Verified {
        records: 0,
        first_seq: 0,
        last_seq: 0,
        head: GENESIS.to_owned(),
        removed_by_retention: None,
    };
    // A start after record 1 waiting for a retention record to explain it.
    let mut unexplained: Option<(VerifyError, u64, String)> = None;
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
                    verified.first_seq = seq;
                    if seq != 1 || prev != GENESIS {
                        let error = fail(
                            line_no,
                            format!(
                                "the chain starts at record {seq}, not at record 1 (earlier records are missing)"
                            ),
                        );
                        unexplained = Some((error, seq, prev.to_owned()));
                    }
                }
            }
            if record["action"] == "retention"
                && let Some((_, first_seq, first_prev)) = &unexplained
                && let Some(before) = first_seq.checked_sub(1)
                && record["detail"]["removed_through_seq"].as_u64() == Some(before)
                && record["detail"]["removed_through_hash"].as_str() == Some(first_prev)
            {
                verified.removed_by_retention = Some(before);
                unexplained = None;
            }
            previous = Some((seq, hash.to_owned()));
            verified.records += 1;
            verified.last_seq = seq;
            verified.head = hash.to_owned();
        }
    }
    match unexplained {
        Some(_) if first_may_start_anywhere(&files[0]) => Ok(verified),
        Some((error, _, _)) => Err(error),
        None => Ok(verified),
    }
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
            retention_days: None,
        };
        let log = AuditLog::open(&config, Default::default()).expect("open");
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
        let reopened = AuditLog::open(&config, Default::default()).expect("reopen");
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

    /// Writes a valid chain of records `seqs` (each at `at_ms`) to `path`,
    /// chained from `prev`; the last hash.
    fn forge(path: &Path, seqs: std::ops::RangeInclusive<u64>, at_ms: u64, prev: &str) -> String {
        let mut prev = prev.to_owned();
        let mut text = String::new();
        for seq in seqs {
            let record = serde_json::json!({
                "seq": seq, "at_unix_ms": at_ms, "prev": prev,
                "actor": {"kind": "system", "trigger": "test"},
                "action": "reload", "outcome": "applied", "detail": {},
            })
            .to_string();
            let hash = hex(&Sha256::digest(record.as_bytes()));
            text.push_str(&format!("{{\"hash\":\"{hash}\",\"record\":{record}}}\n"));
            prev = hash;
        }
        std::fs::write(path, text).expect("write");
        prev
    }

    fn days_ago(days: u64) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        now - days * 86_400_000
    }

    #[test]
    fn retention_deletes_old_files_and_the_chain_still_verifies_from_its_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = AuditConfig {
            path: dir.path().join("audit.jsonl"),
            max_bytes: 1 << 20,
            keep: 5,
            retention_days: Some(30),
        };
        let oldest = crate::audit::rotated(&config.path, 2);
        let older = crate::audit::rotated(&config.path, 1);
        let h3 = forge(&oldest, 1..=3, days_ago(60), GENESIS);
        let h5 = forge(&older, 4..=5, days_ago(40), &h3);
        forge(&config.path, 6..=7, days_ago(1), &h5);
        // Before retention, the whole chain verifies from record 1.
        let all = [oldest.clone(), older.clone(), config.path.clone()];
        assert_eq!(verify_files(&all).expect("whole").first_seq, 1);

        let log = AuditLog::open(&config, Default::default()).expect("open");
        assert!(!oldest.exists() && !older.exists(), "both past 30 days");
        let page = log.page(0, 10).expect("page");
        let retention = page.last().expect("a retention record");
        assert_eq!(retention["seq"], 8);
        assert_eq!(retention["action"], "retention");
        assert_eq!(retention["detail"]["removed_through_seq"], 5);
        let ok = verify_files(std::slice::from_ref(&config.path)).expect("verifies");
        assert_eq!((ok.first_seq, ok.last_seq), (6, 8));
        assert_eq!(ok.removed_by_retention, Some(5));

        // A current file whose oldest record is past retention is rotated
        // away too; what is left is the record of it.
        drop(log);
        std::fs::remove_file(&config.path).expect("rm");
        let h2 = forge(&config.path, 1..=2, days_ago(31), GENESIS);
        let log = AuditLog::open(&config, Default::default()).expect("open");
        let page = log.page(0, 10).expect("page");
        assert_eq!(page.len(), 1);
        assert_eq!(page[0]["prev"], h2.as_str());
        assert_eq!(
            verify_files(std::slice::from_ref(&config.path))
                .expect("verifies")
                .removed_by_retention,
            Some(2)
        );
        // Without the retention record the shortened chain is refused.
        std::fs::write(&config.path, "").expect("truncate");
        forge(&config.path, 3..=3, days_ago(0), &h2);
        let cut = verify_files(std::slice::from_ref(&config.path)).expect_err("unexplained");
        assert_eq!(cut.line, 1);
    }

    #[test]
    fn personal_fields_are_sealed_in_the_file_and_opened_in_pages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = AuditConfig {
            path: dir.path().join("audit.jsonl"),
            max_bytes: 1 << 20,
            keep: 2,
            retention_days: None,
        };
        let ring = crate::seal::Keyring::new("k1", vec![("k1".into(), [3; 32])]).expect("ring");
        let log = AuditLog::open(&config, std::sync::Arc::new(ring)).expect("open");
        let entry = Entry {
            actor: Actor::Token {
                name: "ops".into(),
                addr: "10.9.8.7:4242".parse().expect("addr"),
            },
            ..entry("reload")
        };
        log.append(&entry).expect("append");
        let text = std::fs::read_to_string(&config.path).expect("read");
        assert!(!text.contains("10.9.8.7"), "{text}");
        assert!(text.contains(r#""key":"k1""#), "{text}");
        assert_eq!(
            log.page(0, 1).expect("page")[0]["actor"]["addr"],
            "10.9.8.7:4242"
        );
        verify_files(std::slice::from_ref(&config.path)).expect("the chain covers sealed text");
        // Without the key, the page keeps the field sealed.
        let keyless = AuditLog::open(&config, Default::default()).expect("open");
        assert!(keyless.page(0, 1).expect("page")[0]["actor"]["addr"]["sealed"].is_string());
    }
}
