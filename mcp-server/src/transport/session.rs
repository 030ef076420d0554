//! Sessions of the legacy eras (Streamable HTTP 2025-03-26..2025-11-25 and HTTP+SSE):
//! random ids (256 bits, visible ASCII, TR-37), bound to the token's subject and client
//! (RS-21), expired when idle (moka `time_to_idle`), bounded in number overall and per
//! subject (so one token holder cannot take them all), with a bounded number of requests in
//! flight per HTTP+SSE stream.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use jsonrpsee::types::ErrorObject;
use jsonrpsee::types::error::{INTERNAL_ERROR_CODE, INVALID_REQUEST_CODE};
use serde_json::value::RawValue;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::AbortHandle;

use super::message::error_response;
use super::respond::AbortOnDrop;
use super::resume::Outbox;
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
    /// Places for requests answered on the HTTP+SSE stream (running or waiting for it).
    stream_work: Arc<Semaphore>,
    /// `resources/subscribe`d URIs (PR-35), at most
    /// [`MAX_RESOURCE_SUBSCRIPTIONS`](crate::rpc::subscriptions::MAX_RESOURCE_SUBSCRIPTIONS).
    pub(crate) subscribed: Arc<Mutex<HashSet<Arc<str>>>>,
    /// The GET stream's messages with ids, for `Last-Event-ID` (TR-36).
    pub(crate) outbox: Arc<Outbox>,
    /// The task feeding the session's stream from the change bus; ends with the session.
    pub(crate) pump: OnceLock<AbortOnDrop>,
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

    /// A place for one more request answered on the stream, held until the answer is on it;
    /// `None` when `limits.max_inflight_per_stream` are taken.
    pub(crate) fn stream_work(&self) -> Option<OwnedSemaphorePermit> {
        self.stream_work.clone().try_acquire_owned().ok()
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

/// 429 for a request beyond `limits.max_inflight_per_stream` of its HTTP+SSE session.
pub(crate) fn too_much_stream_work(id: Option<&RawValue>) -> Response {
    too_many(
        StatusCode::TOO_MANY_REQUESTS,
        id,
        "Too many requests in flight on this session",
    )
}

fn too_many(status: StatusCode, id: Option<&RawValue>, msg: &'static str) -> Response {
    let mut r = error_response(
        status,
        id,
        ErrorObject::borrowed(INTERNAL_ERROR_CODE, msg, None),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// No session could be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TooManySessions {
    /// `limits.max_sessions` are live (503).
    Total,
    /// This subject holds `limits.max_sessions_per_subject` (429).
    Subject,
}

impl TooManySessions {
    /// The answer, with the request's id when there is one.
    pub(crate) fn response(self, id: Option<&RawValue>) -> Response {
        match self {
            Self::Total => too_many(StatusCode::SERVICE_UNAVAILABLE, id, "Too many sessions"),
            Self::Subject => too_many(
                StatusCode::TOO_MANY_REQUESTS,
                id,
                "Too many sessions for this user",
            ),
        }
    }
}

/// Live sessions per subject; an entry goes when its count reaches 0.
type SubjectCounts = Arc<Mutex<HashMap<String, u64>>>;

fn release_subject(counts: &SubjectCounts, subject: &str) {
    let mut g = counts.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(n) = g.get_mut(subject) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            g.remove(subject);
        }
    }
}

/// All live sessions.
#[derive(Debug, Clone)]
pub(crate) struct SessionStore {
    cache: moka::sync::Cache<Arc<str>, Arc<Session>>,
    /// Live sessions, exact (moka's `entry_count` lags behind inserts).
    live: Arc<AtomicU64>,
    max: u64,
    /// Live sessions per subject (touched on create and end only, never per request).
    subjects: SubjectCounts,
    max_per_subject: u64,
    max_stream_work: usize,
    event_buffer: usize,
}

/// [`SessionStore`] limits (`limits.*`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    pub(crate) max: u64,
    pub(crate) max_per_subject: u64,
    pub(crate) max_stream_work: usize,
    pub(crate) idle: Duration,
    /// Messages kept per session for `Last-Event-ID` (TR-36).
    pub(crate) event_buffer: usize,
}

impl SessionStore {
    pub(crate) fn new(limits: SessionLimits) -> Self {
        let live = Arc::new(AtomicU64::new(0));
        let subjects = SubjectCounts::default();
        let (on_evict, subjects_on_evict) = (live.clone(), subjects.clone());
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(limits.max.saturating_mul(2))
                .time_to_idle(limits.idle)
                .eviction_listener(move |_k, v: Arc<Session>, _cause| {
                    on_evict.fetch_sub(1, Ordering::AcqRel);
                    release_subject(&subjects_on_evict, &v.subject);
                })
                .build(),
            live,
            max: limits.max,
            subjects,
            max_per_subject: limits.max_per_subject,
            max_stream_work: limits.max_stream_work,
            event_buffer: limits.event_buffer,
        }
    }

    /// Takes a place for one more session of `subject`: overall, then for the subject.
    /// Expired sessions are counted until moka's housekeeping evicts them, so a full count
    /// runs it once before refusing.
    fn reserve(&self, subject: &str) -> Result<(), TooManySessions> {
        let take_total = || {
            self.live
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.max).then_some(n + 1)
                })
                .is_ok()
        };
        let take_subject = || {
            let mut g = self.subjects.lock().unwrap_or_else(PoisonError::into_inner);
            let n = g.entry(subject.to_owned()).or_insert(0);
            let ok = *n < self.max_per_subject;
            if ok {
                *n += 1;
            }
            ok
        };
        if !take_total() {
            self.cache.run_pending_tasks();
            if !take_total() {
                return Err(TooManySessions::Total);
            }
        }
        if !take_subject() {
            self.cache.run_pending_tasks();
            if !take_subject() {
                self.live.fetch_sub(1, Ordering::AcqRel);
                return Err(TooManySessions::Subject);
            }
        }
        Ok(())
    }

    pub(crate) fn create(
        &self,
        auth: &AuthContext,
        version: &'static str,
    ) -> Result<Arc<Session>, TooManySessions> {
        self.reserve(&auth.subject)?;
        let id: Arc<str> = shared::random::token().into();
        let s = Arc::new(Session {
            id: id.clone(),
            subject: auth.subject.clone(),
            client_id: auth.client_id.clone(),
            version,
            log: Arc::new(LogChannel::new()),
            inflight: Mutex::new(HashMap::new()),
            stream_work: Arc::new(Semaphore::new(self.max_stream_work)),
            subscribed: Arc::default(),
            outbox: Arc::new(Outbox::new(self.event_buffer)),
            pump: OnceLock::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(subject: &str) -> AuthContext {
        AuthContext {
            subject: subject.to_owned(),
            client_id: "c1".to_owned(),
            scopes: shared::scope::ScopeSet::parse("mcp"),
            expires_at: u64::MAX,
        }
    }

    #[test]
    fn subject_places_come_back_when_sessions_end_or_expire_rs21() {
        let store = SessionStore::new(SessionLimits {
            max: 10,
            max_per_subject: 2,
            max_stream_work: 1,
            idle: Duration::from_millis(100),
            event_buffer: 4,
        });
        let (alice, bob) = (user("alice"), user("bob"));
        let a1 = store.create(&alice, "2025-11-25").unwrap();
        store.create(&alice, "2025-11-25").unwrap();
        assert_eq!(
            store.create(&alice, "2025-11-25").unwrap_err(),
            TooManySessions::Subject
        );
        store.create(&bob, "2025-11-25").unwrap();
        // Ended: the place comes back.
        store.remove(&a1.id);
        store.create(&alice, "2025-11-25").unwrap();
        // Expired: so do the others (after moka's housekeeping, which a full count runs).
        std::thread::sleep(Duration::from_millis(150));
        store.create(&alice, "2025-11-25").unwrap();
        store.create(&alice, "2025-11-25").unwrap();
        assert_eq!(store.live.load(Ordering::Acquire), 2);
        // One place on the stream: taken until dropped.
        let s = store.create(&bob, "2024-11-05").unwrap();
        let place = s.stream_work().unwrap();
        assert!(s.stream_work().is_none());
        drop(place);
        assert!(s.stream_work().is_some());
    }
}
