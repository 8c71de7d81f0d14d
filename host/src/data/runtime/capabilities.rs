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

use super::bindings::{cache, clock, context, kv, log, metrics, outbound, types};
use super::error::LoadError;
use super::outbound::OutboundError;
use super::redis::{RedisStore, Unavailable};
use super::services::namespaced;
use super::state::HostState;
use crate::config::{Capability, StateErrorPolicy};
use crate::data::observe::metrics::STATE_FALLBACKS;

/// The set of capabilities granted to one plugin on one route.
pub type Grants = BTreeSet<Capability>;

pub(crate) use portico_contract::capability::{Import, classify};
pub(crate) use portico_contract::{PACKAGE, WIT_VERSION};

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
        match classify(name) {
            Import::Wasi | Import::Types => {}
            Import::Capability(capability) if grants.contains(&capability) => {}
            Import::Capability(capability) => {
                return Err(LoadError::Ungranted {
                    plugin: plugin.to_owned(),
                    route: route.to_owned(),
                    capability: capability.name().to_owned(),
                });
            }
            Import::Unknown => {
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
            Capability::Http => {
                outbound::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
            }
        }
    }
    Ok(linker)
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let mut message = message;
        portico_contract::limits::truncate_log(&mut message);
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
    /// Runs `call` on the shared backend, when there is one, with this
    /// plugin's name and `on_state_error` policy (see [`Shared::run`]):
    /// `None` means "serve it from this instance's memory". The wait is
    /// the backend's, not the guest's: it does not count toward the phase
    /// deadline (`[state.redis] timeout_ms` bounds it).
    async fn on_shared<T, F>(
        &mut self,
        call: impl FnOnce(Arc<RedisStore>, Arc<str>) -> F,
        on_fail: T,
    ) -> Option<T>
    where
        F: Future<Output = Result<T, Unavailable>>,
    {
        let backend = Shared {
            store: self.services.shared.clone()?,
            plugin: self.identity.plugin.clone(),
            policy: self.identity.on_state_error,
        };
        let started = Instant::now();
        let answer = backend.run(call, on_fail).await;
        self.timing.add_io_wait(started.elapsed());
        answer
    }
}

/// A call to the shared backend on behalf of one plugin.
struct Shared {
    store: Arc<RedisStore>,
    plugin: Arc<str>,
    policy: StateErrorPolicy,
}

impl Shared {
    /// Runs `call`. `Some` is the answer: the backend's, or `on_fail` when
    /// it failed and the plugin entry says `on_state_error = "fail"`.
    /// `None`: it failed and the policy is `"local"` (counted): serve the
    /// call from this instance's memory.
    async fn run<T, F>(
        self,
        call: impl FnOnce(Arc<RedisStore>, Arc<str>) -> F,
        on_fail: T,
    ) -> Option<T>
    where
        F: Future<Output = Result<T, Unavailable>>,
    {
        match call(self.store, self.plugin).await {
            Ok(answer) => Some(answer),
            Err(Unavailable) if self.policy == StateErrorPolicy::Fail => Some(on_fail),
            Err(Unavailable) => {
                ::metrics::counter!(STATE_FALLBACKS).increment(1);
                None
            }
        }
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        let shared = |store: Arc<RedisStore>, plugin: Arc<str>| {
            let key = key.clone();
            async move { store.kv_get(&plugin, &key).await }
        };
        if let Some(answer) = self.on_shared(shared, None).await {
            return Ok(answer);
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
        let shared = |store: Arc<RedisStore>, plugin: Arc<str>| {
            let (key, value) = (key.clone(), value.clone());
            async move {
                let stored = store.kv_set(&plugin, &key, value, ttl(ttl_ms)).await?;
                Ok(stored.map_err(kv_error))
            }
        };
        if let Some(answer) = self.on_shared(shared, Err(kv::KvError::Unavailable)).await {
            return Ok(answer);
        }
        let key = namespaced(&self.identity.plugin, &key);
        Ok(self
            .services
            .kv
            .set(key, value, ttl(ttl_ms))
            .map_err(kv_error))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<bool> {
        let shared = |store: Arc<RedisStore>, plugin: Arc<str>| {
            let key = key.clone();
            async move { store.kv_delete(&plugin, &key).await }
        };
        if let Some(answer) = self.on_shared(shared, false).await {
            return Ok(answer);
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
        let shared = |store: Arc<RedisStore>, plugin: Arc<str>| {
            let key = key.clone();
            async move {
                let counted = store
                    .kv_increment(&plugin, &key, delta, ttl(ttl_ms))
                    .await?;
                Ok(counted.map_err(kv_error))
            }
        };
        if let Some(answer) = self.on_shared(shared, Err(kv::KvError::Unavailable)).await {
            return Ok(answer);
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
        // A miss, either way, when the backend fails: a cache may forget.
        let shared = |store: Arc<RedisStore>, plugin: Arc<str>| {
            let key = key.clone();
            async move { store.cache_get(&plugin, &key).await }
        };
        if let Some(answer) = self.on_shared(shared, None).await {
            return Ok(answer);
        }
        Ok(self
            .services
            .cache
            .get(&namespaced(&self.identity.plugin, &key)))
    }

    async fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> wasmtime::Result<()> {
        let ttl = Duration::from_millis(ttl_ms);
        let max = self.services.cache_entry_max();
        let shared = |store: Arc<RedisStore>, plugin: Arc<str>| {
            let (key, value) = (key.clone(), value.clone());
            async move { store.cache_set(&plugin, &key, value, ttl, max).await }
        };
        if self.on_shared(shared, ()).await.is_some() {
            return Ok(());
        }
        let key = namespaced(&self.identity.plugin, &key);
        self.services.cache.set(key, value, ttl);
        Ok(())
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        if let Some(store) = self.services.shared.clone() {
            // Also forgotten locally: a fallback copy must not outlive it.
            let _ = store.cache_delete(&self.identity.plugin, &key).await;
        }
        self.services
            .cache
            .delete(&namespaced(&self.identity.plugin, &key));
        Ok(())
    }
}

impl context::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.context.get(&key).cloned())
    }

    fn set(&mut self, key: String, value: String) -> wasmtime::Result<()> {
        // Past the bound the plugin traps: its request fails.
        portico_contract::limits::check_context(&key, &value)
            .map_err(|message| wasmtime::format_err!("{message}"))?;
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

impl outbound::Host for HostState {
    /// The call waits for the destination, not the guest: that time does
    /// not count toward the phase deadline (the grant's timeout bounds it).
    async fn send(
        &mut self,
        request: outbound::OutgoingRequest,
    ) -> wasmtime::Result<Result<outbound::IncomingResponse, outbound::HttpError>> {
        let Some(client) = self.identity.outbound.clone() else {
            // Linked only with a grant, which always builds a client.
            return Ok(Err(outbound::HttpError::Denied(
                "this plugin entry has no `http` grant".into(),
            )));
        };
        let started = Instant::now();
        let result = client
            .send(&request.method, &request.url, request.headers, request.body)
            .await;
        self.timing.add_io_wait(started.elapsed());
        Ok(match result {
            Ok(answer) => Ok(outbound::IncomingResponse {
                status: answer.status,
                headers: answer.headers,
                body: answer.body,
            }),
            Err(error) => Err(match error {
                OutboundError::Denied(why) => outbound::HttpError::Denied(why),
                OutboundError::Invalid(why) => outbound::HttpError::InvalidRequest(why),
                OutboundError::Timeout => outbound::HttpError::Timeout,
                OutboundError::Connect(why) => outbound::HttpError::Connect(why),
                OutboundError::Tls(why) => outbound::HttpError::Tls(why),
                OutboundError::TooLarge => outbound::HttpError::TooLarge,
                OutboundError::Other(why) => outbound::HttpError::Other(why),
            }),
        })
    }
}
