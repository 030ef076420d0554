//! reqwest-middleware pieces: [`BearerAuth`] attaches tokens, refreshes on 401 and steps up
//! on 403; [`AuthOnDemand`] does the same once a server has asked for authorization, and
//! runs discovery, registration and login on that first 401 (ADR 0006). Reusable on any
//! `reqwest` client, MCP or not.

pub(crate) mod bearer;
mod on_demand;

pub use bearer::BearerAuth;
pub use on_demand::AuthOnDemand;

#[cfg(test)]
pub(crate) mod tests {
    use http::Extensions;
    use reqwest::{Request, Response};
    use reqwest_middleware::{Middleware, Next};

    /// Records the size of the future of the middleware after it (which `reqwest_middleware`
    /// allocates per request), drops it unpolled and fails the request: nothing is sent.
    pub(crate) struct FutureSize(pub(crate) std::sync::Arc<std::sync::atomic::AtomicUsize>);

    #[async_trait::async_trait]
    impl Middleware for FutureSize {
        async fn handle(
            &self,
            req: Request,
            extensions: &mut Extensions,
            next: Next<'_>,
        ) -> reqwest_middleware::Result<Response> {
            let fut = next.run(req, extensions);
            self.0.store(
                std::mem::size_of_val(&*fut),
                std::sync::atomic::Ordering::SeqCst,
            );
            drop(fut);
            Err(reqwest_middleware::Error::middleware(
                std::io::Error::other("size probe"),
            ))
        }
    }
}
