//! The framing code's entry points for the fuzz targets (`tests/fuzz`):
//! the head parser and the chunked-body scanner exactly as the guard calls
//! them, with plain results a harness can compare. Not part of the
//! gateway's API.

use super::chunked::ChunkScanner;
use super::head::{self, BodyFraming, Parsed};

/// What [`parse_head`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadOutcome {
    /// Not a whole head yet.
    Partial,
    /// An accepted head: its length, method, field count, body framing
    /// (`None` for no body, `Some(None)` for chunked, `Some(Some(n))` for a
    /// `Content-Length` of `n`) and whether it may switch protocols.
    Complete {
        /// Bytes of the head, leading empty lines included.
        len: usize,
        /// The request method.
        method: String,
        /// Header fields.
        fields: usize,
        /// How the body is framed.
        body: Option<Option<u64>>,
        /// `CONNECT` or `Upgrade`.
        upgrade: bool,
    },
    /// A refused head: the status and the reason the client is given.
    Refused {
        /// The response status.
        status: u16,
        /// The problem detail.
        detail: String,
    },
}

/// The guard's head parser on `buf` under these limits.
pub fn parse_head(buf: &[u8], max_headers: usize, max_header_bytes: usize) -> HeadOutcome {
    match head::parse(buf, max_headers, max_header_bytes) {
        Parsed::Partial => HeadOutcome::Partial,
        Parsed::Complete(head) => HeadOutcome::Complete {
            len: head.len,
            method: head.method.to_string(),
            fields: head.fields,
            body: match head.body {
                BodyFraming::Empty => None,
                BodyFraming::Chunked => Some(None),
                BodyFraming::Length(n) => Some(Some(n)),
            },
            upgrade: head.upgrade,
        },
        Parsed::Refused(error) => HeadOutcome::Refused {
            status: error.status().as_u16(),
            detail: error.to_string(),
        },
    }
}

/// The chunked-body scanner fed `reads` one after another, as the guard
/// feeds it what each read from the client returned: the bytes that belong
/// to the body in all, and whether it ended; `None` when it is malformed.
pub fn scan_chunked(reads: &[&[u8]]) -> Option<(usize, bool)> {
    let mut scanner = ChunkScanner::new();
    let mut total = 0;
    for read in reads {
        let (used, done) = scanner.scan(read).ok()?;
        total += used;
        if done {
            return Some((total, true));
        }
    }
    Some((total, false))
}
