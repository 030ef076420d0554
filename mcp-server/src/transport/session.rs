//! Sessions of the legacy eras (Streamable HTTP 2025-03-26..2025-11-25 and HTTP+SSE):
//! random ids (256 bits, visible ASCII, TR-37), bound to the token's subject and client
//! (RS-21), expired when idle (moka `time_to_idle`), bounded in number.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use jsonrpsee::types::ErrorObject;
use jsonrpsee::types::error::INVALID_REQUEST_CODE;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::message::error_response;
use crate::auth::AuthContext;
use crate::rpc::LogChannel;

/// 404 "Session not found": unknown, expired, ended, or another token's session.
pub(crate) fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        None,
        ErrorObject::borrowed(INVALID_REQUEST_CODE, "Session not found", None),
    )
}

/// One legacy session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: Arc<str>,
    subject: String,
    client_id: String,
    /// Negotiated protocol version.
    pub(crate) version: &'static str,
    /// The server-to-client stream (GET /mcp, or the HTTP+SSE stream) and log level.
    pub(crate) log: Arc<LogChannel>,
    /// Cancellable in-flight requests by JSON-RPC id (serialised).
    inflight: Mutex<HashMap<String, AbortHandle>>,
}

impl Session {
    /// Whether the token that presents this session id is the one that created it.
    fn bound_to(&self, auth: &AuthContext) -> bool {
        self.subject == auth.subject && self.client_id == auth.client_id
    }

    pub(crate) fn stream_sender(&self) -> Option<mpsc::Sender<String>> {
        self.log.sink()
    }

    pub(crate) fn set_stream(&self, tx: Option<mpsc::Sender<String>>) {
        self.log.set_sink(tx);
    }

    pub(crate) fn track(&self, id: String, h: AbortHandle) {
        if let Ok(mut g) = self.inflight.lock() {
            g.insert(id, h);
        }
    }

    pub(crate) fn untrack(&self, id: &str) {
        if let Ok(mut g) = self.inflight.lock() {
            g.remove(id);
        }
    }

    /// `notifications/cancelled`: aborts the request if it is still running (PR-40).
    pub(crate) fn cancel(&self, id: &str) -> bool {
        let h = self.inflight.lock().ok().and_then(|mut g| g.remove(id));
        match h {
            Some(h) => {
                h.abort();
                true
            }
            None => false,
        }
    }
}

/// Too many sessions.
#[derive(Debug)]
pub(crate) struct TooManySessions;

/// All live sessions.
#[derive(Debug, Clone)]
pub(crate) struct SessionStore {
    cache: moka::sync::Cache<Arc<str>, Arc<Session>>,
    /// Live sessions, exact (moka's `entry_count` lags behind inserts).
    live: Arc<AtomicU64>,
    max: u64,
}

impl SessionStore {
    pub(crate) fn new(max: u64, idle: Duration) -> Self {
        let live = Arc::new(AtomicU64::new(0));
        let on_evict = live.clone();
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(max.saturating_mul(2))
                .time_to_idle(idle)
                .eviction_listener(move |_k, _v, _cause| {
                    on_evict.fetch_sub(1, Ordering::AcqRel);
                })
                .build(),
            live,
            max,
        }
    }

    pub(crate) fn create(
        &self,
        auth: &AuthContext,
        version: &'static str,
    ) -> Result<Arc<Session>, TooManySessions> {
        if self
            .live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_err()
        {
            // Expired sessions are counted until moka's housekeeping evicts them.
            self.cache.run_pending_tasks();
            if self
                .live
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.max).then_some(n + 1)
                })
                .is_err()
            {
                return Err(TooManySessions);
            }
        }
        let id: Arc<str> = shared::random::token().into();
        let s = Arc::new(Session {
            id: id.clone(),
            subject: auth.subject.clone(),
            client_id: auth.client_id.clone(),
            version,
            log: Arc::new(LogChannel::new()),
            inflight: Mutex::new(HashMap::new()),
        });
        self.cache.insert(id, s.clone());
        Ok(s)
    }

    /// The session `id` if it exists and was created with this token's subject and client;
    /// a session presented by another user or client is treated as unknown (RS-21).
    pub(crate) fn bound(&self, id: &str, auth: &AuthContext) -> Result<Arc<Session>, Response> {
        match self.cache.get(id) {
            Some(s) if s.bound_to(auth) => Ok(s),
            _ => Err(not_found()),
        }
    }

    pub(crate) fn remove(&self, id: &str) -> Option<Arc<Session>> {
        self.cache.remove(id)
    }
}
