//! The keys under a prefix (or one key), kept current.
//!
//! [`KeyWatch::changed`] reads the keys the first time and then waits on
//! an etcd watch that starts at the revision after the read, so no change
//! between the read and the watch is lost. When the cluster goes away the
//! call fails and the last contents stay; the next call watches again from
//! the revision after the last one seen, so a restarted etcd replays what
//! happened meanwhile. When that revision has been compacted away, the
//! keys are read again instead.

use std::collections::BTreeMap;

use etcd_client::{EventType, GetOptions, WatchOptions, WatchStream};

use super::{Etcd, EtcdError};

/// What is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Exactly the key.
    Key,
    /// Every key starting with it.
    Prefix,
}

/// One key's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value.
    pub value: Vec<u8>,
    /// The key's `mod_revision`.
    pub mod_revision: i64,
}

/// Keys kept current by a watch.
pub struct KeyWatch {
    etcd: Etcd,
    key: String,
    scope: Scope,
    entries: BTreeMap<String, Entry>,
    /// The store revision the entries are current at; 0 before the first
    /// read.
    revision: i64,
    stream: Option<WatchStream>,
    /// The watch's start revision was compacted: read everything again.
    resync: bool,
}

impl KeyWatch {
    /// Watches `key` (one key or a prefix); nothing is read until
    /// [`KeyWatch::changed`].
    pub fn new(etcd: Etcd, key: impl Into<String>, scope: Scope) -> Self {
        KeyWatch {
            etcd,
            key: key.into(),
            scope,
            entries: BTreeMap::new(),
            revision: 0,
            stream: None,
            resync: false,
        }
    }

    /// The watched key or prefix.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The keys and values as last seen.
    pub fn entries(&self) -> &BTreeMap<String, Entry> {
        &self.entries
    }

    /// The store revision [`KeyWatch::entries`] are current at.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Reads the keys on the first call (and after a compaction); waits for
    /// the next change otherwise. An error keeps the last entries; the next
    /// call resumes the watch where it stopped.
    pub async fn changed(&mut self) -> Result<(), EtcdError> {
        loop {
            if self.revision == 0 || self.resync {
                self.read().await?;
                return Ok(());
            }
            let stream = match &mut self.stream {
                Some(stream) => stream,
                None => self.stream.insert(self.open().await?),
            };
            let message = stream.message().await;
            let response = match message {
                Ok(Some(response)) => response,
                Ok(None) => {
                    self.stream = None;
                    return Err(self.ended("the server closed the stream"));
                }
                Err(error) => {
                    self.stream = None;
                    return Err(EtcdError::Call {
                        op: format!("watch {}", self.key),
                        error,
                    });
                }
            };
            if response.compact_revision() > 0 {
                // Events from our revision are gone: start over.
                self.stream = None;
                self.resync = true;
                continue;
            }
            if response.canceled() {
                self.stream = None;
                let reason = response.cancel_reason().to_owned();
                return Err(self.ended(&reason));
            }
            let mut changed = false;
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                let key = String::from_utf8_lossy(kv.key()).into_owned();
                match event.event_type() {
                    EventType::Put => {
                        self.entries.insert(
                            key,
                            Entry {
                                value: kv.value().to_vec(),
                                mod_revision: kv.mod_revision(),
                            },
                        );
                    }
                    EventType::Delete => {
                        self.entries.remove(&key);
                    }
                }
                self.revision = self.revision.max(kv.mod_revision());
                changed = true;
            }
            if let Some(header) = response.header() {
                // Every event up to the header's revision has been sent.
                self.revision = self.revision.max(header.revision());
            }
            if changed {
                return Ok(());
            }
        }
    }

    async fn read(&mut self) -> Result<(), EtcdError> {
        let options = match self.scope {
            Scope::Key => None,
            Scope::Prefix => Some(GetOptions::new().with_prefix()),
        };
        let mut client = self.etcd.client();
        let op = format!("get {}", self.key);
        let response = self
            .etcd
            .call(op, client.get(self.key.as_str(), options))
            .await?;
        self.entries = response
            .kvs()
            .iter()
            .map(|kv| {
                let entry = Entry {
                    value: kv.value().to_vec(),
                    mod_revision: kv.mod_revision(),
                };
                (String::from_utf8_lossy(kv.key()).into_owned(), entry)
            })
            .collect();
        self.revision = response.header().map_or(1, |h| h.revision()).max(1);
        self.resync = false;
        self.stream = None;
        Ok(())
    }

    async fn open(&self) -> Result<WatchStream, EtcdError> {
        let mut options = WatchOptions::new()
            .with_start_revision(self.revision + 1)
            .with_progress_notify();
        if self.scope == Scope::Prefix {
            options = options.with_prefix();
        }
        let mut client = self.etcd.client();
        let op = format!("watch {}", self.key);
        self.etcd
            .call(op, client.watch(self.key.as_str(), Some(options)))
            .await
    }

    fn ended(&self, reason: &str) -> EtcdError {
        EtcdError::WatchEnded {
            key: self.key.clone(),
            reason: reason.to_owned(),
        }
    }
}
