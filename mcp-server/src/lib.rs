//! An OAuth 2.1-protected MCP server (`http-mcp-mock-server`).
//!
//! * [`auth`]: a reusable tower layer validating RFC 9068 JWT access tokens against the
//!   authorization server's JWKS (moka caches), with RFC 6750/9728 challenges.
//! * `rpc` (private): the MCP methods as a jsonrpsee `RpcModule` (tools, resources, prompts,
//!   completion, ping, logging).
//! * `transport`: Streamable HTTP (session era 2025-03-26..2025-11-25 and stateless
//!   2026-07-28 on one endpoint), HTTP+SSE (2024-11-05), PRM, Origin/Host checks, CORS.
//!
//! ```no_run
//! # async fn run() -> Result<(), mcp_server::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let config = mcp_server::Config::new("http://127.0.0.1:3002", "");
//! let server = mcp_server::serve(listener, config).await?;
//! println!("MCP endpoint: {}", server.resource_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Rejections are ready HTTP responses (the tower-http convention: "a rejection is a response,
// not an error"), built at most once per request; boxing them would only add an allocation.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod config;
mod error;
mod rpc;
mod server;
mod store;
mod transport;

pub use config::Config;
pub use error::Error;
pub use server::{RunningServer, serve, serve_unprotected};
