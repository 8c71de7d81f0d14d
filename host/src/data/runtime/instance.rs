//! One live plugin instance: a wasmtime `Store` and the component's exports.
//!
//! Every call is bounded by the epoch deadline (see `on_epoch_tick`) and the
//! memory limiter. A call that fails in any way leaves the instance unusable
//! (a trapped component cannot be entered again); the caller drops it.

use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime::{Store, Trap};

use super::bindings::types::{Action, ConfigError, PluginMetadata as Metadata, ResponsePhase};
use super::bindings::{Plugin, PluginPre};
use super::engine::{Limits, PluginEngine};
use super::error::PluginFailure;
use super::identity::PluginIdentity;
use super::message::{ProxyRequest, ProxyResponse};
use super::services::HostServices;
use super::state::{
    DeadlineExceeded, HostState, MemoryLimitExceeded, RequestContext, on_epoch_tick,
};

/// A plugin instance with its own store.
pub(crate) struct PluginInstance {
    store: Store<HostState>,
    exports: Plugin,
    uses: u32,
}

/// How `init` ended.
pub(crate) enum InitOutcome {
    /// The plugin accepted its config.
    Ready(PluginInstance),
    /// The plugin rejected its config.
    Rejected(ConfigError),
}

impl PluginInstance {
    /// Instantiates the component and calls `init` with the route's config.
    pub async fn start(
        pre: &PluginPre<HostState>,
        engine: &PluginEngine,
        identity: Arc<PluginIdentity>,
        services: Arc<HostServices>,
        config_json: &str,
    ) -> Result<InitOutcome, PluginFailure> {
        let limits = engine.limits();
        let mut instance = Self::instantiate(pre, engine, identity, services).await?;
        instance.store.data_mut().timing.start();
        instance.store.set_epoch_deadline(1);
        let handler = instance.exports.portico_plugin_handler();
        match handler.call_init(&mut instance.store, config_json).await {
            Ok(Ok(())) => {
                // From here on every call has the phase deadline.
                instance.store.data_mut().timing.set_budget(limits.deadline);
                Ok(InitOutcome::Ready(instance))
            }
            Ok(Err(rejection)) => Ok(InitOutcome::Rejected(rejection)),
            Err(error) => Err(classify(error, limits.memory_bytes, limits.init_deadline)),
        }
    }

    /// Instantiates the component, under the engine's limits and its
    /// `init_deadline`, without calling `init` (`portico plugin inspect`
    /// asks only for `metadata`).
    pub async fn instantiate(
        pre: &PluginPre<HostState>,
        engine: &PluginEngine,
        identity: Arc<PluginIdentity>,
        services: Arc<HostServices>,
    ) -> Result<PluginInstance, PluginFailure> {
        let limits = engine.limits();
        let state = HostState::new(
            identity,
            services,
            limits.memory_bytes,
            limits.init_deadline,
        );
        let mut store = Store::new(engine.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(on_epoch_tick);
        store.set_epoch_deadline(1);
        store.data_mut().timing.start();
        let exports = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| classify_instantiation(e, limits))?;
        Ok(PluginInstance {
            store,
            exports,
            uses: 0,
        })
    }

    /// The plugin's self-reported name and version.
    pub async fn metadata(&mut self) -> Result<Metadata, PluginFailure> {
        self.begin_call();
        let handler = self.exports.portico_plugin_handler();
        handler
            .call_metadata(&mut self.store)
            .await
            .map_err(|e| self.failure(e))
    }

    /// Runs `on-request`. The request comes back whatever happened, so a
    /// fail-open plugin can be skipped.
    pub async fn on_request(
        &mut self,
        request: ProxyRequest,
        context: &mut RequestContext,
    ) -> (Option<ProxyRequest>, Result<Action, PluginFailure>) {
        self.uses += 1;
        self.begin_call();
        self.store.data_mut().response_phase = ResponsePhase::SameInstance;
        let handle = match self.store.data_mut().table.push(request) {
            Ok(handle) => handle,
            Err(error) => return (None, Err(PluginFailure::Trap(error.to_string()))),
        };
        std::mem::swap(&mut self.store.data_mut().context, context);
        let borrowed = Resource::<ProxyRequest>::new_borrow(handle.rep());
        let handler = self.exports.portico_plugin_handler();
        let result = handler.call_on_request(&mut self.store, borrowed).await;
        std::mem::swap(&mut self.store.data_mut().context, context);
        let request = self.store.data_mut().table.delete(handle).ok();
        (request, self.outcome(result))
    }

    /// Runs `on-response`; the response comes back whatever happened.
    pub async fn on_response(
        &mut self,
        response: ProxyResponse,
        context: &mut RequestContext,
    ) -> (Option<ProxyResponse>, Result<Action, PluginFailure>) {
        self.begin_call();
        let handle = match self.store.data_mut().table.push(response) {
            Ok(handle) => handle,
            Err(error) => return (None, Err(PluginFailure::Trap(error.to_string()))),
        };
        std::mem::swap(&mut self.store.data_mut().context, context);
        let borrowed = Resource::<ProxyResponse>::new_borrow(handle.rep());
        let handler = self.exports.portico_plugin_handler();
        let result = handler.call_on_response(&mut self.store, borrowed).await;
        std::mem::swap(&mut self.store.data_mut().context, context);
        let response = self.store.data_mut().table.delete(handle).ok();
        (response, self.outcome(result))
    }

    /// What the last `on-request` said its `on-response` needs.
    pub fn response_phase(&self) -> ResponsePhase {
        self.store.data().response_phase
    }

    /// Requests this instance has served.
    pub fn uses(&self) -> u32 {
        self.uses
    }

    /// The largest linear memory the instance has grown to, bytes.
    pub(crate) fn memory_peak(&self) -> usize {
        self.store.data().limiter.peak()
    }

    fn begin_call(&mut self) {
        self.store.data_mut().timing.start();
        self.store.set_epoch_deadline(1);
    }

    fn outcome(
        &self,
        result: wasmtime::Result<Result<Action, super::bindings::types::PluginError>>,
    ) -> Result<Action, PluginFailure> {
        match result {
            Ok(Ok(action)) => Ok(action),
            Ok(Err(error)) => Err(PluginFailure::Guest(error.message)),
            Err(error) => Err(self.failure(error)),
        }
    }

    fn failure(&self, error: wasmtime::Error) -> PluginFailure {
        let state = self.store.data();
        classify(error, state.limiter.limit(), state.timing.budget())
    }
}

/// Sorts a wasmtime error into the failure kinds operators see.
fn classify(
    error: wasmtime::Error,
    memory_limit: usize,
    deadline: std::time::Duration,
) -> PluginFailure {
    if error.is::<DeadlineExceeded>() {
        return PluginFailure::Deadline(deadline);
    }
    if error.is::<MemoryLimitExceeded>() {
        return PluginFailure::MemoryLimit(memory_limit);
    }
    if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return PluginFailure::Deadline(deadline);
    }
    PluginFailure::Trap(format!("{error:?}"))
}

/// Sorts an instantiation error: a start function runs guest code, so it
/// can hit the init deadline or the memory limit like a call.
fn classify_instantiation(error: wasmtime::Error, limits: &Limits) -> PluginFailure {
    if error.is::<DeadlineExceeded>() {
        return PluginFailure::Deadline(limits.init_deadline);
    }
    if error.is::<MemoryLimitExceeded>() {
        return PluginFailure::MemoryLimit(limits.memory_bytes);
    }
    if error.is::<wasmtime::PoolConcurrencyLimitError>() {
        return PluginFailure::Capacity(format!("{error:#}"));
    }
    PluginFailure::Trap(format!("{error:?}"))
}
