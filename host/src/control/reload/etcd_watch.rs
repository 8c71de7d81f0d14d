//! Applies each revision of the etcd config document as it is written.
//!
//! The watch starts from the document's current revision (a revision the
//! gateway already serves is skipped). A deleted document is refused: the
//! running config keeps serving. When etcd goes away the watch is retried
//! with backoff, the outage logged once and `portico_etcd_up` set to 0;
//! once etcd is back, the watch resumes from the last revision seen, so a
//! document written meanwhile is applied.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::reloader::Reloader;
use super::source::EtcdSource;
use crate::data::observe::metrics::ETCD_UP;
use crate::etcd::document::Document;
use crate::etcd::watch::{KeyWatch, Scope};

/// Retry delays after a failed watch, growing to the last.
const BACKOFF: [Duration; 4] = [
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Watches `source`'s document until `shutdown` turns true.
pub(crate) fn spawn_etcd_watcher(
    reloader: Arc<Reloader>,
    source: EtcdSource,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let key = source.key();
        let mut keys = KeyWatch::new(source.etcd.clone(), key.clone(), Scope::Key);
        let mut failures = 0usize;
        metrics::gauge!(ETCD_UP).set(1.0);
        loop {
            let changed = tokio::select! {
                changed = keys.changed() => changed,
                _ = crate::shutdown::stopping(&mut shutdown) => return,
            };
            match changed {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(%key, "etcd is back; watching the config document again");
                        metrics::gauge!(ETCD_UP).set(1.0);
                        failures = 0;
                    }
                    apply(&reloader, &key, &keys).await;
                }
                Err(error) => {
                    if failures == 0 {
                        tracing::error!(%key, %error, "etcd unreachable; the last applied config keeps serving");
                        metrics::gauge!(ETCD_UP).set(0.0);
                    }
                    let delay = BACKOFF[failures.min(BACKOFF.len() - 1)];
                    failures += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = crate::shutdown::stopping(&mut shutdown) => return,
                    }
                }
            }
        }
    })
}

/// Applies what the watch holds now.
async fn apply(reloader: &Reloader, key: &str, keys: &KeyWatch) {
    match keys.entries().get(key) {
        Some(entry) => {
            let text = String::from_utf8_lossy(&entry.value).into_owned();
            let document = Document {
                text,
                revision: entry.mod_revision,
            };
            reloader.apply_document(&document).await;
        }
        None => {
            reloader.document_deleted(key, keys.revision()).await;
        }
    }
}
