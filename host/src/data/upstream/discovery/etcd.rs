//! Targets from an etcd key prefix, one key per target, kept current by a
//! watch.
//!
//! Each key under the prefix holds `host:port`, `host:port weight` or
//! `{"addr": "host:port", "weight": 2}`. A value that does not parse is
//! left out with a warning naming its key; the others serve. When etcd
//! goes away the last set keeps serving, and the watch resumes from the
//! last revision seen once it is back (see `crate::etcd::watch`).

use serde::Deserialize;
use std::time::Duration;

use super::{DiscoverFuture, Discovered, DiscoveryError, ServiceDiscovery};
use crate::data::upstream::target::Target;
use crate::etcd::Etcd;
use crate::etcd::watch::{KeyWatch, Scope};

/// An upstream's targets under an etcd prefix.
pub struct EtcdDiscovery {
    upstream: String,
    watch: tokio::sync::Mutex<KeyWatch>,
}

impl EtcdDiscovery {
    /// Watches the keys under `prefix` for upstream `upstream`.
    pub fn new(upstream: &str, etcd: Etcd, prefix: &str) -> Self {
        EtcdDiscovery {
            upstream: upstream.to_owned(),
            watch: tokio::sync::Mutex::new(KeyWatch::new(etcd, prefix, Scope::Prefix)),
        }
    }

    async fn next(&self) -> Result<Discovered, DiscoveryError> {
        let mut watch = self.watch.lock().await;
        watch
            .changed()
            .await
            .map_err(|error| DiscoveryError::Etcd {
                prefix: watch.key().to_owned(),
                reason: error.to_string(),
            })?;
        let mut targets = Vec::new();
        for (key, entry) in watch.entries() {
            match parse(&entry.value) {
                Ok(target) => targets.push(target),
                Err(problem) => tracing::warn!(
                    upstream = %self.upstream,
                    %key,
                    %problem,
                    "etcd discovery: ignoring a target that does not parse"
                ),
            }
        }
        // Asked again at once: the next call waits on the watch.
        Ok(Discovered {
            targets: Some(targets),
            next: Some(Duration::ZERO),
        })
    }
}

/// One key's value as a target.
fn parse(value: &[u8]) -> Result<Target, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Object {
        addr: String,
        weight: Option<u32>,
    }
    let text = std::str::from_utf8(value).map_err(|_| "the value is not UTF-8".to_owned())?;
    let text = text.trim();
    let line = if text.starts_with('{') {
        let object: Object = serde_json::from_str(text).map_err(|e| format!("`{text}`: {e}"))?;
        format!("{} {}", object.addr, object.weight.unwrap_or(1))
    } else {
        text.to_owned()
    };
    Target::parse(&line).map_err(|e| e.to_string())
}

impl ServiceDiscovery for EtcdDiscovery {
    fn discover(&self) -> DiscoverFuture<'_> {
        Box::pin(self.next())
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn values_are_targets_with_optional_weights() {
        let show = |v: &str| parse(v.as_bytes()).map(|t| format!("{} {}", t.addr, t.weight));
        assert_eq!(show("10.0.0.1:80").unwrap(), "10.0.0.1:80 1");
        assert_eq!(show("10.0.0.1:80 3\n").unwrap(), "10.0.0.1:80 3");
        assert_eq!(
            show(r#"{"addr": "10.0.0.2:81", "weight": 2}"#).unwrap(),
            "10.0.0.2:81 2"
        );
        assert!(show("not a target").is_err());
        assert!(
            show(r#"{"address": "10.0.0.2:81"}"#)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
