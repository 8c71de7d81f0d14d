//! Certificate reload: the listener's certificate, key and CA files are
//! checked every `reload_interval_ms`; when any changed, a whole new server
//! config is built on a blocking thread, off the handshake path, and
//! swapped in atomically. Handshakes in progress keep the config they
//! started with; the next one gets the new config. A set that fails to load
//! (a half-written file, a key that does not match) is logged, and the
//! previous config keeps serving until the files change again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::TlsTerminator;
use crate::config::TlsConfig;
use crate::shutdown::stopping;

/// What is known of one file without reading it: enough to notice a
/// rewrite, a replacement by rename, or a symlink swap.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
    #[cfg(unix)]
    changed: i64,
}

/// Stamps of every file of a `tls` table (`None`: unreadable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fingerprint(Vec<Option<FileStamp>>);

impl Fingerprint {
    /// The current state of the files `config` names.
    pub(super) fn of(config: &TlsConfig) -> Self {
        Fingerprint(files(config).iter().map(stamp).collect())
    }
}

fn files(config: &TlsConfig) -> Vec<PathBuf> {
    config
        .certificates
        .iter()
        .flat_map(|c| [c.cert.clone(), c.key.clone()])
        .chain(config.client_ca.clone())
        .collect()
}

fn stamp(path: &PathBuf) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    use std::os::unix::fs::MetadataExt;
    Some(FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        #[cfg(unix)]
        inode: metadata.ino(),
        #[cfg(unix)]
        changed: metadata.ctime().saturating_mul(1_000_000_000) + metadata.ctime_nsec(),
    })
}

/// Checks the files every `interval` until `shutdown` turns true, reloading
/// `terminator` when they changed.
pub(super) async fn watch(
    terminator: Arc<TlsTerminator>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut seen = terminator.loaded_from.clone();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopping(&mut shutdown) => break,
        }
        let now = Fingerprint::of(&terminator.config);
        if now == seen {
            continue;
        }
        // Remember the new state even if it fails to load: the error is
        // logged once, and loading is tried again when the files change.
        seen = now;
        let rebuilt = {
            let terminator = terminator.clone();
            tokio::task::spawn_blocking(move || {
                super::build(&terminator.config, &terminator.key, terminator.alpn)
            })
            .await
        };
        match rebuilt {
            Ok(Ok(config)) => {
                terminator.current.store(Arc::new(config));
                tracing::info!(tls = %terminator.key, "certificates reloaded");
            }
            Ok(Err(error)) => tracing::warn!(
                tls = %terminator.key,
                %error,
                "certificates changed but cannot be loaded; the previous ones keep serving"
            ),
            Err(error) => {
                tracing::warn!(tls = %terminator.key, %error, "certificate reload failed")
            }
        }
    }
}
