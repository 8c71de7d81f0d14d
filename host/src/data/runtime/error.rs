//! Errors of the plugin runtime: loading a plugin, and a plugin call failing.
//!
//! A [`LoadError`] stops a plugin from being used at all (the config is
//! refused). A [`PluginFailure`] fails one request; the instance that failed is
//! thrown away and the plugin keeps serving other requests.

use std::time::Duration;

/// A plugin could not be loaded for a route.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The wasmtime engine could not be created.
    #[error("plugin runtime: {0}")]
    Engine(String),
    /// The `.wasm` file could not be read.
    #[error("plugin `{plugin}`: cannot read {path}: {source}")]
    Read {
        /// Plugin name.
        plugin: String,
        /// File that was read.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a component wasmtime can compile.
    #[error("plugin `{plugin}`: not a valid WebAssembly component: {message}")]
    Compile {
        /// Plugin name.
        plugin: String,
        /// Compiler message.
        message: String,
    },
    /// The component imports a capability the route does not grant.
    #[error(
        "plugin `{plugin}` on route `{route}` uses capability `{capability}`, which the route does not grant (add it to `capabilities`)"
    )]
    Ungranted {
        /// Plugin name.
        plugin: String,
        /// Route name.
        route: String,
        /// The capability, e.g. `kv`.
        capability: String,
    },
    /// The component imports something outside the contract and WASI.
    #[error("plugin `{plugin}` imports `{import}`, which Portico does not provide")]
    UnknownImport {
        /// Plugin name.
        plugin: String,
        /// The import's name.
        import: String,
    },
    /// The component does not export the contract.
    #[error("plugin `{plugin}` does not implement portico:plugin/handler@0.2.2: {message}")]
    Contract {
        /// Plugin name.
        plugin: String,
        /// What is missing.
        message: String,
    },
    /// The plugin entry's `http` grant cannot be set up (its `ca_file`).
    #[error("plugin `{plugin}` on route `{route}`: `http`: {message}")]
    Http {
        /// Plugin name.
        plugin: String,
        /// Route name.
        route: String,
        /// What is wrong.
        message: String,
    },
    /// The plugin's `init` rejected the route's config.
    #[error(
        "plugin `{plugin}` on route `{route}` rejected its config{}: {message}",
        key_suffix(key)
    )]
    Config {
        /// Plugin name.
        plugin: String,
        /// Route name.
        route: String,
        /// Key path inside the plugin's config table (may be empty).
        key: String,
        /// The plugin's message.
        message: String,
    },
    /// Instantiating or initializing the plugin failed (a trap in `init`).
    #[error("plugin `{plugin}` on route `{route}` failed to start: {failure}")]
    Start {
        /// Plugin name.
        plugin: String,
        /// Route name.
        route: String,
        /// What went wrong.
        failure: PluginFailure,
    },
}

fn key_suffix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!(" at key `{key}`")
    }
}

/// Why one plugin call failed. The request fails (or skips the plugin when it
/// is configured fail-open); the instance is discarded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginFailure {
    /// The guest trapped (a panic, `unreachable`, out-of-bounds access…).
    #[error("trapped: {0}")]
    Trap(String),
    /// The guest ran longer than its deadline.
    #[error("ran past its deadline of {0:?}")]
    Deadline(Duration),
    /// The guest tried to grow its memory past the limit.
    #[error("hit its memory limit of {0} bytes")]
    MemoryLimit(usize),
    /// The guest returned a `plugin-error`.
    #[error("returned an error: {0}")]
    Guest(String),
    /// No instance could be created (the instance pool is exhausted).
    #[error("no instance available: {0}")]
    Capacity(String),
}

impl PluginFailure {
    /// A short stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFailure::Trap(_) => "trap",
            PluginFailure::Deadline(_) => "deadline",
            PluginFailure::MemoryLimit(_) => "memory",
            PluginFailure::Guest(_) => "error",
            PluginFailure::Capacity(_) => "capacity",
        }
    }

    /// Whether the instance died in the call: a trap, a deadline overrun or
    /// the memory limit (what the dashboard and alerts count as traps).
    pub(crate) fn kills_instance(&self) -> bool {
        matches!(
            self,
            PluginFailure::Trap(_) | PluginFailure::Deadline(_) | PluginFailure::MemoryLimit(_)
        )
    }

    /// Whether the failure is temporary (a retry may succeed): answered 503.
    pub(crate) fn is_temporary(&self) -> bool {
        matches!(
            self,
            PluginFailure::Deadline(_) | PluginFailure::Capacity(_)
        )
    }
}

/// Why a route's chain could not handle a request; the proxy turns it into
/// the client's response (see `error::ProxyError`).
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A fail-closed plugin failed.
    #[error("plugin `{plugin}` on route `{route}` {failure}")]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// Route name.
        route: String,
        /// What went wrong.
        failure: PluginFailure,
    },
    /// A plugin read a request body larger than the route's limit.
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The route's `max_body_bytes`.
        limit: u64,
    },
    /// The message handed to a plugin did not come back (a host bug).
    #[error("{0} lost in a plugin call")]
    Lost(&'static str),
}
