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

/// Whether `url` has the origin `origin`, compared field by field (scheme, host, port or the
/// scheme's default) without building `url`'s [`Origin`] (which allocates). Like `Origin`'s
/// equality, an opaque origin never matches.
fn same_origin(origin: &Origin, url: &url::Url) -> bool {
    use url::Host;
    let Origin::Tuple(scheme, host, port) = origin else {
        return false;
    };
    scheme == url.scheme()
        && url.port_or_known_default() == Some(*port)
        && match (host, url.host()) {
            (Host::Domain(a), Some(Host::Domain(b))) => a == b,
            (Host::Ipv4(a), Some(Host::Ipv4(b))) => *a == b,
            (Host::Ipv6(a), Some(Host::Ipv6(b))) => *a == b,
            _ => false,
        }
}

/// The first attempt of a request to an allow-listed origin: sends `req` with the manager's
/// current token and returns the response, the token generation used and a clone of `req`
/// for one retry (`None`: a streaming body). A fresh bearer token comes with its header,
/// built once with the token (issue 16 C: no formatting or validation per request); anything
/// else (no token yet, stale, expired, DPoP) goes through [`TokenManager::access_token`].
pub(crate) async fn send_first(
    manager: &TokenManager,
    mut req: Request,
    extensions: &mut Extensions,
    next: Next<'_>,
) -> reqwest_middleware::Result<(Response, u64, Option<Request>)> {
    if let Some((header, generation)) = manager.fresh_bearer_header() {
        let retry = req.try_clone();
        req.headers_mut()
            .insert(http::header::AUTHORIZATION, header);
        return Ok((next.run(req, extensions).await?, generation, retry));
    }
    let (token, generation) = manager.access_token().await.map_err(mw)?;
    let retry = req.try_clone();
    let resp = crate::dpop::send_with_token(next, req, &token, manager.dpop(), extensions).await?;
    Ok((resp, generation, retry))
}

#[async_trait::async_trait]
impl Middleware for BearerAuth {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let url = req.url();
        if !self.origins.iter().any(|o| same_origin(o, url)) {
            // Not ours: pass through untouched (never leak the token to another host).
            return next.run(req, extensions).await;
        }
        if url.scheme() != "https"
            && !self.allow_insecure_http
            && !shared::urls::is_loopback_http(url)
        {
            return Err(mw(ClientError::Config(ConfigError::InsecureHttp(
                url.origin().ascii_serialization(),
            ))));
        }
        let (resp, generation, retry) =
            send_first(&self.manager, req, extensions, next.clone()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The allocation-free origin check agrees with `url::Origin` equality, which it replaced
    /// on the hot path: scheme, host (case-folded by the parser), default and explicit ports,
    /// IPv4 and IPv6, opaque origins never matching (CL-31).
    #[test]
    fn same_origin_agrees_with_origin_equality_cl31() {
        let urls = [
            "http://127.0.0.1:3003/mcp",
            "http://127.0.0.1:3004/mcp",
            "https://127.0.0.1:3003/mcp",
            "http://localhost:3003/mcp",
            "http://LOCALHOST:3003/x",
            "https://api.example/v1/",
            "https://api.example:443/other?q=1",
            "https://api.example:8443/v1/",
            "http://api.example/v1/",
            "https://evil.example/v1/",
            "https://api.example.evil/v1/",
            "http://[::1]:3003/mcp",
            "http://[::1]:3004/mcp",
            "http://[0:0::1]:3003/",
            "http://2130706433:3003/",
            "file:///etc/passwd",
            "data:text/plain,hi",
            "wss://api.example/",
        ];
        let urls: Vec<url::Url> = urls.iter().map(|u| url::Url::parse(u).unwrap()).collect();
        for allowed in &urls {
            let origin = allowed.origin();
            for url in &urls {
                assert_eq!(
                    same_origin(&origin, url),
                    origin == url.origin(),
                    "{allowed} vs {url}"
                );
            }
        }
        assert!(same_origin(&urls[5].origin(), &urls[6]));
        assert!(same_origin(&urls[0].origin(), &urls[14]));
    }
}
