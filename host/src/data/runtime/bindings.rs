//! Host bindings generated from `wit/plugin.wit`, in one place.
//!
//! Imports are "trappable": a host function returns `wasmtime::Result`, and an
//! `Err` traps the guest (used only for host-side faults such as a stale
//! resource handle). Reading a body is async (it awaits the network), and
//! so are `kv` and `cache`, which may await a shared backend (Redis), and
//! `http`, which awaits another service. Exports are called with `call_async`, so a guest that runs long
//! yields to the executor every epoch tick until its deadline.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: {
        "portico:plugin/types.[method]request.body": async | trappable,
        "portico:plugin/types.[method]response.body": async | trappable,
        // `kv` and `cache` may await a shared backend (Redis).
        "portico:plugin/kv.get": async | trappable,
        "portico:plugin/kv.set": async | trappable,
        "portico:plugin/kv.delete": async | trappable,
        "portico:plugin/kv.increment": async | trappable,
        "portico:plugin/cache.get": async | trappable,
        "portico:plugin/cache.set": async | trappable,
        "portico:plugin/cache.delete": async | trappable,
        // `http` awaits the destination.
        "portico:plugin/http.send": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "portico:plugin/types.request": crate::data::runtime::message::ProxyRequest,
        "portico:plugin/types.response": crate::data::runtime::message::ProxyResponse,
    },
});

pub use self::portico::plugin::http as outbound;
pub use self::portico::plugin::{cache, clock, context, kv, log, metrics, types};
