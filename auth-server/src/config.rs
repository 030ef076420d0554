//! Server configuration: a serde `Config` loaded from TOML (and `AUTH_SERVER__*` environment
//! variables) by `main.rs`, validated by [`Config::validate`]. Libraries take typed values.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shared::secret::ClientSecret;

mod validate;

pub use validate::ConfigError;
pub(crate) use validate::check_redirect_uri;

/// Signing algorithm for access tokens (RFC 9068 requires RS256 support; ES256 is the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256.
    #[default]
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlgorithm {
    /// Every supported algorithm (ES256, the default, first).
    pub const ALL: [Self; 3] = [Self::ES256, Self::EdDSA, Self::RS256];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::EdDSA => "EdDSA",
        }
    }
    /// Parses a JOSE `alg` name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(Self::ES256),
            "RS256" => Some(Self::RS256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }
}

/// A pre-registered client.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The client identifier.
    pub client_id: String,
    /// Secret for confidential clients; absent for public clients.
    #[serde(default)]
    pub client_secret: Option<ClientSecret>,
    /// Display name on the consent page.
    #[serde(default)]
    pub client_name: Option<String>,
    /// Registered redirect URIs (https, or loopback http with any port at request time).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Allowed grant types.
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    /// Scopes this client may ask for; empty means every offered scope.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: the client gets no token without a DPoP
    /// proof. Default false.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// `private_key_jwt` (RFC 7523 §2.2): the client's public keys (a JWK Set, inline). A
    /// client with `jwks` and no secret authenticates with signed client assertions.
    #[serde(default)]
    pub jwks: Option<shared::dpop::JwkSet>,
    /// `private_key_jwt` with the keys fetched from this URL instead (same address policy as
    /// Client ID Metadata Documents, cached per `Cache-Control`, 60 s to 1 h).
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into()]
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uris", &self.redirect_uris)
            .field("grant_types", &self.grant_types)
            .finish_non_exhaustive()
    }
}

/// Per-address rate limits, requests per minute; 0 disables the limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// `/token`, `/revoke`, `/introspect`.
    pub token_per_minute: u32,
    /// `/register`.
    pub register_per_minute: u32,
    /// `/authorize`.
    pub authorize_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            token_per_minute: 600,
            register_per_minute: 60,
            authorize_per_minute: 300,
        }
    }
}

/// Dynamic client registration policy (RFC 7591 §3): what an anonymous `POST /register` may
/// create, and what needs an initial access token.
///
/// Default: anonymous registrations create **public** clients (`token_endpoint_auth_method`
/// `none`) with the `authorization_code` and `refresh_token` grants only: no client secret, no
/// `client_credentials` (which would yield tokens without any user consent), and no
/// introspection rights (dynamically registered clients never get those, whatever the policy).
/// Anything more comes only from configuration: widen the anonymous allow-lists below, or
/// set [`initial_access_token`](Self::initial_access_token) and let the clients that know it
/// register confidential clients and the `client_credentials` grant.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationPolicy {
    /// Grant types an anonymous registration may ask for (allow-list). Default
    /// `["authorization_code", "refresh_token"]`.
    pub anonymous_grant_types: Vec<String>,
    /// `token_endpoint_auth_method` values an anonymous registration may ask for (allow-list).
    /// Default `["none"]`: public clients only.
    pub anonymous_auth_methods: Vec<String>,
    /// RFC 7591 §3 initial access token (at least 16 characters). A registration that presents
    /// it as `Authorization: Bearer <token>` may ask for every supported grant type and
    /// authentication method; a wrong token gets 401 `invalid_token`. Absent by default.
    pub initial_access_token: Option<ClientSecret>,
    /// Refuse every registration without the initial access token (needs
    /// `initial_access_token`). Default false: anonymous registration follows the allow-lists.
    pub require_initial_access_token: bool,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            anonymous_grant_types: default_grant_types(),
            anonymous_auth_methods: vec!["none".into()],
            initial_access_token: None,
            require_initial_access_token: false,
        }
    }
}

impl std::fmt::Debug for RegistrationPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationPolicy")
            .field("anonymous_grant_types", &self.anonymous_grant_types)
            .field("anonymous_auth_methods", &self.anonymous_auth_methods)
            .field(
                "initial_access_token",
                &self.initial_access_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "require_initial_access_token",
                &self.require_initial_access_token,
            )
            .finish()
    }
}

/// DPoP (RFC 9449) at the token endpoint: proofs bind the issued tokens to the client's key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpopConfig {
    /// Accept DPoP proofs and advertise `dpop_signing_alg_values_supported` (default true).
    /// Off: a `DPoP` header is ignored and every token is a bearer token.
    pub enabled: bool,
    /// Require a server nonce in every proof (RFC 9449 §8): a proof without the current one
    /// gets `use_dpop_nonce` and a `DPoP-Nonce` header. Nonces are an HMAC of the time window
    /// under a key derived from the keys folder's secret, so every instance sharing the folder
    /// accepts the others' nonces. Default false.
    pub nonce: bool,
    /// Length of a nonce's time window, seconds; the current and the previous window's nonce
    /// are accepted (default 60).
    pub nonce_window_secs: u64,
    /// How far a proof's `iat` may be from now, seconds (default 300, the MCP extension's ±5
    /// minutes).
    pub iat_window_secs: u64,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            nonce: false,
            nonce_window_secs: 60,
            iat_window_secs: shared::dpop::DEFAULT_IAT_WINDOW_SECS,
        }
    }
}

/// An enterprise identity provider whose ID-JAGs this server redeems (the JWT bearer grant,
/// MCP enterprise-managed authorization).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIdp {
    /// The IdP's issuer: an ID-JAG's `iss` must equal it exactly.
    pub issuer: String,
    /// Where its JWK Set is fetched (same address policy as Client ID Metadata Documents:
    /// https and public addresses, loopback http only with
    /// `insecure_allow_loopback_metadata_documents`), cached per its `Cache-Control`. Without
    /// `jwks_url` and `jwks`: the `jwks_uri` of its RFC 8414 metadata (discovery).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Or its keys inline.
    #[serde(default)]
    pub jwks: Option<shared::dpop::JwkSet>,
}

/// Which client may obtain ID-JAGs for which audiences (the IdP role).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdJagRule {
    /// The client at this IdP asking for the ID-JAG (it holds the user's token).
    pub client_id: String,
    /// The MCP authorization servers (issuers) it may get ID-JAGs for.
    pub audiences: Vec<String>,
    /// The resources (MCP servers) it may name; empty: any.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The scopes an ID-JAG may carry; empty: whatever is asked.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The client's id at the MCP authorization server (the ID-JAG's `client_id`); default
    /// the same id.
    #[serde(default)]
    pub target_client_id: Option<String>,
}

/// This server as an enterprise identity provider: it issues ID-JAGs by RFC 8693 token
/// exchange for the holders of its access tokens, under [`IdpConfig::policy`]. Off by
/// default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdpConfig {
    /// Answer `requested_token_type=urn:ietf:params:oauth:token-type:id-jag`.
    pub enabled: bool,
    /// ID-JAG lifetime, seconds (short: default 300).
    pub id_jag_ttl_secs: u64,
    /// Who may get ID-JAGs for which audiences; nothing else is issued.
    pub policy: Vec<IdJagRule>,
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            id_jag_ttl_secs: 300,
            policy: Vec::new(),
        }
    }
}

/// Fault injection for tests ("error simulation"). Off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsConfig {
    /// Enables the `/_faults` control endpoint and the in-process controller.
    pub enabled: bool,
}

/// Authorization server configuration. Every field has a safe documented default.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Issuer identifier (RFC 8414 §2): exact, no trailing slash. Empty = `http://<bound addr>`.
    pub issuer: String,
    /// Address to bind.
    pub bind: String,
    /// Folder with signing keys; generated on first start. Empty = ephemeral in-memory keys.
    pub keys_dir: Option<PathBuf>,
    /// Access-token signing algorithm.
    pub signing_algorithm: SigningAlgorithm,
    /// Access-token lifetime in seconds (short-lived, checklist AS-39).
    pub access_token_ttl_secs: u64,
    /// Refresh-token lifetime in seconds.
    pub refresh_token_ttl_secs: u64,
    /// Authorization-code lifetime in seconds (single use).
    pub code_ttl_secs: u64,
    /// Seconds during which a just-rotated refresh token may be presented again by the same
    /// client without revoking the grant (concurrent refresh, checklist AS-45): the replay gets
    /// the successor already issued, never a second chain. Strict: `0` means no window.
    pub refresh_grace_secs: u64,
    /// How long a retired signing key stays in the JWKS, seconds.
    pub retired_key_ttl_secs: u64,
    /// Accepted RFC 8707 resources (canonical MCP endpoint URLs).
    pub resources: Vec<String>,
    /// Scopes offered (`mcp` implies every `mcp:*` scope).
    pub scopes: Vec<String>,
    /// Scope granted when a request names none.
    pub default_scope: String,
    /// Approve authorization requests without showing the consent page (local development).
    pub auto_approve: bool,
    /// The resource owner the mock logs in as.
    pub subject: String,
    /// Pre-registered clients. When omitted, the built-in development clients apply, whose
    /// secrets ([`BUILTIN_SECRETS`]) are public: they are refused on a non-loopback `bind`
    /// unless [`insecure_allow_builtin_secrets_off_loopback`](Self::insecure_allow_builtin_secrets_off_loopback)
    /// is set, and a warning is logged at start-up whenever they are in use.
    pub clients: Vec<ClientConfig>,
    /// **Insecure**, development only: serve the built-in development client secrets
    /// (`mcp-service` / `dev-service-secret`, `mcp-server` / `dev-mcp-server-secret`) on a
    /// non-loopback address. Anyone who can reach the server then gets `client_credentials`
    /// tokens and introspection rights. Default false.
    pub insecure_allow_builtin_secrets_off_loopback: bool,
    /// Dynamic client registration (RFC 7591), following [`registration_policy`](Self::registration_policy).
    pub registration_enabled: bool,
    /// What dynamic registration may create (default: public authorization-code clients only).
    pub registration_policy: RegistrationPolicy,
    /// Maximum number of dynamically registered clients.
    pub max_registered_clients: usize,
    /// Client ID Metadata Documents: https `client_id` URLs are fetched.
    pub client_metadata_documents: bool,
    /// **Insecure**, development only: lets CIMD fetches reach loopback addresses over http.
    pub insecure_allow_loopback_metadata_documents: bool,
    /// Serve `/.well-known/openid-configuration` too (with the OIDC-required members).
    pub openid_configuration: bool,
    /// Rate limits per client address.
    pub rate_limits: RateLimits,
    /// Maximum request body, bytes.
    pub max_body_bytes: usize,
    /// Per-request timeout, milliseconds.
    pub request_timeout_ms: u64,
    /// Fault injection.
    pub faults: FaultsConfig,
    /// DPoP at the token endpoint (RFC 9449).
    pub dpop: DpopConfig,
    /// Enterprise IdPs whose ID-JAGs are redeemed with the JWT bearer grant (clients need
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` in their `grant_types`).
    pub trusted_idps: Vec<TrustedIdp>,
    /// This server as an enterprise IdP issuing ID-JAGs.
    pub idp: IdpConfig,
    /// Where grant state lives (issue 14): `memory` (the default: one process, lost on
    /// restart) or `redis://HOST:PORT/DB`, shared by every instance of one authorization
    /// server (they also share `issuer` and `keys_dir`; docs/DEPLOYMENT.md). CLI `--store`.
    pub store: String,
    /// Prefix of every Redis key, so several deployments can share one Redis (default
    /// `mcp-auth:`). CLI `--store-prefix`.
    pub store_key_prefix: String,
    /// TLS certificate chain (PEM); with `tls_key` the server speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("bind", &self.bind)
            .field("keys_dir", &self.keys_dir)
            .field("signing_algorithm", &self.signing_algorithm)
            .field("resources", &self.resources)
            .field("auto_approve", &self.auto_approve)
            .field("clients", &self.clients)
            .field("store", &shared::process::redacted_store(&self.store))
            .finish_non_exhaustive()
    }
}

/// Default CLI client id.
pub const DEFAULT_PUBLIC_CLIENT: &str = "mcp-cli";
/// Default confidential service client id.
pub const DEFAULT_SERVICE_CLIENT: &str = "mcp-service";
/// Default confidential client the MCP server uses for introspection.
pub const DEFAULT_INTROSPECTION_CLIENT: &str = "mcp-server";
/// The secrets of the built-in development clients ([`DEFAULT_SERVICE_CLIENT`],
/// [`DEFAULT_INTROSPECTION_CLIENT`]): published in this repository, so for loopback use only.
pub const BUILTIN_SECRETS: [&str; 2] = ["dev-service-secret", "dev-mcp-server-secret"];

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            bind: "127.0.0.1:3002".into(),
            keys_dir: None,
            signing_algorithm: SigningAlgorithm::ES256,
            access_token_ttl_secs: 300,
            refresh_token_ttl_secs: 86_400,
            code_ttl_secs: 60,
            refresh_grace_secs: 2,
            retired_key_ttl_secs: 3_600,
            resources: vec!["http://127.0.0.1:3003/mcp".into()],
            scopes: shared::scope::DEFAULT_SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            default_scope: "mcp".into(),
            auto_approve: true,
            subject: "demo-user".into(),
            clients: vec![
                ClientConfig {
                    client_id: DEFAULT_PUBLIC_CLIENT.into(),
                    client_secret: None,
                    client_name: Some("MCP command-line client".into()),
                    redirect_uris: vec!["http://127.0.0.1/callback".into()],
                    grant_types: default_grant_types(),
                    scopes: vec![],
                    dpop_bound_access_tokens: false,
                    jwks: None,
                    jwks_uri: None,
                },
                ClientConfig {
                    client_id: DEFAULT_SERVICE_CLIENT.into(),
                    client_secret: Some(ClientSecret::new(BUILTIN_SECRETS[0].into())),
                    client_name: Some("MCP service client".into()),
                    redirect_uris: vec![],
                    grant_types: vec!["client_credentials".into()],
                    scopes: vec![],
                    dpop_bound_access_tokens: false,
                    jwks: None,
                    jwks_uri: None,
                },
                ClientConfig {
                    client_id: DEFAULT_INTROSPECTION_CLIENT.into(),
                    client_secret: Some(ClientSecret::new(BUILTIN_SECRETS[1].into())),
                    client_name: Some("MCP server (introspection)".into()),
                    redirect_uris: vec![],
                    grant_types: vec![],
                    scopes: vec![],
                    dpop_bound_access_tokens: false,
                    jwks: None,
                    jwks_uri: None,
                },
            ],
            insecure_allow_builtin_secrets_off_loopback: false,
            registration_enabled: true,
            registration_policy: RegistrationPolicy::default(),
            max_registered_clients: 10_000,
            client_metadata_documents: true,
            insecure_allow_loopback_metadata_documents: false,
            openid_configuration: true,
            rate_limits: RateLimits::default(),
            max_body_bytes: 64 * 1024,
            request_timeout_ms: 10_000,
            faults: FaultsConfig::default(),
            dpop: DpopConfig::default(),
            trusted_idps: Vec::new(),
            idp: IdpConfig::default(),
            store: "memory".into(),
            store_key_prefix: "mcp-auth:".into(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_output_hides_the_redis_password() {
        let c = super::Config {
            store: "redis://app:hunter2@10.0.0.5:6379/0".into(),
            ..super::Config::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redis://app:***@10.0.0.5:6379/0"), "{shown}");
    }
}
