//! # http-oauth2-client
//!
//! A reusable OAuth 2.1 client stack on `reqwest-middleware`, and an MCP client on top.
//!
//! * [`AuthOnDemand`] (a `reqwest_middleware::Middleware`) authenticates only when a
//!   server asks: requests go out without a token until a 401 `Bearer` challenge (or a 403
//!   `insufficient_scope`); then it discovers Protected Resource Metadata (RFC 9728) and
//!   authorization-server metadata (RFC 8414 / OIDC), obtains a client id (pre-registered,
//!   Client ID Metadata Document, or dynamic registration), logs in through a pluggable
//!   [`oauth::login::LoginFlow`] (PKCE S256, `state`, `resource`, RFC 9207 `iss`), and
//!   retries the request once. Concurrent first requests cause one login; a server whose
//!   metadata starts naming another authorization server gets a new registration and login
//!   there (ADR 0006).
//! * [`OAuthSession`] does the same dance up front (for a `login` command): probe, discover,
//!   register, log in, and hand out a client carrying [`BearerAuth`].
//! * [`BearerAuth`] (a `reqwest_middleware::Middleware`) attaches tokens only to allowed
//!   origins, refreshes proactively and on 401 through the single-flight [`TokenManager`]
//!   (one token-endpoint call however many callers; rotated refresh tokens stored), and
//!   steps up on 403 `insufficient_scope` with the union of scopes.
//! * [`TokenStore`]: [`InMemoryTokenStore`] and the JWE-encrypted [`FileTokenStore`], keyed
//!   by (issuer, resource, client id); a server that never asks leaves nothing there.
//! * DPoP (RFC 9449, [`dpop`]): sender-constrained tokens with a per-session key kept
//!   (encrypted) with the tokens; used when the servers advertise it or [`DpopMode::Always`].
//! * [`McpClient`]: Streamable HTTP in both eras (stateless 2026-07-28 `server/discover`,
//!   falling back to `initialize` sessions) and HTTP+SSE (2024-11-05).
//!
//! ```no_run
//! use http_oauth2_client::{AuthOnDemand, McpClient, OAuthConfig, FileTokenStore};
//! use std::sync::Arc;
//!
//! # async fn run() -> Result<(), http_oauth2_client::ClientError> {
//! let config = OAuthConfig::builder("http://127.0.0.1:3003/mcp")
//!     .client_id("mcp-cli")                       // or omit: dynamic registration
//!     .headless()                                 // auto-approving AS; default: browser
//!     .with_token_store(Arc::new(FileTokenStore::open("tokens.jwe")?))
//!     .build()?;
//! let auth = AuthOnDemand::new(config);           // no request yet
//! let mcp = McpClient::connect(auth.client()?, auth.server_url().clone()).await?;
//! let tools = mcp.list_tools().await?;
//! let result = mcp
//!     .call_tool("echo", serde_json::json!({"text": "hi"}), None)
//!     .await?;
//! println!("{} tools; echo said {result}", tools.len());
//! if auth.session().is_none() {
//!     println!("the server needed no authorization");
//! }
//! # Ok(()) }
//! ```
//!
//! The same middleware on a plain REST client: it logs in on the API's first 401 (the
//! configured URL is the resource its metadata names).
//!
//! ```no_run
//! # async fn run() -> Result<(), http_oauth2_client::ClientError> {
//! use http_oauth2_client::{AuthOnDemand, OAuthConfig};
//! let auth = AuthOnDemand::new(OAuthConfig::builder("https://api.example/v1").build()?);
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(auth.clone())
//!     .build();
//! let body = client.get("https://api.example/v1/items").send().await?.text().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod config;
pub mod dpop;
pub mod error;
pub mod mcp;
pub mod middleware;
pub mod oauth;
mod session;
pub mod token;

pub use config::{LoginMode, OAuthConfig, OAuthConfigBuilder, UrlPolicy};
pub use dpop::DpopMode;
pub use error::{ClientError, ConfigError};
pub use mcp::{
    McpClient, Progress, ProgressFn, ResponseCache, ServerEvent, Subscription, SubscriptionFilter,
    TransportKind, TransportPreference,
};
pub use middleware::{AuthOnDemand, BearerAuth};
pub use session::OAuthSession;
pub use token::{
    Authorizer, FileTokenStore, InMemoryTokenStore, StoreKey, TokenManager, TokenSet, TokenStore,
};
