//! Runs a route's plugin chain over one request and its response.
//!
//! `on-request` runs in chain order; `on-response` in reverse order, for the
//! plugins whose `on-request` ran, each on the same instance, unless the
//! plugin said (`request.set-response-phase`) that its response phase needs
//! any instance or none: then its instance goes back to its pool as soon as
//! `on-request` returns, and serves other requests while this one waits for
//! the upstream. A `respond` action in `on-request` stops the walk and turns
//! back. A failure fails the request (fail-closed) or skips the plugin
//! (fail-open); the failed instance is dropped, never reused.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;

use super::bindings::types::{Action, Reply, ResponsePhase};
use super::error::{ChainError, PluginFailure};
use super::instance::PluginInstance;
use super::message::{MessageBody, ProxyRequest, ProxyResponse, headers};
use super::slot::PluginSlot;
use super::state::RequestContext;
use crate::data::observe::plugin_stats::{Phase, PluginCall};

/// A route's plugins, in order.
#[derive(Default)]
pub struct Chain {
    slots: Vec<Arc<PluginSlot>>,
}

/// What the request phase decided.
pub enum RequestOutcome {
    /// Send this request to the upstream.
    Forward(ProxyRequest),
    /// Answer with this response without calling the upstream.
    Respond(ProxyResponse),
    /// The gateway refuses the request (its body is too large); the error
    /// response still passes back through the response phase.
    Reject(ChainError),
}

impl Chain {
    /// A chain of `slots`, run in this order.
    pub fn new(slots: Vec<Arc<PluginSlot>>) -> Self {
        Chain { slots }
    }

    /// The plugins, in order.
    pub fn slots(&self) -> &[Arc<PluginSlot>] {
        &self.slots
    }

    /// Starts a walk of the chain for one request.
    pub fn start(&self) -> ChainRun<'_> {
        self.start_with(RequestContext::new())
    }

    /// Starts a walk with a context the host seeded: values the plugins
    /// (granted `context`) read like any other, and may overwrite. The host
    /// seeds only keys under `tls.` (the verified client certificate, see
    /// `tls::client_auth`), so plugin keys never collide with them.
    pub fn start_with(&self, context: RequestContext) -> ChainRun<'_> {
        ChainRun {
            chain: self,
            ran: Vec::with_capacity(self.slots.len()),
            context,
            calls: Vec::with_capacity(self.slots.len() * 2),
        }
    }
}

/// One request's walk through a chain. Instances whose `on-request` ran are
/// held until `on-response` (or until the walk is dropped, when they go back
/// to their pools), unless their plugin needs no particular one.
pub struct ChainRun<'c> {
    chain: &'c Chain,
    /// The plugins whose response phase is to run, by index, in chain order.
    ran: Vec<(usize, Held)>,
    context: RequestContext,
    calls: Vec<PluginCall>,
}

impl ChainRun<'_> {
    /// Runs `on-request` of each plugin in order.
    pub async fn on_request(
        &mut self,
        request: ProxyRequest,
    ) -> Result<RequestOutcome, ChainError> {
        let mut request = request;
        for (index, slot) in self.chain.slots.iter().enumerate() {
            let mut instance = match slot.checkout().await {
                Ok(instance) => instance,
                Err(failure) => {
                    fail(slot, failure)?;
                    continue;
                }
            };
            let start = Instant::now();
            let (back, result) = instance.on_request(request, &mut self.context).await;
            self.record(slot, Phase::Request, start, result.as_ref().err());
            request = back.ok_or(ChainError::Lost("request"))?;
            if let MessageBody::TooLarge(limit) = request.body {
                // The body cannot be forwarded any more, whatever the plugin
                // decided: the client sent too much. A plugin that merely
                // returned an error (its read failed) is healthy and sees the
                // refusal in its response phase; a trapped one is dropped.
                if matches!(result, Ok(_) | Err(PluginFailure::Guest(_))) {
                    self.keep(index, instance);
                }
                return Ok(RequestOutcome::Reject(ChainError::PayloadTooLarge {
                    limit,
                }));
            }
            match result {
                Ok(Action::Continue) => self.keep(index, instance),
                Ok(Action::Respond(reply)) => {
                    match reply_response(reply, request.info.max_body_bytes) {
                        Ok(response) => {
                            self.keep(index, instance);
                            return Ok(RequestOutcome::Respond(response));
                        }
                        // An invalid reply is the plugin's failure: its
                        // instance is dropped, not reused.
                        Err(failure) => fail(slot, failure)?,
                    }
                }
                Err(failure) => fail(slot, failure)?,
            }
        }
        Ok(RequestOutcome::Forward(request))
    }

    /// Runs `on-response` of the plugins that saw the request, last first.
    pub async fn on_response(
        &mut self,
        response: ProxyResponse,
    ) -> Result<ProxyResponse, ChainError> {
        let mut response = response;
        while let Some((index, held)) = self.ran.pop() {
            let slot = &self.chain.slots[index];
            let mut instance = match held {
                Held::Instance(instance) => instance,
                Held::AnyIdle => match slot.checkout().await {
                    Ok(instance) => instance,
                    Err(failure) => {
                        fail(slot, failure)?;
                        continue;
                    }
                },
            };
            let start = Instant::now();
            let (back, result) = instance.on_response(response, &mut self.context).await;
            self.record(slot, Phase::Response, start, result.as_ref().err());
            response = back.ok_or(ChainError::Lost("response"))?;
            match result {
                Ok(Action::Continue) => slot.checkin(instance),
                Ok(Action::Respond(reply)) => {
                    match reply_response(reply, response.max_body_bytes) {
                        Ok(reply) => {
                            slot.checkin(instance);
                            response = reply;
                        }
                        Err(failure) => fail(slot, failure)?,
                    }
                }
                Err(failure) => fail(slot, failure)?,
            }
        }
        Ok(response)
    }

    /// Keeps what plugin `index`'s response phase needs after its
    /// `on-request` succeeded: the instance itself, or (the plugin said so)
    /// any instance or none, when it goes back to its pool now. A `fresh`
    /// plugin keeps its instance for both phases of the request either way.
    fn keep(&mut self, index: usize, instance: PluginInstance) {
        let slot = &self.chain.slots[index];
        match instance.response_phase() {
            ResponsePhase::SameInstance => self.ran.push((index, Held::Instance(instance))),
            ResponsePhase::AnyInstance if slot.is_fresh() => {
                self.ran.push((index, Held::Instance(instance)));
            }
            ResponsePhase::AnyInstance => {
                slot.checkin(instance);
                self.ran.push((index, Held::AnyIdle));
            }
            ResponsePhase::Skip => slot.checkin(instance),
        }
    }

    /// The context the plugins built for this request.
    pub fn context(&self) -> &RequestContext {
        &self.context
    }

    /// Every plugin phase call so far, in order.
    pub fn calls(&self) -> &[PluginCall] {
        &self.calls
    }

    fn record(
        &mut self,
        slot: &PluginSlot,
        phase: Phase,
        start: Instant,
        failure: Option<&PluginFailure>,
    ) {
        let elapsed = start.elapsed();
        slot.stats().call(phase, elapsed);
        self.calls.push(PluginCall {
            plugin: slot.identity_name(),
            phase,
            start,
            elapsed,
            failed: failure.is_some(),
            version: slot.version().clone(),
            trapped: failure.is_some_and(PluginFailure::kills_instance),
        });
    }
}

/// What a plugin's response phase runs on.
enum Held {
    /// The instance that ran `on-request`.
    Instance(PluginInstance),
    /// Whichever instance is idle when the response comes.
    AnyIdle,
}

impl Drop for ChainRun<'_> {
    fn drop(&mut self) {
        for (index, held) in self.ran.drain(..) {
            if let Held::Instance(instance) = held {
                self.chain.slots[index].checkin(instance);
            }
        }
    }
}

/// Logs a failure; `Ok` when the plugin fails open (skip it), the request's
/// error otherwise.
fn fail(slot: &PluginSlot, failure: PluginFailure) -> Result<(), ChainError> {
    slot.stats().failed(failure.kind());
    tracing::error!(
        target: "portico::plugin",
        plugin = slot.name(),
        route = slot.route(),
        kind = failure.kind(),
        fail_open = slot.fails_open(),
        "plugin failed: {failure}"
    );
    if slot.fails_open() {
        Ok(())
    } else {
        Err(ChainError::Plugin {
            plugin: slot.name().to_owned(),
            route: slot.route().to_owned(),
            failure,
        })
    }
}

/// Turns a plugin's `respond` action into a response.
fn reply_response(reply: Reply, max_body_bytes: u64) -> Result<ProxyResponse, PluginFailure> {
    let status = http::StatusCode::from_u16(reply.status).map_err(|_| {
        PluginFailure::Guest(format!("replied with invalid status {}", reply.status))
    })?;
    let mut map = HeaderMap::new();
    for (name, value) in &reply.headers {
        let (name, value) = headers::parse(name, value)
            .map_err(|_| PluginFailure::Guest(format!("replied with invalid header `{name}`")))?;
        map.append(name, value);
    }
    let mut response = ProxyResponse::new(status, map, Bytes::from(reply.body), max_body_bytes);
    response.head.extensions.insert(crate::body::GatewayMade);
    Ok(response)
}
