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
pub mod login;
pub mod registration;
mod retry;
pub mod token_endpoint;

use std::time::Duration;

use reqwest_middleware::ClientWithMiddleware;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;

pub use retry::MAX_HONOURED_WAIT;

/// A plain client for discovery, registration and the token endpoint: redirects disabled
/// (SSRF note in oauth2-rs), timeouts, and transient failures (connection errors, 5xx, 429)
/// retried with exponential backoff and jitter (reqwest-retry). A 429/503 with `Retry-After`
/// is retried once after the wait it asks for when that is at most [`MAX_HONOURED_WAIT`], and
/// returned to the caller at once otherwise.
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
    let client = with_roots(reqwest::Client::builder(), roots)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(request_timeout)
        .connect_timeout(connect_timeout)
        .user_agent(concat!("http-oauth2-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(50), Duration::from_secs(2))
        .build_with_max_retries(max_retries);
    reqwest_middleware::ClientBuilder::new(client)
        .with(
            // reqwest-retry logs each retry at WARN with a custom strategy (its log-level
            // setter exists only for the default strategy); the CLI filters it out unless -v.
            RetryTransientMiddleware::new_with_policy_and_strategy(
                policy,
                retry::RespectRetryAfter,
            ),
        )
        .with(retry::RetryAfter)
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
