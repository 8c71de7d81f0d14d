//! Request bodies across attempts. A buffered body (one a plugin read) is
//! sent again as is. A streamed body can be sent only once; it is lent to
//! an attempt through a [`Lent`] body and can be taken back for the next
//! attempt only if the failed attempt never started reading it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use parking_lot::Mutex;

use crate::body::{self, Body, BoxError};
use crate::data::runtime::MessageBody;

/// The request body as the attempts see it.
pub enum RequestBody {
    /// Bytes that can be sent any number of times.
    Replayable(Bytes),
    /// A stream that may still be unread (`None` once it was read).
    Stream(Option<Body>),
}

/// Where a lent stream is while an attempt has it.
enum Slot {
    Unread(Body),
    Reading,
    Withdrawn,
}

/// A streamed body lent to one attempt.
pub struct Lent {
    slot: Arc<Mutex<Slot>>,
    body: Option<Body>,
}

/// Handle to take a lent stream back if it was never read.
pub struct Loan(Arc<Mutex<Slot>>);

impl RequestBody {
    /// From the body the chain left.
    pub fn new(body: MessageBody) -> Self {
        match body {
            MessageBody::Buffered(bytes) => RequestBody::Replayable(bytes),
            MessageBody::Stream(stream) if stream.is_end_stream() => {
                RequestBody::Replayable(Bytes::new())
            }
            other => RequestBody::Stream(Some(other.into_body())),
        }
    }

    /// Whether another attempt can be given the body.
    pub fn is_available(&self) -> bool {
        !matches!(self, RequestBody::Stream(None))
    }

    /// The body for one attempt, and for a stream the loan to take it back.
    pub fn lend(&mut self) -> (Body, Option<Loan>) {
        match self {
            RequestBody::Replayable(bytes) => (body::full(bytes.clone()), None),
            RequestBody::Stream(stream) => match stream.take() {
                Some(stream) => {
                    let slot = Arc::new(Mutex::new(Slot::Unread(stream)));
                    let lent = Lent {
                        slot: slot.clone(),
                        body: None,
                    };
                    (http_body_util::BodyExt::boxed(lent), Some(Loan(slot)))
                }
                None => (body::empty(), None),
            },
        }
    }

    /// After a failed attempt: takes the stream back if it was never read,
    /// so the next attempt can send it.
    pub fn take_back(&mut self, loan: Option<Loan>) {
        if let (RequestBody::Stream(stream @ None), Some(Loan(slot))) = (self, loan) {
            let mut slot = slot.lock();
            if let Slot::Unread(body) = std::mem::replace(&mut *slot, Slot::Withdrawn) {
                *stream = Some(body);
            } else {
                *slot = Slot::Reading;
            }
        }
    }
}

impl HttpBody for Lent {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.body.is_none() {
            let mut slot = self.slot.lock();
            match std::mem::replace(&mut *slot, Slot::Reading) {
                Slot::Unread(body) => {
                    drop(slot);
                    self.body = Some(body);
                }
                Slot::Withdrawn => {
                    *slot = Slot::Withdrawn;
                    // Never end the stream early: that would send a
                    // truncated request.
                    return Poll::Ready(Some(Err("request body withdrawn for a retry".into())));
                }
                Slot::Reading => return Poll::Ready(None),
            }
        }
        match self.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.body {
            Some(body) => body.is_end_stream(),
            None => match &*self.slot.lock() {
                Slot::Unread(body) => body.is_end_stream(),
                _ => false,
            },
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.body {
            Some(body) => body.size_hint(),
            None => match &*self.slot.lock() {
                Slot::Unread(body) => body.size_hint(),
                _ => SizeHint::default(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn stream(text: &'static str) -> MessageBody {
        let frames = vec![Ok::<_, BoxError>(Frame::data(Bytes::from_static(
            text.as_bytes(),
        )))];
        MessageBody::Stream(BodyExt::boxed(StreamBody::new(futures::stream::iter(
            frames,
        ))))
    }

    #[tokio::test]
    async fn an_unread_stream_comes_back_a_read_one_does_not() {
        let mut body = RequestBody::new(stream("payload"));
        let (lent, loan) = body.lend();
        drop(lent);
        body.take_back(loan);
        assert!(body.is_available(), "never read: available again");

        let (lent, loan) = body.lend();
        let sent = lent.collect().await.unwrap().to_bytes();
        assert_eq!(sent, "payload");
        body.take_back(loan);
        assert!(!body.is_available(), "read once: gone");

        let mut buffered = RequestBody::new(MessageBody::Buffered(Bytes::from_static(b"x")));
        for _ in 0..2 {
            let (lent, _) = buffered.lend();
            assert_eq!(lent.collect().await.unwrap().to_bytes(), "x");
        }
    }

    #[tokio::test]
    async fn a_withdrawn_loan_fails_instead_of_ending_early() {
        let mut body = RequestBody::new(stream("payload"));
        let (lent, loan) = body.lend();
        body.take_back(loan);
        assert!(lent.collect().await.is_err());
    }
}
