//! [`OAuthConfig`]: what the client stack needs to know, built with [`OAuthConfigBuilder`].
//! Libraries take typed values and never read the environment; the CLI maps its TOML file,
//! environment variables and flags onto this builder.
//!
//! (Longer than our 450-line guide: one documented setter per option, next to the validation
//! in `build()` that reads it; splitting them would separate a setter from its check.)
//!
//! ```
//! use http_oauth2_client::{OAuthConfig, LoginMode};
//! let cfg = OAuthConfig::builder("http://127.0.0.1:3003/mcp")
//!     .client_id("mcp-cli")
//!     .scopes("mcp:tools:read mcp:tools:call")
//!     .login_mode(LoginMode::Headless)
//!     .build()
//!     .unwrap();
//! assert_eq!(cfg.server_url().as_str(), "http://127.0.0.1:3003/mcp");
//! // Plain http to anything but loopback is refused unless explicitly allowed.
//! assert!(OAuthConfig::builder("http://mcp.example/mcp").build().is_err());
//! ```

use std::sync::Arc;
use std::time::Duration;

use shared::clock::SharedClock;
use shared::scope::ScopeSet;
use shared::secret::ClientSecret;
use url::Url;

use crate::error::ConfigError;
use crate::oauth::login::{LoginEvent, LoginFlow, LoginObserver};
use crate::token::{InMemoryTokenStore, TokenStore};

/// How the authorization code is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoginMode {
    /// Open the system browser on the authorization URL and wait on a loopback listener
    /// (RFC 8252). The URL is also printed.
    #[default]
    Interactive,
    /// Like `Interactive` but never tries to open a browser (prints the URL only).
    InteractiveNoBrowser,
    /// Fetch the authorization URL with HTTP and read the redirect's `Location` directly:
    /// works with an auto-approving authorization server (tests, demo, CI).
    Headless,
    /// Confidential client, no user: the `client_credentials` grant (needs a secret).
    ClientCredentials,
    /// Never log in: a server that asks for authorization makes the request fail with
    /// [`crate::ClientError::AuthorizationRequired`] (non-interactive programs that only use
    /// stored tokens, or only talk to open servers).
    Never,
}

/// Client configuration. `Debug` redacts the client secret.
#[derive(Clone)]
pub struct OAuthConfig {
    pub(crate) server_url: Url,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<ClientSecret>,
    pub(crate) client_metadata_url: Option<String>,
    pub(crate) client_name: String,
    pub(crate) scopes: Option<ScopeSet>,
    pub(crate) redirect_uri: Url,
    pub(crate) login_mode: LoginMode,
    pub(crate) allow_insecure_http: bool,
    pub(crate) allow_insecure_local_targets: bool,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) login_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) token_store: Arc<dyn TokenStore>,
    pub(crate) clock: SharedClock,
    pub(crate) extra_origins: Vec<url::Origin>,
    /// Extra trusted root certificates (a private CA), for every HTTP client of the session.
    pub(crate) root_certificates: Vec<reqwest::Certificate>,
    pub(crate) issuer: Option<String>,
    pub(crate) on_login_event: LoginObserver,
    pub(crate) login_flow: Option<Arc<dyn LoginFlow>>,
    /// When to use DPoP (ADR 0011).
    pub(crate) dpop: crate::dpop::DpopMode,
    /// `private_key_jwt` key of the pre-registered client (RFC 7523 §2.2).
    pub(crate) client_assertion_key: Option<Arc<shared::dpop::SigningKey>>,
    /// Leave out the RFC 8707 `resource` parameter (Entra ID v2); see the builder.
    pub(crate) omit_resource_parameter: bool,
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("server_url", &self.server_url.as_str())
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("client_metadata_url", &self.client_metadata_url)
            .field("scopes", &self.scopes.as_ref().map(ToString::to_string))
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("login_mode", &self.login_mode)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field(
                "allow_insecure_local_targets",
                &self.allow_insecure_local_targets,
            )
            .field("request_timeout", &self.request_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("token_store", &self.token_store)
            .field("issuer", &self.issuer)
            .field("login_flow", &self.login_flow)
            .field("dpop", &self.dpop)
            .field("client_assertion_key", &self.client_assertion_key)
            .finish_non_exhaustive()
    }
}

impl OAuthConfig {
    /// Starts a builder for the MCP server (protected resource) at `server_url`.
    pub fn builder(server_url: impl Into<String>) -> OAuthConfigBuilder {
        OAuthConfigBuilder::new(server_url.into())
    }
    /// The MCP endpoint URL.
    pub fn server_url(&self) -> &Url {
        &self.server_url
    }
    /// The configured (pre-registered) client id, if any.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }
    /// The login mode.
    pub fn login_mode(&self) -> LoginMode {
        self.login_mode
    }
    /// When DPoP is used (ADR 0011).
    pub fn dpop_mode(&self) -> crate::dpop::DpopMode {
        self.dpop
    }
    /// The token store.
    pub fn token_store(&self) -> &Arc<dyn TokenStore> {
        &self.token_store
    }
    /// Whether plain http to non-loopback hosts is allowed.
    pub fn insecure_http_allowed(&self) -> bool {
        self.allow_insecure_http
    }
    /// Per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// What URLs named by the servers may point at (CL-08): see [`UrlPolicy`].
    pub fn url_policy(&self) -> UrlPolicy {
        UrlPolicy::for_server(&self.server_url)
            .allow_insecure_http(self.allow_insecure_http)
            .allow_insecure_local_targets(self.allow_insecure_local_targets)
    }
    /// Checks a URL against the transport policy (https, or http on loopback, or anything
    /// with `allow_insecure_http`; CL-08, CL-09).
    pub fn check_url(&self, url: &str) -> Result<Url, ConfigError> {
        check_url(url, self.allow_insecure_http)
    }
}

/// Parses `raw` and applies the transport policy: `https`, or `http` to a loopback host, or
/// any `http` when `insecure` is set. Other schemes (`javascript:`, `file:` ...) are refused.
pub fn check_url(raw: &str, insecure: bool) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::InvalidUrl {
        url: raw.to_owned(),
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if insecure || shared::urls::is_loopback_http(&url) => Ok(url),
        "http" => Err(ConfigError::InsecureHttp(raw.to_owned())),
        other => Err(ConfigError::InvalidUrl {
            url: raw.to_owned(),
            reason: format!("scheme `{other}` is not allowed"),
        }),
    }
}

/// What a URL named by a server (not by the user) may point at (CL-08, issue 11 item 14):
/// the transport rule of [`check_url`], and no loopback or private target
/// ([`crate::oauth::targets::is_local_host`]) unless the MCP server itself is loopback or
/// local targets were explicitly allowed.
///
/// ```
/// use http_oauth2_client::UrlPolicy;
/// let remote = UrlPolicy::for_server(&"https://mcp.example/mcp".parse().unwrap());
/// assert!(remote.check("https://as.example").is_ok());
/// assert!(remote.check("http://127.0.0.1:3002").is_err());
/// let dev = UrlPolicy::for_server(&"http://127.0.0.1:3003/mcp".parse().unwrap());
/// assert!(dev.check("http://127.0.0.1:3002").is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    insecure_http: bool,
    local_targets: bool,
}

impl UrlPolicy {
    /// The policy for URLs named by the MCP server at `server_url` and by its authorization
    /// servers: local targets only if that server is loopback itself.
    pub fn for_server(server_url: &Url) -> Self {
        Self {
            insecure_http: false,
            local_targets: shared::urls::is_loopback_host(server_url.host()),
        }
    }

    /// Also allows plain `http` to non-loopback hosts (see [`check_url`]).
    pub fn allow_insecure_http(mut self, yes: bool) -> Self {
        self.insecure_http |= yes;
        self
    }

    /// Also allows loopback and private targets (development, intranets).
    pub fn allow_insecure_local_targets(mut self, yes: bool) -> Self {
        self.local_targets |= yes;
        self
    }

    /// Whether loopback and private targets are allowed.
    pub fn local_targets_allowed(&self) -> bool {
        self.local_targets
    }

    /// Parses `raw` and applies the policy.
    pub fn check(&self, raw: &str) -> Result<Url, ConfigError> {
        let url = check_url(raw, self.insecure_http)?;
        if !self.local_targets && url.host().is_some_and(crate::oauth::targets::is_local_host) {
            return Err(ConfigError::LocalTarget(raw.to_owned()));
        }
        Ok(url)
    }
}

/// Builder for [`OAuthConfig`]; `new()` defaults are the safe ones.
#[derive(Debug)]
pub struct OAuthConfigBuilder {
    server_url: String,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    client_metadata_url: Option<String>,
    client_name: String,
    scopes: Option<ScopeSet>,
    redirect_uri: String,
    login_mode: LoginMode,
    allow_insecure_http: bool,
    allow_insecure_local_targets: bool,
    request_timeout: Duration,
    connect_timeout: Duration,
    login_timeout: Duration,
    max_retries: u32,
    token_store: Option<Arc<dyn TokenStore>>,
    clock: Option<SharedClock>,
    extra_origins: Vec<String>,
    root_certificates: Vec<reqwest::Certificate>,
    issuer: Option<String>,
    on_login_event: Option<LoginObserver>,
    login_flow: Option<Arc<dyn LoginFlow>>,
    dpop: crate::dpop::DpopMode,
    client_assertion_key: Option<Arc<shared::dpop::SigningKey>>,
    omit_resource_parameter: bool,
}

impl OAuthConfigBuilder {
    fn new(server_url: String) -> Self {
        Self {
            server_url,
            client_id: None,
            client_secret: None,
            client_metadata_url: None,
            client_name: "http-oauth2-client".to_owned(),
            scopes: None,
            redirect_uri: "http://127.0.0.1/callback".to_owned(),
            login_mode: LoginMode::Interactive,
            allow_insecure_http: false,
            allow_insecure_local_targets: false,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(300),
            max_retries: 2,
            token_store: None,
            clock: None,
            extra_origins: Vec::new(),
            root_certificates: Vec::new(),
            issuer: None,
            on_login_event: None,
            login_flow: None,
            dpop: crate::dpop::DpopMode::Auto,
            client_assertion_key: None,
            omit_resource_parameter: false,
        }
    }
    /// A pre-registered client id (CL-11); skips CIMD and dynamic registration.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }
    /// The client secret of a confidential pre-registered client. Needs
    /// [`issuer`](Self::issuer): `build()` refuses a secret without one (CL-16).
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self
    }
    /// A Client ID Metadata Document URL, used when the AS supports CIMD (CL-10, CL-12).
    pub fn client_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.client_metadata_url = Some(url.into());
        self
    }
    /// `client_name` sent in dynamic registration.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }
    /// Requested scopes (space-separated). Default: the challenge's or PRM's (CL-21).
    pub fn scopes(mut self, scopes: &str) -> Self {
        let s = ScopeSet::parse(scopes);
        self.scopes = (!s.is_empty()).then_some(s);
        self
    }
    /// The redirect URI (loopback `http`, any port is substituted at run time).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = uri.into();
        self
    }
    /// How to obtain the authorization.
    pub fn login_mode(mut self, mode: LoginMode) -> Self {
        self.login_mode = mode;
        self
    }
    /// Shorthand for `login_mode(LoginMode::Headless)`.
    pub fn headless(self) -> Self {
        self.login_mode(LoginMode::Headless)
    }
    /// Allows plain `http://` to non-loopback hosts (development only). Loopback `http` is
    /// always allowed.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }
    /// Lets URLs named by a remote MCP server or its authorization server (metadata,
    /// issuers, endpoints) point at loopback and private addresses (development, intranet
    /// deployments). Without it such targets are allowed only when the MCP server itself is
    /// loopback (CL-08).
    pub fn allow_insecure_local_targets(mut self) -> Self {
        self.allow_insecure_local_targets = true;
        self
    }
    /// Per-request timeout (hard maximum, holds even while progress arrives; PR-42).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }
    /// TCP connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// How long the interactive login waits for the browser redirect.
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }
    /// Retries of idempotent calls (discovery, the client-credentials grant) on transient
    /// failures. The code exchange, the refresh and the registration are never retried
    /// automatically (one-time credentials, CL-33).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    /// The token store (default: in memory).
    pub fn with_token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.token_store = Some(store);
        self
    }
    /// The clock (default: system); tests inject `shared::clock::TestClock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }
    /// Another origin that may receive the bearer token (default: the MCP server's only).
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.extra_origins.push(origin.into());
        self
    }

    /// Trusts the CA certificate(s) in `pem` in addition to the system roots (a private or
    /// test CA; issue 5 B). Certificates that do not chain to a trusted root still fail.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| ConfigError::Invalid(format!("CA certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(ConfigError::Invalid(
                "CA certificate PEM holds no certificate".into(),
            ));
        }
        self.root_certificates.extend(certs);
        Ok(self)
    }

    /// Leaves the RFC 8707 `resource` parameter out of the authorization and token requests,
    /// for providers that refuse it (Entra ID v2: `AADSTS9010010`). Ask for the provider's
    /// audience scope instead, e.g. `.scopes("api://APP-ID/.default")`; the MCP server must
    /// then accept that audience (its `audiences` setting). Default: `resource` is sent.
    pub fn omit_resource_parameter(mut self) -> Self {
        self.omit_resource_parameter = true;
        self
    }

    /// The authorization server (issuer) the configured client id belongs to. When set,
    /// that issuer is chosen from the PRM's `authorization_servers`, and a server that does
    /// not list it is refused instead of sending it these credentials (CL-16).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Receives what the interactive login has to tell the user: the authorization URL,
    /// and when the wait for the browser starts and ends. Without it the URL is logged at
    /// INFO through `tracing`; the library never writes to the terminal itself.
    ///
    /// ```
    /// use http_oauth2_client::{OAuthConfig, oauth::login::LoginEvent};
    /// let cfg = OAuthConfig::builder("http://127.0.0.1:3003/mcp")
    ///     .on_login_event(|e: &LoginEvent<'_>| {
    ///         if let LoginEvent::OpenUrl { url, .. } = e {
    ///             eprintln!("Open {url} to authorize");
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn on_login_event(mut self, f: impl Fn(&LoginEvent<'_>) + Send + Sync + 'static) -> Self {
        self.on_login_event = Some(LoginObserver::new(f));
        self
    }

    /// A custom way to obtain tokens once the authorization server and the client id are
    /// known (replaces [`LoginMode`]'s built-in flows): e.g. a GUI's own browser window, a
    /// token broker, or a test double. See [`LoginFlow`].
    pub fn login_flow(mut self, flow: Arc<dyn LoginFlow>) -> Self {
        self.login_flow = Some(flow);
        self
    }

    /// When to use DPoP-bound tokens (RFC 9449): [`crate::DpopMode::Auto`] (default: when
    /// both servers advertise it, or the resource requires it), `Always` (CLI `--dpop`) or `Never`.
    pub fn dpop(mut self, mode: crate::dpop::DpopMode) -> Self {
        self.dpop = mode;
        self
    }

    /// Authenticates the pre-registered client with `private_key_jwt` (RFC 7523 §2.2): a
    /// PKCS#8 PEM private key (P-256, Ed25519 or RSA); a fresh assertion is signed for every
    /// token request. Replaces a client secret for the `client_credentials` grant.
    pub fn private_key_jwt_pem(mut self, pem: &str) -> Result<Self, ConfigError> {
        let key = shared::dpop::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| ConfigError::Invalid(format!("private_key_jwt key: {e}")))?;
        self.client_assertion_key = Some(Arc::new(key));
        Ok(self)
    }

    /// Like [`OAuthConfigBuilder::private_key_jwt_pem`], reading the PEM from `path`.
    pub fn private_key_jwt_file(
        self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let pem = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::Invalid(format!(
                "cannot read private_key_jwt key {}: {e}",
                path.display()
            ))
        })?;
        self.private_key_jwt_pem(&pem)
    }

    /// Validates and builds.
    pub fn build(self) -> Result<OAuthConfig, ConfigError> {
        let server_url = check_url(&self.server_url, self.allow_insecure_http)?;
        if server_url.fragment().is_some() {
            return Err(ConfigError::InvalidUrl {
                url: self.server_url,
                reason: "must not have a fragment".into(),
            });
        }
        let redirect_uri = Url::parse(&self.redirect_uri).map_err(|e| ConfigError::InvalidUrl {
            url: self.redirect_uri.clone(),
            reason: e.to_string(),
        })?;
        if !shared::urls::is_loopback_http(&redirect_uri) && redirect_uri.scheme() != "https" {
            return Err(ConfigError::InvalidUrl {
                url: self.redirect_uri,
                reason: "redirect URI must be loopback http or https (CL-17)".into(),
            });
        }
        if self.login_mode == LoginMode::ClientCredentials
            && (self.client_id.is_none()
                || (self.client_secret.is_none() && self.client_assertion_key.is_none()))
        {
            return Err(ConfigError::Invalid(
                "client_credentials needs a client id and a client secret or a private_key_jwt key"
                    .into(),
            ));
        }
        if self.client_assertion_key.is_some() && self.client_secret.is_some() {
            return Err(ConfigError::Invalid(
                "give either a client secret or a private_key_jwt key, not both".into(),
            ));
        }
        if self.client_assertion_key.is_some()
            && (self.client_id.is_none() || self.issuer.is_none())
        {
            return Err(ConfigError::Invalid(
                "a private_key_jwt key needs the client id and the issuer it is registered at"
                    .into(),
            ));
        }
        if self.client_secret.is_some() && self.client_id.is_none() {
            return Err(ConfigError::Invalid(
                "a client secret was given without a client id".into(),
            ));
        }
        // A confidential client is bound to its authorization server (CL-16): without an
        // issuer the MCP server's metadata would choose where the secret is sent.
        if self.client_secret.is_some() && self.issuer.is_none() {
            return Err(ConfigError::Invalid(
                "a client secret needs the issuer it is registered at (set issuer / --issuer): \
                 without it the MCP server would choose where the secret is sent"
                    .into(),
            ));
        }
        if let Some(u) = &self.client_metadata_url {
            let parsed = check_url(u, self.allow_insecure_http)?;
            if parsed.path() == "/" {
                return Err(ConfigError::InvalidUrl {
                    url: u.clone(),
                    reason: "a client metadata document URL needs a path (CL-12)".into(),
                });
            }
        }
        let mut extra_origins = Vec::new();
        for o in &self.extra_origins {
            extra_origins.push(check_url(o, self.allow_insecure_http)?.origin());
        }
        Ok(OAuthConfig {
            server_url,
            client_id: self.client_id,
            client_secret: self.client_secret,
            client_metadata_url: self.client_metadata_url,
            client_name: self.client_name,
            scopes: self.scopes,
            redirect_uri,
            login_mode: self.login_mode,
            allow_insecure_http: self.allow_insecure_http,
            allow_insecure_local_targets: self.allow_insecure_local_targets,
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            login_timeout: self.login_timeout,
            max_retries: self.max_retries,
            token_store: self
                .token_store
                .unwrap_or_else(|| Arc::new(InMemoryTokenStore::default())),
            clock: self.clock.unwrap_or_else(shared::clock::system),
            extra_origins,
            root_certificates: self.root_certificates,
            issuer: self.issuer,
            on_login_event: self
                .on_login_event
                .unwrap_or_else(|| LoginObserver::new(crate::oauth::login::log_login_event)),
            login_flow: self.login_flow,
            dpop: self.dpop,
            client_assertion_key: self.client_assertion_key,
            omit_resource_parameter: self.omit_resource_parameter,
        })
    }
}

#[cfg(test)]
mod tests;
