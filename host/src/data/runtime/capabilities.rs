//! Capabilities: the host imports a route grants to a plugin.
//!
//! Deny by default. A plugin's component lists the capabilities it can call
//! among its imports; `check_imports` refuses it at load when the route does
//! not grant one, and `linker` links only the granted ones, so an ungranted
//! import could not be satisfied even if the check were skipped.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

use super::bindings::{cache, clock, context, kv, log, metrics, types};
use super::error::LoadError;
use super::redis::{RedisStore, Unavailable};
use super::services::namespaced;
use super::state::HostState;
use crate::config::{Capability, StateErrorPolicy};
use crate::data::observe::metrics::STATE_FALLBACKS;

/// The set of capabilities granted to one plugin on one route.
pub type Grants = BTreeSet<Capability>;

const PACKAGE: &str = "portico:plugin/";
const WIT_VERSION: &str = "@0.2.0";

/// Refuses a component that imports an ungranted capability or anything that
/// is neither part of the contract nor WASI.
pub(crate) fn check_imports(
    engine: &Engine,
    component: &Component,
    plugin: &str,
    route: &str,
    grants: &Grants,
) -> Result<(), LoadError> {
    for (name, _) in component.component_type().imports(engine) {
        if name.starts_with("wasi:") {
            continue;
        }
        let interface = name
            .strip_prefix(PACKAGE)
            .and_then(|rest| rest.strip_suffix(WIT_VERSION));
        let capability = match interface {
            Some("types") => continue,
            Some(interface) => Capability::ALL.into_iter().find(|c| c.name() == interface),
            None => None,
        };
        match capability {
            Some(capability) if grants.contains(&capability) => {}
            Some(capability) => {
                return Err(LoadError::Ungranted {
                    plugin: plugin.to_owned(),
                    route: route.to_owned(),
                    capability: capability.name().to_owned(),
                });
            }
            None => {
                return Err(LoadError::UnknownImport {
                    plugin: plugin.to_owned(),
                    import: name.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// A linker with WASI (sealed), the message types, and the granted
/// capabilities only.
pub(crate) fn linker(engine: &Engine, grants: &Grants) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    for capability in grants {
        match capability {
            Capability::Log => {
                log::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Clock => {
                clock::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Kv => {
                kv::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Cache => {
                cache::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Context => {
                context::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
            Capability::Metrics => {
                metrics::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
        }
    }
    Ok(linker)
}

/// Longest log message kept, bytes.
const MAX_LOG_MESSAGE: usize = 4096;

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let mut message = message;
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let (plugin, route) = (&*self.identity.plugin, &*self.identity.route);
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "portico::plugin", plugin, route, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "portico::plugin", plugin, route, "{message}")
            }
            log::Level::Info => {
                tracing::info!(target: "portico::plugin", plugin, route, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "portico::plugin", plugin, route, "{message}")
            }
            log::Level::Error => {
                tracing::error!(target: "portico::plugin", plugin, route, "{message}")
            }
        }
        Ok(())
    }
}

static PROCESS_START: LazyLock<Instant> = LazyLock::new(Instant::now);

impl clock::Host for HostState {
    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    fn monotonic_ns(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::try_from(PROCESS_START.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

fn ttl(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

fn kv_error(error: super::kv::KvError) -> kv::KvError {
    match error {
        super::kv::KvError::NotANumber => kv::KvError::NotANumber,
        super::kv::KvError::TooLarge => kv::KvError::TooLarge,
    }
}

impl HostState {
    /// The shared backend, when there is one.
    fn shared(&self) -> Option<Arc<RedisStore>> {
        self.services.shared.clone()
    }

    /// After the shared backend failed a call: whether to serve it from
    /// this instance's memory (`on_state_error = "local"`, counted) or to
    /// fail it.
    fn fall_back(&self) -> bool {
        let local = self.identity.on_state_error == StateErrorPolicy::Local;
        if local {
            ::metrics::counter!(STATE_FALLBACKS).increment(1);
        }
        local
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if let Some(shared) = self.shared() {
            match shared.kv_get(&self.identity.plugin, &key).await {
                Ok(value) => return Ok(value),
                Err(Unavailable) if !self.fall_back() => return Ok(None),
                Err(Unavailable) => {}
            }
        }
        Ok(self
            .services
            .kv
            .get(&namespaced(&self.identity.plugin, &key)))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: u64,
    ) -> wasmtime::Result<Result<(), kv::KvError>> {
        if let Some(shared) = self.shared() {
            match shared
                .kv_set(&self.identity.plugin, &key, value.clone(), ttl(ttl_ms))
                .await
            {
                Ok(stored) => return Ok(stored.map_err(kv_error)),
                Err(Unavailable) if !self.fall_back() => return Ok(Err(kv::KvError::Unavailable)),
                Err(Unavailable) => {}
            }
        }
        let key = namespaced(&self.identity.plugin, &key);
        Ok(self
            .services
            .kv
            .set(key, value, ttl(ttl_ms))
            .map_err(kv_error))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<bool> {
        if let Some(shared) = self.shared() {
            match shared.kv_delete(&self.identity.plugin, &key).await {
                Ok(existed) => return Ok(existed),
                Err(Unavailable) if !self.fall_back() => return Ok(false),
                Err(Unavailable) => {}
            }
        }
        Ok(self
            .services
            .kv
            .delete(&namespaced(&self.identity.plugin, &key)))
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
        ttl_ms: u64,
    ) -> wasmtime::Result<Result<i64, kv::KvError>> {
        if let Some(shared) = self.shared() {
            match shared
                .kv_increment(&self.identity.plugin, &key, delta, ttl(ttl_ms))
                .await
            {
                Ok(counted) => return Ok(counted.map_err(kv_error)),
                Err(Unavailable) if !self.fall_back() => return Ok(Err(kv::KvError::Unavailable)),
                Err(Unavailable) => {}
            }
        }
        let key = namespaced(&self.identity.plugin, &key);
        Ok(self
            .services
            .kv
            .increment(&key, delta, ttl(ttl_ms))
            .map_err(kv_error))
    }
}

impl cache::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if let Some(shared) = self.shared() {
            match shared.cache_get(&self.identity.plugin, &key).await {
                Ok(value) => return Ok(value),
                // A miss, either way: a cache is allowed to forget.
                Err(Unavailable) if !self.fall_back() => return Ok(None),
                Err(Unavailable) => {}
            }
        }
        Ok(self
            .services
            .cache
            .get(&namespaced(&self.identity.plugin, &key)))
    }

    async fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> wasmtime::Result<()> {
        let ttl = Duration::from_millis(ttl_ms);
        if let Some(shared) = self.shared() {
            let max = self.services.cache_entry_max();
            match shared
                .cache_set(&self.identity.plugin, &key, value.clone(), ttl, max)
                .await
            {
                Ok(()) => return Ok(()),
                Err(Unavailable) if !self.fall_back() => return Ok(()),
                Err(Unavailable) => {}
            }
        }
        let key = namespaced(&self.identity.plugin, &key);
        self.services.cache.set(key, value, ttl);
        Ok(())
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        if let Some(shared) = self.shared() {
            // Also forgotten locally: a fallback copy must not outlive it.
            let _ = shared.cache_delete(&self.identity.plugin, &key).await;
        }
        self.services
            .cache
            .delete(&namespaced(&self.identity.plugin, &key));
        Ok(())
    }
}

/// Bound on one context value, bytes; a chain's plugins share the context.
const MAX_CONTEXT_VALUE: usize = 64 * 1024;

impl context::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.context.get(&key).cloned())
    }

    fn set(&mut self, key: String, value: String) -> wasmtime::Result<()> {
        if key.len() + value.len() > MAX_CONTEXT_VALUE {
            return Err(wasmtime::format_err!(
                "context value for `{key}` exceeds {MAX_CONTEXT_VALUE} bytes"
            ));
        }
        self.context.insert(key, value);
        Ok(())
    }
}

impl metrics::Host for HostState {
    fn counter_add(
        &mut self,
        name: String,
        labels: Vec<(String, String)>,
        value: u64,
    ) -> wasmtime::Result<Result<(), metrics::MetricsError>> {
        use crate::data::observe::plugin_counters::CounterError;
        let (plugin, route) = (&*self.identity.plugin, &*self.identity.route);
        let added = self
            .services
            .counters
            .add(plugin, route, &name, labels, value);
        Ok(added.map_err(|error| match error {
            CounterError::InvalidName(why) => metrics::MetricsError::InvalidName(why),
            CounterError::InvalidLabel(why) => metrics::MetricsError::InvalidLabel(why),
            CounterError::TooManySeries => metrics::MetricsError::TooManySeries,
        }))
    }
}
