//! [`OAuthSession`]: the whole client-side OAuth dance in one call: probe the MCP server,
//! discover PRM and AS metadata, obtain a client id (pre-registered, CIMD, or dynamic
//! registration; CL-10), load stored tokens or log in, and hand out a
//! `reqwest_middleware::ClientWithMiddleware` that carries the [`BearerAuth`] middleware.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest_middleware::ClientWithMiddleware;
use shared::oauth::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use shared::scope::ScopeSet;

use crate::config::{LoginMode, OAuthConfig};
use crate::error::ClientError;
use crate::middleware::BearerAuth;
use crate::oauth::authorize::AuthorizationRequest;
use crate::oauth::targets::PublicOnly;
use crate::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
use crate::oauth::{discovery, login, registration};
use crate::token::{Authorizer, StoreKey, StoredClient, TokenManager, TokenSet};
use shared::oauth::TokenEndpointAuthMethod;

/// A discovered, registered and (after [`OAuthSession::connect`]) authorized session with
/// one MCP server.
#[derive(Debug, Clone)]
pub struct OAuthSession {
    config: OAuthConfig,
    prm: ProtectedResourceMetadata,
    metadata: AuthorizationServerMetadata,
    manager: TokenManager,
    client: ClientWithMiddleware,
    client_id: String,
}

impl OAuthSession {
    /// Discovery + registration + stored tokens or login: ready to use.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), http_oauth2_client::ClientError> {
    /// use http_oauth2_client::{OAuthConfig, OAuthSession, McpClient};
    /// let cfg = OAuthConfig::builder("http://127.0.0.1:3003/mcp").client_id("mcp-cli").headless().build()?;
    /// let session = OAuthSession::connect(cfg).await?;
    /// let mcp = McpClient::connect(session.client(), session.server_url().clone()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: OAuthConfig) -> Result<Self, ClientError> {
        let s = Self::prepare(config).await?;
        s.manager.access_token().await?;
        Ok(s)
    }

    /// Discovery and registration only; no login (tokens are obtained on first use).
    #[tracing::instrument(skip_all, fields(mcp.url = %config.server_url))]
    pub async fn prepare(config: OAuthConfig) -> Result<Self, ClientError> {
        // CL-08: what the servers' URLs may point at; names are also checked after DNS
        // resolution, except the configured server's own host.
        let policy = config.url_policy();
        let resolver = (!policy.local_targets_allowed())
            .then(|| PublicOnly::exempting(config.server_url.host_str()));
        let oauth_http = crate::oauth::oauth_http_client_inner(
            config.request_timeout,
            config.connect_timeout,
            config.max_retries,
            &config.root_certificates,
            resolver.clone(),
        );
        let insecure = config.allow_insecure_http;
        let challenge = discovery::probe(&oauth_http, &config.server_url).await?;
        let prm = discovery::protected_resource_metadata(
            &oauth_http,
            &config.server_url,
            challenge.as_ref().and_then(|c| c.resource_metadata()),
            &policy,
        )
        .await?;
        // CL-04: the configured issuer if any (CL-16), else the first one; state is kept per
        // issuer.
        let issuer = match &config.issuer {
            Some(want) if prm.authorization_servers.iter().any(|a| a == want) => want.clone(),
            Some(want) => {
                return Err(ClientError::discovery(format!(
                    "the server's authorization servers are {:?}, but the configured client belongs to `{want}`; not sending these credentials elsewhere (CL-16)",
                    prm.authorization_servers
                )));
            }
            None => prm.authorization_servers[0].clone(),
        };
        let metadata =
            discovery::authorization_server_metadata(&oauth_http, &issuer, &policy).await?;
        let token_url = policy.check(metadata.token_endpoint.as_deref().unwrap_or_default())?;

        // CL-21: configured scopes, else the challenge's, else PRM scopes_supported.
        let initial_scopes = config
            .scopes
            .clone()
            .or_else(|| {
                challenge
                    .as_ref()
                    .and_then(|c| c.scope())
                    .map(ScopeSet::parse)
                    .filter(|s| !s.is_empty())
            })
            .or_else(|| {
                let s: ScopeSet = prm.scopes_supported.iter().map(String::as_str).collect();
                (!s.is_empty()).then_some(s)
            });

        // Register for everything the resource offers (plus what is asked now), so a later
        // step-up is not refused because the registration was narrower (CL-35).
        let registration_scopes = {
            let offered: ScopeSet = prm.scopes_supported.iter().map(String::as_str).collect();
            let all = offered.union(initial_scopes.as_ref().unwrap_or(&ScopeSet::default()));
            (!all.is_empty()).then_some(all)
        };
        let creds = obtain_client(
            &config,
            &oauth_http,
            &metadata,
            registration_scopes.as_ref(),
        )
        .await?;
        let client_id = creds.client_id.clone();
        let resource = prm.resource.clone();
        let endpoint = TokenEndpoint::new(
            token_url,
            creds,
            (!config.omit_resource_parameter).then(|| resource.clone()),
            oauth_http,
        );
        let key = StoreKey::new(issuer, resource.clone(), client_id.clone());
        let authorizer = SessionAuthorizer {
            mode: config.login_mode,
            on_login_event: config.on_login_event.clone(),
            metadata: metadata.clone(),
            client_id: client_id.clone(),
            redirect_template: config.redirect_uri.clone(),
            // Empty: AuthorizationRequest leaves `resource` out (omit_resource_parameter).
            resource: if config.omit_resource_parameter {
                String::new()
            } else {
                resource
            },
            insecure,
            login_timeout: config.login_timeout,
            endpoint: endpoint.clone(),
            clock: config.clock.clone(),
            default_scopes: initial_scopes,
            headless_http: {
                let b =
                    crate::oauth::with_roots(reqwest::Client::builder(), &config.root_certificates)
                        .redirect(reqwest::redirect::Policy::none())
                        .timeout(config.request_timeout);
                match resolver {
                    Some(r) => b.dns_resolver(std::sync::Arc::new(r)),
                    None => b,
                }
                .build()
                .map_err(ClientError::from)?
            },
        };
        let manager = TokenManager::new(
            endpoint,
            config.token_store.clone(),
            key,
            config.clock.clone(),
        )
        .with_authorizer(Arc::new(authorizer));
        let client = mcp_http_client(&config, manager.clone())?;
        Ok(Self {
            config,
            prm,
            metadata,
            manager,
            client,
            client_id,
        })
    }

    /// The HTTP client with [`BearerAuth`]: use it for the MCP server (or any request to
    /// its origin).
    pub fn client(&self) -> ClientWithMiddleware {
        self.client.clone()
    }
    /// Connects an [`crate::McpClient`] to the server through this session's client, with
    /// the configured request timeout.
    pub async fn mcp_client(&self) -> Result<crate::McpClient, ClientError> {
        crate::McpClient::connect_with_timeout(
            self.client(),
            self.config.server_url.clone(),
            self.config.request_timeout,
        )
        .await
    }
    /// The MCP server URL.
    pub fn server_url(&self) -> &url::Url {
        &self.config.server_url
    }
    /// The token manager.
    pub fn token_manager(&self) -> &TokenManager {
        &self.manager
    }
    /// The validated Protected Resource Metadata.
    pub fn protected_resource_metadata(&self) -> &ProtectedResourceMetadata {
        &self.prm
    }
    /// The validated authorization-server metadata.
    pub fn authorization_server_metadata(&self) -> &AuthorizationServerMetadata {
        &self.metadata
    }
    /// The client id in use.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The resource (PRM `resource`) tokens are requested for.
    pub fn resource(&self) -> &str {
        &self.prm.resource
    }
    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.metadata.issuer
    }

    /// Makes sure a usable token exists (logging in if needed).
    pub async fn ensure_authorized(&self) -> Result<(), ClientError> {
        self.manager.access_token().await.map(|_| ())
    }

    /// Forces a new login (ignoring stored tokens).
    pub async fn login(&self) -> Result<(), ClientError> {
        self.manager.clear();
        self.ensure_authorized().await
    }

    /// Revokes the refresh token (RFC 7009, best effort; authenticated like a token request,
    /// so a confidential client's token is really revoked) and forgets the tokens. Returns
    /// whether the server accepted the revocation.
    pub async fn logout(&self) -> Result<bool, ClientError> {
        let had = self.manager.tokens();
        let mut revoked = false;
        if let (Some(t), Some(endpoint)) = (&had, self.metadata.revocation_endpoint.as_deref()) {
            let (token, hint) = match &t.refresh_token {
                Some(r) => (r.secret(), "refresh_token"),
                None => (t.access_token.secret(), "access_token"),
            };
            match self.manager.endpoint().revoke(endpoint, token, hint).await {
                Ok(()) => revoked = true,
                Err(e) => tracing::warn!(error = %e, "revocation failed"),
            }
        }
        self.manager.clear();
        Ok(revoked)
    }
}

/// CL-10 order: pre-registered, CIMD (if supported), stored dynamic registration for this
/// issuer (CL-16), dynamic registration.
async fn obtain_client(
    config: &OAuthConfig,
    http: &ClientWithMiddleware,
    metadata: &AuthorizationServerMetadata,
    scopes: Option<&ScopeSet>,
) -> Result<ClientCredentials, ClientError> {
    if let Some(id) = &config.client_id {
        return Ok(match &config.client_secret {
            Some(secret) => {
                let methods = &metadata.token_endpoint_auth_methods_supported;
                let method =
                    if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") {
                        TokenEndpointAuthMethod::ClientSecretBasic
                    } else {
                        TokenEndpointAuthMethod::ClientSecretPost
                    };
                ClientCredentials {
                    client_id: id.clone(),
                    client_secret: Some(secret.clone()),
                    auth_method: method,
                }
            }
            None => ClientCredentials::public(id.clone()),
        });
    }
    if let Some(url) = &config.client_metadata_url {
        if metadata.client_id_metadata_document_supported {
            return Ok(ClientCredentials::public(url.clone()));
        }
        tracing::warn!(
            "the authorization server does not support client ID metadata documents; registering dynamically"
        );
    }
    if let Some(stored) = config.token_store.load_client(&metadata.issuer)? {
        let method = TokenEndpointAuthMethod::from_registration(
            stored.token_endpoint_auth_method.as_deref(),
            stored.client_secret.is_some(),
        );
        return Ok(ClientCredentials {
            client_id: stored.client_id,
            client_secret: stored.client_secret,
            auth_method: method,
        });
    }
    let redirect = config.redirect_uri.to_string();
    let reg = registration::register_client(
        http,
        metadata,
        std::slice::from_ref(&redirect),
        &config.client_name,
        scopes,
    )
    .await?;
    let stored = StoredClient {
        issuer: metadata.issuer.clone(),
        client_id: reg.client_id.clone(),
        client_secret: reg.client_secret.clone(),
        token_endpoint_auth_method: reg.token_endpoint_auth_method.clone(),
    };
    if let Err(e) = config.token_store.save_client(&stored) {
        tracing::warn!(error = %e, "could not remember the registered client");
    }
    let method = TokenEndpointAuthMethod::from_registration(
        reg.token_endpoint_auth_method.as_deref(),
        reg.client_secret.is_some(),
    );
    Ok(ClientCredentials {
        client_id: reg.client_id,
        client_secret: reg.client_secret,
        auth_method: method,
    })
}

/// The HTTP client for the MCP server: same-origin redirects only (at most 5), timeouts,
/// and [`BearerAuth`].
pub(crate) fn mcp_http_client(
    config: &OAuthConfig,
    manager: TokenManager,
) -> Result<ClientWithMiddleware, ClientError> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > 5 || !same {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    let inner = crate::oauth::with_roots(reqwest::Client::builder(), &config.root_certificates)
        .redirect(policy)
        .connect_timeout(config.connect_timeout)
        .user_agent(concat!("http-oauth2-client/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let mut auth = BearerAuth::new(manager, &config.server_url)
        .allow_insecure_http(config.allow_insecure_http);
    for o in &config.extra_origins {
        auth = auth.allow_origin(o.clone());
    }
    Ok(reqwest_middleware::ClientBuilder::new(inner)
        .with(auth)
        .build())
}

#[derive(Debug)]
struct SessionAuthorizer {
    mode: LoginMode,
    on_login_event: login::LoginObserver,
    metadata: AuthorizationServerMetadata,
    client_id: String,
    redirect_template: url::Url,
    resource: String,
    insecure: bool,
    login_timeout: std::time::Duration,
    endpoint: TokenEndpoint,
    clock: shared::clock::SharedClock,
    default_scopes: Option<ScopeSet>,
    headless_http: reqwest::Client,
}

impl SessionAuthorizer {
    async fn run(&self, scopes: Option<ScopeSet>) -> Result<TokenSet, ClientError> {
        let scopes = scopes.or_else(|| self.default_scopes.clone());
        let resp = match self.mode {
            LoginMode::ClientCredentials => {
                self.endpoint.client_credentials(scopes.as_ref()).await?
            }
            LoginMode::Headless => {
                let req = AuthorizationRequest::new(
                    &self.metadata,
                    &self.client_id,
                    self.redirect_template.as_str(),
                    scopes.as_ref(),
                    &self.resource,
                    self.insecure,
                )?;
                let code = login::headless_authorize(&self.headless_http, &req).await?;
                self.endpoint
                    .exchange_code(&code, req.verifier(), req.redirect_uri())
                    .await?
            }
            LoginMode::Interactive | LoginMode::InteractiveNoBrowser => {
                let listener = login::LoopbackListener::bind(&self.redirect_template).await?;
                let req = AuthorizationRequest::new(
                    &self.metadata,
                    &self.client_id,
                    listener.redirect_uri(),
                    scopes.as_ref(),
                    &self.resource,
                    self.insecure,
                )?;
                let opened = self.mode == LoginMode::Interactive && login::open_browser(req.url());
                self.on_login_event.notify(&login::LoginEvent::OpenUrl {
                    url: req.url(),
                    browser_opened: opened,
                });
                self.on_login_event.notify(&login::LoginEvent::Waiting {
                    timeout: self.login_timeout,
                });
                let code = listener.wait(&req, self.login_timeout).await;
                self.on_login_event.notify(&login::LoginEvent::WaitEnded);
                let code = code?;
                self.endpoint
                    .exchange_code(&code, req.verifier(), req.redirect_uri())
                    .await?
            }
        };
        let mut set = TokenSet::from_response(resp, self.clock.now_unix());
        if set.scope.is_none() {
            set.scope = scopes.map(|s| s.to_string());
        }
        Ok(set)
    }
}

impl Authorizer for SessionAuthorizer {
    fn authorize(&self, scopes: Option<ScopeSet>) -> BoxFuture<'_, Result<TokenSet, ClientError>> {
        Box::pin(self.run(scopes))
    }
}
