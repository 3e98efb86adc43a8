//! Request body limits at the door. Each service stops reading a body past its limit and
//! answers 413 before the upload is over; had edge sent it the whole body, the service's early
//! answer would race edge's writes to a closed connection and turn into a 503 about one time in
//! four (which SDKs retry for ever). So edge knows each route's limit and refuses a larger body
//! itself: one that says its size (`Content-Length`) before anything is sent on, one that does
//! not (chunked) once the bytes counted on the way pass the limit.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use futures_util::StreamExt as _;

/// Whether `headers` announce a body over `limit` bytes.
pub(crate) fn announced_over(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .and_then(|length| length.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64)
}

/// How much of a refused body edge reads on, and drops, after answering, and for how long.
/// A client still sending when its answer arrives only reads that answer if its writes go on
/// being taken: a connection closed under them is reset, and the reset can take the answer
/// with it. Past either bound the connection is cut all the same.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// Reads the rest of a refused `body` in the background and drops it (see [`DRAIN_BYTES`]).
pub(crate) fn drain(body: Body) {
    tokio::spawn(async move {
        let mut chunks = body.into_data_stream();
        let mut seen = 0_usize;
        let read_on = async {
            while let Some(Ok(chunk)) = chunks.next().await {
                seen += chunk.len();
                if seen > DRAIN_BYTES {
                    break;
                }
            }
        };
        // Both ends are bounds, not failures: the client gets its connection closed.
        let _ = tokio::time::timeout(DRAIN_TIME, read_on).await;
    });
}

/// Set once a [`Forwarded`] body passed its limit, for the caller that forwarded it to tell its
/// own refusal from an upstream failure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overflow(Arc<AtomicBool>);

impl Overflow {
    pub(crate) fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A request body on its way to a service. It passes as it comes until more than its limit has
/// come; then it fails instead of passing the chunk that went over, so the service never reads
/// past its limit and the request ends on edge's side. Dropped before its end (the service
/// answered early and hyper stopped sending, or it went over), it drains the rest, so the
/// client, still sending, reads its answer instead of a reset.
pub(crate) struct Forwarded {
    body: Body,
    left: usize,
    overflow: Overflow,
    /// The body gave its last frame, or was handed to [`drain`].
    done: bool,
}

impl Forwarded {
    pub(crate) fn new(body: Body, limit: usize) -> (Self, Overflow) {
        let overflow = Overflow::default();
        let forwarded = Self {
            body,
            left: limit,
            overflow: overflow.clone(),
            done: false,
        };
        (forwarded, overflow)
    }
}

impl http_body::Body for Forwarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(err))) => {
                this.done = true;
                return Poll::Ready(Some(Err(err.into())));
            }
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            match this.left.checked_sub(data.len()) {
                Some(left) => this.left = left,
                None => {
                    this.overflow.0.store(true, Ordering::Relaxed);
                    this.done = true;
                    drain(std::mem::take(&mut this.body));
                    return Poll::Ready(Some(Err("the body is larger than its limit".into())));
                }
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Forwarded {
    fn drop(&mut self) {
        if !self.done && !http_body::Body::is_end_stream(&self.body) {
            drain(std::mem::take(&mut self.body));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_a_length_over_the_limit_is_refused_up_front() {
        let with_length = |length: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static(length));
            headers
        };
        assert!(announced_over(&with_length("1048577"), 1_048_576));
        assert!(!announced_over(&with_length("1048576"), 1_048_576));
        assert!(!announced_over(&HeaderMap::new(), 0), "chunked: counted");
        assert!(
            !announced_over(&with_length("99999999999999999999999"), 1_048_576),
            "a length that does not parse is hyper's to refuse"
        );
    }
}
