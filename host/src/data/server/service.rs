//! What hyper calls for each request on a connection: the HTTP/1 framing
//! verdict, load shedding (`shedding`), the edge limits, then the proxy. The response body keeps the
//! request in flight for the idle timeout until it is dropped.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::activity::{Activity, Tracked};
use super::framing::Framing;
use super::shedding::{Admitted, Shedder};
use crate::body::Body;
use crate::data::error::ProxyError;
use crate::data::gateway::LiveGateway;
use crate::data::limits::Limits;
use crate::data::proxy::{self, Peer, TunnelLimits};
use crate::data::tls::ClientIdentity;

/// The per-connection request service.
#[derive(Clone)]
pub(super) struct RequestService {
    pub gateway: Arc<LiveGateway>,
    pub limits: Arc<Limits>,
    pub peer: Peer,
    pub identity: Option<ClientIdentity>,
    pub activity: Arc<Activity>,
    /// HTTP/1 only: the framing guard's verdicts.
    pub framing: Option<Framing>,
    /// HTTP/1 only: for a request that becomes a tunnel.
    pub tunnel: Option<TunnelLimits>,
    /// The listener's bound on requests in flight.
    pub shedding: Arc<Shedder>,
    /// `portico_requests_shed_total` of the listener.
    pub shed_counter: metrics::Counter,
}

impl RequestService {
    /// Serves one request.
    pub(super) async fn call(self, request: Request<Incoming>) -> Response<Tracked<Body>> {
        let in_flight = self.activity.begin();
        let (response, admitted) = self.respond(request).await;
        response.map(|body| Tracked::new(body, in_flight, admitted))
    }

    async fn respond(self, request: Request<Incoming>) -> (Response<Body>, Option<Admitted>) {
        // The snapshot serving now, held to the end of the request even if a
        // reload swaps in another.
        let gateway = self.gateway.load();
        let observation = gateway.observer.begin(&request, &self.peer);
        let switch = match self.framing.as_ref().map(|f| f.check(&request)) {
            Some(Err(error)) => {
                // Nothing after a refused head is read: close.
                let mut response = proxy::refuse(error);
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return (observation.finish(response), None);
            }
            Some(Ok(switch)) => switch,
            None => None,
        };
        let grpc = proxy::grpc::is_grpc(request.headers());
        let refused = |error: ProxyError| async move {
            let response = proxy::refuse(error);
            if grpc {
                Box::pin(proxy::grpc::answer(response)).await
            } else {
                response
            }
        };
        let Some(admitted) = self.shedding.admit() else {
            self.shed_counter.increment(1);
            if let Some(switch) = switch {
                switch.decide(StatusCode::SERVICE_UNAVAILABLE);
            }
            let limit = self.shedding.max();
            let response = refused(ProxyError::Overloaded { limit }).await;
            return (observation.finish(response), None);
        };
        let response = match self.limits.admit(request) {
            Ok(mut request) => {
                if let Some(identity) = self.identity {
                    request.extensions_mut().insert(identity);
                }
                if let Some(tunnel) = self.tunnel {
                    request.extensions_mut().insert(tunnel);
                }
                proxy::serve(&gateway, request, &self.peer, observation).await
            }
            Err(error) => observation.finish(refused(error).await),
        };
        if let Some(switch) = switch {
            switch.decide(response.status());
        }
        (response, Some(admitted))
    }
}
