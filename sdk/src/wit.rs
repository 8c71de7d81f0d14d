//! The WIT bindings (wasm32 only), generated once here for every plugin, and
//! conversions from SDK types to the WIT types the exports return.

/// Bindings for `wit/plugin.wit` (`sdk/plugin.wit` links to it, so the
/// packaged crate carries its own copy), world `plugin`.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "plugin.wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "portico_sdk::__private::bindings",
    });
}

use bindings::portico::plugin::types as wit;

use crate::{Action, ConfigError, Error, Reply, ResponsePhase};

impl From<Action> for wit::Action {
    fn from(action: Action) -> Self {
        match action {
            Action::Continue => wit::Action::Continue,
            Action::Respond(reply) => wit::Action::Respond(reply.into()),
        }
    }
}

impl From<ResponsePhase> for wit::ResponsePhase {
    fn from(phase: ResponsePhase) -> Self {
        match phase {
            ResponsePhase::SameInstance => wit::ResponsePhase::SameInstance,
            ResponsePhase::AnyInstance => wit::ResponsePhase::AnyInstance,
            ResponsePhase::Skip => wit::ResponsePhase::Skip,
        }
    }
}

impl From<Reply> for wit::Reply {
    fn from(reply: Reply) -> Self {
        wit::Reply {
            status: reply.status.as_u16(),
            headers: reply.headers,
            body: reply.body,
        }
    }
}

impl From<Error> for wit::PluginError {
    fn from(err: Error) -> Self {
        wit::PluginError {
            message: err.message().to_owned(),
        }
    }
}

impl From<ConfigError> for wit::ConfigError {
    fn from(err: ConfigError) -> Self {
        wit::ConfigError {
            key: err.key().to_owned(),
            message: err.message().to_owned(),
        }
    }
}
