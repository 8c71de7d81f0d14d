//! [`Instance`]: one loaded plugin, driven the same way by the wasm exports
//! and by the native test harness.

use crate::{Action, ConfigError, Error, Plugin, Request, Response, ResponsePhase, config};

/// A plugin with its parsed config and the value of the request in flight.
pub(crate) struct Instance<P: Plugin> {
    config: &'static P::Config,
    current: Option<P>,
}

impl<P: Plugin> Instance<P> {
    /// `init`: parses the config (JSON text from the host). The config lives
    /// as long as the instance's memory, so it is leaked to `'static`.
    pub(crate) fn init(json: &str) -> Result<Self, ConfigError> {
        let config = config::parse::<P::Config>(json)?;
        Ok(Instance {
            config: Box::leak(Box::new(config)),
            current: None,
        })
    }

    /// The parsed config.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn config(&self) -> &'static P::Config {
        self.config
    }

    /// The value of the request in flight (between `on_request` and the end
    /// of `on_response`).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn current(&self) -> Option<&P> {
        self.current.as_ref()
    }

    /// `on-request`: a fresh value for this request, kept for `on-response`
    /// unless the plugin said its response phase needs none of it
    /// ([`ResponsePhase`]), which the host is then told.
    pub(crate) fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let action = self.current.insert(P::new(self.config)).on_request(req)?;
        let phase = req.response_phase().unwrap_or(P::RESPONSE_PHASE);
        if phase != ResponsePhase::SameInstance {
            self.current = None;
            req.send_response_phase(phase);
        }
        Ok(action)
    }

    /// `on-response`: runs on the request's value (a fresh one if there is
    /// none, which the gateway's call order rules out) and drops it.
    pub(crate) fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        let mut plugin = self.current.take().unwrap_or_else(|| P::new(self.config));
        plugin.on_response(res)
    }
}
