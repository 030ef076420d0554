//! The MCP client's public vocabulary: transports, preferences, progress.

use std::sync::Arc;

/// Which transport/era the connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// Streamable HTTP, stateless 2026-07-28 (`server/discover`, `_meta` per request).
    Stateless,
    /// Streamable HTTP with `initialize` and an optional `Mcp-Session-Id` (2025-03-26 … 2025-11-25).
    Session,
    /// HTTP+SSE (2024-11-05).
    HttpSse,
}

/// Which transport [`super::McpClient::connect_with`] should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TransportPreference {
    /// Stateless first, then `initialize`, then HTTP+SSE (TR-24, TR-42).
    #[default]
    Auto,
    /// Only the stateless 2026-07-28 protocol.
    Stateless,
    /// Only the `initialize` session protocol (2025-11-25 offered).
    Session,
    /// Only HTTP+SSE (2024-11-05); for an `/mcp` URL the sibling `/sse` is tried first.
    HttpSse,
}

/// A `notifications/progress` update (PR-39).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Progress so far (increasing).
    pub progress: f64,
    /// Total, if known.
    pub total: Option<f64>,
    /// Message, if any.
    pub message: Option<String>,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;
