//! Issue 16 C: the future `reqwest_middleware` allocates and moves for every request through
//! [`AuthOnDemand`] once a session exists (its hot path, as [`http_oauth2_client::BearerAuth`]'s)
//! holds the request, its retry clone and the next middleware's future, not the
//! discovery, login, migration, refresh and step-up futures (7.7 kB before).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::Extensions;
use http_oauth2_client::{AuthOnDemand, OAuthConfig};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

/// Records the size of the next middleware's future, drops it unpolled and fails the
/// request: nothing is sent.
struct FutureSize(Arc<AtomicUsize>);

/// Written out: the signature `#[async_trait]` gives the trait's method.
impl Middleware for FutureSize {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> Pin<Box<dyn Future<Output = reqwest_middleware::Result<Response>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        let fut = next.run(req, extensions);
        self.0.store(std::mem::size_of_val(&*fut), Ordering::SeqCst);
        drop(fut);
        Box::pin(std::future::ready(Err(
            reqwest_middleware::Error::middleware(std::io::Error::other("size probe")),
        )))
    }
}

/// A REST API behind the MCP server's `JwtAuthLayer` (real authorization server, real
/// challenge); the first request logs in headlessly, then the session's requests are probed.
#[tokio::test]
async fn auth_on_demand_future_with_a_session_stays_small_cl34_cl35() {
    let (api, _a) = tests::protected_rest_api(axum::Router::new().route(
        "/api/items",
        axum::routing::post(|body: String| async move { format!("got {}", body.len()) }),
    ))
    .await;

    let auth = AuthOnDemand::new(OAuthConfig::builder(&api).headless().build().unwrap());
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth.clone())
        .build();
    let items = format!("{api}/items");
    let r = client.post(&items).body("{}").send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "got 2");
    assert!(auth.session().is_some(), "logged in on the first 401");

    let size = Arc::new(AtomicUsize::new(0));
    let probed = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(FutureSize(size.clone()))
        .with(auth.clone())
        .build();
    let e = probed.post(&items).body("{}").send().await.unwrap_err();
    assert!(e.to_string().contains("size probe"), "{e}");
    let size = size.load(Ordering::SeqCst);
    assert!(size > 0 && size <= 1024, "the future is {size} bytes");
    // The session still serves requests as before.
    let r = client.post(&items).body("{}").send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "got 2");
    assert_eq!(auth.authorizations(), 1);
}
