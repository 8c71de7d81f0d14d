//! The WIT imports, implemented on the thread's [`MockHost`](super::MockHost):
//! same module names, types and signatures as the wasm32 bindings.

pub(crate) use super::resources as types;

pub(crate) mod log {
    use crate::testing::host::{LogRecord, with_capability};

    /// Mirror of the WIT `level`.
    pub(crate) enum Level {
        Trace,
        Debug,
        Info,
        Warn,
        Error,
    }

    pub(crate) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => crate::log::Level::Trace,
            Level::Debug => crate::log::Level::Debug,
            Level::Info => crate::log::Level::Info,
            Level::Warn => crate::log::Level::Warn,
            Level::Error => crate::log::Level::Error,
        };
        let mut message = message.to_owned();
        portico_contract::limits::truncate_log(&mut message);
        with_capability("log", "log::log", |host| {
            host.logs.push(LogRecord { level, message })
        });
    }
}

pub(crate) mod clock {
    use crate::testing::host::with_capability;

    pub(crate) fn now_ms() -> u64 {
        with_capability("clock", "clock::now_ms", |host| host.clock.now_ms())
    }

    pub(crate) fn monotonic_ns() -> u64 {
        with_capability("clock", "clock::monotonic_ns", |host| {
            host.clock.monotonic_ns()
        })
    }
}

pub(crate) mod kv {
    use crate::testing::host::{namespaced, with_capability};

    pub(crate) use crate::testing::errors::KvError;

    pub(crate) fn get(key: &str) -> Option<Vec<u8>> {
        with_capability("kv", "kv::get", |host| {
            if host.state_unavailable {
                return None;
            }
            host.kv.get(&namespaced(key), host.clock.monotonic_ns())
        })
    }

    pub(crate) fn set(key: &str, value: &[u8], ttl_ms: u64) -> Result<(), KvError> {
        with_capability("kv", "kv::set", |host| {
            if host.state_unavailable {
                return Err(KvError::Unavailable);
            }
            let now = host.clock.monotonic_ns();
            host.kv.kv_set(&namespaced(key), value, ttl_ms, now)
        })
    }

    pub(crate) fn delete(key: &str) -> bool {
        with_capability("kv", "kv::delete", |host| {
            if host.state_unavailable {
                return false;
            }
            let now = host.clock.monotonic_ns();
            host.kv.delete(&namespaced(key), now)
        })
    }

    pub(crate) fn increment(key: &str, delta: i64, ttl_ms: u64) -> Result<i64, KvError> {
        with_capability("kv", "kv::increment", |host| {
            if host.state_unavailable {
                return Err(KvError::Unavailable);
            }
            let now = host.clock.monotonic_ns();
            host.kv.kv_increment(&namespaced(key), delta, ttl_ms, now)
        })
    }
}

pub(crate) mod cache {
    use crate::testing::host::{namespaced, with_capability};

    pub(crate) fn get(key: &str) -> Option<Vec<u8>> {
        with_capability("cache", "cache::get", |host| {
            if host.state_unavailable {
                return None;
            }
            host.cache.get(&namespaced(key), host.clock.monotonic_ns())
        })
    }

    pub(crate) fn set(key: &str, value: &[u8], ttl_ms: u64) {
        with_capability("cache", "cache::set", |host| {
            if host.state_unavailable {
                return;
            }
            let now = host.clock.monotonic_ns();
            host.cache.cache_set(&namespaced(key), value, ttl_ms, now);
        })
    }

    pub(crate) fn delete(key: &str) {
        with_capability("cache", "cache::delete", |host| {
            let now = host.clock.monotonic_ns();
            host.cache.delete(&namespaced(key), now);
        })
    }
}

pub(crate) mod context {
    use crate::testing::host::with_capability;

    pub(crate) fn get(key: &str) -> Option<String> {
        with_capability("context", "context::get", |host| {
            host.context.get(key).cloned()
        })
    }

    pub(crate) fn set(key: &str, value: &str) {
        with_capability("context", "context::set", |host| {
            // The gateway traps the plugin (its request fails); natively
            // that is a panic.
            if let Err(refused) = portico_contract::limits::check_context(key, value) {
                panic!("the plugin trapped: {refused}");
            }
            host.context.insert(key.to_owned(), value.to_owned());
        })
    }
}

pub(crate) mod metrics {
    use crate::testing::host::with_capability;

    pub(crate) use crate::testing::errors::MetricsError;

    pub(crate) fn counter_add(
        name: &str,
        labels: &[(String, String)],
        value: u64,
    ) -> Result<(), MetricsError> {
        with_capability("metrics", "metrics::counter_add", |host| {
            host.counters.add(name, labels, value)
        })
    }
}

pub(crate) mod outbound {
    use crate::testing::host::with_capability;

    pub(crate) use crate::testing::errors::HttpError;

    /// Mirror of the WIT `outgoing-request`.
    pub(crate) struct OutgoingRequest {
        pub(crate) method: String,
        pub(crate) url: String,
        pub(crate) headers: Vec<(String, String)>,
        pub(crate) body: Vec<u8>,
    }

    /// Mirror of the WIT `incoming-response`.
    pub(crate) struct IncomingResponse {
        pub(crate) status: u16,
        pub(crate) headers: Vec<(String, String)>,
        pub(crate) body: Vec<u8>,
    }

    pub(crate) fn send(request: &OutgoingRequest) -> Result<IncomingResponse, HttpError> {
        with_capability("http", "outbound::send", |host| host.http.answer(request))
    }
}
