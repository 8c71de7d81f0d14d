//! Where the config comes from: a file, or a document in etcd.
//!
//! A file is re-read on a reload (the watcher polls it). An etcd document
//! lives at `PREFIX/config` under an `etcd://HOST:PORT/PREFIX` location;
//! `etcd_watch` applies each new revision as it is written, and a reload
//! (SIGHUP, `POST /reload`) reads the latest. Relative paths in an etcd
//! document resolve against the instance's base directory (its working
//! directory unless `--base-dir` says otherwise), since a document has no
//! directory of its own.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigError, ConfigErrors, EtcdConfig, EtcdLocation};
use crate::etcd::document::{self, Document, PushError};
use crate::etcd::{Etcd, EtcdError};

/// Where reloads read the config.
#[derive(Debug)]
pub enum ConfigSource {
    /// A config file.
    File(PathBuf),
    /// A document in etcd.
    Etcd(EtcdSource),
}

/// A config document in etcd.
#[derive(Debug, Clone)]
pub struct EtcdSource {
    /// The cluster and prefix.
    pub location: EtcdLocation,
    /// The client.
    pub etcd: Etcd,
    /// What relative paths in the document resolve against.
    pub base: PathBuf,
}

impl EtcdSource {
    /// A source for the document at `location`, with the credentials of
    /// `PORTICO_ETCD_USERNAME` / `PORTICO_ETCD_PASSWORD` when set.
    pub async fn connect(location: EtcdLocation, base: PathBuf) -> Result<Self, EtcdError> {
        let etcd = Etcd::connect(&EtcdConfig::for_location(&location)).await?;
        Ok(EtcdSource {
            location,
            etcd,
            base,
        })
    }

    /// The key the document lives at.
    pub fn key(&self) -> String {
        self.location.config_key()
    }

    /// The latest document and the config it describes (validated, plugin
    /// `init`s aside).
    pub async fn read(&self) -> Result<(Config, i64), ConfigErrors> {
        let document = document::get(&self.etcd, &self.key())
            .await
            .map_err(|e| self.error(&e.to_string()))?;
        let Some(document) = document else {
            return Err(self.error(&format!(
                "no config document at `{}`: write one with `portico config push FILE --to {}`",
                self.key(),
                self.location
            )));
        };
        let config = self.parse(&document)?;
        Ok((config, document.revision))
    }

    /// Parses and validates one revision of the document.
    pub fn parse(&self, document: &Document) -> Result<Config, ConfigErrors> {
        let name = PathBuf::from(format!("{}/config@{}", self.location, document.revision));
        config::parse_document(&self.location, &name, &self.base, &document.text)
    }

    /// Writes `text` as the next revision of the document, if the document
    /// is still at `expected` (`None`: at the revision read just before,
    /// so a write between that read and this one is still caught). An
    /// identical document is not written again.
    pub async fn push(&self, text: &str, expected: Option<i64>) -> Result<Pushed, PushError> {
        let key = self.key();
        let current = document::get(&self.etcd, &key).await?;
        let current_revision = current.as_ref().map_or(0, |d| d.revision);
        let expected = expected.unwrap_or(current_revision);
        if let Some(current) = &current
            && current.text == text
            && current.revision == expected
        {
            return Ok(Pushed {
                revision: current.revision,
                previous: Some(current.revision),
                written: false,
            });
        }
        let revision = document::put(&self.etcd, &key, text, expected).await?;
        Ok(Pushed {
            revision,
            previous: (expected > 0).then_some(expected),
            written: true,
        })
    }

    /// The file at `path` as the document would be read by an instance
    /// whose base directory is the file's own (what `portico config push`
    /// checks before writing).
    pub fn parse_file(&self, path: &Path) -> Result<(Config, String), ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::one(ConfigError::new(path, "", format!("cannot read file: {e}")))
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let config = config::parse_document(&self.location, path, &base, &text)?;
        Ok((config, text))
    }

    /// A problem with the document as a whole.
    pub(crate) fn error(&self, message: &str) -> ConfigErrors {
        let file = PathBuf::from(format!("{}/config", self.location));
        ConfigErrors::one(ConfigError::new(&file, "", message))
    }
}

impl ConfigSource {
    /// The config it describes now, and the document's revision (0 for a
    /// file).
    pub async fn read(&self) -> Result<(Config, i64), ConfigErrors> {
        match self {
            ConfigSource::File(path) => Ok((config::load(path)?, 0)),
            ConfigSource::Etcd(source) => source.read().await,
        }
    }

    /// The config file the watcher polls; `None` for etcd.
    pub fn file(&self) -> Option<&Path> {
        match self {
            ConfigSource::File(path) => Some(path),
            ConfigSource::Etcd(_) => None,
        }
    }
}

/// What [`EtcdSource::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// The document's revision now.
    pub revision: i64,
    /// The revision it replaced (`None`: there was none).
    pub previous: Option<i64>,
    /// Whether anything was written (`false`: the same text was there).
    pub written: bool,
}
