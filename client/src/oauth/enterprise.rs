//! Enterprise-managed authorization (MCP extension; ID-JAG, issue 15 part B) as a
//! [`LoginFlow`] (ADR 0006): the user signs in once at the company's identity provider
//! (itself an OAuth authorization server, with the built-in login modes), the client
//! exchanges the IdP access token for an Identity Assertion JWT Authorization Grant (RFC 8693
//! token exchange, `requested_token_type=urn:ietf:params:oauth:token-type:id-jag`,
//! `audience` = the MCP authorization server's issuer, `resource` = the MCP server), and
//! redeems it at the MCP authorization server with the JWT bearer grant (RFC 7523) - no
//! browser at the MCP authorization server (EX-24).
//!
//! When the MCP access token expires, the token manager runs the flow again: the IdP
//! tokens (kept in the configured token store under (IdP issuer, IdP issuer, IdP client))
//! are reused, refreshed at the IdP when they have expired and a refresh token exists, and
//! only when the IdP session is gone does the user sign in at the IdP again.
//!
//! ```no_run
//! # fn f() -> Result<(), http_oauth2_client::ConfigError> {
//! use std::sync::Arc;
//! use http_oauth2_client::{LoginMode, OAuthConfig};
//! use http_oauth2_client::oauth::enterprise::EnterpriseLogin;
//! let idp = EnterpriseLogin::builder("https://idp.example", "mcp-client-at-idp")
//!     .login_mode(LoginMode::Interactive)
//!     .build()?;
//! let config = OAuthConfig::builder("https://mcp.example/mcp")
//!     .client_id("mcp-client")
//!     .login_flow(Arc::new(idp))
//!     .build()?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use shared::oauth::{AuthorizationServerMetadata, TokenResponse};
use shared::scope::ScopeSet;
use url::Url;

use super::login::{LoginContext, LoginFlow};
use super::token_endpoint::{ClientCredentials, TokenEndpoint};
use crate::LoginMode;
use crate::error::{ClientError, ConfigError};
use crate::token::{Freshness, InMemoryTokenStore, StoreKey, TokenSet, TokenStore};

/// Builder for [`EnterpriseLogin`].
#[derive(Debug)]
pub struct EnterpriseLoginBuilder {
    idp_issuer: String,
    client: ClientCredentials,
    login_mode: LoginMode,
    scopes: Option<ScopeSet>,
    redirect_uri: String,
    store: Option<Arc<dyn TokenStore>>,
    allow_insecure_http: bool,
    request_timeout: Duration,
    login_timeout: Duration,
    roots: Vec<reqwest::Certificate>,
}

impl EnterpriseLoginBuilder {
    /// How the user signs in at the IdP (default: browser).
    pub fn login_mode(mut self, mode: LoginMode) -> Self {
        self.login_mode = mode;
        self
    }
    /// Scopes asked at the IdP sign-in (e.g. `openid`).
    pub fn idp_scopes(mut self, scopes: &str) -> Self {
        self.scopes = Some(ScopeSet::parse(scopes));
        self
    }
    /// The client's credentials at the IdP (default: a public client).
    pub fn idp_client(mut self, client: ClientCredentials) -> Self {
        self.client = client;
        self
    }
    /// Redirect URI template for the IdP sign-in (loopback http or https).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = uri.into();
        self
    }
    /// Where the IdP tokens are kept (use the session's store to survive restarts; default
    /// in memory).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }
    /// Allows plain http to a non-loopback IdP (development only).
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }
    /// Request and sign-in timeouts.
    pub fn timeouts(mut self, request: Duration, login: Duration) -> Self {
        self.request_timeout = request;
        self.login_timeout = login;
        self
    }
    /// Validates and builds.
    pub fn build(self) -> Result<EnterpriseLogin, ConfigError> {
        let issuer = crate::config::check_url(&self.idp_issuer, self.allow_insecure_http)?;
        let redirect = Url::parse(&self.redirect_uri).map_err(|e| ConfigError::InvalidUrl {
            url: self.redirect_uri.clone(),
            reason: e.to_string(),
        })?;
        if matches!(self.login_mode, LoginMode::Never) {
            return Err(ConfigError::Invalid(
                "enterprise login needs a way to sign in at the identity provider".into(),
            ));
        }
        let http = super::oauth_http_client_with_roots(
            self.request_timeout,
            Duration::from_secs(10),
            1,
            &self.roots,
        );
        let headless_http = super::with_roots(reqwest::Client::builder(), &self.roots)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.request_timeout)
            .build()
            .map_err(|e| ConfigError::Invalid(format!("HTTP client: {e}")))?;
        Ok(EnterpriseLogin {
            idp_issuer: self.idp_issuer.trim_end_matches('/').to_owned(),
            issuer_url: issuer,
            client: self.client,
            login_mode: self.login_mode,
            scopes: self.scopes,
            redirect,
            store: self
                .store
                .unwrap_or_else(|| Arc::new(InMemoryTokenStore::default())),
            insecure: self.allow_insecure_http,
            login_timeout: self.login_timeout,
            http,
            headless_http,
            idp: tokio::sync::Mutex::new(None),
        })
    }
}

/// The enterprise (ID-JAG) login flow. See the module docs.
#[derive(Debug)]
pub struct EnterpriseLogin {
    idp_issuer: String,
    issuer_url: Url,
    client: ClientCredentials,
    login_mode: LoginMode,
    scopes: Option<ScopeSet>,
    redirect: Url,
    store: Arc<dyn TokenStore>,
    insecure: bool,
    login_timeout: Duration,
    http: reqwest_middleware::ClientWithMiddleware,
    headless_http: reqwest::Client,
    /// The IdP's metadata and token endpoint, discovered once; held across the IdP calls of
    /// one login (logins are already single-flight in the token manager).
    idp: tokio::sync::Mutex<Option<(AuthorizationServerMetadata, TokenEndpoint)>>,
}

impl EnterpriseLogin {
    /// A builder for the IdP at `idp_issuer`, where this application is `client_id`.
    pub fn builder(
        idp_issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> EnterpriseLoginBuilder {
        EnterpriseLoginBuilder {
            idp_issuer: idp_issuer.into(),
            client: ClientCredentials::public(client_id),
            login_mode: LoginMode::Interactive,
            scopes: None,
            redirect_uri: "http://127.0.0.1/callback".into(),
            store: None,
            allow_insecure_http: false,
            request_timeout: Duration::from_secs(30),
            login_timeout: Duration::from_secs(300),
            roots: Vec::new(),
        }
    }

    fn idp_key(&self) -> StoreKey {
        StoreKey::new(&self.idp_issuer, &self.idp_issuer, &self.client.client_id)
    }

    /// A valid IdP access token: stored, refreshed, or from a new sign-in at the IdP.
    async fn idp_token(
        &self,
        metadata: &AuthorizationServerMetadata,
        endpoint: &TokenEndpoint,
        cx: &LoginContext,
    ) -> Result<TokenSet, ClientError> {
        let now = shared::clock::Clock::now_unix(&shared::clock::SystemClock);
        let key = self.idp_key();
        if let Some(t) = self.store.load(&key)? {
            if t.freshness(now) != Freshness::Expired {
                return Ok(t);
            }
            if let Some(rt) = &t.refresh_token {
                match endpoint.refresh(rt, None).await {
                    Ok(resp) => {
                        let mut new = TokenSet::from_response(resp, now);
                        new.refresh_token = new.refresh_token.or(t.refresh_token.clone());
                        self.store.save(&key, &new)?;
                        return Ok(new);
                    }
                    Err(ClientError::AuthorizationRequired(_)) => {
                        tracing::info!("the identity provider session ended; signing in again");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let idp_cx = LoginContext {
            metadata: metadata.clone(),
            client_id: self.client.client_id.clone(),
            redirect_template: self.redirect.clone(),
            resource: self.idp_issuer.clone(),
            insecure: self.insecure,
            login_timeout: self.login_timeout,
            endpoint: endpoint.clone(),
            on_login_event: cx.on_login_event.clone(),
            headless_http: self.headless_http.clone(),
        };
        let resp = self.login_mode.login(&idp_cx, self.scopes.clone()).await?;
        let set = TokenSet::from_response(resp, now);
        self.store.save(&key, &set)?;
        Ok(set)
    }

    async fn run(
        &self,
        cx: &LoginContext,
        scopes: Option<ScopeSet>,
    ) -> Result<TokenResponse, ClientError> {
        let mut idp = self.idp.lock().await;
        if idp.is_none() {
            let policy = crate::config::UrlPolicy::for_server(&self.issuer_url)
                .allow_insecure_http(self.insecure);
            let metadata = super::discovery::authorization_server_metadata(
                &self.http,
                &self.idp_issuer,
                &policy,
            )
            .await?;
            let token_url = policy.check(metadata.token_endpoint.as_deref().unwrap_or_default())?;
            // No `resource` on IdP requests by default: the exchange names the MCP server.
            let endpoint =
                TokenEndpoint::new(token_url, self.client.clone(), None, self.http.clone())
                    .with_issuer(metadata.issuer.clone());
            *idp = Some((metadata, endpoint));
        }
        let Some((metadata, endpoint)) = idp.as_ref() else {
            return Err(ClientError::Protocol(
                "identity provider not discovered".into(),
            ));
        };
        let idp_tokens = self.idp_token(metadata, endpoint, cx).await?;
        let (jag, _) = endpoint
            .exchange_for_id_jag(
                idp_tokens.access_token.secret(),
                shared::assertion::TOKEN_TYPE_ACCESS_TOKEN,
                cx.issuer(),
                cx.resource(),
                scopes.as_ref(),
            )
            .await?;
        tracing::debug!(oauth.issuer = cx.issuer(), "ID-JAG obtained; redeeming it");
        cx.token_endpoint().jwt_bearer(&jag, scopes.as_ref()).await
    }
}

impl LoginFlow for EnterpriseLogin {
    fn login<'a>(
        &'a self,
        cx: &'a LoginContext,
        scopes: Option<ScopeSet>,
    ) -> BoxFuture<'a, Result<TokenResponse, ClientError>> {
        Box::pin(self.run(cx, scopes))
    }
}
