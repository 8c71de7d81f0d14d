//! `Upgrade` pass-through (WebSocket and any other HTTP/1.1 protocol
//! switch). The request is forwarded with its `Connection: upgrade` and
//! `Upgrade` headers (which are otherwise hop-by-hop and dropped); only once
//! the upstream answered `101 Switching Protocols`, and that answer went
//! back through the chain still a 101, are both connections upgraded and
//! bytes copied both ways (see `tunnel`: until either side closes, the
//! tunnel idles, or shutdown's drain period ends). Any other answer is a
//! normal response, and the client's connection stays HTTP.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode, Version};
use hyper::upgrade::OnUpgrade;

use super::headers::strip_hop_by_hop;
use super::tunnel::{self, TunnelLimits};
use crate::body::Body;
use crate::data::error::ProxyError;
use crate::data::upstream::ForwardError;

/// A client's request to switch protocols, held until the upstream answers.
pub struct UpgradeRequest {
    protocol: HeaderValue,
    client: OnUpgrade,
    limits: Option<TunnelLimits>,
}

impl UpgradeRequest {
    /// Takes the upgrade out of a request head, before its hop-by-hop
    /// headers are stripped: `Some` for an HTTP/1.1 request whose
    /// `Connection` names `upgrade` and that has an `Upgrade` header. The
    /// listener's [`TunnelLimits`] come along when it attached them.
    pub fn take(head: &mut http::request::Parts) -> Option<Self> {
        if head.version != Version::HTTP_11 || !connection_upgrade(&head.headers) {
            return None;
        }
        let protocol = head.headers.get(header::UPGRADE)?.clone();
        let client = head.extensions.remove::<OnUpgrade>()?;
        let limits = head.extensions.remove::<TunnelLimits>();
        Some(UpgradeRequest {
            protocol,
            client,
            limits,
        })
    }

    /// Puts `Connection: upgrade` and `Upgrade` back on the request headers
    /// after the hop-by-hop headers were stripped.
    pub fn restore(&self, headers: &mut HeaderMap) {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, self.protocol.clone());
    }
}

/// Strips a response's hop-by-hop headers, except that a 101 keeps its
/// `Upgrade` and `Connection: upgrade`: they are the switch itself.
pub fn strip_response_hop_by_hop(head: &mut http::response::Parts) {
    let upgrade = match head.status {
        StatusCode::SWITCHING_PROTOCOLS => head.headers.get(header::UPGRADE).cloned(),
        _ => None,
    };
    strip_hop_by_hop(&mut head.headers);
    if let Some(protocol) = upgrade {
        head.headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        head.headers.insert(header::UPGRADE, protocol);
    }
}

/// Completes a request: for a 101 answering an upgrade request, starts the
/// tunnel between the two upgraded connections (they upgrade once hyper
/// sent the 101 to the client). A 101 without an upgrade on both sides is
/// the upstream's error.
pub fn finish(
    upgrade: Option<UpgradeRequest>,
    response: &mut Response<Body>,
    upstream: &str,
) -> Result<(), ProxyError> {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(());
    }
    let upstream_side = response.extensions_mut().remove::<OnUpgrade>();
    match (upgrade, upstream_side) {
        (Some(upgrade), Some(upstream_side)) => {
            tokio::spawn(tunnel::run(upgrade.client, upstream_side, upgrade.limits));
            Ok(())
        }
        _ => Err(ProxyError::Upstream(ForwardError::Unreachable {
            upstream: upstream.to_owned(),
            reason: "101 Switching Protocols without an upgrade to complete".into(),
        })),
    }
}

fn connection_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}
