//! What a method call gets from the transport: the per-request [`RequestCtx`] (inserted into
//! the jsonrpsee `Extensions`), the protocol [`Era`], and a legacy session's [`LogChannel`].

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::LOG_LEVELS;
use crate::auth::AuthContext;

/// Which protocol rules a request follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// `initialize`-negotiated version (2024-11-05 .. 2025-11-25).
    Legacy(&'static str),
    /// Stateless 2026-07-28.
    Modern,
}

/// Sink for notifications tied to one request (progress): serialised JSON-RPC messages.
pub(crate) type NotificationSink = mpsc::Sender<String>;

/// A legacy session's server-to-client channel (GET stream or HTTP+SSE stream) with the
/// level set by `logging/setLevel` (PR-18). Logging is off until the client sets a level.
#[derive(Debug, Default)]
pub(crate) struct LogChannel {
    level: std::sync::atomic::AtomicUsize,
    sink: std::sync::Mutex<Option<NotificationSink>>,
}

const LOG_OFF: usize = usize::MAX;

impl LogChannel {
    /// A channel with logging off and no stream.
    pub(crate) fn new() -> Self {
        Self {
            level: std::sync::atomic::AtomicUsize::new(LOG_OFF),
            sink: std::sync::Mutex::new(None),
        }
    }
    /// The stream sender, if a stream is open.
    pub(crate) fn sink(&self) -> Option<NotificationSink> {
        self.sink.lock().ok().and_then(|g| g.clone())
    }
    /// Attaches (or detaches) the stream.
    pub(crate) fn set_sink(&self, tx: Option<NotificationSink>) {
        if let Ok(mut g) = self.sink.lock() {
            *g = tx;
        }
    }
    pub(crate) fn set_level(&self, idx: usize) {
        self.level.store(idx, std::sync::atomic::Ordering::Relaxed);
    }
    /// Sends `notifications/message` if `level` passes the client's threshold and a stream
    /// is open; never blocks (a full stream drops the message). `data` is built only then (no
    /// `Value` built per request while logging is off).
    pub(crate) fn log(&self, level: &str, logger: &str, data: impl FnOnce() -> Value) {
        let min = self.level.load(std::sync::atomic::Ordering::Relaxed);
        let Some(idx) = LOG_LEVELS.iter().position(|l| *l == level) else {
            return;
        };
        if min == LOG_OFF || idx < min {
            return;
        }
        if let Some(tx) = self.sink() {
            let n = json!({"jsonrpc": "2.0", "method": "notifications/message",
                "params": {"level": level, "logger": logger, "data": data()}});
            let _ = tx.try_send(n.to_string());
        }
    }
}

/// Per-request context inserted into the jsonrpsee [`Extensions`] (by value: one allocation
/// fewer than an `Arc`; a clone costs reference counts, and the progress token when present).
#[derive(Debug, Clone)]
pub(crate) struct RequestCtx {
    /// The validated token.
    pub(crate) auth: Arc<AuthContext>,
    /// Protocol era of this request.
    pub(crate) era: Era,
    /// `_meta.progressToken` and where to send progress, when the transport can deliver it.
    pub(crate) progress: Option<(Value, NotificationSink)>,
    /// The legacy session's log channel, if any.
    pub(crate) log: Option<Arc<LogChannel>>,
    /// A `tools/call`'s name and arguments as the transport found them (no third parse).
    pub(crate) call: Option<super::tools::CallHint>,
}

impl RequestCtx {
    pub(crate) fn modern(&self) -> bool {
        self.era == Era::Modern
    }

    /// Adds `resultType` (and cache hints for cacheable results) under 2026-07-28
    /// (checklist PR-23, PR-29).
    pub(crate) fn finish(&self, mut v: Value, cache: Option<&'static str>) -> Value {
        if self.modern()
            && let Some(o) = v.as_object_mut()
        {
            o.insert("resultType".into(), json!("complete"));
            if let Some(scope) = cache {
                o.insert("ttlMs".into(), json!(0));
                o.insert("cacheScope".into(), json!(scope));
            }
        }
        v
    }
}
