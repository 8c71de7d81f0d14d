//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>):
//! the client's trace is continued when its header is valid, a new one
//! started otherwise, and the upstream is sent the gateway's own span as
//! the parent.

use http::HeaderMap;

/// The trace a request belongs to and the gateway's span in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceContext {
    /// The trace id (never all zero).
    pub trace_id: [u8; 16],
    /// The client's span, when it sent a valid `traceparent`.
    pub parent_id: Option<[u8; 8]>,
    /// The gateway's span for this request (never all zero).
    pub span_id: [u8; 8],
    /// Trace flags; bit 0 is "sampled".
    pub flags: u8,
}

impl TraceContext {
    /// Continues the trace of the request's `traceparent` when there is
    /// exactly one valid header; starts a new, sampled trace otherwise.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all("traceparent").iter();
        let parsed = match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().and_then(parse),
            _ => None,
        };
        match parsed {
            Some((trace_id, parent_id, flags)) => TraceContext {
                trace_id,
                parent_id: Some(parent_id),
                span_id: new_span_id(),
                flags,
            },
            None => TraceContext {
                trace_id: new_trace_id(),
                parent_id: None,
                span_id: new_span_id(),
                flags: 1,
            },
        }
    }

    /// Whether the trace is sampled (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id as 32 lower-case hex digits.
    pub(crate) fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The `traceparent` value naming the gateway's span as the parent:
    /// `00-<trace id>-<span id>-<flags>`.
    #[cfg(test)]
    fn traceparent(&self) -> String {
        let bytes = self.traceparent_bytes();
        // Only hex digits and dashes.
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// [`Self::traceparent`] as bytes, written without formatting or
    /// allocating.
    fn traceparent_bytes(&self) -> [u8; 55] {
        let mut out = [b'-'; 55];
        out[0] = b'0';
        out[1] = b'0';
        hex_into(&self.trace_id, &mut out[3..35]);
        hex_into(&self.span_id, &mut out[36..52]);
        hex_into(&[self.flags], &mut out[53..55]);
        out
    }

    /// Sets `traceparent` to [`Self::traceparent`]. A client's
    /// `tracestate` is kept when its `traceparent` was valid (the trace
    /// goes on) and removed otherwise (it belonged to another trace).
    pub(crate) fn propagate(&self, headers: &mut HeaderMap) {
        if self.parent_id.is_none() {
            headers.remove("tracestate");
        }
        let bytes = self.traceparent_bytes();
        if let Ok(value) = http::HeaderValue::from_bytes(&bytes) {
            headers.insert(TRACEPARENT, value);
        }
    }
}

/// The `traceparent` header name.
const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// Writes the lower-case hex of `bytes` into `out` (twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_into(bytes, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A new random span id, never zero.
pub(crate) fn new_span_id() -> [u8; 8] {
    fastrand::u64(1..).to_be_bytes()
}

fn new_trace_id() -> [u8; 16] {
    fastrand::u128(1..).to_be_bytes()
}

/// `version-traceid-parentid-flags`; version `ff` is invalid, version `00`
/// has exactly these four fields, later versions may append more (`-...`).
fn parse(value: &str) -> Option<([u8; 16], [u8; 8], u8)> {
    let value = value.trim_matches([' ', '\t']);
    let bytes = value.as_bytes();
    if bytes.len() < 55 || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let version = unhex::<1>(&value[0..2])?[0];
    if version == 0xff || (version == 0 && bytes.len() != 55) {
        return None;
    }
    if bytes.len() > 55 && bytes[55] != b'-' {
        return None;
    }
    let trace_id = unhex::<16>(&value[3..35])?;
    let parent_id = unhex::<8>(&value[36..52])?;
    let flags = unhex::<1>(&value[53..55])?[0];
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some((trace_id, parent_id, flags))
}

/// Exactly `2 * N` lower-case hex digits.
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let digit = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn context(values: &[&str]) -> TraceContext {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("traceparent", value.parse().unwrap());
        }
        TraceContext::from_headers(&headers)
    }

    #[test]
    fn a_valid_header_continues_its_trace_with_a_new_span() {
        let ctx = context(&[VALID]);
        assert_eq!(ctx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            ctx.parent_id.map(|p| hex(&p)).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_ne!(ctx.span_id, [0; 8]);
        let sent = ctx.traceparent();
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(sent.ends_with("-01"));
        assert!(!sent.contains("00f067aa0ba902b7"));
    }

    #[test]
    fn invalid_headers_start_a_new_sampled_trace() {
        let invalid = [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ];
        for value in invalid {
            let ctx = context(&[value]);
            assert_eq!(ctx.parent_id, None, "{value:?} was accepted");
            assert_ne!(ctx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(ctx.sampled());
        }
        assert_eq!(context(&[VALID, VALID]).parent_id, None, "two headers");
        assert_eq!(context(&[]).parent_id, None);
    }

    #[test]
    fn later_versions_may_append_fields() {
        let ctx = context(&["01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what"]);
        assert!(ctx.parent_id.is_some());
        assert!(!ctx.sampled());
        assert!(
            ctx.traceparent().starts_with("00-"),
            "we send the version we speak"
        );
    }
}
