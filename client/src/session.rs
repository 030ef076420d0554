//! [`OAuthSession`]: the whole client-side OAuth dance in one call: probe the MCP server,
//! discover PRM and AS metadata, obtain a client id (pre-registered, CIMD, or dynamic
//! registration; CL-10), load stored tokens or log in, and hand out a
//! `reqwest_middleware::ClientWithMiddleware` that carries the [`BearerAuth`] middleware.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest_middleware::ClientWithMiddleware;
use shared::oauth::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use shared::scope::ScopeSet;

use crate::config::OAuthConfig;
use crate::error::ClientError;
use crate::middleware::BearerAuth;
use crate::oauth::challenge::Challenge;
use crate::oauth::login::{LoginContext, LoginFlow};
use crate::oauth::targets::PublicOnly;
use crate::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
use crate::oauth::{discovery, registration};
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

    /// Probe, discovery and registration; no login (tokens are obtained on first use). The
    /// probe is an unauthenticated MCP `ping`: use this (or [`OAuthSession::connect`]) when
    /// the program wants to log in up front, e.g. a `login` command. Clients that only want
    /// to talk to a server use [`crate::AuthOnDemand`], which starts OAuth on the server's
    /// first 401 instead (ADR 0006).
    #[tracing::instrument(skip_all, fields(mcp.url = %config.server_url))]
    pub async fn prepare(config: OAuthConfig) -> Result<Self, ClientError> {
        let (oauth_http, _) = oauth_clients(&config);
        let challenge = discovery::probe(&oauth_http, &config.server_url).await?;
        let url = config.server_url.clone();
        match Self::from_challenge(config, challenge.as_ref(), None).await {
            Err(ClientError::Discovery { reason, source }) if challenge.is_none() => {
                Err(ClientError::Discovery {
                    reason: format!(
                        "{url} did not ask for authorization (an unauthenticated request got no 401) and publishes no usable protected resource metadata: there is nothing to log in to ({reason})"
                    ),
                    source,
                })
            }
            other => other,
        }
    }

    /// Discovery and registration after the server answered with `challenge` (a 401 or
    /// 403 Bearer challenge; `None`: use the well-known fallbacks). Pre-registered
    /// credentials (the configured client id and secret) are used only at the issuer they
    /// are bound to: the configured `issuer`, else `preregistered_at`, else whichever
    /// issuer is chosen now (CL-04, CL-16). At any other issuer the client uses a client
    /// metadata document, a stored registration or dynamic registration instead.
    #[tracing::instrument(skip_all, fields(mcp.url = %config.server_url))]
    pub(crate) async fn from_challenge(
        config: OAuthConfig,
        challenge: Option<&Challenge>,
        preregistered_at: Option<&str>,
    ) -> Result<Self, ClientError> {
        let policy = config.url_policy();
        let (oauth_http, resolver) = oauth_clients(&config);
        let insecure = config.allow_insecure_http;
        let prm = discovery::protected_resource_metadata(
            &oauth_http,
            &config.server_url,
            challenge.and_then(|c| c.resource_metadata()),
            &policy,
        )
        .await?;
        // CL-04: the configured issuer if the server names it (CL-16), else the first one;
        // state is kept per issuer.
        let issuer = match &config.issuer {
            Some(want) if prm.authorization_servers.iter().any(|a| a == want) => want.clone(),
            _ => prm.authorization_servers[0].clone(),
        };
        let bound_to = config.issuer.as_deref().or(preregistered_at);
        let use_preregistered = bound_to.is_none_or(|b| b == issuer);
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
            use_preregistered,
        )
        .await?;
        let client_id = creds.client_id.clone();
        let resource = prm.resource.clone();
        let mut endpoint = TokenEndpoint::new(
            token_url,
            creds,
            (!config.omit_resource_parameter).then(|| resource.clone()),
            oauth_http,
        )
        .with_issuer(issuer.clone());
        // DPoP (ADR 0011): a fresh key per session; TokenManager::new swaps in the key stored
        // with the tokens, if any.
        if let Some(alg) = crate::dpop::choose_algorithm(config.dpop, &metadata, &prm) {
            endpoint =
                endpoint.with_dpop(crate::dpop::DpopKey::generate(alg, config.clock.clone())?);
        }
        let key = StoreKey::new(issuer, resource.clone(), client_id.clone());
        let flow: Arc<dyn LoginFlow> = match &config.login_flow {
            Some(f) => f.clone(),
            None => Arc::new(config.login_mode),
        };
        let cx = LoginContext {
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
        let authorizer = SessionAuthorizer {
            cx,
            flow,
            clock: config.clock.clone(),
            default_scopes: initial_scopes,
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
    use_preregistered: bool,
) -> Result<ClientCredentials, ClientError> {
    if let Some(id) = config.client_id.as_ref().filter(|_| use_preregistered) {
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
                    assertion_key: None,
                }
            }
            None => match &config.client_assertion_key {
                Some(key) => ClientCredentials::private_key_jwt(id.clone(), key.clone()),
                None => ClientCredentials::public(id.clone()),
            },
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
            assertion_key: None,
        });
    }
    // Here the configured client (if any) belongs to another issuer. A machine client
    // (client credentials) cannot be replaced by a dynamically registered public one.
    if config.client_id.is_some()
        && (metadata.registration_endpoint.is_none()
            || config.login_mode == crate::LoginMode::ClientCredentials)
    {
        return Err(ClientError::discovery(format!(
            "the server's authorization server is `{}`, but the configured client belongs to another issuer, and no other client can be used there; not sending these credentials elsewhere (CL-16)",
            metadata.issuer
        )));
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
        assertion_key: None,
    })
}

/// The HTTP client for the MCP server: same-origin redirects only (at most 5), timeouts,
/// and [`BearerAuth`].
pub(crate) fn mcp_http_client(
    config: &OAuthConfig,
    manager: TokenManager,
) -> Result<ClientWithMiddleware, ClientError> {
    let mut auth = BearerAuth::new(manager, &config.server_url)
        .allow_insecure_http(config.allow_insecure_http);
    for o in &config.extra_origins {
        auth = auth.allow_origin(o.clone());
    }
    http_client_with(config, auth)
}

/// An HTTP client for the server: same-origin redirects only (at most 5), timeouts, root
/// certificates, and `auth` as its middleware.
pub(crate) fn http_client_with(
    config: &OAuthConfig,
    auth: impl reqwest_middleware::Middleware,
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
    Ok(reqwest_middleware::ClientBuilder::new(inner)
        .with(auth)
        .build())
}

#[derive(Debug)]
struct SessionAuthorizer {
    cx: LoginContext,
    flow: Arc<dyn LoginFlow>,
    clock: shared::clock::SharedClock,
    default_scopes: Option<ScopeSet>,
}

impl SessionAuthorizer {
    async fn run(&self, scopes: Option<ScopeSet>) -> Result<TokenSet, ClientError> {
        let scopes = scopes.or_else(|| self.default_scopes.clone());
        let resp = self.flow.login(&self.cx, scopes.clone()).await?;
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

/// The plain OAuth client (discovery, registration, token endpoint) and, unless local
/// targets are allowed, the resolver that refuses local addresses (CL-08).
pub(crate) fn oauth_clients(config: &OAuthConfig) -> (ClientWithMiddleware, Option<PublicOnly>) {
    let policy = config.url_policy();
    let resolver = (!policy.local_targets_allowed())
        .then(|| PublicOnly::exempting(config.server_url.host_str()));
    let http = crate::oauth::oauth_http_client_inner(
        config.request_timeout,
        config.connect_timeout,
        config.max_retries,
        &config.root_certificates,
        resolver.clone(),
    );
    (http, resolver)
}
