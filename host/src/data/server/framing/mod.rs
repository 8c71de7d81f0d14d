//! The HTTP/1 framing check: every request head is read and judged here
//! before hyper may parse it, so request smuggling and malformed heads are
//! answered by the gateway (problem+json), not by hyper's parser.
//!
//! [`FramingGuard`] sits between the client's stream and hyper. It follows
//! the request framing itself — a head (parsed as hyper parses it, see
//! `head`), then a body of `Content-Length` bytes or a chunked body (see
//! `chunked`), then the next head — and hands hyper only bytes it has
//! classified. For every head it hands over it queues a verdict that the
//! request's service takes with [`Framing::check`]:
//!
//! - an accepted head is passed on unchanged; its verdict carries the method
//!   and field count, which the service compares with what hyper parsed, so
//!   a disagreement between the two parsers is caught, not served;
//! - a refused head (ambiguous or malformed framing, too large) is replaced
//!   by a minimal `GET` with `Connection: close`, whose verdict is the
//!   refusal; nothing after it is read. The client gets the problem+json
//!   response in order, after any request pipelined before it, and the
//!   connection is closed.
//!
//! After a request that may switch protocols (`Upgrade`, `CONNECT`) the
//! guard waits for the service's answer: a switch turns it into a plain
//! byte pipe. The guard also enforces `header_read_timeout` from a head's
//! first byte, and marks that byte as activity for the idle timeout.

mod chunked;
mod head;
pub mod probe;

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::{Method, Request, StatusCode};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Sleep;

use super::activity::Activity;
use crate::data::error::ProxyError;
use chunked::ChunkScanner;
use head::{BodyFraming, Parsed};

/// What hyper is given in place of a refused head.
const REFUSED: &[u8] = b"GET / HTTP/1.1\r\nconnection: close\r\n\r\n";
/// Bytes read from the client at once.
const READ_CHUNK: usize = 8192;

/// The limits the guard applies to heads.
#[derive(Debug, Clone, Copy)]
pub(super) struct HeadLimits {
    /// Most header fields.
    pub max_headers: usize,
    /// Largest head, bytes.
    pub max_header_bytes: usize,
    /// Time from a head's first byte to its end.
    pub read_timeout: Duration,
}

enum Verdict {
    Accepted {
        method: Method,
        fields: usize,
        upgrade: bool,
    },
    Refused(ProxyError),
}

#[derive(Default)]
struct Shared {
    verdicts: VecDeque<Verdict>,
    /// The service's answer to a request that may switch protocols.
    switched: Option<bool>,
    /// The service asks the guard to pass nothing more.
    stop: bool,
    waker: Option<Waker>,
}

impl Shared {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// The service's side of a connection's [`FramingGuard`].
#[derive(Clone, Default)]
pub(super) struct Framing(Arc<Mutex<Shared>>);

impl Framing {
    /// Takes the verdict on the request hyper just parsed. `Ok(Some(_))`
    /// for a request that may switch protocols: tell the guard whether it
    /// did with [`ProtocolSwitch::decide`].
    pub(super) fn check<B>(
        &self,
        request: &Request<B>,
    ) -> Result<Option<ProtocolSwitch>, ProxyError> {
        let mut shared = self.0.lock();
        let mismatch = match shared.verdicts.pop_front() {
            Some(Verdict::Accepted {
                method,
                fields,
                upgrade,
            }) if method == request.method() && fields == request.headers().len() => {
                return Ok(upgrade.then(|| ProtocolSwitch {
                    framing: self.clone(),
                    method,
                }));
            }
            Some(Verdict::Refused(error)) => error,
            _ => ProxyError::BadRequest("The request framing could not be verified.".into()),
        };
        shared.stop = true;
        shared.wake();
        Err(mismatch)
    }
}

/// A request that may switch the connection to another protocol; decided
/// once its response is known (undecided when dropped: no switch).
pub(super) struct ProtocolSwitch {
    framing: Framing,
    method: Method,
}

impl ProtocolSwitch {
    /// Reports the response status: hyper switches on a `101`, or a 2xx to
    /// `CONNECT`.
    pub(super) fn decide(self, status: StatusCode) {
        let switched = status == StatusCode::SWITCHING_PROTOCOLS
            || (self.method == Method::CONNECT && status.is_success());
        self.set(switched);
    }

    fn set(&self, switched: bool) {
        let mut shared = self.framing.0.lock();
        if shared.switched.is_none() {
            shared.switched = Some(switched);
            shared.wake();
        }
    }
}

impl Drop for ProtocolSwitch {
    fn drop(&mut self) {
        self.set(false);
    }
}

enum State {
    /// Reading a head; `deadline` runs from its first byte.
    Head { deadline: Option<Pin<Box<Sleep>>> },
    /// Passing `Content-Length` body bytes.
    Length(u64),
    /// Passing a chunked body.
    Chunked(ChunkScanner),
    /// Waiting to learn whether the last request switched protocols.
    AwaitSwitch,
    /// Switched: every byte passes.
    Tunnel,
    /// Nothing more is passed: `eof` ends hyper's reads, else they wait
    /// (so a refusal is still written before hyper closes).
    Stopped { eof: bool },
}

/// An HTTP/1 connection's stream, as hyper reads it; see the module docs.
pub(super) struct FramingGuard<I> {
    io: I,
    input: BytesMut,
    ready: BytesMut,
    state: State,
    /// The request whose body is passing may switch protocols.
    switch_after_body: bool,
    eof: bool,
    limits: HeadLimits,
    shared: Framing,
    activity: Arc<Activity>,
}

impl<I> FramingGuard<I> {
    /// Guards `io`; returns the service's handle with it.
    pub(super) fn new(io: I, limits: HeadLimits, activity: Arc<Activity>) -> (Self, Framing) {
        let shared = Framing::default();
        let guard = FramingGuard {
            io,
            input: BytesMut::new(),
            ready: BytesMut::new(),
            state: State::Head { deadline: None },
            switch_after_body: false,
            eof: false,
            limits,
            shared: shared.clone(),
            activity,
        };
        (guard, shared)
    }

    /// Moves classified bytes from `input` to `ready`; whether any moved
    /// or the state changed.
    fn classify(&mut self) -> bool {
        match &mut self.state {
            State::Head { .. } => self.classify_head(),
            State::Length(remaining) => {
                let take = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                *remaining -= take as u64;
                let done = *remaining == 0;
                self.pass_on(take);
                if done {
                    self.body_done();
                }
                take > 0 || done
            }
            State::Chunked(scanner) => match scanner.scan(&self.input) {
                Ok((used, done)) => {
                    self.pass_on(used);
                    if done {
                        self.body_done();
                    }
                    used > 0 || done
                }
                Err(_) => {
                    // hyper's decoder fails on the same bytes; after them,
                    // end of stream.
                    self.pass_on(self.input.len());
                    self.state = State::Stopped { eof: true };
                    true
                }
            },
            State::Tunnel => {
                let moved = !self.input.is_empty();
                self.pass_on(self.input.len());
                moved
            }
            State::AwaitSwitch | State::Stopped { .. } => false,
        }
    }

    fn classify_head(&mut self) -> bool {
        if self.input.is_empty() {
            return false;
        }
        let limits = self.limits;
        match head::parse(&self.input, limits.max_headers, limits.max_header_bytes) {
            Parsed::Partial => false,
            Parsed::Refused(error) => {
                self.shared
                    .0
                    .lock()
                    .verdicts
                    .push_back(Verdict::Refused(error));
                self.input.clear();
                self.ready.extend_from_slice(REFUSED);
                self.state = State::Stopped { eof: false };
                true
            }
            Parsed::Complete(head) => {
                self.shared.0.lock().verdicts.push_back(Verdict::Accepted {
                    method: head.method,
                    fields: head.fields,
                    upgrade: head.upgrade,
                });
                self.pass_on(head.len);
                self.switch_after_body = head.upgrade;
                self.state = match head.body {
                    BodyFraming::Empty => State::Head { deadline: None },
                    BodyFraming::Length(length) => State::Length(length),
                    BodyFraming::Chunked => State::Chunked(ChunkScanner::new()),
                };
                if head.body == BodyFraming::Empty {
                    self.body_done();
                }
                true
            }
        }
    }

    fn body_done(&mut self) {
        self.state = if std::mem::take(&mut self.switch_after_body) {
            State::AwaitSwitch
        } else {
            State::Head { deadline: None }
        };
    }

    /// Moves the first `n` classified bytes of the input to what hyper may
    /// read. When nothing is waiting there (the usual case: one request
    /// head per read) the bytes change hands without a copy.
    fn pass_on(&mut self, n: usize) {
        let bytes = self.input.split_to(n);
        if self.ready.is_empty() {
            self.ready = bytes;
        } else {
            self.ready.extend_from_slice(&bytes);
        }
    }

    /// Frees the buffers once they hold nothing: between requests an idle
    /// keep-alive connection then keeps no buffer of its own.
    fn release_drained(&mut self) {
        if self.ready.is_empty() && self.ready.capacity() > 0 {
            self.ready = BytesMut::new();
        }
        if self.input.is_empty() && self.input.capacity() > 0 {
            self.input = BytesMut::new();
        }
    }

    /// In [`State::AwaitSwitch`]: the service's answer, if it came.
    fn poll_switch(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut shared = self.shared.0.lock();
        match shared.switched.take() {
            Some(switched) => {
                self.state = if switched {
                    State::Tunnel
                } else {
                    State::Head { deadline: None }
                };
                Poll::Ready(())
            }
            None => {
                shared.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// In [`State::Head`] with part of a head read: starts its deadline at
    /// the first byte, fails once it passed.
    fn poll_head_deadline(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let State::Head { deadline } = &mut self.state else {
            return Ok(());
        };
        if self.input.is_empty() {
            return Ok(());
        }
        let sleep = deadline.get_or_insert_with(|| {
            self.activity.touch();
            Box::pin(tokio::time::sleep(self.limits.read_timeout))
        });
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete request head within the header read timeout",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for FramingGuard<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                this.release_drained();
                return Poll::Ready(Ok(()));
            }
            if this.shared.0.lock().stop {
                this.state = State::Stopped { eof: false };
            }
            match &this.state {
                State::Stopped { eof: true } => return Poll::Ready(Ok(())),
                State::Stopped { eof: false } => return Poll::Pending,
                State::AwaitSwitch => {
                    if this.poll_switch(cx).is_pending() {
                        return Poll::Pending;
                    }
                    continue;
                }
                State::Tunnel if this.input.is_empty() => {
                    return Pin::new(&mut this.io).poll_read(cx, buf);
                }
                _ => {}
            }
            if this.classify() {
                continue;
            }
            this.poll_head_deadline(cx)?;
            if this.eof {
                // Whatever is left is an incomplete head or body.
                return Poll::Ready(Ok(()));
            }
            // Not zeroed: `ReadBuf` hands out only the bytes the read filled.
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => this.eof = true,
                Poll::Ready(Ok(())) => this.input.extend_from_slice(read.filled()),
            }
        }
    }
}

delegate_async_write!(FramingGuard, io);
