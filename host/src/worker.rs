//! Worker threads: the gateway serves traffic on a fixed set of OS threads,
//! each running its own single-threaded tokio runtime over its own
//! listener sockets (bound with `SO_REUSEPORT`, so the kernel spreads new
//! connections over them). A connection, its requests, its upstream
//! connections and its plugin calls stay on the worker that accepted it:
//! no work stealing, no cross-thread wake-ups on the request path.
//!
//! State that is sharded per worker (idle upstream connections) is indexed
//! by [`current`]; threads that are not workers (the control plane's
//! runtime, tests) use shard 0.

use std::cell::Cell;
use std::sync::OnceLock;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

static SHARDS: OnceLock<usize> = OnceLock::new();

/// The CPUs this process may run on (its affinity mask), at least 1.
pub fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How many worker threads `configured` (0: one per available CPU) gives.
pub fn count(configured: usize) -> usize {
    if configured == 0 {
        available()
    } else {
        configured
    }
}

/// How many shards per-worker state has: fixed for the process at the
/// first call (the CPUs available then, at least 1).
pub fn shards() -> usize {
    *SHARDS.get_or_init(available)
}

/// The index of the worker running this thread (0 outside workers).
pub fn current() -> usize {
    CURRENT.with(Cell::get)
}

/// Marks this thread as worker `index`.
pub(crate) fn enter(index: usize) {
    CURRENT.with(|c| c.set(index));
}
