//! Where legacy (2025) MCP sessions live (issue 14, decisions/0010 "MCP sessions").
//!
//! What every instance must agree on is a [`SessionRecord`]: the id, the subject and client
//! the session is bound to, the negotiated protocol version, and its sliding idle deadline
//! (a session that is not there is unknown, expired or ended, all alike). The memory store is
//! the moka cache in [`crate::transport`]'s `SessionStore` (one process, unchanged); the
//! [`redis`] store shares records between instances. The per-instance parts of a session
//! (its GET stream, resume buffer, in-flight cancellation, log level) are never shared: an
//! instance creates them when a session known to the store first reaches it.
//!
//! Every operation is async and fallible: a [`StoreError`] becomes 503 with `Retry-After`,
//! never "session not found".

pub(crate) mod redis;

use std::sync::Arc;

/// The shared store could not answer (Redis down, timeout, unexpected reply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct StoreError(pub(crate) String);

/// A store answer.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// What the instances share about one legacy session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRecord {
    pub(crate) id: Arc<str>,
    pub(crate) subject: String,
    pub(crate) client_id: String,
    /// Negotiated protocol version (one of the session-era versions or `2024-11-05`).
    pub(crate) version: &'static str,
}

/// The protocol versions a session can carry, as `'static` strings (a record read back from
/// the store names one of them; anything else is a corrupt record).
pub(crate) fn known_version(v: &str) -> Option<&'static str> {
    shared::mcp::SESSION_VERSIONS
        .iter()
        .copied()
        .chain(std::iter::once("2024-11-05"))
        .find(|k| *k == v)
}

/// The limit a create ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// `limits.max_sessions` are live.
    Total,
    /// This subject holds `limits.max_sessions_per_subject`.
    Subject,
}
