//! The `[limits]` table (and a listener's own `limits` table): what a
//! client may send and how long it may take. Every key is optional; a
//! listener's value wins over `[limits]`, which wins over the default.
//!
//! | key | default | enforced |
//! |---|---|---|
//! | `max_header_bytes` | 16384 | request line and header fields; 431 |
//! | `max_headers` | 100 | header fields; 431 |
//! | `max_body_bytes` | 10485760 | request body, declared or streamed; 413 |
//! | `header_read_timeout_ms` | 10000 | from a request's first byte (or the connection's opening) to its complete head; closed |
//! | `idle_timeout_ms` | 60000 | a connection with no request in flight (HTTP/1 keep-alive, HTTP/2 without open streams): closed, HTTP/2 with GOAWAY |
//! | `tunnel_idle_timeout_ms` | 300000 | an upgraded (WebSocket) tunnel without a byte either way: closed |
//! | `max_connections` | 10000 | open connections (tunnels included); more are closed at once and counted |
//! | `max_requests_in_flight` | 10000 | requests being served at once on the listener (all its workers and connections together); more get an immediate 503 `overloaded` with `Retry-After` |
//! | `drain_timeout_ms` | 30000 | on shutdown, time left to in-flight requests and tunnels before they are closed |
//! | `http2.max_concurrent_streams` | 100 | streams open at once per connection |
//! | `http2.initial_stream_window_bytes` | 65536 | flow-control window per stream |
//! | `http2.initial_connection_window_bytes` | 1048576 | flow-control window per connection |
//! | `http2.max_pending_accept_reset_streams` | 20 | streams reset by the client before being served (rapid reset): GOAWAY past it |
//! | `http2.max_local_error_reset_streams` | 1024 | streams the gateway had to reset for protocol errors: GOAWAY past it |

use serde::Deserialize;

/// A `[limits]` table. `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request head: request line plus header fields (name, value
    /// and 4 bytes of framing each), bytes.
    #[serde(default)]
    pub max_header_bytes: Option<u64>,
    /// Most header fields a request may have.
    #[serde(default)]
    pub max_headers: Option<u64>,
    /// Largest request body, bytes, whether declared by `Content-Length` or
    /// streamed in chunks.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// Time allowed to receive a complete request head, ms.
    #[serde(default)]
    pub header_read_timeout_ms: Option<u64>,
    /// Time a connection may stay open with no request in flight, ms.
    #[serde(default)]
    pub idle_timeout_ms: Option<u64>,
    /// Time an upgraded tunnel may carry no byte in either direction, ms.
    #[serde(default)]
    pub tunnel_idle_timeout_ms: Option<u64>,
    /// Connections the listener keeps open at once.
    #[serde(default)]
    pub max_connections: Option<u64>,
    /// Requests the listener serves at once; more are refused at once.
    #[serde(default)]
    pub max_requests_in_flight: Option<u64>,
    /// Time in-flight requests and tunnels get to finish on shutdown, ms.
    #[serde(default)]
    pub drain_timeout_ms: Option<u64>,
    /// HTTP/2 connection limits.
    #[serde(default)]
    pub http2: Http2LimitsConfig,
}

/// The `http2` part of a limits table.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Http2LimitsConfig {
    /// Streams a client may have open at once on one connection.
    #[serde(default)]
    pub max_concurrent_streams: Option<u32>,
    /// Initial flow-control window of each stream, bytes.
    #[serde(default)]
    pub initial_stream_window_bytes: Option<u32>,
    /// Initial flow-control window of the connection, bytes.
    #[serde(default)]
    pub initial_connection_window_bytes: Option<u32>,
    /// Streams the client may reset before the gateway accepted them; past
    /// it the connection is closed with GOAWAY (`ENHANCE_YOUR_CALM`), the
    /// defence against "rapid reset" floods (CVE-2023-44487).
    #[serde(default)]
    pub max_pending_accept_reset_streams: Option<u32>,
    /// Streams the gateway may reset for the client's protocol errors on one
    /// connection before closing it with GOAWAY.
    #[serde(default)]
    pub max_local_error_reset_streams: Option<u32>,
}

/// Largest HTTP/2 flow-control window (RFC 9113 §6.9.1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Checks a limits table; `key` is its path (`limits`, `listeners[0].limits`).
pub(super) fn check(limits: &LimitsConfig, key: &str, add: &mut dyn FnMut(String, String)) {
    let mut range = |name: &str, value: Option<u64>, min: u64, max: u64| {
        if let Some(value) = value
            && !(min..=max).contains(&value)
        {
            add(
                format!("{key}.{name}"),
                format!("must be between {min} and {max}"),
            );
        }
    };
    range("max_header_bytes", limits.max_header_bytes, 1024, 1 << 20);
    range("max_headers", limits.max_headers, 1, 10_000);
    range(
        "header_read_timeout_ms",
        limits.header_read_timeout_ms,
        1,
        3_600_000,
    );
    range("idle_timeout_ms", limits.idle_timeout_ms, 1, 86_400_000);
    range(
        "tunnel_idle_timeout_ms",
        limits.tunnel_idle_timeout_ms,
        1,
        86_400_000,
    );
    range("max_connections", limits.max_connections, 1, 1_000_000);
    range(
        "max_requests_in_flight",
        limits.max_requests_in_flight,
        1,
        10_000_000,
    );
    range("drain_timeout_ms", limits.drain_timeout_ms, 0, 3_600_000);
    let h2 = &limits.http2;
    let wide = |v: Option<u32>| v.map(u64::from);
    range(
        "http2.max_concurrent_streams",
        wide(h2.max_concurrent_streams),
        1,
        u64::from(u32::MAX),
    );
    range(
        "http2.initial_stream_window_bytes",
        wide(h2.initial_stream_window_bytes),
        1,
        u64::from(MAX_WINDOW),
    );
    range(
        "http2.initial_connection_window_bytes",
        wide(h2.initial_connection_window_bytes),
        65_535,
        u64::from(MAX_WINDOW),
    );
    range(
        "http2.max_pending_accept_reset_streams",
        wide(h2.max_pending_accept_reset_streams),
        1,
        u64::from(u32::MAX),
    );
    range(
        "http2.max_local_error_reset_streams",
        wide(h2.max_local_error_reset_streams),
        1,
        u64::from(u32::MAX),
    );
}
