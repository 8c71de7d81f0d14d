//! Edge limits: what a client may send to a listener, resolved from
//! `[limits]` and the listener's own `limits` table (see
//! [`crate::config::limits`] for the keys and defaults).
//!
//! Some limits are enforced by the listener (`server`: the HTTP/1 framing
//! guard checks head size and header count and times heads; idle and tunnel
//! timeouts, `max_connections`, the drain; hyper applies every HTTP/2
//! setting), the rest here, on each request before it is routed: [`Limits::admit`] refuses a head that is too large (431: the
//! HTTP/2 header count, and a second line of defence for the rest) or a
//! declared body over the limit (413), and wraps the body in a
//! [`LimitedBody`] that fails once a streamed body grows past it.

mod body;

use std::time::Duration;

use http::{Request, header};

pub use body::{BodyGuard, LimitedBody};

use crate::config::LimitsConfig;
use crate::data::error::ProxyError;

/// Default of `max_header_bytes`.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// Default of `max_headers`.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Default of `max_body_bytes`.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// Default of `header_read_timeout_ms`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of `idle_timeout_ms`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of `tunnel_idle_timeout_ms`.
pub const DEFAULT_TUNNEL_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default of `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default of `max_requests_in_flight`.
pub const DEFAULT_MAX_REQUESTS_IN_FLIGHT: usize = 10_000;
/// Default of `drain_timeout_ms`.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Limits in force on one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request head (request line and header fields), bytes.
    pub max_header_bytes: usize,
    /// Most header fields in a request.
    pub max_headers: usize,
    /// Largest request body, bytes.
    pub max_body_bytes: u64,
    /// Time allowed to receive a complete request head, from its first
    /// byte (for the first request: from the connection's opening).
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Time an upgraded tunnel may carry no byte either way.
    pub tunnel_idle_timeout: Duration,
    /// Connections open at once on the listener.
    pub max_connections: usize,
    /// Requests in flight at once on the listener (load shedding).
    pub max_requests_in_flight: usize,
    /// Time in-flight requests and tunnels get on shutdown.
    pub drain_timeout: Duration,
    /// HTTP/2 connection settings.
    pub http2: Http2Limits,
}

/// HTTP/2 settings of a listener.
#[derive(Debug, Clone)]
pub struct Http2Limits {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`.
    pub max_concurrent_streams: u32,
    /// `SETTINGS_INITIAL_WINDOW_SIZE`.
    pub initial_stream_window: u32,
    /// The connection's flow-control window.
    pub initial_connection_window: u32,
    /// Client-reset streams tolerated before they were served.
    pub max_pending_accept_reset_streams: usize,
    /// Streams reset for the client's errors tolerated per connection.
    pub max_local_error_reset_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::resolve(&LimitsConfig::default(), None)
    }
}

impl Limits {
    /// The limits of a listener: its own value, else `[limits]`, else the
    /// default, key by key.
    pub fn resolve(global: &LimitsConfig, listener: Option<&LimitsConfig>) -> Self {
        macro_rules! pick {
            ($($field:ident).+, $default:expr) => {
                listener
                    .and_then(|l| l.$($field).+)
                    .or(global.$($field).+)
                    .map_or($default, |v| v.try_into().unwrap_or($default))
            };
        }
        Limits {
            max_header_bytes: pick!(max_header_bytes, DEFAULT_MAX_HEADER_BYTES),
            max_headers: pick!(max_headers, DEFAULT_MAX_HEADERS),
            max_body_bytes: pick!(max_body_bytes, DEFAULT_MAX_BODY_BYTES),
            header_read_timeout: Duration::from_millis(pick!(
                header_read_timeout_ms,
                DEFAULT_HEADER_READ_TIMEOUT.as_millis() as u64
            )),
            idle_timeout: Duration::from_millis(pick!(
                idle_timeout_ms,
                DEFAULT_IDLE_TIMEOUT.as_millis() as u64
            )),
            tunnel_idle_timeout: Duration::from_millis(pick!(
                tunnel_idle_timeout_ms,
                DEFAULT_TUNNEL_IDLE_TIMEOUT.as_millis() as u64
            )),
            max_connections: pick!(max_connections, DEFAULT_MAX_CONNECTIONS),
            max_requests_in_flight: pick!(max_requests_in_flight, DEFAULT_MAX_REQUESTS_IN_FLIGHT),
            drain_timeout: Duration::from_millis(pick!(
                drain_timeout_ms,
                DEFAULT_DRAIN_TIMEOUT.as_millis() as u64
            )),
            http2: Http2Limits {
                max_concurrent_streams: pick!(http2.max_concurrent_streams, 100),
                initial_stream_window: pick!(http2.initial_stream_window_bytes, 64 * 1024),
                initial_connection_window: pick!(
                    http2.initial_connection_window_bytes,
                    1024 * 1024
                ),
                max_pending_accept_reset_streams: pick!(http2.max_pending_accept_reset_streams, 20),
                max_local_error_reset_streams: pick!(http2.max_local_error_reset_streams, 1024),
            },
        }
    }

    /// HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`: the header bytes plus the 32
    /// bytes per field that HTTP/2 counts (RFC 9113 §6.5.2).
    pub fn http2_max_header_list_size(&self) -> u32 {
        let size = self.max_header_bytes + 32 * self.max_headers;
        u32::try_from(size).unwrap_or(u32::MAX)
    }

    /// Checks a request head against the limits and wraps its body so it
    /// cannot grow past `max_body_bytes`. The returned request carries a
    /// [`BodyGuard`] extension that tells later whether the body failed.
    pub fn admit<B>(&self, request: Request<B>) -> Result<Request<LimitedBody<B>>, ProxyError> {
        let headers = request.headers();
        if headers.len() > self.max_headers {
            return Err(ProxyError::HeadersTooLarge(format!(
                "{} header fields; at most {} are accepted",
                headers.len(),
                self.max_headers
            )));
        }
        let size = head_size(&request);
        if size > self.max_header_bytes {
            return Err(ProxyError::HeadersTooLarge(format!(
                "a {size}-byte head; at most {} bytes are accepted",
                self.max_header_bytes
            )));
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_body_bytes) {
            return Err(ProxyError::PayloadTooLarge {
                limit: self.max_body_bytes,
            });
        }
        let guard = BodyGuard::new(self.max_body_bytes);
        let (mut head, body) = request.into_parts();
        head.extensions.insert(guard.clone());
        Ok(Request::from_parts(head, LimitedBody::new(body, guard)))
    }
}

/// The size of a request head as HTTP/1.1 sends it: request line, and each
/// field's name, value, `: ` and CRLF.
fn head_size<B>(request: &Request<B>) -> usize {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(1, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    let line = request.method().as_str().len() + target + " HTTP/1.1\r\n ".len();
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + fields + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::limits::Http2LimitsConfig;

    #[test]
    fn the_listener_wins_over_the_global_table_which_wins_over_defaults() {
        let global = LimitsConfig {
            max_headers: Some(50),
            max_body_bytes: Some(1000),
            ..LimitsConfig::default()
        };
        let listener = LimitsConfig {
            max_body_bytes: Some(10),
            http2: Http2LimitsConfig {
                max_concurrent_streams: Some(7),
                ..Http2LimitsConfig::default()
            },
            ..LimitsConfig::default()
        };
        let limits = Limits::resolve(&global, Some(&listener));
        assert_eq!(limits.max_body_bytes, 10);
        assert_eq!(limits.max_headers, 50);
        assert_eq!(limits.max_header_bytes, DEFAULT_MAX_HEADER_BYTES);
        assert_eq!(limits.http2.max_concurrent_streams, 7);
        assert_eq!(limits.http2.max_pending_accept_reset_streams, 20);
    }

    #[test]
    fn heads_over_the_limits_are_refused() {
        let limits = Limits {
            max_headers: 2,
            max_header_bytes: 64,
            ..Limits::default()
        };
        let ok = Request::get("/a").header("x", "1").body(()).unwrap();
        assert!(limits.admit(ok).is_ok());
        let many = Request::get("/")
            .header("a", "1")
            .header("b", "1")
            .header("c", "1")
            .body(())
            .unwrap();
        assert!(matches!(
            limits.admit(many),
            Err(ProxyError::HeadersTooLarge(_))
        ));
        let big = Request::get("/")
            .header("x", "v".repeat(64))
            .body(())
            .unwrap();
        assert!(matches!(
            limits.admit(big),
            Err(ProxyError::HeadersTooLarge(_))
        ));
        let declared = Request::post("/")
            .header("content-length", "20000000")
            .body(())
            .unwrap();
        assert!(matches!(
            limits.admit(declared),
            Err(ProxyError::PayloadTooLarge { .. })
        ));
    }
}
