//! The OAuth side: `WWW-Authenticate` parsing ([`challenge`]), metadata [`discovery`],
//! client [`registration`], the authorization request and redirect validation
//! ([`authorize`]), the [`token_endpoint`] and the [`login`] flows (headless and loopback).
//!
//! Every call here goes through a *plain* HTTP client with redirects disabled
//! ([`oauth_http_client`]), never through the bearer middleware, so no token can leak into
//! discovery and the token endpoint cannot re-enter the refresher.

pub mod authorize;
pub mod challenge;
pub mod discovery;
pub mod enterprise;
pub mod login;
pub mod registration;
mod retry;
pub mod targets;
pub mod token_endpoint;

use std::time::Duration;

use reqwest_middleware::ClientWithMiddleware;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;

pub use retry::{MAX_HONOURED_WAIT, OneTimeCredential};

/// A plain client for discovery, registration and the token endpoint: redirects disabled
/// (SSRF note in oauth2-rs), timeouts, and transient failures (connection errors, 5xx, 429)
/// retried with exponential backoff and jitter (reqwest-retry). A 429/503 with `Retry-After`
/// is retried once after the wait it asks for when that is at most [`MAX_HONOURED_WAIT`], and
/// returned to the caller at once otherwise.
///
/// Requests marked [`OneTimeCredential`] (code exchange, refresh, registration) are never
/// retried by the client: they go out once and their failure is returned (CL-33).
pub fn oauth_http_client(
    request_timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
) -> ClientWithMiddleware {
    oauth_http_client_with_roots(request_timeout, connect_timeout, max_retries, &[])
}

/// [`oauth_http_client`] that also trusts extra root certificates (a private CA).
pub fn oauth_http_client_with_roots(
    request_timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
    roots: &[reqwest::Certificate],
) -> ClientWithMiddleware {
    oauth_http_client_inner(request_timeout, connect_timeout, max_retries, roots, None)
}

/// [`oauth_http_client_with_roots`], with a resolver that refuses local addresses (CL-08).
pub(crate) fn oauth_http_client_inner(
    request_timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
    roots: &[reqwest::Certificate],
    resolver: Option<targets::PublicOnly>,
) -> ClientWithMiddleware {
    let mut builder = with_roots(reqwest::Client::builder(), roots)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(request_timeout)
        .connect_timeout(connect_timeout)
        .user_agent(concat!("http-oauth2-client/", env!("CARGO_PKG_VERSION")));
    if let Some(r) = resolver {
        builder = builder.dns_resolver(std::sync::Arc::new(r));
    }
    let client = builder.build().unwrap_or_else(|_| reqwest::Client::new());
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(50), Duration::from_secs(2))
        .build_with_max_retries(max_retries);
    reqwest_middleware::ClientBuilder::new(client)
        .with(
            // reqwest-retry logs each retry at WARN with a custom strategy (its log-level
            // setter exists only for the default strategy); the CLI filters it out unless -v.
            retry::UnlessOneTime(RetryTransientMiddleware::new_with_policy_and_strategy(
                policy,
                retry::RespectRetryAfter,
            )),
        )
        .with(retry::UnlessOneTime(retry::RetryAfter))
        .build()
}

/// Adds extra trusted root certificates to a client builder.
pub(crate) fn with_roots(
    mut builder: reqwest::ClientBuilder,
    roots: &[reqwest::Certificate],
) -> reqwest::ClientBuilder {
    for r in roots {
        builder = builder.add_root_certificate(r.clone());
    }
    builder
}

/// Reads a body of at most `limit` bytes.
pub(crate) async fn read_limited(
    resp: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, crate::ClientError> {
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(crate::ClientError::ResponseTooLarge { limit });
    }
    let b = resp.bytes().await?;
    if b.len() > limit {
        return Err(crate::ClientError::ResponseTooLarge { limit });
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::extract::Path;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use shared::pkce::PkceVerifier;
    use shared::secret::{AuthorizationCode, RefreshToken};

    use super::*;
    use crate::ClientError;
    use crate::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};

    #[derive(Default)]
    struct Hits {
        post: AtomicUsize,
        get: AtomicUsize,
    }

    /// POST `/{mode}/{endpoint}` always fails: mode `500`, or mode `ra` (503 with
    /// `Retry-After: 0`). GET `/meta` fails once with 500, then answers 200.
    async fn failing_server(hits: Arc<Hits>) -> String {
        let h = hits.clone();
        let posts = move |Path((mode, _)): Path<(String, String)>| {
            let h = h.clone();
            async move {
                h.post.fetch_add(1, Ordering::SeqCst);
                let mut headers = HeaderMap::new();
                if mode == "ra" {
                    headers.insert("retry-after", "0".parse().unwrap());
                    (StatusCode::SERVICE_UNAVAILABLE, headers)
                } else {
                    (StatusCode::INTERNAL_SERVER_ERROR, headers)
                }
            }
        };
        let gets = move || {
            let h = hits.clone();
            async move {
                match h.get.fetch_add(1, Ordering::SeqCst) {
                    0 => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::OK,
                }
            }
        };
        let app = Router::new()
            .route("/{mode}/{endpoint}", post(posts))
            .route("/meta", get(gets));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        base
    }

    /// Issue 11 item 12 (CL-33, P-12): the code exchange, the refresh and the registration
    /// carry one-time credentials (or create state), so the retry middleware never repeats
    /// them, neither after a 5xx nor after a short `Retry-After`; discovery GETs still are.
    #[tokio::test]
    async fn one_time_credential_posts_are_never_auto_retried_cl33() {
        let hits = Arc::new(Hits::default());
        let base = failing_server(hits.clone()).await;
        let http = oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 2);
        let posts = || hits.post.load(Ordering::SeqCst);
        for mode in ["500", "ra"] {
            let ep = TokenEndpoint::new(
                format!("{base}/{mode}/token").parse().unwrap(),
                ClientCredentials::public("cli"),
                Some("http://127.0.0.1:1/mcp".into()),
                http.clone(),
            );
            let before = posts();
            let e = ep
                .exchange_code(
                    &AuthorizationCode::new("code-1".into()),
                    &PkceVerifier::generate(),
                    "http://127.0.0.1/callback",
                )
                .await
                .unwrap_err();
            assert!(e.status().is_some(), "{e:?}");
            assert_eq!(posts() - before, 1, "{mode}: the code exchange was retried");

            let before = posts();
            ep.refresh(&RefreshToken::new("rt-1".into()), None)
                .await
                .unwrap_err();
            assert_eq!(posts() - before, 1, "{mode}: the refresh was retried");

            let meta: shared::oauth::AuthorizationServerMetadata =
                serde_json::from_value(serde_json::json!({
                    "issuer": base,
                    "authorization_endpoint": format!("{base}/authorize"),
                    "token_endpoint": format!("{base}/{mode}/token"),
                    "registration_endpoint": format!("{base}/{mode}/register"),
                    "code_challenge_methods_supported": ["S256"],
                    "response_types_supported": ["code"],
                }))
                .unwrap();
            let before = posts();
            let e = registration::register_client(
                &http,
                &meta,
                &["http://127.0.0.1/callback".into()],
                "t",
                None,
            )
            .await
            .unwrap_err();
            assert!(matches!(e, ClientError::Registration { .. }), "{e:?}");
            assert_eq!(posts() - before, 1, "{mode}: the registration was retried");
        }

        // A discovery GET is still retried after a 500.
        let r = http.get(format!("{base}/meta")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(hits.get.load(Ordering::SeqCst), 2);
    }
}
