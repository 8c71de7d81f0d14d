//! The plugins the gateway knows: for each name, the version serving now
//! and the one before it (for rollback), compiled once per file content.
//!
//! A snapshot build asks a `Candidate` for components: a plugin already
//! in the catalog keeps its active version unless the build overrides it
//! (a changed file, a rollback); a plugin not seen before is read from the
//! plugin directory. Only when the snapshot is built and swapped in does
//! `PluginCatalog::commit` make the candidate's versions active, so a
//! refused reload leaves the catalog as it was.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use wasmtime::component::Component;

use super::bindings::types::PluginMetadata;
use super::component_cache::{ComponentCache, sha256_hex};
use super::engine::PluginEngine;
use super::error::LoadError;

/// A compiled plugin component.
pub struct LoadedComponent {
    /// The plugin's name (the file stem).
    pub name: Arc<str>,
    /// SHA-256 of the `.wasm` file.
    pub sha256: String,
    /// The compiled component.
    pub component: Component,
    /// When this version was read from the plugin directory.
    pub read_at: SystemTime,
    /// The component's own name and version (its `metadata` export), known
    /// once a route has started an instance of it.
    pub metadata: OnceLock<PluginMetadata>,
}

impl LoadedComponent {
    /// The version the component reports, or `unknown` before any instance
    /// of it started.
    pub fn version(&self) -> &str {
        self.metadata
            .get()
            .map_or("unknown", |metadata| metadata.version.as_str())
    }
}

/// One plugin's versions.
#[derive(Clone)]
pub(crate) struct CatalogEntry {
    /// The version routes use now.
    pub active: Arc<LoadedComponent>,
    /// The version that was active before, for rollback.
    pub previous: Option<Arc<LoadedComponent>>,
}

/// Every plugin some route uses, by name.
pub(crate) struct PluginCatalog {
    engine: PluginEngine,
    dir: PathBuf,
    cache: ComponentCache,
    entries: HashMap<String, CatalogEntry>,
}

impl PluginCatalog {
    /// An empty catalog reading `<dir>/<name>.wasm`, caching compiled code
    /// in `cache_dir`.
    pub fn new(engine: PluginEngine, dir: &Path, cache_dir: &Path) -> Self {
        PluginCatalog {
            engine,
            dir: dir.to_path_buf(),
            cache: ComponentCache::new(cache_dir),
            entries: HashMap::new(),
        }
    }

    /// The file plugin `name` is read from.
    pub(crate) fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.wasm"))
    }

    /// Reads and compiles `<dir>/<name>.wasm` as it is on disk now. A file
    /// whose content matches a version the catalog holds reuses that
    /// compiled component; compiling runs on the blocking pool, never on
    /// a thread that serves requests.
    pub async fn read(&self, name: &str) -> Result<Arc<LoadedComponent>, LoadError> {
        let path = self.path_of(name);
        let bytes = std::fs::read(&path).map_err(|source| LoadError::Read {
            plugin: name.to_owned(),
            path: path.display().to_string(),
            source,
        })?;
        let sha256 = sha256_hex(&bytes);
        if let Some(known) = self.known(name, &sha256) {
            return Ok(known);
        }
        let compile_error = |message: String| LoadError::Compile {
            plugin: name.to_owned(),
            message,
        };
        let (engine, cache, key) = (
            self.engine.engine().clone(),
            self.cache.clone(),
            sha256.clone(),
        );
        let component = tokio::task::spawn_blocking(move || cache.load(&engine, &bytes, &key))
            .await
            .map_err(|e| compile_error(format!("compiler task failed: {e}")))?
            .map_err(|e| compile_error(format!("{e:#}")))?;
        Ok(Arc::new(LoadedComponent {
            name: name.into(),
            sha256,
            component,
            read_at: SystemTime::now(),
            metadata: OnceLock::new(),
        }))
    }

    /// The version of `name` with this hash, if the catalog holds it.
    fn known(&self, name: &str, sha256: &str) -> Option<Arc<LoadedComponent>> {
        let entry = self.entries.get(name)?;
        std::iter::once(&entry.active)
            .chain(entry.previous.as_ref())
            .find(|c| c.sha256 == sha256)
            .cloned()
    }

    /// The versions of plugin `name`.
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.entries.get(name)
    }

    /// Every plugin, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &CatalogEntry)> {
        self.entries
            .iter()
            .map(|(name, entry)| (name.as_str(), entry))
    }

    /// Components for one snapshot build.
    pub fn candidate(&self) -> Candidate<'_> {
        Candidate {
            catalog: self,
            overrides: HashMap::new(),
            used: HashMap::new(),
        }
    }

    /// Makes the versions a successful build used active. A plugin whose
    /// version changed keeps the old one as `previous` (a rollback swaps
    /// the two); plugins no route uses any more are forgotten.
    pub(crate) fn commit(&mut self, used: HashMap<String, Arc<LoadedComponent>>) {
        let mut entries = HashMap::with_capacity(used.len());
        for (name, component) in used {
            let entry = match self.entries.remove(&name) {
                Some(old) if old.active.sha256 == component.sha256 => old,
                Some(old) => CatalogEntry {
                    active: component,
                    previous: Some(old.active),
                },
                None => CatalogEntry {
                    active: component,
                    previous: None,
                },
            };
            entries.insert(name, entry);
        }
        self.entries = entries;
    }
}

/// The components one snapshot build uses: overrides first, then the
/// catalog's active versions, then the plugin directory.
pub(crate) struct Candidate<'a> {
    catalog: &'a PluginCatalog,
    overrides: HashMap<String, Arc<LoadedComponent>>,
    used: HashMap<String, Arc<LoadedComponent>>,
}

impl Candidate<'_> {
    /// Uses `component` for its plugin instead of the active version.
    pub(crate) fn with_override(mut self, component: Arc<LoadedComponent>) -> Self {
        self.overrides.insert(component.name.to_string(), component);
        self
    }

    /// The component plugin `name` resolves to in this build.
    pub async fn component(&mut self, name: &str) -> Result<Arc<LoadedComponent>, LoadError> {
        if let Some(found) = self.used.get(name) {
            return Ok(found.clone());
        }
        let found = match self.overrides.get(name) {
            Some(component) => component.clone(),
            None => match self.catalog.entries.get(name) {
                Some(entry) => entry.active.clone(),
                None => self.catalog.read(name).await?,
            },
        };
        self.used.insert(name.to_owned(), found.clone());
        Ok(found)
    }

    /// The components the build used, for [`PluginCatalog::commit`].
    pub(crate) fn into_used(self) -> HashMap<String, Arc<LoadedComponent>> {
        self.used
    }
}
