//! Server configuration: a serde struct (unknown keys refused) loaded by `main.rs` from a TOML
//! file plus `MCP_SERVER__*` environment overrides, or built in code with [`Config::new`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shared::secret::ClientSecret;

/// Everything the MCP server needs to run.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the binary binds (`--bind` overrides). Ignored by [`crate::serve`], which takes
    /// a listener.
    pub bind: String,
    /// The authorization server's issuer identifier (RFC 8414 §2), exactly as the provider
    /// writes it, trailing slash included (Auth0: `https://TENANT.auth0.com/`): compared byte
    /// for byte with the tokens' `iss` and the metadata's `issuer`. PRM lists it in
    /// `authorization_servers`. Its metadata comes from RFC 8414, else OpenID discovery.
    pub auth_server_issuer: String,
    /// The canonical MCP endpoint URL (RFC 9728 `resource`, RFC 8707, the `aud` tokens must
    /// contain). `None` or empty: `http://<bound address>/mcp`.
    pub resource_url: Option<String>,
    /// JWKS URL. `None`: discovered from the AS metadata's `jwks_uri` (RFC 8414, falling back
    /// to OpenID discovery). Set, no metadata is fetched for the keys.
    pub jwks_url: Option<String>,
    /// Accepted `aud` values (a token must name one). Empty: the resource URL. E.g. Entra ID:
    /// `["api://APP-ID", "APP-GUID"]`.
    pub audiences: Vec<String>,
    /// Which access-token shape is accepted: strict RFC 9068 by default.
    pub token_profile: TokenProfileSettings,
    /// Accepted JWS algorithms (RFC 8725 §3.1). Never taken from the token.
    pub algorithms: Vec<String>,
    /// Clock skew tolerated on `exp`/`nbf`, seconds.
    pub leeway_secs: u64,
    /// JWKS cache tuning.
    pub jwks: JwksSettings,
    /// Keys and limits of the sealed `requestState` of multi round-trip requests (PR-26).
    pub request_state: RequestStateSettings,
    /// Verified-token cache tuning.
    pub token_cache: TokenCacheSettings,
    /// Optional RFC 7662 introspection (so revoked tokens stop working).
    pub introspection: Option<IntrospectionSettings>,
    /// DPoP-bound access tokens (RFC 9449): off by default.
    pub dpop: DpopSettings,
    /// Scopes each MCP method needs (`method` or `prefix/*` -> scopes, all required; `[]`: a
    /// valid token suffices). Hierarchy applies: `mcp` satisfies every `mcp:*`. Deny by
    /// default: a method no rule names is refused like an unknown method (a warning at start
    /// names each). `completion/complete` also needs the rule of what it completes
    /// (`prompts/get` for a `ref/prompt`, `resources/read` otherwise). Replacing this table
    /// in a file replaces all of [`default_scope_rules`].
    pub scopes: BTreeMap<String, Vec<String>>,
    /// Origins allowed in the `Origin` header (exact, e.g. `http://localhost:6274`). Empty:
    /// loopback origins on any port.
    pub allowed_origins: Vec<String>,
    /// Host header values allowed (`host` or `host:port`). Empty: loopback hosts plus the
    /// resource URL's host.
    pub allowed_hosts: Vec<String>,
    /// Origin/Host validation against DNS rebinding (MCP transport security). On by default.
    pub dns_rebinding_protection: bool,
    /// Resource limits.
    pub limits: Limits,
    /// Folder served read-only as `file:///` resources. `None`: no file resources.
    pub resources_dir: Option<PathBuf>,
    /// Instructions returned by `initialize` / `server/discover`.
    pub instructions: Option<String>,
    /// TLS certificate chain (PEM); with `tls_key` the server speaks HTTPS (rustls).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Extra CA certificate(s) (PEM) trusted for calls to the authorization server (metadata,
    /// JWKS, introspection), e.g. a private or test CA.
    pub auth_server_ca: Option<PathBuf>,

    // Shared session store (issue 14; docs/DEPLOYMENT.md, decisions/0010).
    /// Where legacy (2025) sessions live: `memory` (the default: this process only) or
    /// `redis://HOST:PORT/DB`, shared by every instance behind one load balancer, so a session
    /// created on one is accepted on another (GET streams stay on the instance that opened
    /// them). CLI `--store`.
    pub store: String,
    /// Prefix of every Redis key (default `mcp-server:`), so several deployments can share
    /// one Redis. CLI `--store-prefix`.
    pub store_key_prefix: String,
}

/// The accepted access-token profile (`[token_profile]`): a named base profile plus single
/// relaxations. Signature, alg allow-list, `iss`, `aud`, `exp`, `nbf` are checked in every
/// profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenProfileSettings {
    /// `rfc9068` (default: `typ` `at+jwt`, `jti`, `client_id`, `scope` string) or
    /// `generic_jwt` (every relaxation below on).
    pub profile: String,
    /// Accept `typ` `JWT` or no `typ` (overrides the profile).
    pub accept_typ_jwt: Option<bool>,
    /// Use `azp` as the client id when there is no `client_id` (overrides the profile).
    pub client_id_from_azp: Option<bool>,
    /// Accept tokens without `jti` (overrides the profile).
    pub jti_optional: Option<bool>,
    /// Read scopes from `scp` (array or string) when there is no `scope` (overrides the
    /// profile).
    pub scopes_from_scp: Option<bool>,
}

impl Default for TokenProfileSettings {
    fn default() -> Self {
        Self {
            profile: "rfc9068".to_owned(),
            accept_typ_jwt: None,
            client_id_from_azp: None,
            jti_optional: None,
            scopes_from_scp: None,
        }
    }
}

impl TokenProfileSettings {
    /// The resolved profile; `None` for an unknown profile name.
    pub fn resolve(&self) -> Option<oauth_resource::TokenProfile> {
        let base = oauth_resource::TokenProfile::named(&self.profile)?;
        Some(oauth_resource::TokenProfile {
            accept_typ_jwt: self.accept_typ_jwt.unwrap_or(base.accept_typ_jwt),
            client_id_from_azp: self.client_id_from_azp.unwrap_or(base.client_id_from_azp),
            jti_optional: self.jti_optional.unwrap_or(base.jti_optional),
            scopes_from_scp: self.scopes_from_scp.unwrap_or(base.scopes_from_scp),
        })
    }
}

/// JWKS cache settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwksSettings {
    /// Lower bound for the TTL taken from `Cache-Control: max-age`, seconds.
    pub min_ttl_secs: u64,
    /// Upper bound for that TTL, seconds.
    pub max_ttl_secs: u64,
    /// TTL used when the response has no `max-age`, seconds.
    pub default_ttl_secs: u64,
    /// Minimum interval between refetches triggered by an unknown `kid`, seconds.
    pub unknown_kid_refetch_interval_secs: u64,
    /// How long to wait before retrying after a failed fetch while serving cached keys.
    pub retry_after_failure_secs: u64,
    /// HTTP timeout for metadata and JWKS fetches, milliseconds.
    pub fetch_timeout_ms: u64,
    /// How long the AS metadata (RFC 8414: `jwks_uri`, `introspection_endpoint`) is reused,
    /// seconds. A document whose `issuer` does not match is never kept; a failed fetch is
    /// retried after `retry_after_failure_secs`; a failing `jwks_uri` triggers a refetch (at
    /// most once per `retry_after_failure_secs`).
    pub metadata_ttl_secs: u64,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            min_ttl_secs: 30,
            max_ttl_secs: 86_400,
            default_ttl_secs: 300,
            unknown_kid_refetch_interval_secs: 10,
            retry_after_failure_secs: 10,
            fetch_timeout_ms: 5_000,
            metadata_ttl_secs: 3_600,
        }
    }
}

impl From<&JwksSettings> for oauth_resource::JwksSettings {
    fn from(c: &JwksSettings) -> Self {
        use std::time::Duration;
        Self {
            min_ttl: Duration::from_secs(c.min_ttl_secs),
            max_ttl: Duration::from_secs(c.max_ttl_secs),
            default_ttl: Duration::from_secs(c.default_ttl_secs),
            unknown_kid_refetch_interval: Duration::from_secs(c.unknown_kid_refetch_interval_secs),
            retry_after_failure: Duration::from_secs(c.retry_after_failure_secs),
            metadata_ttl: Duration::from_secs(c.metadata_ttl_secs),
        }
    }
}

/// Verified-token cache settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenCacheSettings {
    /// Maximum number of cached verified tokens (0 disables the cache).
    pub max_capacity: u64,
    /// Longest time a verified token stays cached, seconds (never beyond its `exp`).
    pub max_ttl_secs: u64,
}

impl Default for TokenCacheSettings {
    fn default() -> Self {
        Self {
            max_capacity: 10_000,
            max_ttl_secs: 300,
        }
    }
}

/// RFC 7662 introspection as a confidential client (`client_secret_basic`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionSettings {
    /// Introspection endpoint; `None`: the AS metadata's `introspection_endpoint`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Our client id at the AS.
    pub client_id: String,
    /// Our client secret at the AS.
    pub client_secret: ClientSecret,
    /// How long an introspection answer is cached, seconds (never beyond `exp`).
    #[serde(default = "default_introspection_ttl")]
    pub cache_ttl_secs: u64,
}

fn default_introspection_ttl() -> u64 {
    30
}

impl IntrospectionSettings {
    /// Settings for `client_id` / `client_secret` with the default cache TTL.
    pub fn new(client_id: &str, client_secret: &str) -> Self {
        Self {
            endpoint: None,
            client_id: client_id.to_owned(),
            client_secret: ClientSecret::new(client_secret.to_owned()),
            cache_ttl_secs: default_introspection_ttl(),
        }
    }
}

shared::secret_newtype!(
    /// The DPoP nonce HMAC key: at least 32 bytes, the same on every instance.
    DpopNonceSecret
);

/// DPoP (RFC 9449) at the auth layer (`[dpop]`): `Authorization: DPoP <token>` plus a `DPoP`
/// proof per request, the token's `cnf.jkt` matching the proof key. The proof's `htu` must
/// be the resource URL's origin plus the request path. A DPoP-bound token sent as `Bearer`
/// is refused whether or not this is enabled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpopSettings {
    /// Accept DPoP-bound tokens (and advertise DPoP in challenges and the PRM).
    pub enabled: bool,
    /// Only DPoP-bound tokens (bearer refused); PRM `dpop_bound_access_tokens_required`.
    pub required: bool,
    /// Proof algorithms accepted (ES256, EdDSA, RS256); PRM
    /// `dpop_signing_alg_values_supported` and the challenge's `algs`.
    pub algorithms: Vec<String>,
    /// How far a proof's `iat` may be from now, either side, seconds (1..=3600).
    pub iat_window_secs: u64,
    /// Most proof `jti`s remembered against replay (per instance; size it for the peak proof
    /// rate times twice the window). Several instances need a shared store (issue 14).
    pub replay_cache_capacity: u64,
    /// Require server nonces (RFC 9449 §9): `use_dpop_nonce` + `DPoP-Nonce` until the proof
    /// carries a current one. Nonces are stateless (HMAC of the time slot).
    pub nonce: bool,
    /// The nonce HMAC key (>= 32 bytes), shared by every instance. Unset: random per process.
    pub nonce_secret: Option<DpopNonceSecret>,
    /// A nonce's time slot, seconds; it stays valid during the next slot too.
    pub nonce_rotation_secs: u64,
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            required: false,
            algorithms: vec!["ES256".into(), "EdDSA".into(), "RS256".into()],
            iat_window_secs: shared::dpop::DEFAULT_IAT_WINDOW_SECS,
            replay_cache_capacity: 100_000,
            nonce: false,
            nonce_secret: None,
            nonce_rotation_secs: 60,
        }
    }
}

impl DpopSettings {
    /// The auth layer's settings (call after [`Config::validate`]).
    pub fn to_layer(&self) -> oauth_resource::DpopSettings {
        use std::time::Duration;
        oauth_resource::DpopSettings {
            algorithms: self
                .algorithms
                .iter()
                .filter_map(|a| shared::dpop::parse_alg(a))
                .collect(),
            iat_window: Duration::from_secs(self.iat_window_secs),
            replay_cache_capacity: self.replay_cache_capacity,
            required: self.required,
            nonce: self.nonce.then(|| oauth_resource::NonceSettings {
                secret: self
                    .nonce_secret
                    .as_ref()
                    .map(|s| s.secret().as_bytes().to_vec()),
                rotation: Duration::from_secs(self.nonce_rotation_secs),
            }),
        }
    }
}

shared::secret_newtype!(
    /// A `requestState` MAC key (HMAC-SHA256): at least 32 bytes, e.g. `openssl rand -base64 32`.
    RequestStateSecret
);

/// One `requestState` key: its id (carried in every state it seals) and its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestStateKey {
    /// Key id: 1..=32 characters of `A-Z a-z 0-9 _ -`, unique in the ring.
    pub id: String,
    /// The secret (at least 32 bytes).
    pub secret: RequestStateSecret,
}

/// The sealed `requestState` of multi round-trip requests (MRTR, PR-26;
/// `docs/decisions/0007-mrtr-request-state.md`). The server keeps nothing between rounds: the
/// state travels to the client and back, HMAC-SHA256-sealed and bound to the tool, its
/// arguments, the token's subject and client, and this server's resource URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestStateSettings {
    /// The key ring: the first key seals, every key verifies (rotation: add the new key
    /// second, roll out, move it first, roll out, drop the old one after `ttl_secs`). Empty:
    /// a random key made at start, so state survives neither a restart nor a second instance;
    /// servers behind one load balancer must share keys.
    pub keys: Vec<RequestStateKey>,
    /// How long a sealed state stays valid, seconds.
    pub ttl_secs: u64,
    /// The most input rounds one request may take; a state past it is refused.
    pub max_rounds: u32,
}

impl Default for RequestStateSettings {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            ttl_secs: 600,
            max_rounds: 10,
        }
    }
}

/// Request and session limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted request body, bytes (then 413).
    pub max_body_bytes: usize,
    /// Time limit for producing a response (SSE streams: for the headers), seconds.
    pub request_timeout_secs: u64,
    /// Maximum concurrent legacy sessions (Streamable HTTP + HTTP+SSE); more: 503. With
    /// `store = "redis://..."`: of all instances together.
    pub max_sessions: u64,
    /// Maximum concurrent legacy sessions of one subject (the token's `sub`), so one token
    /// holder cannot take every session; more: 429. On Redis: across all instances.
    pub max_sessions_per_subject: u64,
    /// Requests of one HTTP+SSE session that may run or wait for its stream at once; more:
    /// 429, so `/messages` cannot pile up work while nobody reads the stream.
    pub max_inflight_per_stream: usize,
    /// A session unused for this long expires (then 404), seconds.
    pub session_idle_secs: u64,
    /// Page size of the list methods (cursor pagination).
    pub page_size: usize,
    /// Upper bound for `slow_task` steps x delay, milliseconds.
    pub max_slow_task_ms: u64,
    /// Events kept per legacy session for `Last-Event-ID` resumption of its GET stream, and
    /// how far a listener may fall behind the change bus before it is dropped (TR-36, PR-27).
    pub event_buffer: usize,
    /// Concurrent `subscriptions/listen` streams of one subject; more: 429.
    pub max_listeners_per_subject: usize,
    /// The `retry:` a session GET stream announces in its priming event, milliseconds (TR-32).
    pub sse_retry_ms: u64,
    /// `ttlMs` of the cache hints on `server/discover` and the list results (PR-29); 0: the
    /// client should not reuse them.
    pub cache_ttl_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 60,
            max_sessions: 1_000,
            max_sessions_per_subject: 100,
            max_inflight_per_stream: 32,
            session_idle_secs: 1_800,
            page_size: 50,
            max_slow_task_ms: 60_000,
            event_buffer: 256,
            max_listeners_per_subject: 8,
            sse_retry_ms: 1_000,
            cache_ttl_ms: 0,
        }
    }
}

/// The default scope rules (issue 3 §B, issue 11 item 9): one for every registered method
/// (deny by default: a method no rule names is refused). An empty list: a valid token
/// suffices. `completion/complete` additionally needs the rule of what it completes
/// (`prompts/get` for a `ref/prompt`, `resources/read` otherwise).
pub fn default_scope_rules() -> BTreeMap<String, Vec<String>> {
    use shared::scope::{PROMPTS_READ, RESOURCES_READ, TOOLS_CALL, TOOLS_READ};
    let open = [
        "initialize",
        "ping",
        "server/discover",
        "logging/setLevel",
        "completion/complete",
        "subscriptions/listen",
    ]
    .into_iter()
    .map(|m| (m.to_owned(), Vec::new()));
    [
        ("tools/list", TOOLS_READ),
        ("tools/call", TOOLS_CALL),
        ("resources/*", RESOURCES_READ),
        ("prompts/*", PROMPTS_READ),
    ]
    .into_iter()
    .map(|(m, s)| (m.to_owned(), vec![s.to_owned()]))
    .chain(open)
    .collect()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:3003".to_owned(),
            auth_server_issuer: "http://127.0.0.1:3002".to_owned(),
            resource_url: None,
            jwks_url: None,
            audiences: Vec::new(),
            token_profile: TokenProfileSettings::default(),
            algorithms: vec!["ES256".into(), "RS256".into(), "EdDSA".into()],
            leeway_secs: 30,
            jwks: JwksSettings::default(),
            request_state: RequestStateSettings::default(),
            token_cache: TokenCacheSettings::default(),
            introspection: None,
            dpop: DpopSettings::default(),
            scopes: default_scope_rules(),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            dns_rebinding_protection: true,
            limits: Limits::default(),
            resources_dir: None,
            instructions: Some(
                "Mock MCP server: tools echo, add, whoami, slow_task, get_weather, always_fails; input-requesting (2026-07-28) confirm_action, survey, summarize, client_roots; regional_status (x-mcp-header); toggle_tool (optional_tool) and increment (counter://value) for subscriptions."
                    .to_owned(),
            ),
            tls_cert: None,
            tls_key: None,
            auth_server_ca: None,
            store: "memory".to_owned(),
            store_key_prefix: "mcp-server:".to_owned(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("auth_server_issuer", &self.auth_server_issuer)
            .field("resource_url", &self.resource_url)
            .field("jwks_url", &self.jwks_url)
            .field("audiences", &self.audiences)
            .field("token_profile", &self.token_profile)
            .field("algorithms", &self.algorithms)
            .field("leeway_secs", &self.leeway_secs)
            .field("jwks", &self.jwks)
            .field("request_state", &self.request_state)
            .field("token_cache", &self.token_cache)
            .field("introspection", &self.introspection)
            .field("dpop", &self.dpop)
            .field("scopes", &self.scopes)
            .field("allowed_origins", &self.allowed_origins)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("dns_rebinding_protection", &self.dns_rebinding_protection)
            .field("limits", &self.limits)
            .field("resources_dir", &self.resources_dir)
            .field("store", &shared::process::redacted_store(&self.store))
            .finish_non_exhaustive()
    }
}

/// A configuration value that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `tls_cert` and `tls_key` must be set together.
    #[error("tls_cert and tls_key go together")]
    Tls,
    /// The issuer is not an absolute http(s) URL.
    #[error("auth_server_issuer {0:?} must be an absolute http(s) URL")]
    Issuer(String),
    /// `token_profile.profile` names no profile.
    #[error("token_profile.profile {0:?} is unknown (rfc9068 or generic_jwt)")]
    TokenProfile(String),
    /// An accepted audience is empty.
    #[error("audiences must not contain an empty value")]
    Audience,
    /// The resource URL is not canonical.
    #[error(
        "resource_url {0:?} must be an absolute http(s) URL without fragment or trailing slash"
    )]
    Resource(String),
    /// A URL-valued setting does not parse.
    #[error("{field} {value:?} is not an absolute http(s) URL")]
    Url {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// An algorithm is unknown or not allowed (HS*, none).
    #[error(
        "algorithm {0:?} is not supported (allowed: ES256, ES384, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA)"
    )]
    Algorithm(String),
    /// A DPoP proof algorithm is unknown or not allowed.
    #[error("dpop.algorithms: {0:?} is not supported (allowed: ES256, EdDSA, RS256)")]
    DpopAlgorithm(String),
    /// The algorithm list is empty.
    #[error("algorithms must not be empty")]
    NoAlgorithms,
    /// A numeric limit is out of range.
    #[error("{0} is out of range")]
    Limit(&'static str),
    /// A `request_state.keys` entry has a bad or duplicate id, or a secret under 32 bytes.
    #[error(
        "request_state key {0:?}: the id must be 1..=32 of A-Z a-z 0-9 _ - and unique, the secret at least 32 bytes"
    )]
    RequestStateKey(String),
    /// The resources folder does not exist.
    #[error("resources_dir {0:?} is not a directory")]
    ResourcesDir(PathBuf),
    /// `store` or `store_key_prefix` is malformed.
    #[error("{0}: {1}")]
    Store(&'static str, &'static str),
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .unwrap_or(false)
}

impl Config {
    /// Built-in defaults with the two addresses every deployment differs in (an empty
    /// `resource_url` means `http://<bound address>/mcp`).
    pub fn new(auth_server_issuer: &str, resource_url: &str) -> Self {
        Self {
            auth_server_issuer: auth_server_issuer.to_owned(),
            resource_url: (!resource_url.is_empty()).then(|| resource_url.to_owned()),
            ..Self::default()
        }
    }

    /// Checks every value; [`crate::serve`] calls it too.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !shared::process::store_url_ok(&self.store) {
            return Err(ConfigError::Store("store", shared::process::STORE_URL_RULE));
        }
        if !shared::process::store_prefix_ok(&self.store_key_prefix) {
            let rule = shared::process::STORE_PREFIX_RULE;
            return Err(ConfigError::Store("store_key_prefix", rule));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Tls);
        }
        if !is_http_url(&self.auth_server_issuer) {
            return Err(ConfigError::Issuer(self.auth_server_issuer.clone()));
        }
        if self.token_profile.resolve().is_none() {
            return Err(ConfigError::TokenProfile(
                self.token_profile.profile.clone(),
            ));
        }
        if self.audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(ConfigError::Audience);
        }
        if let Some(r) = self.resource_url.as_deref().filter(|r| !r.is_empty()) {
            let canonical = shared::urls::canonical_resource(r).ok();
            if !is_http_url(r) || canonical.as_deref() != Some(r) {
                return Err(ConfigError::Resource(r.to_owned()));
            }
        }
        if let Some(j) = &self.jwks_url
            && !is_http_url(j)
        {
            return Err(ConfigError::Url {
                field: "jwks_url",
                value: j.clone(),
            });
        }
        if let Some(i) = &self.introspection
            && let Some(e) = &i.endpoint
            && !is_http_url(e)
        {
            return Err(ConfigError::Url {
                field: "introspection.endpoint",
                value: e.clone(),
            });
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        for a in &self.algorithms {
            crate::auth::parse_algorithm(a).ok_or_else(|| ConfigError::Algorithm(a.clone()))?;
        }
        for o in &self.allowed_origins {
            if !is_http_url(o) {
                return Err(ConfigError::Url {
                    field: "allowed_origins",
                    value: o.clone(),
                });
            }
        }
        let l = &self.limits;
        if l.max_body_bytes < 1024 {
            return Err(ConfigError::Limit("limits.max_body_bytes (>= 1024)"));
        }
        if l.request_timeout_secs == 0 {
            return Err(ConfigError::Limit("limits.request_timeout_secs (> 0)"));
        }
        if l.max_sessions == 0 {
            return Err(ConfigError::Limit("limits.max_sessions (> 0)"));
        }
        if l.max_sessions_per_subject == 0 {
            return Err(ConfigError::Limit("limits.max_sessions_per_subject (> 0)"));
        }
        if l.max_inflight_per_stream == 0 {
            return Err(ConfigError::Limit("limits.max_inflight_per_stream (> 0)"));
        }
        if l.session_idle_secs == 0 {
            return Err(ConfigError::Limit("limits.session_idle_secs (> 0)"));
        }
        if l.page_size == 0 {
            return Err(ConfigError::Limit("limits.page_size (> 0)"));
        }
        if self.jwks.min_ttl_secs > self.jwks.max_ttl_secs {
            return Err(ConfigError::Limit("jwks.min_ttl_secs (<= max_ttl_secs)"));
        }
        let rs = &self.request_state;
        if rs.ttl_secs == 0 {
            return Err(ConfigError::Limit("request_state.ttl_secs (> 0)"));
        }
        if rs.max_rounds == 0 {
            return Err(ConfigError::Limit("request_state.max_rounds (> 0)"));
        }
        for (i, k) in rs.keys.iter().enumerate() {
            let id_ok = (1..=32).contains(&k.id.len())
                && k.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !id_ok || rs.keys[..i].iter().any(|o| o.id == k.id) {
                return Err(ConfigError::RequestStateKey(k.id.clone()));
            }
            if k.secret.secret().len() < 32 {
                return Err(ConfigError::RequestStateKey(k.id.clone()));
            }
        }
        let d = &self.dpop;
        if d.algorithms.is_empty() {
            return Err(ConfigError::Limit("dpop.algorithms (not empty)"));
        }
        for a in &d.algorithms {
            shared::dpop::parse_alg(a).ok_or_else(|| ConfigError::DpopAlgorithm(a.clone()))?;
        }
        if !(1..=3600).contains(&d.iat_window_secs) {
            return Err(ConfigError::Limit("dpop.iat_window_secs (1..=3600)"));
        }
        if d.replay_cache_capacity == 0 {
            return Err(ConfigError::Limit("dpop.replay_cache_capacity (> 0)"));
        }
        if d.nonce_rotation_secs == 0 {
            return Err(ConfigError::Limit("dpop.nonce_rotation_secs (> 0)"));
        }
        if d.nonce_secret
            .as_ref()
            .is_some_and(|s| s.secret().len() < 32)
        {
            return Err(ConfigError::Limit("dpop.nonce_secret (>= 32 bytes)"));
        }
        if d.required && !d.enabled {
            return Err(ConfigError::Limit("dpop.required (needs dpop.enabled)"));
        }
        if let Some(d) = &self.resources_dir
            && !d.is_dir()
        {
            return Err(ConfigError::ResourcesDir(d.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_introspection_secret() {
        let mut c = Config::new("http://127.0.0.1:3002", "http://127.0.0.1:3003/mcp");
        c.introspection = Some(IntrospectionSettings::new(
            "mcp-server",
            "dev-mcp-server-secret",
        ));
        let s = format!("{c:?}");
        assert!(!s.contains("dev-mcp-server-secret"), "{s}");
        assert!(s.contains("[redacted]"));
    }

    #[test]
    fn validate_refuses_bad_values() {
        let ok = Config::new("http://127.0.0.1:3002", "http://127.0.0.1:3003/mcp");
        ok.validate().unwrap();
        let mut c = ok.clone();
        c.store = "rediss://10.0.0.5/0".into();
        assert!(matches!(c.validate(), Err(ConfigError::Store("store", _))));
        c.store = "redis://app:hunter2@10.0.0.5:6379/0".into();
        c.validate().unwrap();
        assert!(format!("{c:?}").contains("redis://app:***@10.0.0.5:6379/0"));
        c.store_key_prefix = "a b".into();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Store("store_key_prefix", _))
        ));
        let mut c = ok.clone();
        c.auth_server_issuer = "127.0.0.1:3002".into();
        assert!(matches!(c.validate(), Err(ConfigError::Issuer(_))));
        let mut c = ok.clone();
        c.token_profile.profile = "lenient".into();
        assert!(matches!(c.validate(), Err(ConfigError::TokenProfile(_))));
        let mut c = ok.clone();
        c.resource_url = Some("http://127.0.0.1:3003/mcp/".into());
        assert!(matches!(c.validate(), Err(ConfigError::Resource(_))));
        let mut c = ok.clone();
        c.algorithms = vec!["HS256".into()];
        assert!(matches!(c.validate(), Err(ConfigError::Algorithm(_))));
        let mut c = ok.clone();
        c.algorithms = vec!["none".into()];
        assert!(c.validate().is_err());
        let mut c = ok;
        c.limits.max_body_bytes = 1;
        assert!(matches!(c.validate(), Err(ConfigError::Limit(_))));
    }

    #[test]
    fn trailing_slash_issuer_is_accepted_as_written_rs12() {
        // Auth0's issuer form: kept byte for byte (issue 13 part A).
        let c = Config::new("https://tenant.auth0.example/", "http://127.0.0.1:3003/mcp");
        c.validate().unwrap();
        assert_eq!(c.auth_server_issuer, "https://tenant.auth0.example/");
    }

    #[test]
    fn token_profile_is_rfc9068_by_default_and_relaxations_are_named() {
        let d = TokenProfileSettings::default().resolve().unwrap();
        assert_eq!(d, oauth_resource::TokenProfile::rfc9068());
        let s: TokenProfileSettings =
            serde_json::from_str(r#"{"profile": "rfc9068", "client_id_from_azp": true}"#).unwrap();
        let p = s.resolve().unwrap();
        assert!(p.client_id_from_azp && !p.accept_typ_jwt && !p.jti_optional && !p.scopes_from_scp);
        let s: TokenProfileSettings =
            serde_json::from_str(r#"{"profile": "generic_jwt", "jti_optional": false}"#).unwrap();
        let p = s.resolve().unwrap();
        assert!(p.accept_typ_jwt && p.client_id_from_azp && !p.jti_optional && p.scopes_from_scp);
    }

    #[test]
    fn rs18_default_rules_honour_hierarchy() {
        use shared::scope::ScopeSet;
        let rules = oauth_resource::ScopeRules::from_map(&default_scope_rules());
        assert_eq!(
            rules.required("tools/call").unwrap().to_string(),
            "mcp:tools:call"
        );
        assert_eq!(
            rules.required("resources/read").unwrap().to_string(),
            "mcp:resources:read"
        );
        assert_eq!(
            rules
                .required("resources/templates/list")
                .unwrap()
                .to_string(),
            "mcp:resources:read"
        );
        assert_eq!(
            rules.required("prompts/get").unwrap().to_string(),
            "mcp:prompts:read"
        );
        for open in ["initialize", "ping", "server/discover", "logging/setLevel"] {
            assert!(rules.required(open).unwrap().is_empty(), "{open}");
        }
        assert!(rules.required("no/such").is_none());
        assert!(ScopeSet::parse("mcp").satisfies_all(rules.required("tools/call").unwrap()));
    }

    #[test]
    fn dpop_settings_are_validated_and_mapped_ex03() {
        let ok = Config::new("http://127.0.0.1:3002", "http://127.0.0.1:3003/mcp");
        assert!(!ok.dpop.enabled, "DPoP is off by default");
        let bad = |edit: &dyn Fn(&mut DpopSettings)| {
            let mut c = ok.clone();
            c.dpop.enabled = true;
            edit(&mut c.dpop);
            c.validate().err().map(|e| e.to_string())
        };
        assert_eq!(bad(&|_| {}), None);
        assert_eq!(
            bad(&|d| d.algorithms = vec!["HS256".into()]),
            Some(
                "dpop.algorithms: \"HS256\" is not supported (allowed: ES256, EdDSA, RS256)".into()
            )
        );
        assert!(bad(&|d| d.algorithms.clear()).is_some());
        assert!(bad(&|d| d.iat_window_secs = 0).is_some());
        assert!(bad(&|d| d.iat_window_secs = 3601).is_some());
        assert!(bad(&|d| d.replay_cache_capacity = 0).is_some());
        assert!(bad(&|d| d.nonce_rotation_secs = 0).is_some());
        assert!(bad(&|d| d.nonce_secret = Some(DpopNonceSecret::new("short".into()))).is_some());
        let mut c = ok.clone();
        c.dpop.required = true;
        assert!(c.validate().is_err(), "required without enabled");
        let mut d = DpopSettings {
            algorithms: vec!["EdDSA".into()],
            nonce: true,
            nonce_secret: Some(DpopNonceSecret::new("x".repeat(32))),
            ..DpopSettings::default()
        };
        d.iat_window_secs = 60;
        let l = d.to_layer();
        assert_eq!(l.algorithms, vec![jsonwebtoken::Algorithm::EdDSA]);
        assert_eq!(l.iat_window.as_secs(), 60);
        assert_eq!(l.nonce.unwrap().secret.unwrap(), vec![b'x'; 32]);
        assert!(!format!("{d:?}").contains("xxxx"), "nonce secret redacted");
    }

    #[test]
    fn request_state_keys_are_validated_pr26() {
        let ok = Config::new("http://127.0.0.1:3002", "http://127.0.0.1:3003/mcp");
        let key = |id: &str, secret: &str| RequestStateKey {
            id: id.into(),
            secret: RequestStateSecret::new(secret.into()),
        };
        let long = "0123456789abcdef0123456789abcdef";
        let mut c = ok.clone();
        c.request_state.keys = vec![key("k1", long), key("k0", long)];
        c.validate().unwrap();
        for bad in [
            vec![key("k1", "short")],
            vec![key("", long)],
            vec![key("a.b", long)],
            vec![key("k1", long), key("k1", long)],
        ] {
            let mut c = ok.clone();
            c.request_state.keys = bad;
            assert!(matches!(c.validate(), Err(ConfigError::RequestStateKey(_))));
        }
        let mut c = ok;
        c.request_state.ttl_secs = 0;
        assert!(matches!(c.validate(), Err(ConfigError::Limit(_))));
        c.request_state.keys = vec![key("k1", long)];
        assert!(!format!("{c:?}").contains(long));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<Config, _> = serde_json::from_str(r#"{"bogus": 1}"#);
        assert!(r.is_err());
    }
}
