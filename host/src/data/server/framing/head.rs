//! One HTTP/1 request head, parsed the way hyper parses it (httparse with
//! the same header-count limit and strict defaults) and judged: how its body
//! is framed, whether it may switch protocols, or why it is refused.
//!
//! The framing rules mirror hyper's (`proto/h1/role.rs`), except that a
//! request with both `Content-Length` and `Transfer-Encoding` is refused
//! instead of framed by the chunked coding (RFC 9112 §6.1 allows either; a
//! gateway refusing it leaves no room for a desynchronised peer).

use http::Method;

use crate::data::error::ProxyError;

/// hyper refuses longer request targets (`URI too long`).
const MAX_TARGET_LEN: usize = (u16::MAX - 1) as usize;

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFraming {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
}

/// A complete, accepted request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    /// Its length in bytes, leading empty lines included.
    pub len: usize,
    /// The request method.
    pub method: Method,
    /// How many header fields it has.
    pub fields: usize,
    /// How its body is framed.
    pub body: BodyFraming,
    /// Whether hyper may switch the connection to another protocol after
    /// it (`CONNECT`, or an HTTP/1.1 request with `Upgrade`).
    pub upgrade: bool,
}

/// What the bytes read so far hold.
#[derive(Debug)]
pub(super) enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// An accepted head.
    Complete(Head),
    /// A head the gateway refuses.
    Refused(ProxyError),
}

/// Parses the head at the start of `buf`, under the listener's limits.
pub(super) fn parse(buf: &[u8], max_headers: usize, max_header_bytes: usize) -> Parsed {
    let too_large = || {
        Parsed::Refused(ProxyError::HeadersTooLarge(format!(
            "a head over {max_header_bytes} bytes"
        )))
    };
    let mut fields = vec![httparse::EMPTY_HEADER; max_headers];
    let mut request = httparse::Request::new(&mut fields);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > max_header_bytes => return too_large(),
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Refused(ProxyError::HeadersTooLarge(format!(
                "more than {max_headers} header fields"
            )));
        }
        Err(error) => return bad(format!("The request head is malformed ({error}).")),
    };
    if len > max_header_bytes {
        return too_large();
    }
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return bad("The request line is incomplete.".into());
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return bad("The request method is malformed.".into());
    };
    if target.len() > MAX_TARGET_LEN || http::Uri::try_from(target).is_err() {
        return bad("The request target is malformed or too long.".into());
    }
    match framing(request.headers, version == 1) {
        Ok(body) => Parsed::Complete(Head {
            len,
            upgrade: method == Method::CONNECT || (version == 1 && has(request.headers, "upgrade")),
            method,
            fields: request.headers.len(),
            body,
        }),
        Err(reason) => bad(reason.into()),
    }
}

fn bad(reason: String) -> Parsed {
    Parsed::Refused(ProxyError::BadRequest(reason))
}

fn has(fields: &[httparse::Header<'_>], name: &str) -> bool {
    fields.iter().any(|f| f.name.eq_ignore_ascii_case(name))
}

/// The body framing of a request with these header fields.
fn framing(fields: &[httparse::Header<'_>], http11: bool) -> Result<BodyFraming, &'static str> {
    let mut length: Option<u64> = None;
    let mut chunked: Option<bool> = None;
    for field in fields {
        if field.name.eq_ignore_ascii_case("transfer-encoding") {
            if !http11 {
                return Err("Transfer-Encoding is not allowed in an HTTP/1.0 request.");
            }
            chunked = Some(final_coding_is_chunked(field.value));
        } else if field.name.eq_ignore_ascii_case("content-length") {
            let value = digits(field.value).ok_or("The Content-Length is not a number.")?;
            if length.is_some_and(|previous| previous != value) {
                return Err("The request has two different Content-Length values.");
            }
            length = Some(value);
        }
    }
    match (chunked, length) {
        (Some(_), Some(_)) => {
            Err("The request has both Content-Length and Transfer-Encoding (ambiguous framing).")
        }
        (Some(false), None) => Err("The final Transfer-Encoding is not chunked."),
        (Some(true), None) => Ok(BodyFraming::Chunked),
        (None, Some(0)) | (None, None) => Ok(BodyFraming::Empty),
        (None, Some(length)) => Ok(BodyFraming::Length(length)),
    }
}

/// hyper's rule: the last comma-separated coding of the (last)
/// `Transfer-Encoding` field is `chunked`, in visible ASCII.
fn final_coding_is_chunked(value: &[u8]) -> bool {
    let visible = value.iter().all(|&b| b == b'\t' || (32..127).contains(&b));
    visible
        && std::str::from_utf8(value).is_ok_and(|text| {
            text.rsplit(',')
                .next()
                .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
        })
}

/// A `Content-Length` value: ASCII digits only (no sign, no list).
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |total, &b| match b {
        b'0'..=b'9' => total.checked_mul(10)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Parsed {
        parse(raw.as_bytes(), 10, 1024)
    }

    #[test]
    fn framing_follows_the_headers() {
        let Parsed::Complete(get) = head("GET / HTTP/1.1\r\nhost: a\r\n\r\nnext") else {
            panic!("complete");
        };
        assert_eq!(
            (get.len, get.body, get.upgrade),
            (27, BodyFraming::Empty, false)
        );
        let Parsed::Complete(post) = head("POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\n") else {
            panic!("complete");
        };
        assert_eq!(post.body, BodyFraming::Length(5));
        let Parsed::Complete(chunked) =
            head("POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n")
        else {
            panic!("complete");
        };
        assert_eq!(chunked.body, BodyFraming::Chunked);
        let Parsed::Complete(ws) = head("GET / HTTP/1.1\r\nupgrade: websocket\r\n\r\n") else {
            panic!("complete");
        };
        assert!(ws.upgrade);
        assert!(matches!(head("GET / HTTP/1.1\r\nhost"), Parsed::Partial));
    }

    #[test]
    fn ambiguous_or_oversized_heads_are_refused() {
        for raw in [
            "POST / HTTP/1.1\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: +4\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked, gzip\r\n\r\n",
            "POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nx : y\r\n\r\n",
        ] {
            assert!(
                matches!(head(raw), Parsed::Refused(ProxyError::BadRequest(_))),
                "{raw}"
            );
        }
        let many: String = (0..11).map(|i| format!("x{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(
            head(&raw),
            Parsed::Refused(ProxyError::HeadersTooLarge(_))
        ));
        let big = format!("GET / HTTP/1.1\r\nx: {}", "v".repeat(2000));
        assert!(matches!(
            head(&big),
            Parsed::Refused(ProxyError::HeadersTooLarge(_))
        ));
    }
}
