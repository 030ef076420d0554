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
    /// Pre-registered clients.
    pub clients: Vec<ClientConfig>,
    /// Dynamic client registration (RFC 7591).
    pub registration_enabled: bool,
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
            .finish_non_exhaustive()
    }
}

/// Default CLI client id.
pub const DEFAULT_PUBLIC_CLIENT: &str = "mcp-cli";
/// Default confidential service client id.
pub const DEFAULT_SERVICE_CLIENT: &str = "mcp-service";
/// Default confidential client the MCP server uses for introspection.
pub const DEFAULT_INTROSPECTION_CLIENT: &str = "mcp-server";

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
                },
                ClientConfig {
                    client_id: DEFAULT_SERVICE_CLIENT.into(),
                    client_secret: Some(ClientSecret::new("dev-service-secret".into())),
                    client_name: Some("MCP service client".into()),
                    redirect_uris: vec![],
                    grant_types: vec!["client_credentials".into()],
                    scopes: vec![],
                },
                ClientConfig {
                    client_id: DEFAULT_INTROSPECTION_CLIENT.into(),
                    client_secret: Some(ClientSecret::new("dev-mcp-server-secret".into())),
                    client_name: Some("MCP server (introspection)".into()),
                    redirect_uris: vec![],
                    grant_types: vec![],
                    scopes: vec![],
                },
            ],
            registration_enabled: true,
            max_registered_clients: 10_000,
            client_metadata_documents: true,
            insecure_allow_loopback_metadata_documents: false,
            openid_configuration: true,
            rate_limits: RateLimits::default(),
            max_body_bytes: 64 * 1024,
            request_timeout_ms: 10_000,
            faults: FaultsConfig::default(),
            tls_cert: None,
            tls_key: None,
        }
    }
}
