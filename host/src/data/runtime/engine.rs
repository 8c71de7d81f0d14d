//! The one place where wasmtime is configured.
//!
//! Every knob that bounds what a plugin can do or cost is set here, from the
//! `[runtime]` table of the config:
//!
//! | setting | default | what it bounds |
//! |---|---|---|
//! | `max_instances` | 1000 | live plugin instances in the gateway (pooling allocator slots); a request that needs one more gets 503 |
//! | `memory_limit_mb` | 64 | linear memory per instance (all its memories together); growing past it traps the instance |
//! | `deadline_ms` | 50 | wall-clock time per phase call, minus time spent waiting for a body |
//! | `init_deadline_ms` | 1000 | making a new instance and running its `init` (the config check) |
//! | `cache_dir` | `.portico/cache` beside the config | compiled components, keyed by SHA-256 and engine |
//!
//! The engine uses the pooling allocator (instantiation is a few µs from warm
//! slots), epoch interruption driven by a 1 ms ticker thread (asleep while
//! no plugin slot exists), Cranelift at
//! `speed`, and the component model without the async-concurrency proposal
//! (which slows every call and is not used by the contract).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::error::LoadError;
use crate::config::RuntimeConfig;

/// Milliseconds between two epoch ticks; deadlines are counted in ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Upper bound on core instances in one plugin component (a std guest has 17).
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
/// Upper bound on linear memories in one plugin component (a std guest has 1–2).
const MEMORIES_PER_COMPONENT: u32 = 4;
/// Upper bound on tables in one plugin component.
const TABLES_PER_COMPONENT: u32 = 8;

/// Limits derived from the `[runtime]` config, shared by every plugin.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Time allowed per phase call (see `super::state::on_epoch_tick`).
    pub deadline: Duration,
    /// Time allowed to instantiate and run `init`.
    pub init_deadline: Duration,
    /// Live instances the engine's pool holds at most.
    pub max_instances: u32,
}

impl Limits {
    /// Reads the limits out of the runtime config.
    pub(crate) fn from_config(config: &RuntimeConfig) -> Self {
        Limits {
            memory_bytes: config.memory_limit_mb as usize * 1024 * 1024,
            deadline: Duration::from_millis(config.deadline_ms),
            init_deadline: Duration::from_millis(config.init_deadline_ms),
            max_instances: config.max_instances,
        }
    }
}

/// A wasmtime engine configured for plugins, with its epoch ticker running.
///
/// Cloning is cheap; the ticker stops when the last clone is dropped.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    limits: Limits,
    _ticker: Arc<Ticker>,
}

impl PluginEngine {
    /// Builds the engine from the `[runtime]` config.
    pub fn new(config: &RuntimeConfig) -> Result<Self, LoadError> {
        let limits = Limits::from_config(config);
        let engine = Engine::new(&wasmtime_config(config, &limits))
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let ticker = Ticker::start(engine.clone())
            .map_err(|e| LoadError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        Ok(PluginEngine {
            engine,
            limits,
            _ticker: Arc::new(ticker),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The per-instance limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Live instances the engine's pool holds at most.
    pub(crate) fn max_instances(&self) -> u32 {
        self.limits.max_instances
    }

    /// Keeps the epoch ticking (deadlines enforced) while the ticket lives;
    /// every plugin slot holds one.
    pub(crate) fn ticket(&self) -> SlotTicket {
        self._ticker.ticket()
    }
}

fn wasmtime_config(config: &RuntimeConfig, limits: &Limits) -> Config {
    let mut pool = PoolingAllocationConfig::new();
    let instances = config.max_instances;
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(instances.saturating_mul(MEMORIES_PER_COMPONENT))
        .total_tables(instances.saturating_mul(TABLES_PER_COMPONENT))
        .total_stacks(instances)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(limits.memory_bytes)
        // Keep a warm slot's first pages resident so reuse avoids page faults.
        .linear_memory_keep_resident(64 * 1024)
        .table_keep_resident(16 * 1024);

    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .concurrency_support(false)
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        // Linear memories reserve only what the limit allows (plus guard
        // pages), so thousands of slots fit in the address space.
        .memory_reservation(limits.memory_bytes as u64)
        .memory_guard_size(64 * 1024 * 1024)
        .memory_reservation_for_growth(0)
        .max_wasm_stack(512 * 1024)
        .async_stack_size(1024 * 1024);
    wasm
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] while any
/// plugin slot exists, and sleeps otherwise: a gateway whose routes have no
/// plugins is not woken 1,000 times a second for nothing.
struct Ticker {
    shared: Arc<TickerShared>,
}

struct TickerShared {
    stop: AtomicBool,
    /// Plugin slots alive (see [`SlotTicket`]).
    slots: AtomicUsize,
    thread: std::sync::OnceLock<thread::Thread>,
}

/// Held by every loaded plugin slot: while one exists, the epoch ticks.
pub(crate) struct SlotTicket(Arc<TickerShared>);

impl Drop for SlotTicket {
    fn drop(&mut self) {
        self.0.slots.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How long the ticker sleeps between looks when no plugin slot exists.
const IDLE_LOOK: Duration = Duration::from_millis(200);

impl Ticker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let shared = Arc::new(TickerShared {
            stop: AtomicBool::new(false),
            slots: AtomicUsize::new(0),
            thread: std::sync::OnceLock::new(),
        });
        let flag = shared.clone();
        let handle = thread::Builder::new()
            .name("portico-epoch".into())
            .spawn(move || {
                while !flag.stop.load(Ordering::Relaxed) {
                    if flag.slots.load(Ordering::Relaxed) == 0 {
                        thread::park_timeout(IDLE_LOOK);
                        continue;
                    }
                    thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        let _ = shared.thread.set(handle.thread().clone());
        Ok(Ticker { shared })
    }

    fn ticket(&self) -> SlotTicket {
        if self.shared.slots.fetch_add(1, Ordering::Relaxed) == 0
            && let Some(thread) = self.shared.thread.get()
        {
            thread.unpark();
        }
        SlotTicket(self.shared.clone())
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.shared.thread.get() {
            thread.unpark();
        }
    }
}
