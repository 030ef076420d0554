//! [`AuthOnDemand`]: authentication only when a server asks for it (issue 12 part A,
//! ADR 0006).
//!
//! Requests go out without a token until a response to one of them says that authorization
//! is needed: a 401 with a `Bearer` challenge, or a 403 `insufficient_scope`. Then the
//! middleware discovers the protected-resource and authorization-server metadata (from the
//! challenge's `resource_metadata`, else the well-known URLs), obtains a client id
//! (pre-registered, client metadata document, stored or dynamic registration), gets tokens
//! through the configured [`crate::oauth::login::LoginFlow`] (browser, headless, client
//! credentials, or `LoginMode::Never`, which fails with
//! [`ClientError::AuthorizationRequired`]), stores them under (issuer, resource, client id)
//! and sends the request **once** more with the token. From then on it behaves like
//! [`super::BearerAuth`] (refresh on 401, step-up on 403).
//!
//! * **No probe**: nothing is sent that exists only for discovery; a server that never asks
//!   sees no OAuth request, and the token store stays untouched.
//! * **Single-flight**: concurrent requests that hit the first 401 together wait for one
//!   discovery + registration + login (an epoch counter behind a `tokio` mutex held only by
//!   requests that got a challenge); the others then retry with its token.
//! * **Body that cannot be cloned** (a stream): it cannot be sent twice. The login still
//!   runs, and the request fails with [`ClientError::NotReplayed`]: send it again.
//! * **Authorization-server migration**: a 401 while a session exists re-reads the
//!   protected-resource metadata; when it no longer names the session's issuer, the client
//!   discovers the new one, registers there (pre-registered credentials stay bound to their
//!   issuer) and logs in again instead of presenting the old issuer's tokens forever.
//!
//! The hot path (a session exists, its token is fresh) adds one lock-free load of the
//! session (an `ArcSwapOption`: no lock, no allocation) to [`super::BearerAuth`]'s work.
//! With a session, a request whose body is a stream gets the server's 401/403 back as a
//! response, as with [`super::BearerAuth`].
//!
//! ```no_run
//! # async fn f() -> Result<(), http_oauth2_client::ClientError> {
//! use http_oauth2_client::{AuthOnDemand, McpClient, OAuthConfig};
//! let config = OAuthConfig::builder("http://127.0.0.1:3003/mcp").headless().build()?;
//! let auth = AuthOnDemand::new(config);
//! let mcp = McpClient::connect(auth.client()?, auth.server_url().clone()).await?;
//! let tools = mcp.list_tools().await?;
//! match auth.session() {
//!     Some(s) => println!("{} tools, authorized by {}", tools.len(), s.issuer()),
//!     None => println!("{} tools, no authorization needed", tools.len()),
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwapOption;
use http::{Extensions, StatusCode};
use reqwest::{Request, Response};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use url::Origin;

use super::bearer::{
    HandleFuture, Then, mw, same_origin, send_first_slow, step_up_and_retry, with_fresh_bearer,
};
use crate::config::OAuthConfig;
use crate::error::{ClientError, ConfigError};
use crate::oauth::challenge::{Challenge, bearer_challenge, dpop_challenge};
use crate::oauth::discovery;
use crate::session::OAuthSession;

/// The on-demand authentication middleware. See the module docs. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct AuthOnDemand {
    inner: Arc<Shared>,
}

struct Shared {
    config: OAuthConfig,
    origins: Vec<Origin>,
    oauth_http: ClientWithMiddleware,
    current: ArcSwapOption<Established>,
    gate: tokio::sync::Mutex<Gate>,
    authorizations: AtomicU64,
}

/// Guarded by the gate: only requests that were challenged take it.
#[derive(Debug, Default)]
struct Gate {
    /// Bumped whenever a new session is published.
    epoch: u64,
    /// The issuer the pre-registered credentials are bound to, once known.
    preregistered_at: Option<String>,
}

#[derive(Debug)]
struct Established {
    session: OAuthSession,
    epoch: u64,
}

impl std::fmt::Debug for AuthOnDemand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cur = self.inner.current.load();
        f.debug_struct("AuthOnDemand")
            .field("server_url", &self.inner.config.server_url.as_str())
            .field(
                "issuer",
                &cur.as_ref().map(|e| e.session.issuer().to_owned()),
            )
            .finish_non_exhaustive()
    }
}

impl AuthOnDemand {
    /// Authentication on demand for `config`'s server (the resource: its origin, and the
    /// configured extra origins, are the only ones that ever get a token).
    pub fn new(config: OAuthConfig) -> Self {
        let mut origins = vec![config.server_url.origin()];
        origins.extend(config.extra_origins.iter().cloned());
        let (oauth_http, _) = crate::session::oauth_clients(&config);
        Self {
            inner: Arc::new(Shared {
                config,
                origins,
                oauth_http,
                current: ArcSwapOption::empty(),
                gate: tokio::sync::Mutex::new(Gate::default()),
                authorizations: AtomicU64::new(0),
            }),
        }
    }

    /// An HTTP client for the server carrying this middleware: same-origin redirects only
    /// (at most 5), the configured timeouts and root certificates. Every client made here
    /// shares this middleware's session.
    pub fn client(&self) -> Result<ClientWithMiddleware, ClientError> {
        crate::session::http_client_with(&self.inner.config, self.clone())
    }

    /// The configured server URL (the resource).
    pub fn server_url(&self) -> &url::Url {
        &self.inner.config.server_url
    }

    /// The configuration.
    pub fn config(&self) -> &OAuthConfig {
        &self.inner.config
    }

    /// The current session, or `None` while no server has asked for authorization.
    pub fn session(&self) -> Option<OAuthSession> {
        self.inner
            .current
            .load()
            .as_ref()
            .map(|e| e.session.clone())
    }

    /// How many sessions were established (first authorization, then one per
    /// authorization-server migration).
    pub fn authorizations(&self) -> u64 {
        self.inner.authorizations.load(Ordering::Relaxed)
    }

    /// Connects an [`crate::McpClient`] through [`AuthOnDemand::client`] with the
    /// configured request timeout.
    pub async fn mcp_client(
        &self,
        preference: crate::TransportPreference,
    ) -> Result<crate::McpClient, ClientError> {
        crate::McpClient::connect_with(
            self.client()?,
            self.server_url().clone(),
            self.inner.config.request_timeout,
            preference,
        )
        .await
    }

    /// Establishes a session after a challenge, single-flight: if another request published
    /// a session since this one saw epoch `seen`, that one is used.
    async fn establish(
        &self,
        seen: u64,
        challenge: Option<&Challenge>,
    ) -> Result<Arc<Established>, ClientError> {
        let mut gate = self.inner.gate.lock().await;
        if gate.epoch != seen
            && let Some(cur) = self.inner.current.load_full()
        {
            return Ok(cur);
        }
        let session = OAuthSession::from_challenge(
            self.inner.config.clone(),
            challenge,
            gate.preregistered_at.as_deref(),
        )
        .await?;
        session.ensure_authorized().await?;
        tracing::info!(
            oauth.issuer = session.issuer(),
            "the server asked for authorization; authorized"
        );
        if gate.preregistered_at.is_none() {
            gate.preregistered_at = Some(session.issuer().to_owned());
        }
        gate.epoch += 1;
        self.inner.authorizations.fetch_add(1, Ordering::Relaxed);
        let est = Arc::new(Established {
            session,
            epoch: gate.epoch,
        });
        self.inner.current.store(Some(est.clone()));
        Ok(est)
    }

    /// After a 401 with a session: when the protected-resource metadata no longer names the
    /// session's issuer, a new session at the issuer it names now.
    async fn migrated(
        &self,
        est: &Established,
        challenge: Option<&Challenge>,
    ) -> Result<Option<Arc<Established>>, ClientError> {
        let config = &self.inner.config;
        let prm = discovery::protected_resource_metadata(
            &self.inner.oauth_http,
            &config.server_url,
            challenge.and_then(|c| c.resource_metadata()),
            &config.url_policy(),
        )
        .await;
        let prm = match prm {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "no protected resource metadata after a 401; refreshing");
                return Ok(None);
            }
        };
        let issuer = est.session.issuer();
        if prm.authorization_servers.iter().any(|a| a == issuer) {
            return Ok(None);
        }
        tracing::info!(
            oauth.issuer = issuer,
            "the server no longer names this authorization server; authorizing at the new one"
        );
        self.establish(est.epoch, challenge).await.map(Some)
    }

    /// CL-34 after a 401 with a session: when the server now names another authorization
    /// server, a session there and its token; otherwise one refresh (if the token of
    /// `generation` is still current); then `retry` once.
    async fn refresh_or_migrate(
        &self,
        est: Arc<Established>,
        resp: Response,
        generation: u64,
        retry: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let challenge = bearer_challenge(resp.headers()).or_else(|| dpop_challenge(resp.headers()));
        drop(resp);
        if let Some(new) = self.migrated(&est, challenge.as_ref()).await.map_err(mw)? {
            let m = new.session.token_manager();
            let (token, _) = m.access_token().await.map_err(mw)?;
            return crate::dpop::send_with_token(next, retry, &token, m.dpop(), extensions).await;
        }
        let manager = est.session.token_manager();
        let (token, _) = manager.refresh_if_current(generation).await.map_err(mw)?;
        crate::dpop::send_with_token(next, retry, &token, manager.dpop(), extensions).await
    }

    /// After the first attempt with `est`'s token of `generation`: a 401 refreshes (or
    /// follows a migration) and sends `retry` once, a 403 `insufficient_scope` steps up and
    /// sends `retry` once (CL-35), anything else is `resp`; as [`super::bearer::retry_if_asked`],
    /// the retries are boxed futures of their own.
    fn retry_if_asked<'a>(
        &'a self,
        est: Arc<Established>,
        resp: Response,
        generation: u64,
        retry: Request,
        extensions: &'a mut Extensions,
        next: Next<'a>,
    ) -> Then<'a> {
        match resp.status() {
            StatusCode::UNAUTHORIZED => Then::Retry(Box::pin(
                self.refresh_or_migrate(est, resp, generation, retry, extensions, next),
            )),
            StatusCode::FORBIDDEN => Then::Retry(Box::pin(async move {
                let manager = est.session.token_manager();
                step_up_and_retry(manager, resp, retry, generation, extensions, next).await
            })),
            _ => Then::Done(resp),
        }
    }

    /// A request with a session: as [`super::BearerAuth`] (the fresh bearer header and its
    /// retry clone before any future is built; the slow token path boxed).
    fn with_session<'a>(
        &'a self,
        est: Arc<Established>,
        mut req: Request,
        extensions: &'a mut Extensions,
        next: Next<'a>,
    ) -> HandleFuture<'a> {
        match with_fresh_bearer(est.session.token_manager(), &mut req) {
            Some((generation, Some(retry))) => Box::pin(async move {
                let resp = next.clone().run(req, extensions).await?;
                match self.retry_if_asked(est, resp, generation, retry, extensions, next) {
                    Then::Done(resp) => Ok(resp),
                    Then::Retry(again) => again.await,
                }
            }),
            // A streaming body: cannot retry, the caller sees the 401/403.
            Some((_, None)) => next.run(req, extensions),
            None => Box::pin(async move {
                let (resp, generation, retry) =
                    send_first_slow(est.session.token_manager(), req, extensions, next.clone())
                        .await?;
                let Some(retry) = retry else {
                    return Ok(resp); // streaming body, as above
                };
                match self.retry_if_asked(est, resp, generation, retry, extensions, next) {
                    Then::Done(resp) => Ok(resp),
                    Then::Retry(again) => again.await,
                }
            }),
        }
    }

    /// The first challenge without a session (`status`, `challenge`): establishes one
    /// (single-flight) and sends `retry` once with its token, or fails with
    /// [`ClientError::NotReplayed`] for a body that cannot be sent twice.
    async fn authorize_and_retry(
        &self,
        status: StatusCode,
        challenge: Challenge,
        retry: Option<Request>,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        tracing::debug!(%status, "the server asks for authorization");
        let est = self.establish(0, Some(&challenge)).await.map_err(mw)?;
        let Some(retry) = retry else {
            return Err(mw(ClientError::NotReplayed { status }));
        };
        let m = est.session.token_manager();
        let (token, _) = m.access_token().await.map_err(mw)?;
        crate::dpop::send_with_token(next, retry, &token, m.dpop(), extensions).await
    }
}

/// Whether `resp` asks for authorization: a 401 with a Bearer (or DPoP) challenge, or a 403
/// `insufficient_scope` challenge.
fn asks_for_authorization(resp: &Response) -> Option<Challenge> {
    let status = resp.status();
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        return None;
    }
    if status == StatusCode::FORBIDDEN {
        // RFC 9449 §7.1: in the scheme the request used, Bearer or DPoP.
        return crate::oauth::challenge::insufficient_scope_challenge(resp.headers());
    }
    // A resource that only accepts DPoP-bound tokens challenges with `DPoP` (RFC 9449 §7.1).
    bearer_challenge(resp.headers()).or_else(|| dpop_challenge(resp.headers()))
}

/// Written out rather than with `#[async_trait]`, as [`super::BearerAuth`]'s (issue 16 C):
/// that macro would box the whole body, discovery, login and migration included (7.7 kB), for
/// every request.
impl Middleware for AuthOnDemand {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: Request,
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
        if !self.inner.origins.iter().any(|o| same_origin(o, url)) {
            // Not ours: pass through untouched (never leak a token to another host).
            return next.run(req, extensions);
        }
        if url.scheme() != "https"
            && !self.inner.config.allow_insecure_http
            && !shared::urls::is_loopback_http(url)
        {
            let e = mw(ClientError::Config(ConfigError::InsecureHttp(
                url.origin().ascii_serialization(),
            )));
            return Box::pin(std::future::ready(Err(e)));
        }
        if let Some(est) = self.inner.current.load_full() {
            return self.with_session(est, req, extensions, next);
        }
        // No session: the request goes out without a token.
        Box::pin(async move {
            let retry = req.try_clone();
            let resp = next.clone().run(req, extensions).await?;
            let Some(challenge) = asks_for_authorization(&resp) else {
                return Ok(resp);
            };
            let status = resp.status();
            drop(resp);
            Box::pin(self.authorize_and_retry(status, challenge, retry, extensions, next)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The future of [`AuthOnDemand::handle`], allocated and moved on every request, stays
    /// small: discovery, login, migration, refresh and step-up are boxed on their own (issue
    /// 16 C).
    #[tokio::test]
    async fn handle_future_stays_small_without_the_authorization_paths_cl34_cl35() {
        let config = OAuthConfig::builder("http://127.0.0.1:9/mcp")
            .headless()
            .build()
            .unwrap();
        let size = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(crate::middleware::tests::FutureSize(size.clone()))
            .with(AuthOnDemand::new(config))
            .build();
        let err = client
            .post("http://127.0.0.1:9/mcp")
            .body("{}")
            .send()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("size probe"), "{err}");
        let size = size.load(std::sync::atomic::Ordering::SeqCst);
        assert!(size > 0 && size <= 1024, "handle's future is {size} bytes");
    }

    fn resp(status: u16, challenge: Option<&str>) -> Response {
        let mut b = http::Response::builder().status(status);
        if let Some(c) = challenge {
            b = b.header(http::header::WWW_AUTHENTICATE, c);
        }
        Response::from(b.body(Vec::<u8>::new()).unwrap())
    }

    /// CL-01: what starts OAuth: a 401 with a Bearer challenge (any case, among other
    /// schemes), or a 403 `insufficient_scope`; nothing else.
    #[test]
    fn only_bearer_401s_and_insufficient_scope_403s_ask_for_authorization_cl01() {
        let rm =
            r#"resource_metadata="https://rs.example/.well-known/oauth-protected-resource/mcp""#;
        let asks = |s, c| asks_for_authorization(&resp(s, c)).is_some();
        let with_rm = format!("Bearer {rm}");
        assert!(asks(401, Some(&with_rm)));
        assert!(asks(401, Some(r#"Basic realm="x", bearer realm="y""#)));
        assert!(asks(401, Some("Bearer")));
        assert!(!asks(401, None), "no challenge: not OAuth");
        assert!(!asks(401, Some(r#"Basic realm="x""#)));
        assert!(asks(
            403,
            Some(r#"Bearer error="insufficient_scope", scope="a""#)
        ));
        assert!(asks(
            403,
            Some(r#"DPoP error="insufficient_scope", scope="a", algs="ES256""#)
        ));
        assert!(!asks(403, Some(r#"Bearer error="invalid_token""#)));
        assert!(!asks(403, None));
        assert!(!asks(200, Some("Bearer")));
        assert!(!asks(500, Some("Bearer")));
    }
}
