//! The MCP endpoint's POST without the router (issue 16 B, the `stack` step): inside the
//! Origin/Host guard, `POST <mcp path>` goes straight to auth → timeout → the handler, and
//! everything else to the axum [`Router`]. The router would add, per request, a path match,
//! a boxed route service, and the `OriginalUri`, `MatchedPath` and body-limit extension
//! inserts (an extension map allocated just for them); none of those is read on this path.
//!
//! The checks are the same on both paths: the guard is outside [`Front`], the auth layer is
//! the same [`JwtAuthLayer`] (or the unprotected fixture's anonymous context), the timeout is
//! the same [`LazyTimeoutLayer`], and the body limit is the handler's own (`App::max_body`,
//! 413 when exceeded: the router's `DefaultBodyLimit` only configures axum's body
//! extractors, which the MCP POST does not use).
//!
//! Hand-written (no crate does "one route outside the router"): a two-way `match` on method
//! and path.
//!
//! A route added to the router for `POST <mcp path>` would never be reached: [`Front`]
//! answers that method and path first (ADR 0015).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use futures_util::future::{BoxFuture, Either};
use http::Method;
use tower::{Layer as _, Service};

use super::App;
use crate::auth::{AuthContext, JwtAuth, JwtAuthLayer};
use shared::lazy_timeout::{LazyTimeout, LazyTimeoutFuture, LazyTimeoutLayer};

/// The POST handler of the MCP endpoint (the real one, or a cost-ladder step's).
pub(crate) type PostFn = fn(Arc<App>, Request) -> BoxFuture<'static, Result<Response, Infallible>>;

/// Calls the [`PostFn`] with the shared [`App`]; the unprotected fixture's anonymous context
/// is inserted here (what the fixture's `map_request` layer does on the router).
#[derive(Clone)]
pub(crate) struct McpPost {
    app: Arc<App>,
    handler: PostFn,
    anonymous: Option<Arc<AuthContext>>,
}

impl std::fmt::Debug for McpPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpPost").finish_non_exhaustive()
    }
}

impl Service<Request> for McpPost {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        if let Some(a) = &self.anonymous {
            req.extensions_mut().insert(a.clone());
        }
        (self.handler)(self.app.clone(), req)
    }
}

type Timed = LazyTimeout<McpPost>;

/// The MCP POST service: with the auth layer, or (unprotected fixture, ladder `stack` step)
/// without.
#[derive(Clone, Debug)]
pub(crate) enum PostService {
    Protected(JwtAuth<Timed>),
    Open(Timed),
}

impl PostService {
    /// `handler` behind `auth` (or, without one, with `anonymous` inserted) and the timeout.
    pub(crate) fn new(
        app: Arc<App>,
        handler: PostFn,
        auth: Option<&JwtAuthLayer>,
        anonymous: Option<Arc<AuthContext>>,
        timeout: LazyTimeoutLayer,
    ) -> Self {
        let timed = timeout.layer(McpPost {
            app,
            handler,
            anonymous,
        });
        match auth {
            Some(a) => Self::Protected(a.layer(timed)),
            None => Self::Open(timed),
        }
    }
}

type TimedFuture = LazyTimeoutFuture<BoxFuture<'static, Result<Response, Infallible>>>;
type ProtectedFuture = <JwtAuth<Timed> as Service<Request>>::Future;

/// The future of [`Front`].
pub(crate) type FrontFuture = Either<Either<ProtectedFuture, TimedFuture>, RouteFuture<Infallible>>;

/// `POST <path>` to [`PostService`], anything else to the router.
#[derive(Clone, Debug)]
pub(crate) struct Front {
    path: Arc<str>,
    post: Option<PostService>,
    router: Router,
}

impl Front {
    /// `post` serves `POST path`; `None`: everything goes to `router`.
    pub(crate) fn new(path: &str, post: Option<PostService>, router: Router) -> Self {
        Self {
            path: path.into(),
            post,
            router,
        }
    }
}

impl Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router, the auth layer, the timeout and the handler are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match &mut self.post {
            Some(post) if req.method() == Method::POST && req.uri().path() == &*self.path => {
                Either::Left(match post {
                    PostService::Protected(s) => Either::Left(s.call(req)),
                    PostService::Open(s) => Either::Right(s.call(req)),
                })
            }
            _ => Either::Right(self.router.call(req)),
        }
    }
}
