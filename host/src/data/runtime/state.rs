//! The data each plugin instance's `Store` carries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreContextMut, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::types::ResponsePhase;
use super::guest_log::GuestLog;
use super::identity::PluginIdentity;
use super::services::HostServices;

/// Values the plugins of one chain share for one request.
pub(crate) type RequestContext = HashMap<String, String>;

/// Store data of one plugin instance.
pub(crate) struct HostState {
    /// Resources handed to the guest (the current request or response).
    pub table: ResourceTable,
    wasi: WasiCtx,
    /// Memory accounting and limit.
    pub limiter: MemoryLimiter,
    /// The instance's owner.
    pub identity: Arc<PluginIdentity>,
    /// kv and cache.
    pub services: Arc<HostServices>,
    /// The chain's context, moved in for the duration of a call.
    pub context: RequestContext,
    /// Deadline accounting of the current call.
    pub timing: CallTiming,
    /// What the current `on-request` said its `on-response` needs
    /// (`request.set-response-phase`); reset before each `on-request`.
    pub response_phase: ResponsePhase,
}

impl HostState {
    /// Fresh state for a new instance, with WASI sealed: no environment, no
    /// arguments, no files, no sockets; stdout and stderr go to the log.
    pub fn new(
        identity: Arc<PluginIdentity>,
        services: Arc<HostServices>,
        memory_limit: usize,
        deadline: Duration,
    ) -> Self {
        let log = GuestLog::new(identity.clone());
        let wasi = WasiCtx::builder().stdout(log.clone()).stderr(log).build();
        HostState {
            table: ResourceTable::new(),
            wasi,
            limiter: MemoryLimiter::new(memory_limit),
            identity,
            services,
            context: RequestContext::new(),
            timing: CallTiming::new(deadline),
            response_phase: ResponsePhase::SameInstance,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// How long the current call has run, excluding waits for bodies.
pub(crate) struct CallTiming {
    started: Instant,
    io_wait: Duration,
    budget: Duration,
}

impl CallTiming {
    fn new(budget: Duration) -> Self {
        CallTiming {
            started: Instant::now(),
            io_wait: Duration::ZERO,
            budget,
        }
    }

    /// Marks the start of a call.
    pub fn start(&mut self) {
        self.started = Instant::now();
        self.io_wait = Duration::ZERO;
    }

    /// Excludes `waited` (spent reading a body) from the guest's time.
    pub(crate) fn add_io_wait(&mut self, waited: Duration) {
        self.io_wait += waited;
    }

    /// The deadline of every call.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Sets the deadline of the calls that follow.
    pub(crate) fn set_budget(&mut self, budget: Duration) {
        self.budget = budget;
    }

    fn used(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.io_wait)
    }
}

/// The error a call ends with when it ran past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("plugin call ran past its deadline")]
pub(crate) struct DeadlineExceeded;

/// The error a call ends with when the guest grew memory past its limit.
#[derive(Debug, thiserror::Error)]
#[error("plugin tried to grow its memory to {desired} bytes, over its limit")]
pub(crate) struct MemoryLimitExceeded {
    /// Size the guest asked for.
    pub desired: usize,
}

/// Called by wasmtime at each epoch tick while the guest runs: traps once
/// the call's budget is spent, otherwise yields to the executor so that a
/// long-running guest never holds a worker thread for more than one tick.
///
/// The budget is wall-clock time inside the call minus time spent waiting
/// for a body; time the call waited for a worker thread after a yield counts
/// too, so on an overloaded host a plugin can hit its deadline early.
pub(crate) fn on_epoch_tick(
    store: StoreContextMut<'_, HostState>,
) -> wasmtime::Result<UpdateDeadline> {
    if store.data().timing.used() >= store.data().timing.budget {
        return Err(DeadlineExceeded.into());
    }
    Ok(UpdateDeadline::Yield(1))
}

/// Bounds and records an instance's linear memory: the limit applies to the
/// sum of all of the instance's memories (a component may have several).
pub(crate) struct MemoryLimiter {
    limit: usize,
    total: usize,
}

impl MemoryLimiter {
    fn new(limit: usize) -> Self {
        MemoryLimiter { limit, total: 0 }
    }

    /// The limit on the instance's memories together, bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The instance's memories together, bytes (memories never shrink, so
    /// this is also the high-water mark).
    pub(crate) fn peak(&self) -> usize {
        self.total
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called for a memory's creation too (current = 0), so `total` is the
        // sum of every memory's size.
        let total = self.total.saturating_add(desired.saturating_sub(current));
        if total > self.limit {
            return Err(MemoryLimitExceeded { desired: total }.into());
        }
        self.total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
