//! The writer thread: aggregates finished requests into per-minute rollups
//! and writes them every `flush_interval_s` and on shutdown. A file that
//! cannot be opened or written degrades analytics — one log line per state
//! change, rollups kept in memory (bounded) and retried at the next flush —
//! and never reaches the request path.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::rollup::{Event, Pending};
use super::store::Store;

/// Rollup keys kept in memory while the file is unwritable; beyond this
/// the pending rollups are dropped (and counted).
const MAX_PENDING_KEYS: usize = 100_000;
/// How often old rollups are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often queued events are taken off the channel (at 10,000 queued, up
/// to 200,000 requests a second fit between two drains).
const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// What the request path sends the writer.
pub enum Message {
    /// A finished request.
    Event(Event),
    /// Write what is pending now; answer on the channel.
    Flush(std::sync::mpsc::SyncSender<()>),
    /// Write what is pending and stop.
    Stop,
}

/// The writer's state, shared with the handle.
#[derive(Debug, Default)]
pub struct Health {
    /// The file could not be opened or written at the last attempt.
    pub degraded: AtomicBool,
    /// Why, while degraded.
    pub reason: Mutex<Option<String>>,
    /// Requests not counted: the queue was full or pending rollups had to
    /// be dropped.
    pub dropped: AtomicU64,
    /// Rollup rows written (inserted or merged) since start.
    pub written: AtomicU64,
}

/// The writer's settings.
pub struct Settings {
    /// The SQLite file.
    pub file: PathBuf,
    /// Between writes.
    pub flush_every: Duration,
    /// Rollups older than this are deleted.
    pub retention: Duration,
    /// Seals consumer names.
    pub keyring: Arc<crate::seal::Keyring>,
}

/// Runs until [`Message::Stop`] or every sender is gone.
pub fn run(messages: Receiver<Message>, settings: Settings, health: Arc<Health>) {
    let mut writer = Writer {
        store: None,
        pending: Pending::default(),
        settings,
        health,
        last_purge: None,
    };
    writer.flush();
    let mut next = Instant::now() + writer.settings.flush_every;
    loop {
        // Drain in batches: a receiver parked on the channel would be woken
        // (a futex call on the request path) once per event.
        let until_flush = next.saturating_duration_since(Instant::now());
        std::thread::sleep(until_flush.min(DRAIN_EVERY));
        loop {
            match messages.try_recv() {
                Ok(Message::Event(event)) => writer.pending.add(event),
                Ok(Message::Flush(done)) => {
                    writer.flush();
                    let _ = done.send(());
                }
                Ok(Message::Stop) | Err(TryRecvError::Disconnected) => {
                    writer.flush();
                    return;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if Instant::now() >= next {
            writer.flush();
            next = Instant::now() + writer.settings.flush_every;
        }
    }
}

struct Writer {
    store: Option<Store>,
    pending: Pending,
    settings: Settings,
    health: Arc<Health>,
    last_purge: Option<Instant>,
}

impl Writer {
    fn flush(&mut self) {
        let result = self.try_flush();
        match result {
            Ok(()) => {
                if self.health.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(file = %self.settings.file.display(), "analytics recovered: rollups are written again");
                }
                *self.health.reason.lock() = None;
            }
            Err(error) => {
                self.store = None;
                let reason = error.to_string();
                if !self.health.degraded.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        file = %self.settings.file.display(),
                        %reason,
                        "analytics degraded: cannot write rollups; traffic is unaffected, rollups are kept in memory and retried every flush"
                    );
                }
                *self.health.reason.lock() = Some(reason);
                if self.pending.rollups.len() > MAX_PENDING_KEYS {
                    let lost: u64 = self.pending.rollups.values().map(|r| r.requests).sum();
                    self.health.dropped.fetch_add(lost, Ordering::Relaxed);
                    self.pending.rollups.clear();
                }
            }
        }
    }

    fn try_flush(&mut self) -> Result<(), super::StoreError> {
        let store = match &mut self.store {
            Some(store) => store,
            None => self.store.insert(Store::open(
                &self.settings.file,
                self.settings.keyring.clone(),
            )?),
        };
        if !self.pending.is_empty() {
            store.write(&self.pending.rollups)?;
            self.health
                .written
                .fetch_add(self.pending.rollups.len() as u64, Ordering::Relaxed);
            self.pending.rollups.clear();
        }
        if self.last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            let cutoff = crate::telemetry::live::unix_now()
                .saturating_sub(self.settings.retention.as_secs());
            let purged = store.purge_before(cutoff as i64)?;
            if purged > 0 {
                tracing::info!(rows = purged, "analytics: deleted rollups past retention");
            }
            self.last_purge = Some(Instant::now());
        }
        Ok(())
    }
}
