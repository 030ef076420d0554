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
pub(crate) fn same_origin(origin: &Origin, url: &url::Url) -> bool {
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

/// The future [`Middleware::handle`] returns (`reqwest_middleware`'s own `BoxFuture`).
pub(crate) type HandleFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = reqwest_middleware::Result<Response>> + Send + 'a>,
>;

/// Readies `req` (to an allow-listed origin) with the manager's fresh bearer token: takes a
/// clone of it for one retry (`None`: a streaming body), then inserts the `Authorization`
/// header (pre-built once per token set; issue 16 C: no formatting or validation per request);
/// returns the token generation and the clone. `None`, with `req` untouched, when there is no
/// fresh bearer header (no token yet, stale, expired, DPoP): the caller takes
/// [`send_first_slow`].
pub(crate) fn with_fresh_bearer(
    manager: &TokenManager,
    req: &mut Request,
) -> Option<(u64, Option<Request>)> {
    let (header, generation) = manager.fresh_bearer_header()?;
    let retry = req.try_clone();
    req.headers_mut()
        .insert(http::header::AUTHORIZATION, header);
    Some((generation, retry))
}

/// The first attempt without a fresh bearer header: the token from
/// [`TokenManager::access_token`] (which may refresh or re-authorize), presented as a bearer or
/// DPoP token. Callers box it (issue 16 C): its future (token endpoint call, DPoP proof and
/// nonce retry; kilobytes) would otherwise be part of the future of every request, which
/// `reqwest_middleware` allocates and moves per request.
pub(crate) async fn send_first_slow(
    manager: &TokenManager,
    req: Request,
    extensions: &mut Extensions,
    next: Next<'_>,
) -> reqwest_middleware::Result<(Response, u64, Option<Request>)> {
    let (token, generation) = manager.access_token().await.map_err(mw)?;
    let retry = req.try_clone();
    let resp = crate::dpop::send_with_token(next, req, &token, manager.dpop(), extensions).await?;
    Ok((resp, generation, retry))
}

/// What follows the first attempt: its response, or the one retry a 401 or 403 asks for.
pub(crate) enum Then<'a> {
    Done(Response),
    Retry(HandleFuture<'a>),
}

/// After the first attempt with the token of `generation`: a 401 refreshes once and sends
/// `retry` once (CL-34), a 403 `insufficient_scope` steps up once and sends `retry` once
/// (CL-35), anything else is `resp`. Not an `async fn`: the retries are boxed futures of their
/// own (issue 16 C), so only a 401 or 403 allocates them, and neither they nor a copy of
/// `retry` sit in the future every request allocates.
pub(crate) fn retry_if_asked<'a>(
    manager: &'a TokenManager,
    resp: Response,
    generation: u64,
    retry: Request,
    extensions: &'a mut Extensions,
    next: Next<'a>,
) -> Then<'a> {
    match resp.status() {
        StatusCode::UNAUTHORIZED => {
            drop(resp);
            Then::Retry(Box::pin(refresh_and_retry(
                manager, generation, retry, extensions, next,
            )))
        }
        StatusCode::FORBIDDEN => Then::Retry(Box::pin(step_up_and_retry(
            manager, resp, retry, generation, extensions, next,
        ))),
        _ => Then::Done(resp),
    }
}

/// CL-34: after a 401 for the token of `generation`, refreshes once (only if that token is
/// still current) and sends `retry` once with the new token.
async fn refresh_and_retry(
    manager: &TokenManager,
    generation: u64,
    retry: Request,
    extensions: &mut Extensions,
    next: Next<'_>,
) -> reqwest_middleware::Result<Response> {
    tracing::debug!(
        token.generation = generation,
        "401 from resource server; refreshing once"
    );
    let (token, _) = manager.refresh_if_current(generation).await.map_err(mw)?;
    crate::dpop::send_with_token(next, retry, &token, manager.dpop(), extensions).await
}

/// Written out rather than with `#[async_trait]` (the same signature, which that macro would
/// generate): the checks and the header go in before any future is built, so a request to
/// another origin or with a streaming body is passed on with no future of ours at all, and the
/// one a fresh bearer token needs holds only the request, its retry clone and the next
/// middleware's future (issue 16 C: `#[async_trait]` would box the whole body, the slow
/// paths' futures included, for every request).
impl Middleware for BearerAuth {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        mut req: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> HandleFuture<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        let url = req.url();
        if !self.origins.iter().any(|o| same_origin(o, url)) {
            // Not ours: pass through untouched (never leak the token to another host).
            return next.run(req, extensions);
        }
        if url.scheme() != "https"
            && !self.allow_insecure_http
            && !shared::urls::is_loopback_http(url)
        {
            let e = mw(ClientError::Config(ConfigError::InsecureHttp(
                url.origin().ascii_serialization(),
            )));
            return Box::pin(std::future::ready(Err(e)));
        }
        let manager = &self.manager;
        match with_fresh_bearer(manager, &mut req) {
            Some((generation, Some(retry))) => Box::pin(async move {
                let resp = next.clone().run(req, extensions).await?;
                match retry_if_asked(manager, resp, generation, retry, extensions, next) {
                    Then::Done(resp) => Ok(resp),
                    Then::Retry(again) => again.await,
                }
            }),
            // A streaming body: cannot retry, the caller sees the 401/403.
            Some((_, None)) => next.run(req, extensions),
            None => Box::pin(async move {
                let (resp, generation, retry) =
                    send_first_slow(manager, req, extensions, next.clone()).await?;
                let Some(retry) = retry else {
                    return Ok(resp); // streaming body, as above
                };
                match retry_if_asked(manager, resp, generation, retry, extensions, next) {
                    Then::Done(resp) => Ok(resp),
                    Then::Retry(again) => again.await,
                }
            }),
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

    /// The future of [`BearerAuth::handle`], allocated and moved on every request, stays
    /// small: the refresh (CL-34), step-up (CL-35) and slow token paths are boxed on their
    /// own (issue 16 C). Before they were, it was over 3 kB.
    #[tokio::test]
    async fn handle_future_stays_small_without_the_retry_paths_cl34_cl35() {
        use crate::oauth::oauth_http_client;
        use crate::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
        use std::time::Duration;
        let manager = TokenManager::new(
            TokenEndpoint::new(
                url::Url::parse("http://127.0.0.1:9/token").unwrap(),
                ClientCredentials::public("cli"),
                None,
                oauth_http_client(Duration::from_secs(1), Duration::from_secs(1), 0),
            ),
            std::sync::Arc::new(crate::InMemoryTokenStore::default()),
            crate::StoreKey::new("http://127.0.0.1:9", "http://127.0.0.1:9/mcp", "cli"),
            shared::clock::system(),
        );
        let now = shared::clock::system().now_unix();
        let token = AccessToken::new("t".into());
        manager.set_tokens(
            crate::TokenSet::new(token, None, Some(3600), now, None),
            None,
        );
        assert!(manager.fresh_bearer_header().is_some());
        let size = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let url = url::Url::parse("http://127.0.0.1:9/mcp").unwrap();
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(crate::middleware::tests::FutureSize(size.clone()))
            .with(BearerAuth::new(manager, &url))
            .build();
        let err = client.post(url).body("{}").send().await.unwrap_err();
        assert!(err.to_string().contains("size probe"), "{err}");
        let size = size.load(std::sync::atomic::Ordering::SeqCst);
        assert!(size > 0 && size <= 1024, "handle's future is {size} bytes");
    }

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
