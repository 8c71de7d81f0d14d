//! The analytics store: per-minute rollups per (route, consumer, status
//! class, upstream) — requests, request/response bytes, latency
//! p50/p90/p99 — written to a SQLite file by a background thread, off the
//! request path, and queried by the admin API (top consumers, top routes,
//! the error trend).
//!
//! The request path only `try_send`s a small event into a bounded channel;
//! when the channel is full the event is dropped and counted. Rollups are
//! written every `flush_interval_s` and on shutdown, merged into the rows
//! already in the file, so they survive restarts.

mod rollup;
mod store;
mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

pub use rollup::Event;
pub use store::{GroupBy, MinuteClasses, Store, StoreError, TopEntry};

use crate::config::AnalyticsConfig;
use crate::seal::Keyring;
use crate::telemetry::live::{RequestSample, unix_now};
use writer::{Health, Message, Settings};

/// The analytics of one gateway process: the channel to the writer thread
/// and the file's path for queries.
pub struct Analytics {
    sender: SyncSender<Message>,
    health: Arc<Health>,
    file: std::path::PathBuf,
    keyring: Arc<Keyring>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The store's state, for the admin API and the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyticsStatus {
    /// `ok`, or `degraded` while the file cannot be written.
    pub state: &'static str,
    /// Why it is degraded.
    pub reason: Option<String>,
    /// Requests not counted (queue full, or memory bound while degraded).
    pub dropped: u64,
    /// The SQLite file.
    pub file: String,
}

/// A query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The file could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The query task failed.
    #[error("analytics query failed: {0}")]
    Task(String),
}

impl Analytics {
    /// Starts the writer thread for `config` (the file is opened there; a
    /// failure degrades analytics, it does not stop the gateway); consumer
    /// names are sealed with `keyring` when it is on.
    pub fn start(config: &AnalyticsConfig, keyring: Arc<Keyring>) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel(config.queue);
        let health = Arc::new(Health::default());
        let settings = Settings {
            file: config.file(),
            flush_every: Duration::from_secs(config.flush_interval_s),
            retention: Duration::from_secs(u64::from(config.retention_days) * 86_400),
            keyring: keyring.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("portico-analytics".into())
            .spawn({
                let health = health.clone();
                move || writer::run(receiver, settings, health)
            })?;
        Ok(Analytics {
            sender,
            health,
            file: config.file(),
            keyring,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues one finished request; never blocks (dropped and counted when
    /// the queue is full).
    pub fn record(&self, sample: &RequestSample) {
        let event = Event::of(sample, unix_now() as i64);
        match self.sender.try_send(Message::Event(event)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.health.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The store's state now.
    pub fn status(&self) -> AnalyticsStatus {
        let degraded = self.health.degraded.load(Ordering::Relaxed);
        AnalyticsStatus {
            state: if degraded { "degraded" } else { "ok" },
            reason: self.health.reason.lock().clone(),
            dropped: self.health.dropped.load(Ordering::Relaxed),
            file: self.file.display().to_string(),
        }
    }

    /// Writes what is pending now and waits for it (tests, admin).
    pub async fn flush(&self) {
        let (done, wait) = sync_channel(1);
        let sender = self.sender.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if sender.send(Message::Flush(done)).is_ok() {
                let _ = wait.recv();
            }
        })
        .await;
    }

    /// Writes what is pending and stops the writer; later requests are
    /// dropped (counted).
    pub async fn shutdown(&self) {
        let sender = self.sender.clone();
        let thread = self.thread.lock().take();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = sender.send(Message::Stop);
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        })
        .await;
    }

    /// Top routes or consumers by requests in `[from, to)` (Unix s).
    pub async fn top(
        &self,
        by: GroupBy,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<TopEntry>, QueryError> {
        self.query(move |store| store.top(by, from, to, limit))
            .await
    }

    /// Requests per minute by status class in `[from, to)` (Unix s).
    pub async fn errors(&self, from: i64, to: i64) -> Result<Vec<MinuteClasses>, QueryError> {
        self.query(move |store| store.errors(from, to)).await
    }

    /// Erases `consumer`'s rows, after writing what is pending (so no
    /// rollup of theirs from before the erasure is written after it);
    /// returns how many rows went.
    pub async fn erase_consumer(&self, consumer: String) -> Result<usize, QueryError> {
        self.flush().await;
        self.query(move |store| store.erase_consumer(&consumer))
            .await
    }

    async fn query<T: Send + 'static>(
        &self,
        run: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, QueryError> {
        let (file, keyring) = (self.file.clone(), self.keyring.clone());
        tokio::task::spawn_blocking(move || {
            run(&Store::open(&file, keyring)?).map_err(QueryError::from)
        })
        .await
        .map_err(|e| QueryError::Task(e.to_string()))?
    }
}
