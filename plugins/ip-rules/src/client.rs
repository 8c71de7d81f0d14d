//! Which address a request comes from: the connection's, or the one a
//! trusted proxy reports in a header.

use std::net::{IpAddr, SocketAddr};

use crate::net::{Net, any_contains};

/// Why the client address is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// The connection's address did not parse (never from the gateway).
    Peer(String),
    /// A trusted proxy's header holds something that is not an address.
    Header(String),
}

/// The client address of a request from `peer`, whose header values (in
/// order, each a comma-separated list like `X-Forwarded-For`) are
/// `forwarded`.
///
/// The header is read only when `peer` is a trusted proxy. Its entries are
/// walked from the right (the hop nearest to the gateway): trusted proxies
/// are skipped, and the first untrusted address is the client. Entries left
/// of it are ignored, since a client can write anything there. If every
/// entry is trusted, the leftmost is the client. Without the header the
/// client is `peer`.
pub fn resolve(peer: &str, forwarded: &[String], trusted: &[Net]) -> Result<IpAddr, Unresolved> {
    let peer = parse_node(peer).ok_or_else(|| Unresolved::Peer(peer.to_owned()))?;
    if !any_contains(trusted, peer) {
        return Ok(peer);
    }
    let entries: Vec<&str> = forwarded
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        client = parse_node(entry).ok_or_else(|| Unresolved::Header((*entry).to_owned()))?;
        if !any_contains(trusted, client) {
            break;
        }
    }
    Ok(client.to_canonical())
}

/// An address as a proxy may write it: `192.0.2.7`, `2001:db8::1`,
/// `[2001:db8::1]`, or any of those with a port.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| text.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
        .map(|addr| addr.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> Vec<Net> {
        ["10.0.0.0/8", "fd00::/8"]
            .iter()
            .filter_map(|t| Net::try_from((*t).to_owned()).ok())
            .collect()
    }

    fn client(peer: &str, header: &[&str]) -> Result<String, Unresolved> {
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        resolve(peer, &header, &trusted()).map(|ip| ip.to_string())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(
            client("203.0.113.9", &["198.51.100.1"]),
            Ok("203.0.113.9".into())
        );
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_client() {
        assert_eq!(client("10.0.0.2", &[]), Ok("10.0.0.2".into()));
        assert_eq!(client("10.0.0.2", &[" , "]), Ok("10.0.0.2".into()));
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        assert_eq!(
            client("10.0.0.2", &["198.51.100.1"]),
            Ok("198.51.100.1".into())
        );
        // The client prepended a lie; the proxies appended the truth.
        assert_eq!(
            client("10.0.0.2", &["192.0.2.66, 198.51.100.1", "10.1.1.1"]),
            Ok("198.51.100.1".into())
        );
        assert_eq!(
            client("10.0.0.2", &["[2001:db8::7]:4711, 10.0.0.9:80"]),
            Ok("2001:db8::7".into())
        );
        assert_eq!(
            client("::ffff:10.0.0.2", &["::ffff:198.51.100.1"]),
            Ok("198.51.100.1".into())
        );
    }

    #[test]
    fn all_trusted_means_the_leftmost() {
        assert_eq!(
            client("10.0.0.2", &["10.9.9.9, fd00::1"]),
            Ok("10.9.9.9".into())
        );
    }

    #[test]
    fn garbage_at_the_walked_position_is_unresolved() {
        assert_eq!(
            client("10.0.0.2", &["unknown"]),
            Err(Unresolved::Header("unknown".into()))
        );
        // Garbage left of the client is never looked at.
        assert_eq!(
            client("10.0.0.2", &["junk, 198.51.100.1"]),
            Ok("198.51.100.1".into())
        );
        assert!(matches!(client("nonsense", &[]), Err(Unresolved::Peer(_))));
    }
}
