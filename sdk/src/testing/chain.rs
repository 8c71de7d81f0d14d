//! [`MockChain`]: several plugins run in order on one request, as a route's
//! chain runs them in the gateway.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use super::harness::MockPlugin;
use super::host::{HostState, MockHost};
use super::message::{MockRequest, MockResponse};
use crate::{Action, Error, Plugin, ResponsePhase};

/// One plugin of a chain, whatever its type.
trait Link {
    fn name(&self) -> &'static str;
    fn on_request(&mut self, req: &mut MockRequest) -> Result<Action, Error>;
    fn on_response(&mut self, res: &mut MockResponse) -> Result<Action, Error>;
    fn response_phase(&self) -> ResponsePhase;
}

impl<P: Plugin> Link for MockPlugin<P> {
    fn name(&self) -> &'static str {
        std::any::type_name::<P>()
    }
    fn on_request(&mut self, req: &mut MockRequest) -> Result<Action, Error> {
        MockPlugin::on_request(self, req)
    }
    fn on_response(&mut self, res: &mut MockResponse) -> Result<Action, Error> {
        MockPlugin::on_response(self, res)
    }

    fn response_phase(&self) -> ResponsePhase {
        MockPlugin::response_phase(self)
    }
}

/// A route's plugin chain on a [`MockHost`], run the way the gateway runs
/// it:
///
/// 1. each plugin's `on_request` in order, all sharing the request's
///    context; the first that answers ([`Action::Respond`]) ends this phase,
///    and neither later plugins nor the upstream see the request;
/// 2. otherwise the upstream (a closure) answers the request as the plugins
///    left it;
/// 3. `on_response` of every plugin whose `on_request` ran, last first, on
///    the upstream's response or the reply (not of those whose `on_request`
///    said [`ResponsePhase::Skip`]); a plugin answering here
///    replaces the response and the earlier plugins still run;
/// 4. the context is dropped when the request ends.
///
/// ```
/// use portico_sdk::testing::{MockChain, MockHost, MockRequest, MockResponse};
/// use portico_sdk::http::StatusCode;
/// use portico_sdk::{Action, Capability, Error, NoConfig, Plugin, Reply, Request, context};
///
/// /// Names the consumer from a header.
/// struct Auth;
/// impl Plugin for Auth {
///     type Config = NoConfig;
///     const CAPABILITIES: &'static [Capability] = &[Capability::Context];
///     fn new(_: &'static NoConfig) -> Self { Auth }
///     fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
///         match req.header("x-user") {
///             Some(user) => { context::set(context::CONSUMER, &user); Ok(Action::Continue) }
///             None => Ok(Action::Respond(Reply::new(StatusCode::UNAUTHORIZED))),
///         }
///     }
/// }
///
/// /// Passes the consumer upstream.
/// struct Stamp;
/// impl Plugin for Stamp {
///     type Config = NoConfig;
///     const CAPABILITIES: &'static [Capability] = &[Capability::Context];
///     fn new(_: &'static NoConfig) -> Self { Stamp }
///     fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
///         let consumer = context::get(context::CONSUMER).unwrap_or_default();
///         req.set_header("x-consumer", consumer)?;
///         Ok(Action::Continue)
///     }
/// }
///
/// let host = MockHost::with_grants(&["context"]);
/// let mut chain = MockChain::new(&host)
///     .then(host.load::<Auth>(serde_json::json!({}))?)
///     .then(host.load::<Stamp>(serde_json::json!({}))?);
///
/// let done = chain.run(MockRequest::get("/").header("x-user", "alice"), |req| {
///     assert_eq!(req.header_value("x-consumer"), Some("alice"));
///     MockResponse::new(200)
/// })?;
/// assert_eq!(done.response.status(), 200);
/// assert_eq!(done.context.get("consumer").map(String::as_str), Some("alice"));
///
/// let refused = chain.run(MockRequest::get("/"), |_| unreachable!("answered by Auth"))?;
/// assert_eq!((refused.answered_by, refused.response.status().as_u16()), (Some(0), 401));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MockChain {
    state: Rc<RefCell<HostState>>,
    links: Vec<Box<dyn Link>>,
}

/// What one request through a [`MockChain`] came to.
#[derive(Debug)]
pub struct Exchange {
    /// The request as the upstream received it; `None` when a plugin
    /// answered in the request phase.
    pub upstream_request: Option<MockRequest>,
    /// The response the client gets, after every response phase.
    pub response: MockResponse,
    /// The index of the plugin that answered in the request phase, if one
    /// did.
    pub answered_by: Option<usize>,
    /// The request's context as the plugins left it (the host drops it when
    /// the request ends).
    pub context: BTreeMap<String, String>,
}

/// A plugin's failure in a [`MockChain`]: the gateway fails the request
/// (by default with a 500 problem+json; see the route's `on_error`).
#[derive(Debug)]
pub struct ChainError {
    /// The index of the plugin in the chain.
    pub index: usize,
    /// Its type.
    pub plugin: &'static str,
    /// `on_request` or `on_response`.
    pub phase: &'static str,
    /// What it returned.
    pub error: Error,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plugin {} (`{}`) failed in {}: {}",
            self.index, self.plugin, self.phase, self.error
        )
    }
}

impl std::error::Error for ChainError {}

impl MockChain {
    /// An empty chain on `host`.
    pub fn new(host: &MockHost) -> Self {
        MockChain {
            state: host.state(),
            links: Vec::new(),
        }
    }

    /// Adds `plugin` at the end of the chain.
    pub fn then<P: Plugin>(mut self, plugin: MockPlugin<P>) -> Self {
        self.links.push(Box::new(plugin));
        self
    }

    /// Runs one request through the chain; `upstream` answers it when no
    /// plugin did.
    pub fn run(
        &mut self,
        request: MockRequest,
        upstream: impl FnOnce(&MockRequest) -> MockResponse,
    ) -> Result<Exchange, ChainError> {
        let result = self.walk(request, upstream);
        let context = std::mem::take(&mut self.state.borrow_mut().context);
        result.map(|(upstream_request, response, answered_by)| Exchange {
            upstream_request,
            response,
            answered_by,
            context,
        })
    }

    fn walk(
        &mut self,
        mut request: MockRequest,
        upstream: impl FnOnce(&MockRequest) -> MockResponse,
    ) -> Result<(Option<MockRequest>, MockResponse, Option<usize>), ChainError> {
        let mut ran = Vec::with_capacity(self.links.len());
        let mut answer = None;
        for (index, link) in self.links.iter_mut().enumerate() {
            let action = link
                .on_request(&mut request)
                .map_err(|error| failure(index, &**link, "on_request", error))?;
            if link.response_phase() != ResponsePhase::Skip {
                ran.push(index);
            }
            if let Action::Respond(reply) = action {
                answer = Some((index, MockResponse::from_reply(&reply)));
                break;
            }
        }
        let (mut response, forwarded, answered_by) = match answer {
            Some((index, reply)) => (reply, None, Some(index)),
            None => (upstream(&request), Some(request), None),
        };
        for index in ran.into_iter().rev() {
            let link = &mut self.links[index];
            let action = link
                .on_response(&mut response)
                .map_err(|error| failure(index, &**link, "on_response", error))?;
            if let Action::Respond(reply) = action {
                response = MockResponse::from_reply(&reply);
            }
        }
        Ok((forwarded, response, answered_by))
    }
}

fn failure(index: usize, link: &dyn Link, phase: &'static str, error: Error) -> ChainError {
    ChainError {
        index,
        plugin: link.name(),
        phase,
        error,
    }
}
