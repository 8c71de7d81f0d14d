//! [`MockPlugin`]: a plugin loaded on a [`MockHost`](super::MockHost), and
//! why loading one can fail.

use std::fmt;

use super::host::Running;
use super::message::{MockRequest, MockResponse};
use super::resources::Headers;
use crate::instance::Instance;
use crate::{Action, Capability, ConfigError, Error, Plugin, Request, Response, ResponsePhase};

/// Why [`MockHost::try_load`](super::MockHost::try_load) refused a plugin.
#[derive(Debug)]
pub enum LoadError {
    /// The plugin lists a capability the host does not grant: the gateway
    /// refuses a component importing a capability its route does not grant.
    Ungranted {
        /// The plugin's type.
        plugin: &'static str,
        /// The first capability listed and not granted.
        capability: Capability,
        /// What the host grants.
        granted: Vec<Capability>,
    },
    /// The config does not parse (what `init` returns).
    Config(ConfigError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Ungranted {
                plugin,
                capability,
                granted,
            } => write!(
                f,
                "plugin `{plugin}` imports capability `{capability}`, which this host does not \
                 grant (granted: {granted:?}); the gateway refuses to load it unless the route \
                 grants it: MockHost::with_grants(&[\"{capability}\", ...]) and \
                 `capabilities = [\"{capability}\", ...]` on the route"
            ),
            LoadError::Config(error) => write!(f, "config: {error}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// A plugin loaded with [`MockHost::load`](super::MockHost::load), driven
/// like the gateway drives the component: each [`on_request`](Self::on_request)
/// makes a fresh `P` with [`Plugin::new`], and the next
/// [`on_response`](Self::on_response) runs on it and drops it (on a new
/// value when the request phase said [`ResponsePhase::AnyInstance`]). Its
/// calls may use only the capabilities in [`Plugin::CAPABILITIES`].
pub struct MockPlugin<P: Plugin> {
    instance: Instance<P>,
    response_phase: ResponsePhase,
}

impl<P: Plugin> MockPlugin<P> {
    pub(crate) fn load(json: &str) -> Result<Self, ConfigError> {
        let _running = running::<P>();
        Ok(MockPlugin {
            instance: Instance::init(json)?,
            response_phase: ResponsePhase::SameInstance,
        })
    }

    /// The parsed config.
    pub fn config(&self) -> &'static P::Config {
        self.instance.config()
    }

    /// The value of the request in flight: after `on_request`, until
    /// `on_response`.
    pub fn current(&self) -> Option<&P> {
        self.instance.current()
    }

    /// Runs `on_request` on `req`, which reflects the plugin's changes
    /// afterwards. An [`Error`] is what the gateway would log and fail the
    /// request for, including a reply with an invalid header.
    pub fn on_request(&mut self, req: &mut MockRequest) -> Result<Action, Error> {
        let _running = running::<P>();
        // As in the gateway, a plugin's setting does not pass on to the next.
        req.inner.response_phase = None;
        self.response_phase = ResponsePhase::SameInstance;
        let action = self
            .instance
            .on_request(&mut Request::new(&mut req.inner))?;
        self.response_phase = req.inner.response_phase.take().unwrap_or_default();
        check_reply(action)
    }

    /// What the last [`on_request`](Self::on_request) said its response
    /// phase needs: [`ResponsePhase::Skip`] means the gateway would not call
    /// `on_response` for that request ([`MockChain`](super::MockChain)
    /// does not), and [`ResponsePhase::AnyInstance`] that it would run on a
    /// new value (as here).
    pub fn response_phase(&self) -> ResponsePhase {
        self.response_phase
    }

    /// Runs `on_response` on `res`, which reflects the plugin's changes
    /// afterwards.
    pub fn on_response(&mut self, res: &mut MockResponse) -> Result<Action, Error> {
        let _running = running::<P>();
        let action = self
            .instance
            .on_response(&mut Response::new(&mut res.inner))?;
        check_reply(action)
    }
}

/// Marks `P` as the plugin running on this thread, for the capability check.
fn running<P: Plugin>() -> Running {
    Running::enter(std::any::type_name::<P>(), P::CAPABILITIES)
}

/// Fails like the gateway on a reply it cannot send.
fn check_reply(action: Action) -> Result<Action, Error> {
    if let Some(reply) = action.reply() {
        for (name, value) in reply.headers() {
            Headers::parse(name, value)
                .map_err(|err| Error::msg(format!("invalid reply: {}", Error::from(err))))?;
        }
    }
    Ok(action)
}
