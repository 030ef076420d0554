//! Request timeout that costs nothing for requests that finish on their first poll.
//!
//! tower-http's `TimeoutLayer` registers a tokio timer for every request; on this runtime that
//! meant one extra `write(2)` (the driver's eventfd wake-up) per request, measured with strace.
//! Most MCP requests complete synchronously once the body is buffered, so the timer is created
//! only when the inner future first returns `Pending`; the limit counts from that moment.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use tower::{Layer, Service};

/// Layer for [`LazyTimeout`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LazyTimeoutLayer(pub(crate) Duration);

impl<S> Layer<S> for LazyTimeoutLayer {
    type Service = LazyTimeout<S>;
    fn layer(&self, inner: S) -> LazyTimeout<S> {
        LazyTimeout { inner, d: self.0 }
    }
}

/// Answers 408 when the inner service has not responded within the limit.
#[derive(Debug, Clone)]
pub(crate) struct LazyTimeout<S> {
    inner: S,
    d: Duration,
}

impl<S, B> Service<Request<B>> for LazyTimeout<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = LazyTimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        LazyTimeoutFuture {
            inner: self.inner.call(req),
            sleep: None,
            d: self.d,
        }
    }
}

/// Future of [`LazyTimeout`].
#[derive(Debug)]
pub(crate) struct LazyTimeoutFuture<F> {
    inner: F,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    d: Duration,
}

impl<F> Future for LazyTimeoutFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(r) = Pin::new(&mut this.inner).poll(cx) {
            return Poll::Ready(r);
        }
        let d = this.d;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(d)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ok(StatusCode::REQUEST_TIMEOUT.into_response())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn slow_inner_gets_408_fast_inner_passes() {
        let slow = tower::service_fn(|_req: Request<()>| async {
            tokio::time::sleep(Duration::from_secs(100)).await;
            Ok::<_, Infallible>(StatusCode::OK.into_response())
        });
        let svc = LazyTimeoutLayer(Duration::from_millis(50))
            .layer(tower::util::BoxCloneSyncService::new(slow));
        let r = svc.oneshot(Request::new(())).await.unwrap();
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        let fast = tower::service_fn(|_req: Request<()>| async {
            Ok::<_, Infallible>(StatusCode::OK.into_response())
        });
        let svc = LazyTimeoutLayer(Duration::from_secs(1))
            .layer(tower::util::BoxCloneSyncService::new(fast));
        let r = svc.oneshot(Request::new(())).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
