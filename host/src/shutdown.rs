//! The shutdown signal every long-running task listens to: a
//! `watch::Receiver<bool>` that turns `true` once shutdown starts.

use tokio::sync::watch;

/// Resolves once `shutdown` turns true (or its sender is gone).
pub async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
