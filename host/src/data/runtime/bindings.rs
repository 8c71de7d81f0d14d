//! Host bindings generated from `wit/plugin.wit`, in one place.
//!
//! Imports are "trappable": a host function returns `wasmtime::Result`, and an
//! `Err` traps the guest (used only for host-side faults such as a stale
//! resource handle). Reading a body is the one async import: it awaits the
//! network. Exports are called with `call_async`, so a guest that runs long
//! yields to the executor every epoch tick until its deadline.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: {
        "portico:plugin/types.[method]request.body": async | trappable,
        "portico:plugin/types.[method]response.body": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "portico:plugin/types.request": crate::data::runtime::message::ProxyRequest,
        "portico:plugin/types.response": crate::data::runtime::message::ProxyResponse,
    },
});

pub use self::portico::plugin::{cache, clock, context, kv, log, metrics, types};
