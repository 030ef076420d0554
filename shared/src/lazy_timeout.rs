//! A request timeout that costs nothing for requests that finish on their first poll (feature
//! `tower`; both servers use it).
//!
//! tower-http's `TimeoutLayer` registers a tokio timer for every request, and registering a
//! timer earlier than the time driver's next wake-up wakes the driver through its eventfd:
//! one `write(2)` per request, measured with strace on both servers (issue 16 C). Most requests
//! here complete on their first poll once the body is buffered (a `tools/call`, a
//! `client_credentials` token), so the timer is created only when the inner future first
//! returns `Pending`, and the limit counts from that moment. Hand-written: no tower or
//! tower-http layer creates its timer lazily.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tower::{Layer, Service};

/// Layer for [`LazyTimeout`]: answers `status` with an empty body when the inner service has
/// not responded within `limit` of its first `Pending`.
#[derive(Debug, Clone, Copy)]
pub struct LazyTimeoutLayer {
    limit: Duration,
    status: StatusCode,
}

impl LazyTimeoutLayer {
    /// A timeout of `limit` answering `status` (the MCP server: 408; the authorization server:
    /// 503, which its error shaping turns into `temporarily_unavailable`).
    pub fn new(limit: Duration, status: StatusCode) -> Self {
        Self { limit, status }
    }
}

impl<S> Layer<S> for LazyTimeoutLayer {
    type Service = LazyTimeout<S>;
    fn layer(&self, inner: S) -> LazyTimeout<S> {
        LazyTimeout {
            inner,
            layer: *self,
        }
    }
}

/// See [`LazyTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct LazyTimeout<S> {
    inner: S,
    layer: LazyTimeoutLayer,
}

impl<S, B, RB> Service<Request<B>> for LazyTimeout<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Unpin,
    RB: Default,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = LazyTimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        LazyTimeoutFuture {
            inner: self.inner.call(req),
            sleep: None,
            layer: self.layer,
        }
    }
}

/// Future of [`LazyTimeout`].
#[derive(Debug)]
pub struct LazyTimeoutFuture<F> {
    inner: F,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    layer: LazyTimeoutLayer,
}

impl<F, RB, E> Future for LazyTimeoutFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>> + Unpin,
    RB: Default,
{
    type Output = Result<Response<RB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(r) = Pin::new(&mut this.inner).poll(cx) {
            return Poll::Ready(r);
        }
        let limit = this.layer.limit;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let mut res = Response::new(RB::default());
                *res.status_mut() = this.layer.status;
                Poll::Ready(Ok(res))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::ServiceExt as _;

    fn ok() -> Response<String> {
        Response::new("ok".into())
    }

    #[tokio::test]
    async fn a_slow_inner_gets_the_status_and_a_fast_one_passes_without_a_timer() {
        let slow = tower::service_fn(|_req: Request<()>| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(100)).await;
                Ok::<_, Infallible>(ok())
            })
        });
        let layer = LazyTimeoutLayer::new(Duration::from_millis(50), StatusCode::REQUEST_TIMEOUT);
        let r = layer.layer(slow).oneshot(Request::new(())).await.unwrap();
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(r.body(), "");

        let fast =
            tower::service_fn(|_req: Request<()>| Box::pin(async { Ok::<_, Infallible>(ok()) }));
        let mut fut = layer.layer(fast).call(Request::new(()));
        let waker = std::task::Waker::noop();
        let Poll::Ready(Ok(r)) = Pin::new(&mut fut).poll(&mut Context::from_waker(waker)) else {
            panic!("a ready inner future answers on the first poll");
        };
        assert_eq!(r.body(), "ok");
        assert!(
            fut.sleep.is_none(),
            "no timer for a request that finished at once"
        );
    }

    #[tokio::test]
    async fn a_slow_but_timely_inner_passes() {
        let slowish = tower::service_fn(|_req: Request<()>| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<_, Infallible>(ok())
            })
        });
        let layer = LazyTimeoutLayer::new(Duration::from_secs(5), StatusCode::SERVICE_UNAVAILABLE);
        let r = layer
            .layer(slowish)
            .oneshot(Request::new(()))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
