//! The SQLite file: schema, merging writes, retention, and the queries.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::rollup::{Rollup, RollupKey};
use crate::histogram::Histogram;
use crate::seal::Keyring;

/// What a sealed consumer name is bound to (the AEAD's associated data).
const CONSUMER_CONTEXT: &[u8] = b"analytics.consumer";

/// The analytics file could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Its directory could not be created.
    #[error("cannot create {path}: {error}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// SQLite failed (open, schema, write, query; a full disk, a read-only
    /// file).
    #[error("{path}: {error}")]
    Sqlite {
        /// The file.
        path: String,
        /// Why.
        error: rusqlite::Error,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rollups (
    minute INTEGER NOT NULL,
    route TEXT NOT NULL,
    consumer TEXT NOT NULL,
    status_class INTEGER NOT NULL,
    upstream TEXT NOT NULL,
    requests INTEGER NOT NULL,
    bytes_in INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL,
    p50_ms REAL NOT NULL,
    p90_ms REAL NOT NULL,
    p99_ms REAL NOT NULL,
    latency BLOB NOT NULL,
    PRIMARY KEY (minute, route, consumer, status_class, upstream)
) WITHOUT ROWID;
";

/// The stored form of `consumer`: sealed when encryption is on (the empty
/// name, for requests without one, stays as it is).
fn stored_consumer(keyring: &Keyring, consumer: &str) -> Value {
    match keyring.seal_deterministic(CONSUMER_CONTEXT, consumer.as_bytes()) {
        Some(sealed) if !consumer.is_empty() => Value::Blob(sealed),
        _ => Value::Text(consumer.to_owned()),
    }
}

/// An open analytics file.
///
/// With encryption on, a consumer name is stored as a BLOB sealed
/// deterministically under the active key (so rows of one consumer still
/// share a key and merge), and a plain name as TEXT; SQLite never takes a
/// BLOB for equal to a TEXT, so the two cannot be confused. Rows sealed
/// under an older key are opened with it and merged with the new ones in
/// every answer.
pub struct Store {
    conn: Connection,
    path: String,
    keyring: Arc<Keyring>,
}

impl Store {
    /// Opens (creating the directory, file and table as needed) `file`,
    /// sealing consumer names with `keyring` when it is on.
    pub fn open(file: &Path, keyring: Arc<Keyring>) -> Result<Self, StoreError> {
        let path = file.display().to_string();
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|error| StoreError::Dir {
                path: dir.display().to_string(),
                error,
            })?;
        }
        let sqlite = |error| StoreError::Sqlite {
            path: path.clone(),
            error,
        };
        let conn = Connection::open(file).map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(2))
            .map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.execute_batch(SCHEMA).map_err(sqlite)?;
        Ok(Store {
            conn,
            path,
            keyring,
        })
    }

    /// The name a stored consumer holds; a value sealed under a key no
    /// longer configured reads as `(sealed under key ID)`.
    fn consumer_name(&self, stored: Value) -> String {
        match stored {
            Value::Text(name) => name,
            Value::Blob(sealed) => match self.keyring.open(CONSUMER_CONTEXT, &sealed) {
                Ok(plain) => String::from_utf8_lossy(&plain).into_owned(),
                Err(_) => format!(
                    "(sealed under key {})",
                    Keyring::key_id_of(&sealed).unwrap_or("?")
                ),
            },
            other => format!("{other:?}"),
        }
    }

    fn error(&self, error: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            error,
        }
    }

    /// Adds `rollups` to the rows of their keys, in one transaction.
    pub fn write(&mut self, rollups: &HashMap<RollupKey, Rollup>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |error| StoreError::Sqlite {
            path: path.clone(),
            error,
        };
        let keyring = self.keyring.clone();
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut read = tx
                .prepare_cached(
                    "SELECT requests, bytes_in, bytes_out, latency FROM rollups
                     WHERE minute = ?1 AND route = ?2 AND consumer = ?3
                       AND status_class = ?4 AND upstream = ?5",
                )
                .map_err(err)?;
            let mut write = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO rollups VALUES
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(err)?;
            for (key, rollup) in rollups {
                let consumer = stored_consumer(&keyring, &key.consumer);
                let keys = params![
                    key.minute,
                    key.route,
                    consumer,
                    key.status_class,
                    key.upstream
                ];
                let before = read
                    .query_row(keys, |row| {
                        Ok(Rollup {
                            requests: row.get::<_, i64>(0)? as u64,
                            bytes_in: row.get::<_, i64>(1)? as u64,
                            bytes_out: row.get::<_, i64>(2)? as u64,
                            latency: Histogram::from_bytes(&row.get::<_, Vec<u8>>(3)?)
                                .unwrap_or_default(),
                        })
                    })
                    .optional()
                    .map_err(err)?;
                let mut merged = before.unwrap_or_default();
                merged.merge(rollup);
                write
                    .execute(params![
                        key.minute,
                        key.route,
                        consumer,
                        key.status_class,
                        key.upstream,
                        merged.requests as i64,
                        merged.bytes_in as i64,
                        merged.bytes_out as i64,
                        merged.latency.quantile_ms(0.5),
                        merged.latency.quantile_ms(0.9),
                        merged.latency.quantile_ms(0.99),
                        merged.latency.to_bytes(),
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Deletes rollups of minutes before `minute` (Unix s); returns how many.
    pub fn purge_before(&self, minute: i64) -> Result<usize, StoreError> {
        self.conn
            .execute("DELETE FROM rollups WHERE minute < ?1", [minute])
            .map_err(|e| self.error(e))
    }

    /// Deletes every rollup of `consumer` (an erasure request) — stored
    /// plain or sealed under any configured key — with SQLite's
    /// `secure_delete` on so the rows' bytes are overwritten, not left in
    /// free pages; returns how many.
    pub fn erase_consumer(&self, consumer: &str) -> Result<usize, StoreError> {
        self.conn
            .execute_batch("PRAGMA secure_delete = ON;")
            .map_err(|e| self.error(e))?;
        let mut forms = vec![Value::Text(consumer.to_owned())];
        forms.extend(
            self.keyring
                .seal_deterministic_under_each(CONSUMER_CONTEXT, consumer.as_bytes())
                .into_iter()
                .map(Value::Blob),
        );
        let mut erased = 0;
        for form in forms {
            erased += self
                .conn
                .execute("DELETE FROM rollups WHERE consumer = ?1", [form])
                .map_err(|e| self.error(e))?;
        }
        Ok(erased)
    }

    /// Requests in `[from, to)` (Unix s) grouped by route or consumer, most
    /// requests first, at most `limit` groups.
    pub fn top(
        &self,
        by: GroupBy,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<TopEntry>, StoreError> {
        let column = match by {
            GroupBy::Route => "route",
            GroupBy::Consumer => "consumer",
        };
        let sql = format!(
            "SELECT {column}, status_class, requests, bytes_in, bytes_out, latency
             FROM rollups WHERE minute >= ?1 AND minute < ?2"
        );
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.error(e))?;
        let mut groups: HashMap<String, (Rollup, u64)> = HashMap::new();
        let rows = statement
            .query_map([from, to], |row| {
                Ok((
                    row.get::<_, Value>(0)?,
                    row.get::<_, u8>(1)?,
                    Rollup {
                        requests: row.get::<_, i64>(2)? as u64,
                        bytes_in: row.get::<_, i64>(3)? as u64,
                        bytes_out: row.get::<_, i64>(4)? as u64,
                        latency: Histogram::from_bytes(&row.get::<_, Vec<u8>>(5)?)
                            .unwrap_or_default(),
                    },
                ))
            })
            .map_err(|e| self.error(e))?;
        for row in rows {
            let (name, class, rollup) = row.map_err(|e| self.error(e))?;
            let name = match (by, name) {
                (GroupBy::Consumer, stored) => self.consumer_name(stored),
                (GroupBy::Route, Value::Text(route)) => route,
                (GroupBy::Route, other) => format!("{other:?}"),
            };
            let group = groups.entry(name).or_default();
            group.0.merge(&rollup);
            if class == 5 {
                group.1 += rollup.requests;
            }
        }
        let mut entries: Vec<TopEntry> = groups
            .into_iter()
            .map(|(name, (rollup, errors))| TopEntry {
                name: (!name.is_empty()).then_some(name),
                requests: rollup.requests,
                errors,
                bytes_in: rollup.bytes_in,
                bytes_out: rollup.bytes_out,
                p50_ms: rollup.latency.quantile_ms(0.5),
                p90_ms: rollup.latency.quantile_ms(0.9),
                p99_ms: rollup.latency.quantile_ms(0.99),
            })
            .collect();
        entries.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.name.cmp(&b.name)));
        entries.truncate(limit);
        Ok(entries)
    }

    /// Requests per minute by status class over `[from, to)`, oldest first
    /// (minutes without requests are left out).
    pub fn errors(&self, from: i64, to: i64) -> Result<Vec<MinuteClasses>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT minute, status_class, SUM(requests) FROM rollups
                 WHERE minute >= ?1 AND minute < ?2
                 GROUP BY minute, status_class ORDER BY minute",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([from, to], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, u8>(1)?,
                    row.get::<_, i64>(2)? as u64,
                ))
            })
            .map_err(|e| self.error(e))?;
        let mut minutes: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
        for row in rows {
            let (minute, class, requests) = row.map_err(|e| self.error(e))?;
            minutes
                .entry(minute)
                .or_default()
                .insert(format!("{class}xx"), requests);
        }
        Ok(minutes
            .into_iter()
            .map(|(minute, classes)| MinuteClasses {
                minute,
                total: classes.values().sum(),
                classes,
            })
            .collect())
    }
}

/// What [`Store::top`] groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Route name.
    Route,
    /// Consumer.
    Consumer,
}

/// One group of a top list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopEntry {
    /// Route or consumer; `null` for requests without a consumer.
    pub name: Option<String>,
    /// Requests.
    pub requests: u64,
    /// Of which 5xx.
    pub errors: u64,
    /// Request body bytes.
    pub bytes_in: u64,
    /// Response body bytes.
    pub bytes_out: u64,
    /// Median latency, ms (±9.1%, see `histogram`).
    pub p50_ms: f64,
    /// 90th percentile latency, ms.
    pub p90_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

/// One minute of the error trend.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MinuteClasses {
    /// Unix time (s) of the minute's start.
    pub minute: i64,
    /// Requests in that minute.
    pub total: u64,
    /// Requests by status class (`"2xx"`, `"5xx"`, …).
    pub classes: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rollup(requests: u64, ms: u64) -> Rollup {
        let mut rollup = Rollup {
            requests,
            bytes_in: requests * 10,
            bytes_out: requests * 100,
            ..Rollup::default()
        };
        for _ in 0..requests {
            rollup.latency.record(Duration::from_millis(ms));
        }
        rollup
    }

    fn key(minute: i64, route: &str, class: u8) -> RollupKey {
        RollupKey {
            minute,
            route: route.into(),
            consumer: String::new(),
            status_class: class,
            upstream: "u".into(),
        }
    }

    #[test]
    fn writes_merge_into_existing_rows_and_retention_purges() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nested/analytics.sqlite3");
        let mut store = Store::open(&file, Arc::default()).unwrap();
        store
            .write(&HashMap::from([(key(60, "a", 2), rollup(3, 10))]))
            .unwrap();
        store
            .write(&HashMap::from([
                (key(60, "a", 2), rollup(1, 500)),
                (key(120, "a", 5), rollup(2, 20)),
                (key(6000, "b", 2), rollup(1, 1)),
            ]))
            .unwrap();
        let top = store.top(GroupBy::Route, 0, 180, 10).unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!((top[0].requests, top[0].errors), (6, 2));
        assert_eq!((top[0].bytes_in, top[0].bytes_out), (60, 600));
        assert!(
            top[0].p99_ms > 450.0,
            "the merged histogram kept the slow one"
        );
        let minutes = store.errors(0, 180).unwrap();
        assert_eq!(minutes.len(), 2);
        assert_eq!(minutes[0].classes["2xx"], 4);
        assert_eq!(minutes[1].classes["5xx"], 2);

        assert_eq!(store.purge_before(6000).unwrap(), 2);
        assert!(store.top(GroupBy::Route, 0, 180, 10).unwrap().is_empty());
        drop(store);
        let reopened = Store::open(&file, Arc::default()).unwrap();
        assert_eq!(
            reopened.top(GroupBy::Route, 0, 10_000, 10).unwrap()[0].requests,
            1
        );
    }

    fn ring(active: &str, keys: &[(&str, u8)]) -> Arc<Keyring> {
        let keys = keys
            .iter()
            .map(|(id, b)| ((*id).to_owned(), [*b; 32]))
            .collect();
        Arc::new(Keyring::new(active, keys).unwrap())
    }

    fn consumer_key(minute: i64, consumer: &str) -> RollupKey {
        RollupKey {
            consumer: consumer.into(),
            ..key(minute, "a", 2)
        }
    }

    #[test]
    fn sealed_consumers_merge_across_a_key_rotation_and_erase_in_every_form() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("analytics.sqlite3");
        let mut old = Store::open(&file, ring("k1", &[("k1", 1)])).unwrap();
        old.write(&HashMap::from([
            (consumer_key(60, "zelda@example.com"), rollup(2, 5)),
            (consumer_key(60, ""), rollup(1, 5)),
        ]))
        .unwrap();
        drop(old);
        let mut rotated = Store::open(&file, ring("k2", &[("k2", 2), ("k1", 1)])).unwrap();
        rotated
            .write(&HashMap::from([(
                consumer_key(60, "zelda@example.com"),
                rollup(3, 5),
            )]))
            .unwrap();
        let top = rotated.top(GroupBy::Consumer, 0, 120, 10).unwrap();
        let zelda = top
            .iter()
            .find(|e| e.name.as_deref() == Some("zelda@example.com"))
            .expect("zelda");
        assert_eq!(zelda.requests, 5, "rows under k1 and k2 merged");
        assert!(top.iter().any(|e| e.name.is_none() && e.requests == 1));
        drop(rotated);

        let retired = Store::open(&file, ring("k2", &[("k2", 2)])).unwrap();
        let names: Vec<_> = retired
            .top(GroupBy::Consumer, 0, 120, 10)
            .unwrap()
            .into_iter()
            .filter_map(|e| e.name)
            .collect();
        assert!(
            names.contains(&"(sealed under key k1)".to_owned()),
            "{names:?}"
        );
        drop(retired);

        let both = Store::open(&file, ring("k2", &[("k2", 2), ("k1", 1)])).unwrap();
        assert_eq!(both.erase_consumer("zelda@example.com").unwrap(), 2);
        drop(both);
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.windows(5).any(|w| w == b"zelda"));
    }
}
