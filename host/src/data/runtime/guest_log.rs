//! A guest's stdout and stderr, written line by line to the gateway's log.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::identity::PluginIdentity;

/// Longest line kept; the rest is cut.
const MAX_LINE: usize = 4096;

/// Sink for a plugin's stdout/stderr (a panic message lands here).
#[derive(Clone)]
pub(crate) struct GuestLog {
    identity: Arc<PluginIdentity>,
}

impl GuestLog {
    /// A sink tagged with the plugin's name and route.
    pub fn new(identity: Arc<PluginIdentity>) -> Self {
        GuestLog { identity }
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            identity: self.identity.clone(),
            line: Vec::new(),
        })
    }
}

struct LineWriter {
    identity: Arc<PluginIdentity>,
    line: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self) {
        if self.line.is_empty() {
            return;
        }
        self.line.truncate(MAX_LINE);
        let text = String::from_utf8_lossy(&self.line);
        tracing::warn!(
            target: "portico::plugin",
            plugin = %self.identity.plugin,
            route = %self.identity.route,
            output = %text.trim_end(),
            "plugin wrote to stdout/stderr"
        );
        self.line.clear();
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        for &byte in buf {
            if byte == b'\n' {
                self.emit();
            } else if self.line.len() < MAX_LINE {
                self.line.push(byte);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.emit();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
