//! [`BearerAuth`]: a `reqwest_middleware::Middleware` (after aliri_reqwest) that
//! * attaches `Authorization: Bearer` (marked sensitive) only to allow-listed origins, and
//!   never over plain http to a non-loopback host unless insecure http was allowed (CL-30);
//! * takes the token from a [`TokenManager`] (proactive, single-flight refresh);
//! * on a 401 refreshes once (only if the token used is still current) and retries the
//!   cloned request once (CL-34);
//! * on a 403 `insufficient_scope` steps up with the union of scopes once and retries once
//!   (CL-35).
//!
//! ```no_run
//! # fn f(manager: http_oauth2_client::TokenManager) {
//! use http_oauth2_client::BearerAuth;
//! let url = url::Url::parse("https://api.example/v1/").unwrap();
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(BearerAuth::new(manager, &url))
//!     .build();
//! # }
//! ```

use http::{Extensions, HeaderValue, StatusCode};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use shared::scope::ScopeSet;
use shared::secret::AccessToken;
use url::Origin;

use crate::error::{ClientError, ConfigError};
use crate::token::TokenManager;

/// The bearer-token middleware. See the module docs.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    manager: TokenManager,
    origins: Vec<Origin>,
    allow_insecure_http: bool,
}

impl BearerAuth {
    /// Sends tokens from `manager` to `resource_url`'s origin only.
    pub fn new(manager: TokenManager, resource_url: &url::Url) -> Self {
        Self {
            manager,
            origins: vec![resource_url.origin()],
            allow_insecure_http: false,
        }
    }
    /// Also sends tokens to `origin`.
    pub fn allow_origin(mut self, origin: Origin) -> Self {
        self.origins.push(origin);
        self
    }
    /// Allows plain http to non-loopback allow-listed origins (development only).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
    /// The token manager.
    pub fn manager(&self) -> &TokenManager {
        &self.manager
    }
}

pub(crate) fn with_token(mut req: Request, token: &AccessToken) -> Result<Request, ClientError> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|_| {
        ClientError::Protocol("the access token contains characters not allowed in a header".into())
    })?;
    v.set_sensitive(true);
    req.headers_mut().insert(http::header::AUTHORIZATION, v);
    Ok(req)
}

pub(crate) fn mw(e: ClientError) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(e)
}

#[async_trait::async_trait]
impl Middleware for BearerAuth {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let url = req.url().clone();
        if !self.origins.contains(&url.origin()) {
            // Not ours: pass through untouched (never leak the token to another host).
            return next.run(req, extensions).await;
        }
        if url.scheme() != "https"
            && !self.allow_insecure_http
            && !shared::urls::is_loopback_http(&url)
        {
            return Err(mw(ClientError::Config(ConfigError::InsecureHttp(
                url.origin().ascii_serialization(),
            ))));
        }
        let (token, generation) = self.manager.access_token().await.map_err(mw)?;
        let retry = req.try_clone();
        let resp = crate::dpop::send_with_token(
            next.clone(),
            req,
            &token,
            self.manager.dpop(),
            extensions,
        )
        .await?;
        let Some(retry) = retry else {
            return Ok(resp); // streaming body: cannot retry, the caller sees the 401/403
        };
        match resp.status() {
            StatusCode::UNAUTHORIZED => {
                tracing::debug!(
                    token.generation = generation,
                    "401 from resource server; refreshing once"
                );
                let (token, _) = self
                    .manager
                    .refresh_if_current(generation)
                    .await
                    .map_err(mw)?;
                crate::dpop::send_with_token(next, retry, &token, self.manager.dpop(), extensions)
                    .await
            }
            StatusCode::FORBIDDEN => {
                step_up_and_retry(&self.manager, resp, retry, generation, extensions, next).await
            }
            _ => Ok(resp),
        }
    }
}

/// CL-35: on a 403 `insufficient_scope`, steps up with the union of scopes once and sends
/// `retry` once with the new token; otherwise returns `resp` unchanged.
pub(crate) async fn step_up_and_retry(
    manager: &TokenManager,
    resp: Response,
    retry: Request,
    generation: u64,
    extensions: &mut Extensions,
    next: Next<'_>,
) -> reqwest_middleware::Result<Response> {
    let Some(ch) = crate::oauth::challenge::insufficient_scope_challenge(resp.headers()) else {
        return Ok(resp);
    };
    let challenged = ScopeSet::parse(ch.scope().unwrap_or(""));
    if challenged.is_empty() {
        return Ok(resp);
    }
    match manager.step_up(&challenged, generation).await.map_err(mw)? {
        Some((token, _)) => {
            crate::dpop::send_with_token(next, retry, &token, manager.dpop(), extensions).await
        }
        None => Ok(resp),
    }
}
