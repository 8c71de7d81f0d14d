//! [`MockPlugin`]: a plugin loaded on a [`MockHost`](super::MockHost).

use super::message::{MockRequest, MockResponse};
use super::resources::Headers;
use crate::instance::Instance;
use crate::{Action, ConfigError, Error, Plugin, Request, Response};

/// A plugin loaded with [`MockHost::load`](super::MockHost::load), driven
/// like the gateway drives the component: each [`on_request`](Self::on_request)
/// makes a fresh `P` with [`Plugin::new`], and the next
/// [`on_response`](Self::on_response) runs on it and drops it.
pub struct MockPlugin<P: Plugin> {
    instance: Instance<P>,
}

impl<P: Plugin> MockPlugin<P> {
    pub(crate) fn load(json: &str) -> Result<Self, ConfigError> {
        Ok(MockPlugin {
            instance: Instance::init(json)?,
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
        let action = self
            .instance
            .on_request(&mut Request::new(&mut req.inner))?;
        check_reply(action)
    }

    /// Runs `on_response` on `res`, which reflects the plugin's changes
    /// afterwards.
    pub fn on_response(&mut self, res: &mut MockResponse) -> Result<Action, Error> {
        let action = self
            .instance
            .on_response(&mut Response::new(&mut res.inner))?;
        check_reply(action)
    }
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
