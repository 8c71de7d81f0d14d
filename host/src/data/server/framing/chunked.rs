//! Where a chunked request body ends, found byte by byte with the same
//! state machine as hyper's decoder (`proto/h1/decode.rs`): hex size, then
//! optional whitespace and extensions, CRLF, data, CRLF, ... a zero-size
//! chunk, trailer fields, and the final CRLF. Bytes are only counted, never
//! kept.

/// A malformed chunked body: hyper fails it on the same byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body")]
pub(super) struct ChunkError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Size,
    SizeLws,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,
    TrailerLf,
    EndCr,
    EndLf,
    End,
}

/// Scans one chunked body.
#[derive(Debug, Clone)]
pub(super) struct ChunkScanner {
    state: State,
    size: u64,
}

impl ChunkScanner {
    /// At the start of a body.
    pub(super) fn new() -> Self {
        ChunkScanner {
            state: State::Start,
            size: 0,
        }
    }

    /// Consumes body bytes from the start of `bytes`; returns how many
    /// belong to the body and whether the body ended with them.
    pub(super) fn scan(&mut self, bytes: &[u8]) -> Result<(usize, bool), ChunkError> {
        let mut at = 0;
        while at < bytes.len() && self.state != State::End {
            if self.state == State::Data {
                let take = usize::try_from(self.size)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - at);
                at += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            self.state = self.step(bytes[at])?;
            at += 1;
        }
        Ok((at, self.state == State::End))
    }

    fn step(&mut self, byte: u8) -> Result<State, ChunkError> {
        use State::*;
        Ok(match (self.state, byte) {
            (Start | Size, _) if byte.is_ascii_hexdigit() => {
                let digit = (byte as char).to_digit(16).ok_or(ChunkError)?;
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|size| size.checked_add(u64::from(digit)))
                    .ok_or(ChunkError)?;
                Size
            }
            (Size | SizeLws, b'\t' | b' ') => SizeLws,
            (Size | SizeLws, b';') => Extension,
            (Size | SizeLws | Extension, b'\r') => SizeLf,
            (Extension, b'\n') => return Err(ChunkError),
            (Extension, _) => Extension,
            (SizeLf, b'\n') if self.size == 0 => EndCr,
            (SizeLf, b'\n') => Data,
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Start,
            (EndCr, b'\r') => EndLf,
            (Trailer, b'\r') => TrailerLf,
            (EndCr | Trailer, _) => Trailer,
            (TrailerLf, b'\n') => EndCr,
            (EndLf, b'\n') => End,
            _ => return Err(ChunkError),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_body_is_found_across_reads() {
        let body = b"5;ext=1\r\nhello\r\nA \r\n0123456789\r\n0\r\nx-t: 1\r\n\r\nGET /";
        let end = body.len() - b"GET /".len();
        for split in 1..body.len() {
            let mut scanner = ChunkScanner::new();
            let (first, done) = scanner.scan(&body[..split]).unwrap();
            assert_eq!(first, split.min(end));
            if split >= end {
                assert!(done);
                continue;
            }
            let (second, done) = scanner.scan(&body[split..]).unwrap();
            assert_eq!(first + second, end, "split at {split}");
            assert!(done);
        }
    }

    #[test]
    fn malformed_chunking_is_an_error() {
        for body in [&b"zz\r\n"[..], b"5\nhello", b"1\r\nab\r\n", b"0\r\n\r\r"] {
            assert_eq!(ChunkScanner::new().scan(body), Err(ChunkError), "{body:?}");
        }
    }
}
