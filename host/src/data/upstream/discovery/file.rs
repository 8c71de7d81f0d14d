//! A file of targets, re-read when its modification time or size changes
//! (polled every `interval_ms`).
//!
//! `.json` files hold an array of `"host:port weight"` strings or
//! `{"addr": "host:port", "weight": 2}` objects; any other file holds one
//! `host:port [weight]` per line, `#` starting a comment.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde::Deserialize;

use super::{DiscoverFuture, Discovered, DiscoveryError, ServiceDiscovery};
use crate::data::upstream::target::Target;

/// A watched targets file.
pub struct FileDiscovery {
    path: PathBuf,
    interval: Duration,
    /// Modification time and size when last read.
    seen: Mutex<Option<(SystemTime, u64)>>,
}

impl FileDiscovery {
    /// Watches `path`, polling every `interval`.
    pub fn new(path: PathBuf, interval: Duration) -> Self {
        FileDiscovery {
            path,
            interval,
            seen: Mutex::new(None),
        }
    }

    fn read(&self) -> Result<Discovered, DiscoveryError> {
        let read_error = |source| DiscoveryError::Read {
            path: self.path.clone(),
            source,
        };
        let meta = std::fs::metadata(&self.path).map_err(read_error)?;
        let stamp = (meta.modified().map_err(read_error)?, meta.len());
        let next = Some(self.interval);
        if self.seen.lock().replace(stamp) == Some(stamp) {
            return Ok(Discovered {
                targets: None,
                next,
            });
        }
        let text = std::fs::read_to_string(&self.path).map_err(read_error)?;
        let targets = if self.path.extension().is_some_and(|e| e == "json") {
            self.parse_json(&text)?
        } else {
            self.parse_lines(&text)?
        };
        Ok(Discovered {
            targets: Some(targets),
            next,
        })
    }

    fn parse_lines(&self, text: &str) -> Result<Vec<Target>, DiscoveryError> {
        let mut targets = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            targets.push(Target::parse(line).map_err(|error| DiscoveryError::Target {
                path: self.path.clone(),
                line: i + 1,
                error,
            })?);
        }
        Ok(targets)
    }

    fn parse_json(&self, text: &str) -> Result<Vec<Target>, DiscoveryError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Line(String),
            Object { addr: String, weight: Option<u32> },
        }
        let entries: Vec<Entry> = serde_json::from_str(text).map_err(|e| DiscoveryError::Json {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        entries
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let line = match entry {
                    Entry::Line(line) => line,
                    Entry::Object { addr, weight } => format!("{addr} {}", weight.unwrap_or(1)),
                };
                Target::parse(&line).map_err(|error| DiscoveryError::Target {
                    path: self.path.clone(),
                    line: i,
                    error,
                })
            })
            .collect()
    }
}

impl ServiceDiscovery for FileDiscovery {
    fn discover(&self) -> DiscoverFuture<'_> {
        Box::pin(async move { self.read() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discover(provider: &FileDiscovery) -> Result<Option<Vec<String>>, DiscoveryError> {
        let found = provider.read()?;
        Ok(found.targets.map(|t| {
            t.into_iter()
                .map(|t| format!("{} {}", t.addr, t.weight))
                .collect()
        }))
    }

    #[test]
    fn reads_lines_and_json_and_notices_changes() {
        let dir = tempfile::tempdir().unwrap();
        let lines = dir.path().join("targets.txt");
        std::fs::write(&lines, "# pool\n10.0.0.1:80\n10.0.0.2:80 3  # big\n\n").unwrap();
        let provider = FileDiscovery::new(lines.clone(), Duration::from_secs(1));
        assert_eq!(
            discover(&provider).unwrap().unwrap(),
            ["10.0.0.1:80 1", "10.0.0.2:80 3"]
        );
        assert_eq!(discover(&provider).unwrap(), None, "unchanged");
        std::fs::write(&lines, "10.0.0.1:80\n10.0.0.2:80 3\n10.0.0.3:80\n").unwrap();
        assert_eq!(discover(&provider).unwrap().unwrap().len(), 3);
        std::fs::write(&lines, "10.0.0.1:80\nnot a target\n").unwrap();
        let error = discover(&provider).unwrap_err().to_string();
        assert!(
            error.ends_with(
                "targets.txt:2: `not a target` is not `host:port` or `host:port weight`"
            ),
            "{error}"
        );

        let json = dir.path().join("targets.json");
        std::fs::write(&json, r#"["10.0.0.1:80 2", {"addr": "10.0.0.2:80"}]"#).unwrap();
        let provider = FileDiscovery::new(json, Duration::from_secs(1));
        assert_eq!(
            discover(&provider).unwrap().unwrap(),
            ["10.0.0.1:80 2", "10.0.0.2:80 1"]
        );
    }
}
