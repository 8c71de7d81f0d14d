//! Compiled components cached on disk, so a restart or reload does not pay
//! Cranelift again for a plugin it has compiled before.
//!
//! The key is the SHA-256 of the component's bytes plus a hash of the
//! engine's compilation settings and wasmtime's version
//! ([`Engine::precompile_compatibility_hash`]). Files are written atomically
//! (temp file + rename) and only files in this directory, written by the
//! gateway, are ever deserialized.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub(crate) struct ComponentCache {
    dir: PathBuf,
}

/// The SHA-256 of a component's bytes, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ComponentCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ComponentCache { dir: dir.into() }
    }

    /// Loads the compiled form of `bytes` (whose hash is `sha256`), compiling
    /// and storing it when absent. A cache that cannot be read or written
    /// only costs a compile: it is logged, never fatal.
    pub fn load(&self, engine: &Engine, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
        let path = self.path_for(engine, sha256);
        if path.exists() {
            // SAFETY: the file is in the gateway's own cache directory and was
            // written by `Component::serialize` for an engine with the same
            // compatibility hash (part of the file name).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "discarding unreadable compiled component")
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(error) = self.store(&path, &component) {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot cache compiled component");
        }
        Ok(component)
    }

    fn path_for(&self, engine: &Engine, sha256: &str) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
    }

    fn store(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let bytes = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}
