//! A request body its handler left unread is read to its end (and dropped) before the answer
//! goes out. A server that answers and closes with bytes of the request still unread makes the
//! kernel reset the connection, and the reset can destroy the answer before the client reads it:
//! a 400 or 401 that refused a request before its body was read reached edge as a broken
//! connection, which edge reports as a 503. Read to its end, the connection also stays open for
//! the client's next request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt as _;

/// Most bytes read after the answer is ready; a larger rest is left to the reset (edge holds
/// every body to a few MiB before it reaches a service).
const MAX_LEFTOVER_BYTES: usize = 16 << 20;
/// Longest wait for the rest of a body: a client that stops sending does not hold the answer.
const LEFTOVER_DEADLINE: Duration = Duration::from_secs(10);

/// The layer that reads what handlers leave of a request body (see the module).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadLeftoverLayer;

impl<S> tower::Layer<S> for ReadLeftoverLayer {
    type Service = ReadLeftover<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadLeftover { inner }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ReadLeftover<S> {
    inner: S,
}

impl<S> tower::Service<Request> for ReadLeftover<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // A request without a body (most GETs) costs nothing more.
        let leftover = (!request.body().is_end_stream()).then(|| Leftover::wrap(&mut request));
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await;
            if let Some(leftover) = leftover {
                leftover.read_to_end().await;
            }
            response
        })
    }
}

/// The request's body, shared between the handler (which reads it through [`Shared`]) and this
/// layer (which reads what is left once the handler answered).
struct Leftover(Arc<Mutex<Option<Body>>>);

impl Leftover {
    fn wrap(request: &mut Request) -> Self {
        let body = std::mem::take(request.body_mut());
        let shared = Arc::new(Mutex::new(Some(body)));
        *request.body_mut() = Body::new(Shared(Arc::clone(&shared)));
        Self(shared)
    }

    async fn read_to_end(self) {
        let body = self.0.lock().ok().and_then(|mut body| body.take());
        let Some(mut body) = body.filter(|body| !body.is_end_stream()) else {
            return;
        };
        let read = async {
            let mut read = 0;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > MAX_LEFTOVER_BYTES {
                    break;
                }
            }
        };
        // Past the deadline the answer goes out anyway.
        let _ = tokio::time::timeout(LEFTOVER_DEADLINE, read).await;
    }
}

/// The handler's view of the shared body.
struct Shared(Arc<Mutex<Option<Body>>>);

impl http_body::Body for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Ok(mut body) = self.0.lock() else {
            return Poll::Ready(None);
        };
        match body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .map_or(true, |body| body.as_ref().is_none_or(Body::is_end_stream))
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .ok()
            .and_then(|body| body.as_ref().map(Body::size_hint))
            .unwrap_or_default()
    }
}
