//! `Retry-After` for the OAuth client (RFC 9110 §10.2.3): reqwest-retry backs off on its own
//! schedule and never reads the header, so a 429/503 that says when to come back is handled
//! here instead. A short wait (up to [`MAX_HONOURED_WAIT`]) is honoured once; a longer one is
//! returned to the caller at once rather than hammering a server that asked us to stop.
//!
//! A request marked [`OneTimeCredential`] (the code exchange, the refresh, the registration)
//! is never repeated by either middleware: a retry would replay a code or a rotated refresh
//! token, and the authorization server revokes the grant on a replay. The single-flight
//! refresher decides what happens after such a failure.

use std::time::{Duration, SystemTime};

use http::{Extensions, StatusCode, header};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use reqwest_retry::{
    Retryable, RetryableStrategy, default_on_request_failure, default_on_request_success,
};

/// The longest `Retry-After` the client waits for before retrying by itself.
pub const MAX_HONOURED_WAIT: Duration = Duration::from_secs(5);

/// The wait a 429/503 response asks for, if it carries a valid `Retry-After`.
pub(crate) fn retry_after(resp: &Response) -> Option<Duration> {
    if !matches!(
        resp.status(),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        return None;
    }
    let v = resp
        .headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// reqwest-retry's default classification, except that a response carrying `Retry-After` is
/// final for it: [`RetryAfter`] (inside it) already honoured or refused the wait.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RespectRetryAfter;

impl RetryableStrategy for RespectRetryAfter {
    fn handle(&self, res: &Result<Response, reqwest_middleware::Error>) -> Option<Retryable> {
        match res {
            Ok(r) if retry_after(r).is_some() => None,
            Ok(r) => default_on_request_success(r),
            Err(e) => default_on_request_failure(e),
        }
    }
}

/// Waits out a short `Retry-After` once, then returns whatever the second attempt gives.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RetryAfter;

#[async_trait::async_trait]
impl Middleware for RetryAfter {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let again = req.try_clone();
        let resp = next.clone().run(req, extensions).await?;
        match (retry_after(&resp), again) {
            (Some(wait), Some(again)) if wait <= MAX_HONOURED_WAIT => {
                tracing::debug!(wait_ms = wait.as_millis() as u64, status = %resp.status(), "honouring Retry-After");
                drop(resp);
                tokio::time::sleep(wait).await;
                next.run(again, extensions).await
            }
            _ => Ok(resp),
        }
    }
}

/// Request extension: the request carries a one-time credential (an authorization code, a
/// refresh token that rotates) or creates state (a registration), so it must not be repeated
/// automatically. Set it with `RequestBuilder::with_extension(OneTimeCredential)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneTimeCredential;

/// Runs the inner middleware, except for requests marked [`OneTimeCredential`], which go
/// straight to the next one. Hand-written: reqwest-retry has no per-request switch, and its
/// strategy sees only the outcome, not the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnlessOneTime<M>(pub(crate) M);

#[async_trait::async_trait]
impl<M: Middleware> Middleware for UnlessOneTime<M> {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if extensions.get::<OneTimeCredential>().is_some() {
            next.run(req, extensions).await
        } else {
            self.0.handle(req, extensions, next).await
        }
    }
}
