//! Who is on the other end of a client connection: its address, its
//! scheme, and the forwarding headers its requests get. Computed once per
//! connection; a leaf every layer may use.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// How the client reached the gateway: one per connection.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's socket address.
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The forwarding headers this connection's requests get.
    pub forwarding: Arc<Forwarding>,
}

impl Peer {
    /// A client at `addr` speaking `scheme`.
    pub fn new(addr: SocketAddr, scheme: &'static str) -> Self {
        Peer {
            addr,
            scheme,
            forwarding: Arc::new(Forwarding::new(addr.ip(), scheme)),
        }
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The forwarding header values of one connection (client address and
/// scheme), computed once when it is accepted rather than per request.
#[derive(Debug)]
pub struct Forwarding {
    xff: HeaderValue,
    proto: HeaderValue,
    /// `for=<node>;proto=<scheme>`: `Forwarded` without a host.
    forwarded: HeaderValue,
}

impl Forwarding {
    /// The values for a client at `client` speaking `scheme`.
    pub fn new(client: IpAddr, scheme: &str) -> Self {
        let client_text = client.to_string();
        let node = match client {
            IpAddr::V4(_) => client_text.clone(),
            IpAddr::V6(_) => format!("\"[{client_text}]\""),
        };
        let value = |text: &str| {
            HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
        };
        Forwarding {
            xff: value(&client_text),
            proto: value(scheme),
            forwarded: value(&format!("for={node};proto={scheme}")),
        }
    }

    /// Replaces any client-sent forwarding headers with the gateway's own;
    /// `host` is the request's `Host`, when it has one.
    pub fn apply(&self, headers: &mut HeaderMap, host: Option<&str>) {
        headers.remove(X_FORWARDED_HOST);
        headers.insert(X_FORWARDED_FOR, self.xff.clone());
        headers.insert(X_FORWARDED_PROTO, self.proto.clone());
        let host = host.filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        });
        let forwarded = match host.and_then(|h| HeaderValue::from_str(h).ok().map(|v| (h, v))) {
            Some((host, value)) => {
                headers.insert(X_FORWARDED_HOST, value);
                let mut text = Vec::with_capacity(self.forwarded.len() + host.len() + 8);
                text.extend_from_slice(self.forwarded.as_bytes());
                text.extend_from_slice(b";host=\"");
                text.extend_from_slice(host.as_bytes());
                text.push(b'"');
                HeaderValue::from_bytes(&text).unwrap_or_else(|_| self.forwarded.clone())
            }
            None => self.forwarded.clone(),
        };
        headers.insert(header::FORWARDED, forwarded);
    }
}
