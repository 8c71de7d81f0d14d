//! The [`Plugin`] trait every plugin implements.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Action, Capability, Error, Request, Response, ResponsePhase};

/// A Portico plugin.
///
/// The gateway loads the plugin once per instance, deserializes
/// [`Config`](Plugin::Config) from the route's `config` table, and then, for
/// each request the instance serves:
///
/// 1. calls [`new`](Plugin::new) to make this request's value;
/// 2. calls [`on_request`](Plugin::on_request) on it, before the upstream;
/// 3. calls [`on_response`](Plugin::on_response) on the same value, before
///    the response goes to the client (also when this or a later plugin
///    answered with [`Action::Respond`]), then drops it; or, when the
///    plugin said so ([`ResponsePhase`]), on a new value or not at all.
///
/// Fields therefore carry state from one phase of a request to the other and
/// never leak into another request. A plugin whose response phase needs
/// nothing from its request phase says so ([`RESPONSE_PHASE`](Plugin::RESPONSE_PHASE),
/// or per request [`Request::set_response_phase`]): the gateway then frees
/// the instance as soon as `on_request` returns, and runs `on_response` on a
/// new value (or not at all). Export the type with
/// [`export_plugin!`](crate::export_plugin).
pub trait Plugin: Sized + 'static {
    /// Per-route config, deserialized from the route's `config` table (JSON
    /// text from the host). Use `#[serde(deny_unknown_fields)]` and
    /// `#[serde(try_from = ...)]` (or the types in [`config`](crate::config))
    /// for validation; errors are reported with the key's path. Use
    /// [`NoConfig`] when there is nothing to configure.
    type Config: DeserializeOwned + Send + Sync + 'static;

    /// The host capabilities the plugin calls, e.g. `&[Capability::Kv,
    /// Capability::Clock]`: what its built component imports, and so what
    /// its route must grant (`capabilities = ["kv", "clock"]`). The mock
    /// host refuses to load the plugin when it does not grant them all, as
    /// the gateway refuses the component, and panics when the plugin calls
    /// a capability not listed here. `portico plugin inspect` shows what
    /// the built component really imports.
    const CAPABILITIES: &'static [Capability] = &[];

    /// What [`on_response`](Plugin::on_response) needs, for every request
    /// (unless `on_request` says otherwise with
    /// [`Request::set_response_phase`]). The default,
    /// [`SameInstance`](ResponsePhase::SameInstance), holds the instance for
    /// the whole request. A plugin with no `on_response` says
    /// [`Skip`](ResponsePhase::Skip); one whose `on_response` reads nothing
    /// `on_request` left in its fields says
    /// [`AnyInstance`](ResponsePhase::AnyInstance). Under load this is the
    /// difference between one instance per request in flight and one per
    /// request being worked on.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::SameInstance;

    /// Creates the per-request value; called at the start of each request's
    /// on-request. Fields hold per-request state.
    fn new(config: &'static Self::Config) -> Self;

    /// Handles the request before it goes upstream: change it through `req`,
    /// then go on ([`Action::Continue`]) or answer ([`Action::Respond`]), in
    /// which case later plugins and the upstream are skipped.
    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let _ = req;
        Ok(Action::Continue)
    }

    /// Handles the response (the upstream's, or a plugin's reply) before it
    /// goes to the client: change it through `res`, or replace it with
    /// [`Action::Respond`].
    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        let _ = res;
        Ok(Action::Continue)
    }
}

/// The config of a plugin that takes none: an empty table (or none at all);
/// any key is an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}
