//! [`ResponsePhase`]: what a plugin's response phase needs from its request
//! phase, so the gateway can free the instance while the upstream answers.

/// What [`on_response`](crate::Plugin::on_response) needs for one request.
///
/// A plugin says it for every request with
/// [`Plugin::RESPONSE_PHASE`](crate::Plugin::RESPONSE_PHASE), or for one
/// request with [`Request::set_response_phase`](crate::Request::set_response_phase)
/// (the last call in `on_request` counts). Anything but
/// [`SameInstance`](ResponsePhase::SameInstance) lets the gateway return the
/// instance to its pool as soon as `on_request` returns, so one instance
/// serves many requests while they wait for the upstream, instead of one
/// instance held per request in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponsePhase {
    /// `on_response` runs on the value `on_request` ran on, in the same
    /// instance, which serves no other request in between: fields carry
    /// state from one phase to the other. The default.
    #[default]
    SameInstance,
    /// `on_response` runs on a new value ([`Plugin::new`](crate::Plugin::new))
    /// in whichever instance is free: `on_request` left nothing it needs.
    AnyInstance,
    /// `on_response` is not called for this request.
    Skip,
}
