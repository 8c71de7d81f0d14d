//! Polls the config file and the plugin directory, and reloads on change.
//!
//! Polling (every `reload.interval_ms`, 250 ms by default) works the same
//! on every filesystem, including bind mounts and network volumes where
//! change notifications are unreliable. A file is compared by size and
//! modification time first and by content only when those moved, so an
//! unchanged directory costs a `stat` per plugin. A file caught half
//! written fails its checks, is refused and is tried again when it
//! changes, so copying a plugin in place ends with the complete file
//! active; writing to a temporary name and renaming avoids the refusal.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::reloader::Reloader;
use super::report::ReloadTrigger;

/// What a file looked like at the last poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Present { len: u64, modified: SystemTime },
    Missing,
}

fn stamp(path: &Path) -> Stamp {
    match std::fs::metadata(path) {
        Ok(meta) => Stamp::Present {
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        },
        Err(_) => Stamp::Missing,
    }
}

/// Starts polling every `interval` until `shutdown` turns true.
pub(crate) fn spawn_watcher(
    reloader: Arc<Reloader>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // A config from etcd is watched by `etcd_watch`; only its plugin
        // directory is polled here.
        let config_path = reloader.source().file().map(Path::to_path_buf);
        let mut config = config_path.as_deref().map_or(Stamp::Missing, stamp);
        let mut plugins: HashMap<String, Stamp> = HashMap::new();
        for name in reloader.plugin_names().await {
            let path = plugin_path(&reloader, &name);
            plugins.insert(name, stamp(&path));
        }
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = crate::shutdown::stopping(&mut shutdown) => return,
            }
            let now = config_path.as_deref().map_or(Stamp::Missing, stamp);
            if now != config {
                config = now;
                if now != Stamp::Missing {
                    reloader.reload_config(ReloadTrigger::ConfigFile).await;
                }
            }
            poll_plugins(&reloader, &mut plugins).await;
        }
    })
}

/// Checks each plugin some route uses; a plugin a reload newly brought in
/// starts out as seen.
async fn poll_plugins(reloader: &Reloader, seen: &mut HashMap<String, Stamp>) {
    let names = reloader.plugin_names().await;
    seen.retain(|name, _| names.contains(name));
    for name in names {
        let now = stamp(&plugin_path(reloader, &name));
        let Some(before) = seen.insert(name.clone(), now) else {
            continue;
        };
        if before == now {
            continue;
        }
        match now {
            Stamp::Missing => {
                reloader.plugin_removed(&name).await;
            }
            Stamp::Present { .. } => {
                reloader.plugin_changed(&name).await;
            }
        }
    }
}

fn plugin_path(reloader: &Reloader, name: &str) -> PathBuf {
    reloader.plugin_dir().join(format!("{name}.wasm"))
}
