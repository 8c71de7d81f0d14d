//! gRPC through the gateway.
//!
//! gRPC calls are HTTP/2 requests with `content-type: application/grpc…`
//! whose status travels in trailers (`grpc-status`, `grpc-message`). They
//! pass through the ordinary proxy path; what is particular to them is here:
//!
//! - `te: trailers`, which gRPC requires end to end (RFC 9113 §8.2.2 allows
//!   exactly that value), is kept although `TE` is otherwise hop-by-hop (see
//!   `headers::strip_hop_by_hop`);
//! - the client's `grpc-timeout` shortens the route's timeout
//!   ([`deadline`]);
//! - a response the gateway or a plugin made (no route, upstream down or
//!   slow, a plugin's rejection, a rate limit) is answered as gRPC clients
//!   expect: HTTP 200 in trailers-only form, with the problem's status
//!   mapped to a gRPC code and its title and detail in `grpc-message`
//!   ([`answer`]). Upstream responses are never rewritten.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;

use crate::body::{self, Body, GatewayMade};

/// Longest `grpc-message` the gateway writes, in bytes before encoding.
const MAX_MESSAGE: usize = 1024;

/// Whether a request (or response) with these headers is gRPC.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..16))
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("application/grpc"))
}

/// The client's `grpc-timeout` (gRPC over HTTP/2: up to 8 digits and a unit
/// of `H`, `M`, `S`, `m`, `u` or `n`), if present and well-formed.
pub fn timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.as_bytes();
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The time the upstream gets: the route's timeout, shortened by the
/// client's `grpc-timeout` on a gRPC request.
pub fn deadline(route: Option<Duration>, headers: &HeaderMap) -> Option<Duration> {
    if !is_grpc(headers) {
        return route;
    }
    match (route, timeout(headers)) {
        (Some(route), Some(client)) => Some(route.min(client)),
        (route, client) => route.or(client),
    }
}

/// The gRPC status code for a gateway-made response with `status`.
///
/// Follows gRPC's HTTP-to-gRPC mapping (400 → INTERNAL, 401 →
/// UNAUTHENTICATED, 403 → PERMISSION_DENIED, 404 → UNIMPLEMENTED, 502/503 →
/// UNAVAILABLE), refined where the gateway knows more: a timeout is
/// DEADLINE_EXCEEDED, a rate limit or a size limit RESOURCE_EXHAUSTED.
pub fn code_for(status: StatusCode) -> u32 {
    match status.as_u16() {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        408 | 504 => 4,
        413 | 429 | 431 => 8,
        500 => 13,
        501 => 12,
        502 | 503 => 14,
        _ => 2,
    }
}

/// Percent-encodes a `grpc-message` (gRPC over HTTP/2: every byte outside
/// printable ASCII, and `%`).
pub fn encode_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for &byte in message.as_bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The message for a gateway-made body: a problem's `title: detail`, or
/// the body's text.
fn message_of(bytes: &[u8], status: StatusCode) -> String {
    let problem = serde_json::from_slice::<serde_json::Value>(bytes).ok();
    let field = |name: &str| {
        problem
            .as_ref()
            .and_then(|p| p.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let text = match (field("title"), field("detail")) {
        (Some(title), Some(detail)) => format!("{title}: {detail}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) if !bytes.is_empty() => String::from_utf8_lossy(bytes).trim().to_owned(),
        (None, None) => status
            .canonical_reason()
            .unwrap_or("gateway error")
            .to_owned(),
    };
    let mut end = text.len().min(MAX_MESSAGE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A gateway-made response to a gRPC request, in gRPC's trailers-only
/// form; any other response is returned as it is.
pub async fn answer(response: Response<Body>) -> Response<Body> {
    if response.extensions().get::<GatewayMade>().is_none() || is_grpc(response.headers()) {
        return response;
    }
    let (mut head, body) = response.into_parts();
    // Gateway-made bodies are in memory; an unreadable one has no message.
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let code = code_for(head.status);
    let message = encode_message(&message_of(&bytes, head.status));
    head.status = StatusCode::OK;
    head.headers.remove(header::CONTENT_LENGTH);
    head.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    head.headers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(value) = HeaderValue::from_str(&message) {
        head.headers.insert("grpc-message", value);
    }
    Response::from_parts(head, body::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn grpc_is_known_by_its_content_type() {
        assert!(is_grpc(&headers(&[("content-type", "application/grpc")])));
        assert!(is_grpc(&headers(&[(
            "content-type",
            "application/grpc+proto"
        )])));
        assert!(!is_grpc(&headers(&[("content-type", "application/json")])));
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn grpc_timeout_units_and_malformed_values() {
        let t = |v: &'static str| timeout(&headers(&[("grpc-timeout", v)]));
        assert_eq!(t("250m"), Some(Duration::from_millis(250)));
        assert_eq!(t("2S"), Some(Duration::from_secs(2)));
        assert_eq!(t("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(t("5u"), Some(Duration::from_micros(5)));
        assert_eq!(t("123456789m"), None, "more than 8 digits");
        assert_eq!(t("m"), None);
        assert_eq!(t("10x"), None);
        assert_eq!(t("-1S"), None);
    }

    #[test]
    fn the_shorter_of_route_and_client_deadline_applies_to_grpc_only() {
        let grpc = headers(&[
            ("content-type", "application/grpc"),
            ("grpc-timeout", "100m"),
        ]);
        let plain = headers(&[("grpc-timeout", "100m")]);
        let route = Some(Duration::from_secs(5));
        assert_eq!(deadline(route, &grpc), Some(Duration::from_millis(100)));
        assert_eq!(deadline(None, &grpc), Some(Duration::from_millis(100)));
        assert_eq!(deadline(route, &plain), route);
        let long = headers(&[("content-type", "application/grpc"), ("grpc-timeout", "1M")]);
        assert_eq!(deadline(route, &long), route);
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(encode_message("ok: 100% sure"), "ok: 100%25 sure");
        assert_eq!(encode_message("é\n"), "%C3%A9%0A");
    }

    #[tokio::test]
    async fn a_gateway_problem_becomes_a_trailers_only_grpc_answer() {
        let mut response = Response::new(body::full(
            r#"{"title":"Too many requests","detail":"Limit of 1 per 1m reached.","status":429}"#,
        ));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        response.extensions_mut().insert(GatewayMade);
        let answered = answer(response).await;
        assert_eq!(answered.status(), StatusCode::OK);
        let h = answered.headers();
        assert_eq!(h["content-type"], "application/grpc");
        assert_eq!(h["grpc-status"], "8");
        assert_eq!(
            h["grpc-message"],
            "Too many requests: Limit of 1 per 1m reached."
        );
        assert_eq!(h["retry-after"], "60", "other headers are kept");
        assert!(http_body::Body::is_end_stream(answered.body()));
    }

    #[tokio::test]
    async fn upstream_responses_are_not_rewritten() {
        let mut response = Response::new(body::full("upstream says no"));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let answered = answer(response).await;
        assert_eq!(answered.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(answered.headers().get("grpc-status").is_none());
    }
}
