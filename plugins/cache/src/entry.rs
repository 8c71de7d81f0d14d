//! What the cache stores under a key, and its compact binary encoding.
//!
//! A record is a version byte, a tag, then fixed-width big-endian integers
//! and length-prefixed strings. Anything that does not decode (another
//! version, a truncated value) reads as absent.

/// Encoding version; bump on any layout change (old records then miss).
const VERSION: u8 = 1;
const TAG_RESPONSE: u8 = 0;
const TAG_VARY: u8 = 1;

/// A stored response with what its age and freshness are computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Status code.
    pub status: u16,
    /// Header fields (lower-case names, in order; repeated names repeat).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Wall clock (ms) when the response was received (RFC 9111
    /// `response_time`).
    pub response_time_ms: u64,
    /// `corrected_initial_age` (RFC 9111 §4.2.3), ms.
    pub initial_age_ms: u64,
    /// Freshness lifetime, ms (0: always revalidate).
    pub lifetime_ms: u64,
}

impl Entry {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lower-case).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The age now (RFC 9111 §4.2.3 `current_age`), ms.
    pub fn age_ms(&self, now_ms: u64) -> u64 {
        self.initial_age_ms
            .saturating_add(now_ms.saturating_sub(self.response_time_ms))
    }

    /// Remaining freshness now, ms (negative once stale).
    pub fn ttl_ms(&self, now_ms: u64) -> i128 {
        i128::from(self.lifetime_ms) - i128::from(self.age_ms(now_ms))
    }

    /// Whether the entry carries a validator to revalidate with.
    pub fn has_validator(&self) -> bool {
        self.header("etag").is_some() || self.header("last-modified").is_some()
    }
}

/// A record under a cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A response (for a URI without `Vary`, or one variant).
    Response(Entry),
    /// The URI's responses vary on these request headers (lower-case): each
    /// variant is stored under a key with their values. `expires_ms` is when
    /// the last variant written expires (wall clock).
    Vary {
        /// Varied request header names.
        names: Vec<String>,
        /// When this marker may go.
        expires_ms: u64,
    },
}

impl Record {
    /// The bytes stored in the cache.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        match self {
            Record::Response(e) => {
                out.push(TAG_RESPONSE);
                out.extend_from_slice(&e.status.to_be_bytes());
                for n in [e.response_time_ms, e.initial_age_ms, e.lifetime_ms] {
                    out.extend_from_slice(&n.to_be_bytes());
                }
                put_len(&mut out, e.headers.len());
                for (name, value) in &e.headers {
                    put_bytes(&mut out, name.as_bytes());
                    put_bytes(&mut out, value.as_bytes());
                }
                put_bytes(&mut out, &e.body);
            }
            Record::Vary { names, expires_ms } => {
                out.push(TAG_VARY);
                out.extend_from_slice(&expires_ms.to_be_bytes());
                put_len(&mut out, names.len());
                for name in names {
                    put_bytes(&mut out, name.as_bytes());
                }
            }
        }
        out
    }

    /// Decodes [`encode`](Self::encode)'s bytes; `None` if they are not a
    /// record of this version.
    pub fn decode(bytes: &[u8]) -> Option<Record> {
        let mut r = Reader(bytes);
        if r.take(1)? != [VERSION] {
            return None;
        }
        let record = match r.take(1)?[0] {
            TAG_RESPONSE => {
                let status = u16::from_be_bytes(r.array()?);
                let response_time_ms = r.u64()?;
                let initial_age_ms = r.u64()?;
                let lifetime_ms = r.u64()?;
                let count = r.len()?;
                let mut headers = Vec::with_capacity(count.min(256));
                for _ in 0..count {
                    headers.push((r.string()?, r.string()?));
                }
                let body = r.bytes()?.to_vec();
                Record::Response(Entry {
                    status,
                    headers,
                    body,
                    response_time_ms,
                    initial_age_ms,
                    lifetime_ms,
                })
            }
            TAG_VARY => {
                let expires_ms = r.u64()?;
                let count = r.len()?;
                let names = (0..count).map(|_| r.string()).collect::<Option<_>>()?;
                Record::Vary { names, expires_ms }
            }
            _ => return None,
        };
        r.0.is_empty().then_some(record)
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Lengths are bounded by the body limit and header sizes, far below 4 GiB.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.array()?))
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(u32::from_be_bytes(self.array()?)).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.len()?;
        self.take(len)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_absent() {
        let entry = Record::Response(Entry {
            status: 200,
            headers: vec![("etag".into(), "\"v1\"".into()), ("x".into(), "".into())],
            body: b"hello".to_vec(),
            response_time_ms: 1_700_000_000_000,
            initial_age_ms: 1500,
            lifetime_ms: 60_000,
        });
        let vary = Record::Vary {
            names: vec!["accept".into(), "x-tenant".into()],
            expires_ms: 42,
        };
        for record in [entry, vary] {
            let bytes = record.encode();
            assert_eq!(Record::decode(&bytes), Some(record));
            for cut in 0..bytes.len() {
                assert_eq!(Record::decode(&bytes[..cut]), None, "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(Record::decode(&longer), None);
        }
        assert_eq!(Record::decode(&[9, 0]), None);
    }

    #[test]
    fn age_and_ttl_follow_the_clock() {
        let entry = Entry {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            response_time_ms: 10_000,
            initial_age_ms: 2_000,
            lifetime_ms: 5_000,
        };
        assert_eq!(entry.age_ms(10_000), 2_000);
        assert_eq!(entry.ttl_ms(12_000), 1_000);
        assert_eq!(entry.ttl_ms(14_000), -1_000);
        assert_eq!(entry.age_ms(9_000), 2_000, "a clock going back adds no age");
    }
}
