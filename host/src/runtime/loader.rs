//! Finds plugin components in the plugin directory and compiles each once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::Component;

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
}

/// Loads `<dir>/<name>.wasm` files, compiling each plugin once however many
/// routes use it.
pub struct PluginLoader {
    engine: PluginEngine,
    dir: PathBuf,
    cache: ComponentCache,
    loaded: HashMap<String, Arc<LoadedComponent>>,
}

impl PluginLoader {
    /// A loader for `dir`, caching compiled code in `cache_dir`.
    pub fn new(engine: PluginEngine, dir: &Path, cache_dir: &Path) -> Self {
        PluginLoader {
            engine,
            dir: dir.to_path_buf(),
            cache: ComponentCache::new(cache_dir),
            loaded: HashMap::new(),
        }
    }

    /// The compiled plugin `name`.
    pub fn load(&mut self, name: &str) -> Result<Arc<LoadedComponent>, LoadError> {
        if let Some(loaded) = self.loaded.get(name) {
            return Ok(loaded.clone());
        }
        let path = self.dir.join(format!("{name}.wasm"));
        let bytes = std::fs::read(&path).map_err(|source| LoadError::Read {
            plugin: name.to_owned(),
            path: path.display().to_string(),
            source,
        })?;
        let sha256 = sha256_hex(&bytes);
        let component = self
            .cache
            .load(self.engine.engine(), &bytes, &sha256)
            .map_err(|e| LoadError::Compile {
                plugin: name.to_owned(),
                message: format!("{e:#}"),
            })?;
        let loaded = Arc::new(LoadedComponent {
            name: name.into(),
            sha256,
            component,
        });
        self.loaded.insert(name.to_owned(), loaded.clone());
        Ok(loaded)
    }
}
