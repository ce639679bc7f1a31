//! A request body's deadline, and the answer when it passes.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};

/// A request body that must arrive in full by a deadline, counted from its head: without
/// one, a client sending a byte now and then holds a request (and a connection) for ever.
/// (tower-http's body timeout restarts at every chunk, so it does not bound that.)
pub struct DeadlineBody<F> {
    inner: Incoming,
    deadline: tokio::time::Instant,
    /// Made on the first wait only: most bodies arrive with their head.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Called when the deadline passes, so the response can say so.
    on_timeout: Option<F>,
}

impl<F: FnOnce()> DeadlineBody<F> {
    pub fn new(inner: Incoming, deadline: tokio::time::Instant, on_timeout: F) -> Self {
        Self {
            inner,
            deadline,
            timer: None,
            on_timeout: Some(on_timeout),
        }
    }
}

impl<F: FnOnce() + Unpin> hyper::body::Body for DeadlineBody<F> {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_ready() {
            if let Some(on_timeout) = this.on_timeout.take() {
                on_timeout();
            }
            return Poll::Ready(Some(Err("the request body did not arrive in time".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What a request whose body ran out of time gets, whatever the handler made of the error:
/// a 408, and the connection closed (the rest of the body may still be on its way).
pub fn body_timeout_response() -> Response<Body> {
    let mut res = Response::new(Body::from("The request body did not arrive in time.\n"));
    *res.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}
