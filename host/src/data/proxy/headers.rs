//! Header rules of a proxy: hop-by-hop headers are dropped in both
//! directions, and the `X-Forwarded-*` / `Forwarded` headers are set by the
//! gateway from what it saw, never trusted from the client.

use http::header::{self, HeaderMap, HeaderName};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Removes hop-by-hop headers, including those named in `Connection` and
/// every `Proxy-*` header.
/// `Transfer-Encoding` is left to hyper, which re-frames every message.
///
/// One pass over the names; nothing is allocated when there is nothing to
/// remove (the common case on the request path).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let mut doomed: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for name in value.split(',') {
            if let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) {
                doomed.push(name);
            }
        }
    }
    for name in headers.keys() {
        if HOP_BY_HOP.contains(name) || name.as_str().starts_with("proxy-") {
            doomed.push(name.clone());
        }
    }
    for name in &doomed {
        headers.remove(name);
    }
}

/// RFC 9112 §3.2 and RFC 9113 §8.3.1: a request names one host. More than
/// one `Host` field, or a `Host` naming another host or port than the
/// request target's authority (HTTP/1 absolute-form, HTTP/2 `:authority`),
/// is refused rather than letting the router and the upstream each pick one.
pub fn check_host(uri: &http::Uri, headers: &HeaderMap) -> Result<(), &'static str> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let Some(host) = hosts.next() else {
        return Ok(());
    };
    if hosts.next().is_some() {
        return Err("The request has more than one Host field.");
    }
    let Some(authority) = uri.authority() else {
        return Ok(());
    };
    let disagrees = || "The Host field names another host than the request target.";
    let host: http::uri::Authority = host
        .to_str()
        .ok()
        .and_then(|h| h.parse().ok())
        .ok_or_else(disagrees)?;
    let default_port = match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    let same_host = host.host().eq_ignore_ascii_case(authority.host());
    let same_port = host.port_u16().or(default_port) == authority.port_u16().or(default_port);
    if same_host && same_port {
        Ok(())
    } else {
        Err(disagrees())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Forwarding;
    use http::header::HeaderValue;

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn one_host_and_the_same_as_the_target() {
        let uri = |u: &str| u.parse::<http::Uri>().unwrap();
        let host = |values: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(header::HOST, HeaderValue::from_static(v));
            }
            h
        };
        assert!(check_host(&uri("/"), &host(&["a"])).is_ok());
        assert!(check_host(&uri("/"), &host(&[])).is_ok());
        assert!(check_host(&uri("/"), &host(&["a", "a"])).is_err());
        assert!(check_host(&uri("http://A.example/"), &host(&["a.example"])).is_ok());
        assert!(check_host(&uri("http://a.example/"), &host(&["a.example:80"])).is_ok());
        assert!(check_host(&uri("http://a.example/"), &host(&["b.example"])).is_err());
        assert!(check_host(&uri("http://a.example:8080/"), &host(&["a.example"])).is_err());
        assert!(check_host(&uri("http://a.example/"), &host(&["a b"])).is_err());
    }

    #[test]
    fn forwarded_headers_are_replaced_not_trusted() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        h.insert(header::FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
        Forwarding::new("::1".parse().unwrap(), "http").apply(&mut h, Some("example.com"));
        assert_eq!(h["x-forwarded-for"], "::1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.com");
        assert_eq!(
            h[header::FORWARDED],
            "for=\"[::1]\";proto=http;host=\"example.com\""
        );
    }
}
