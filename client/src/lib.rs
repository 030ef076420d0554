//! # http-oauth2-client
//!
//! A reusable OAuth 2.1 client stack on `reqwest-middleware`, and an MCP client on top.
//!
//! * [`OAuthSession`] does the whole dance: probe the MCP server, discover Protected
//!   Resource Metadata (RFC 9728) and authorization-server metadata (RFC 8414 / OIDC),
//!   obtain a client id (pre-registered, Client ID Metadata Document, or dynamic
//!   registration), load stored tokens or log in (PKCE S256, `state`, `resource`, RFC 9207
//!   `iss`), and return an HTTP client carrying [`BearerAuth`].
//! * [`BearerAuth`] (a `reqwest_middleware::Middleware`) attaches tokens only to allowed
//!   origins, refreshes proactively and on 401 through the single-flight [`TokenManager`]
//!   (one token-endpoint call however many callers; rotated refresh tokens stored), and
//!   steps up on 403 `insufficient_scope` with the union of scopes.
//! * [`TokenStore`]: [`InMemoryTokenStore`] and the JWE-encrypted [`FileTokenStore`].
//! * [`McpClient`]: Streamable HTTP in both eras (stateless 2026-07-28 `server/discover`,
//!   falling back to `initialize` sessions) and HTTP+SSE (2024-11-05).
//!
//! ```no_run
//! use http_oauth2_client::{McpClient, OAuthConfig, OAuthSession, FileTokenStore};
//! use std::sync::Arc;
//!
//! # async fn run() -> Result<(), http_oauth2_client::ClientError> {
//! let config = OAuthConfig::builder("http://127.0.0.1:3003/mcp")
//!     .client_id("mcp-cli")                       // or omit: dynamic registration
//!     .headless()                                 // auto-approving AS; default: browser
//!     .with_token_store(Arc::new(FileTokenStore::open("tokens.jwe")?))
//!     .build()?;
//! let session = OAuthSession::connect(config).await?;
//! let mcp = McpClient::connect(session.client(), session.server_url().clone()).await?;
//! let tools = mcp.list_tools().await?;
//! let result = mcp
//!     .call_tool("echo", serde_json::json!({"text": "hi"}), None)
//!     .await?;
//! println!("{} tools; echo said {result}", tools.len());
//! # Ok(()) }
//! ```
//!
//! The same middleware on a plain REST client:
//!
//! ```no_run
//! # async fn run(session: http_oauth2_client::OAuthSession) -> Result<(), http_oauth2_client::ClientError> {
//! use http_oauth2_client::BearerAuth;
//! let api = url::Url::parse("https://api.example/").unwrap();
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(BearerAuth::new(session.token_manager().clone(), &api))
//!     .build();
//! let body = client.get("https://api.example/items").send().await?.text().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod mcp;
pub mod middleware;
pub mod oauth;
mod session;
pub mod token;

pub use config::{LoginMode, OAuthConfig, OAuthConfigBuilder, UrlPolicy};
pub use error::{ClientError, ConfigError};
pub use mcp::{
    McpClient, Progress, ProgressFn, ResponseCache, ServerEvent, Subscription, SubscriptionFilter,
    TransportKind, TransportPreference,
};
pub use middleware::BearerAuth;
pub use session::OAuthSession;
pub use token::{
    Authorizer, FileTokenStore, InMemoryTokenStore, StoreKey, TokenManager, TokenSet, TokenStore,
};
