//! Sessions of the legacy eras (Streamable HTTP 2025-03-26..2025-11-25 and HTTP+SSE):
//! random ids (256 bits, visible ASCII, TR-37), bound to the token's subject and client
//! (RS-21), expired when idle (moka `time_to_idle`), bounded in number overall and per
//! subject (so one token holder cannot take them all), with a bounded number of requests in
//! flight per HTTP+SSE stream.
//!
//! With `store = "redis://..."` (issue 14) the records live in Redis and are shared by every
//! instance ([`crate::store::redis`]); the moka cache then holds only this instance's parts
//! of a session (stream, resume buffer, in-flight requests), made when a session known to
//! the store first reaches this instance. Every use checks and renews the record in Redis
//! (one script call, no local caching), so an end or an expiry anywhere counts at once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use jsonrpsee::types::ErrorObject;
use jsonrpsee::types::error::{INTERNAL_ERROR_CODE, INVALID_REQUEST_CODE};
use serde_json::value::RawValue;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::AbortHandle;

use super::message::error_response;
use super::respond::AbortOnDrop;
use super::resume::Outbox;
use crate::auth::AuthContext;
use crate::rpc::LogChannel;
use crate::store::redis::RedisSessions;
use crate::store::{Full, StoreError};

/// 404 "Session not found": unknown, expired, ended, or another token's session.
pub(crate) fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        None,
        ErrorObject::borrowed(INVALID_REQUEST_CODE, "Session not found", None),
    )
}

/// 503 with `Retry-After: 2` when the shared session store cannot answer: nothing is decided
/// (in particular no "Session not found", which would make a client start over).
pub(crate) fn store_unavailable(id: Option<&RawValue>, e: &StoreError) -> Response {
    tracing::warn!(error = %e, "session store unavailable");
    let mut r = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        id,
        ErrorObject::borrowed(INTERNAL_ERROR_CODE, "Session store unavailable", None),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    r
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
    /// Set when the session ends (DELETE, expiry, or found ended in the shared store): its
    /// GET stream closes.
    ended: watch::Sender<bool>,
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

    /// Marks the session ended here: its GET stream closes, its stream sender goes.
    pub(crate) fn end(&self) {
        self.ended.send_replace(true);
        self.set_stream(None);
    }

    /// Resolves once [`Self::end`] was called.
    pub(crate) fn ended(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.ended.subscribe();
        async move {
            let _ = rx.wait_for(|e| *e).await;
        }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// `limits.max_sessions` are live (503).
    Total,
    /// This subject holds `limits.max_sessions_per_subject` (429).
    Subject,
    /// The shared store could not answer (503 with `Retry-After`).
    Store(StoreError),
}

impl From<Full> for CreateError {
    fn from(f: Full) -> Self {
        match f {
            Full::Total => Self::Total,
            Full::Subject => Self::Subject,
        }
    }
}

impl CreateError {
    /// The answer, with the request's id when there is one.
    pub(crate) fn response(&self, id: Option<&RawValue>) -> Response {
        match self {
            Self::Total => too_many(StatusCode::SERVICE_UNAVAILABLE, id, "Too many sessions"),
            Self::Subject => too_many(
                StatusCode::TOO_MANY_REQUESTS,
                id,
                "Too many sessions for this user",
            ),
            Self::Store(e) => store_unavailable(id, e),
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
    /// Hashed with foldhash (randomly seeded), not SipHash: the ids in it are ours (random),
    /// so a client's lookups cannot build colliding entries (issue 16 B).
    cache: moka::sync::Cache<Arc<str>, Arc<Session>, foldhash::fast::RandomState>,
    /// Live sessions, exact (moka's `entry_count` lags behind inserts).
    live: Arc<AtomicU64>,
    max: u64,
    /// Live sessions per subject (touched on create and end only, never per request).
    subjects: SubjectCounts,
    max_per_subject: u64,
    max_stream_work: usize,
    event_buffer: usize,
    /// The shared records (Redis); `None`: the cache is the store (memory).
    shared: Option<Arc<RedisSessions>>,
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
                    v.end();
                    on_evict.fetch_sub(1, Ordering::AcqRel);
                    release_subject(&subjects_on_evict, &v.subject);
                })
                .build_with_hasher(foldhash::fast::RandomState::default()),
            live,
            max: limits.max,
            subjects,
            max_per_subject: limits.max_per_subject,
            max_stream_work: limits.max_stream_work,
            event_buffer: limits.event_buffer,
            shared: None,
        }
    }

    /// Sessions on Redis: limits are checked there, across instances; the cache holds this
    /// instance's parts only (dropped when unused here for the idle time).
    pub(crate) fn on_redis(limits: SessionLimits, redis: RedisSessions) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(limits.max.saturating_mul(2))
                .time_to_idle(limits.idle)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            shared: Some(Arc::new(redis)),
            ..Self::new(limits)
        }
    }

    /// `memory` or `redis`.
    pub(crate) fn kind(&self) -> &'static str {
        if self.shared.is_some() {
            "redis"
        } else {
            "memory"
        }
    }

    /// This instance's parts of a session.
    fn parts(&self, id: Arc<str>, auth: &AuthContext, version: &'static str) -> Arc<Session> {
        Arc::new(Session {
            id,
            subject: auth.subject.clone(),
            client_id: auth.client_id.clone(),
            version,
            log: Arc::new(LogChannel::new()),
            inflight: Mutex::new(HashMap::new()),
            stream_work: Arc::new(Semaphore::new(self.max_stream_work)),
            subscribed: Arc::default(),
            outbox: Arc::new(Outbox::new(self.event_buffer)),
            pump: OnceLock::new(),
            ended: watch::Sender::new(false),
        })
    }

    /// Takes a place for one more session of `subject`: overall, then for the subject.
    /// Expired sessions are counted until moka's housekeeping evicts them, so a full count
    /// runs it once before refusing.
    fn reserve(&self, subject: &str) -> Result<(), CreateError> {
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
                return Err(CreateError::Total);
            }
        }
        if !take_subject() {
            self.cache.run_pending_tasks();
            if !take_subject() {
                self.live.fetch_sub(1, Ordering::AcqRel);
                return Err(CreateError::Subject);
            }
        }
        Ok(())
    }

    /// A new session bound to the token's subject and client, within the limits.
    pub(crate) async fn create(
        &self,
        auth: &AuthContext,
        version: &'static str,
    ) -> Result<Arc<Session>, CreateError> {
        let id: Arc<str> = shared::random::token().into();
        if let Some(redis) = &self.shared {
            let s = self.parts(id.clone(), auth, version);
            let rec = crate::store::SessionRecord {
                id: id.clone(),
                subject: auth.subject.clone(),
                client_id: auth.client_id.clone(),
                version,
            };
            redis
                .create(&rec, self.max, self.max_per_subject)
                .await
                .map_err(CreateError::Store)??;
            self.cache.insert(id, s.clone());
            return Ok(s);
        }
        self.reserve(&auth.subject)?;
        let s = self.parts(id.clone(), auth, version);
        self.cache.insert(id, s.clone());
        Ok(s)
    }

    /// The session `id` if it exists and was created with this token's subject and client;
    /// a session presented by another user or client is treated as unknown (RS-21). On
    /// Redis, the use renews the session everywhere, and this instance's parts are made when
    /// the session first reaches it.
    pub(crate) async fn bound(
        &self,
        id: &str,
        auth: &AuthContext,
    ) -> Result<Arc<Session>, Response> {
        let Some(redis) = &self.shared else {
            // The memory store: one moka lookup, as before.
            return match self.cache.get(id) {
                Some(s) if s.bound_to(auth) => Ok(s),
                _ => Err(not_found()),
            };
        };
        // Boxed: the Redis path's larger future stays out of the memory path's.
        Box::pin(self.bound_shared(redis, id, auth)).await
    }

    async fn bound_shared(
        &self,
        redis: &RedisSessions,
        id: &str,
        auth: &AuthContext,
    ) -> Result<Arc<Session>, Response> {
        use crate::store::redis::Touch;
        match redis.touch(id, &auth.subject, &auth.client_id).await {
            Err(e) => Err(store_unavailable(None, &e)),
            Ok(Touch::Gone) => {
                // Ended or expired elsewhere: drop what this instance still holds.
                if let Some(s) = self.cache.remove(id) {
                    s.end();
                }
                Err(not_found())
            }
            Ok(Touch::Foreign) => Err(not_found()),
            Ok(Touch::Live(version)) => {
                if let Some(s) = self.cache.get(id)
                    && s.bound_to(auth)
                {
                    return Ok(s);
                }
                let key: Arc<str> = id.into();
                let s = self
                    .cache
                    .entry(key.clone())
                    .or_insert_with(|| self.parts(key, auth, version))
                    .into_value();
                Ok(s)
            }
        }
    }

    /// Ends a session (DELETE, or its HTTP+SSE stream closed): everywhere on Redis, then
    /// here. On a store error nothing is ended.
    pub(crate) async fn remove(&self, s: &Session) -> Result<(), StoreError> {
        if let Some(redis) = &self.shared {
            redis.end(&s.id, &s.subject, &s.client_id).await?;
        }
        self.cache.remove(&s.id);
        s.end();
        Ok(())
    }

    /// [`Self::remove`] from a `Drop`: at once here, in a task on Redis.
    pub(crate) fn remove_later(&self, id: &Arc<str>, subject: &str, client_id: &str) {
        if let Some(s) = self.cache.remove(id) {
            s.end();
        }
        if let Some(redis) = self.shared.clone()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (id, subject, client_id) = (id.clone(), subject.to_owned(), client_id.to_owned());
            rt.spawn(async move {
                if let Err(e) = redis.end(&id, &subject, &client_id).await {
                    tracing::warn!(error = %e, "session not ended in the store (it expires when idle)");
                }
            });
        }
    }

    /// Resolves when the session ends: here ([`Session::end`]), or, on Redis, when it is
    /// found ended in the shared store (checked every `every`; a GET stream on this instance
    /// ends this way when the session is deleted on another one or expires there).
    pub(crate) async fn until_ended(&self, s: &Session, every: Duration) {
        let here = s.ended();
        let Some(redis) = &self.shared else {
            return here.await;
        };
        let elsewhere = async {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Ok(false) = redis.exists(&s.id).await {
                    return;
                }
            }
        };
        tokio::select! {
            () = here => {}
            () = elsewhere => {
                self.cache.remove(&s.id);
                s.end();
            }
        }
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

    fn limits(max: u64, idle: Duration) -> SessionLimits {
        SessionLimits {
            max,
            max_per_subject: 2,
            max_stream_work: 1,
            idle,
            event_buffer: 4,
        }
    }

    #[tokio::test]
    async fn subject_places_come_back_when_sessions_end_or_expire_rs21() {
        let store = SessionStore::new(limits(10, Duration::from_millis(100)));
        let (alice, bob) = (user("alice"), user("bob"));
        let a1 = store.create(&alice, "2025-11-25").await.unwrap();
        store.create(&alice, "2025-11-25").await.unwrap();
        assert_eq!(
            store.create(&alice, "2025-11-25").await.unwrap_err(),
            CreateError::Subject
        );
        store.create(&bob, "2025-11-25").await.unwrap();
        // Ended: the place comes back.
        store.remove(&a1).await.unwrap();
        store.create(&alice, "2025-11-25").await.unwrap();
        // Expired: so do the others (after moka's housekeeping, which a full count runs).
        std::thread::sleep(Duration::from_millis(150));
        store.create(&alice, "2025-11-25").await.unwrap();
        store.create(&alice, "2025-11-25").await.unwrap();
        assert_eq!(store.live.load(Ordering::Acquire), 2);
        // One place on the stream: taken until dropped.
        let s = store.create(&bob, "2024-11-05").await.unwrap();
        let place = s.stream_work().unwrap();
        assert!(s.stream_work().is_none());
        drop(place);
        assert!(s.stream_work().is_some());
    }

    /// The session-store suite, run on memory and on Redis: `a` and `b` are two instances
    /// (the same store twice on memory, two stores on one Redis); idle time 1 s, at most
    /// 3 sessions, 2 per subject.
    async fn suite(a: &SessionStore, b: &SessionStore) {
        let (alice, bob) = (user("alice"), user("bob"));
        let mut alice_other_client = user("alice");
        alice_other_client.client_id = "c2".to_owned();
        // Created on a, used on b (same subject and client); another subject or client: 404.
        let s1 = a.create(&alice, "2025-06-18").await.unwrap();
        let on_b = b.bound(&s1.id, &alice).await.unwrap();
        assert_eq!((&*on_b.id, on_b.version), (&*s1.id, "2025-06-18"));
        for other in [&bob, &alice_other_client] {
            let r = b.bound(&s1.id, other).await.unwrap_err();
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
        }
        assert_eq!(
            b.bound("no-such-session", &alice)
                .await
                .unwrap_err()
                .status(),
            StatusCode::NOT_FOUND
        );
        // Limits across instances: 2 per subject, 3 in all.
        let s2 = b.create(&alice, "2025-11-25").await.unwrap();
        assert_eq!(
            a.create(&alice, "2025-11-25").await.unwrap_err(),
            CreateError::Subject
        );
        let s3 = a.create(&bob, "2025-11-25").await.unwrap();
        assert_eq!(
            b.create(&user("carol"), "2025-11-25").await.unwrap_err(),
            CreateError::Total
        );
        // Ended on b: gone on a, and its places come back.
        b.remove(&on_b).await.unwrap();
        assert_eq!(
            a.bound(&s1.id, &alice).await.unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
        let s4 = b.create(&user("carol"), "2025-11-25").await.unwrap();
        // Sliding expiry: s2 used every 400 ms lives past its first second; s3 and s4, unused,
        // expire.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            a.bound(&s2.id, &alice).await.unwrap();
        }
        for (s, who) in [(&s3, &bob), (&s4, &user("carol"))] {
            assert_eq!(
                b.bound(&s.id, who).await.unwrap_err().status(),
                StatusCode::NOT_FOUND
            );
        }
        // Expired places come back (moka's housekeeping runs on a full count).
        b.create(&bob, "2025-11-25").await.unwrap();
        b.create(&user("carol"), "2025-11-25").await.unwrap();
    }

    #[tokio::test]
    async fn session_store_suite_on_memory_rs21_tr37() {
        let store = SessionStore::new(limits(3, Duration::from_secs(1)));
        suite(&store, &store.clone()).await;
    }

    #[tokio::test]
    async fn session_store_suite_on_redis_rs21_tr37() {
        let Some(redis) = redis_test::RedisServer::start() else {
            return;
        };
        let prefix = format!("t{}:", shared::random::token());
        let a = redis
            .store(&prefix, limits(3, Duration::from_secs(1)))
            .await;
        let b = redis
            .store(&prefix, limits(3, Duration::from_secs(1)))
            .await;
        suite(&a, &b).await;
    }

    #[tokio::test]
    async fn redis_down_is_503_with_retry_after_never_404_and_service_resumes() {
        let Some(mut redis) = redis_test::RedisServer::start() else {
            return;
        };
        let store = redis
            .store("down:", limits(3, Duration::from_secs(60)))
            .await;
        let alice = user("alice");
        let s = store.create(&alice, "2025-11-25").await.unwrap();
        redis.kill();
        let r = store.bound(&s.id, &alice).await.unwrap_err();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        let e = store.create(&alice, "2025-11-25").await.unwrap_err();
        assert!(matches!(e, CreateError::Store(_)), "{e:?}");
        assert_eq!(e.response(None).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(store.remove(&s).await.is_err());
        // Back (empty, this Redis has no persistence): answers are right again, within the
        // manager's reconnection (bounded).
        redis.respawn();
        let mut ok = false;
        for _ in 0..50 {
            match store.bound(&s.id, &alice).await {
                Err(r) if r.status() == StatusCode::NOT_FOUND => {
                    ok = true;
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert!(ok, "the store answers again after Redis is back");
        store.create(&alice, "2025-11-25").await.unwrap();
    }
}

/// A throw-away `redis-server` for the unit tests (the e2e tests use `tests::redis`).
#[cfg(test)]
mod redis_test {
    use std::io::{Read as _, Write as _};
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use super::{SessionLimits, SessionStore};
    use crate::store::redis::RedisSessions;

    pub(super) struct RedisServer {
        child: Option<Child>,
        port: u16,
    }

    impl RedisServer {
        /// Started, or `None` (loudly) without `redis-server` unless `CI=true`.
        pub(super) fn start() -> Option<Self> {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut s = Self { child: None, port };
            match s.spawn() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "redis-server is not installed and CI=true"
                    );
                    eprintln!(
                        "SKIPPED: redis-server is not installed; this Redis test did not run"
                    );
                    None
                }
                Err(e) => panic!("cannot start redis-server: {e}"),
                Ok(()) => Some(s),
            }
        }

        fn spawn(&mut self) -> std::io::Result<()> {
            let child = Command::new("redis-server")
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            self.child = Some(child);
            for _ in 0..500 {
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                    let mut buf = [0u8; 7];
                    if s.write_all(b"PING\r\n").is_ok()
                        && s.read_exact(&mut buf).is_ok()
                        && &buf == b"+PONG\r\n"
                    {
                        return Ok(());
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("redis-server did not become ready");
        }

        pub(super) fn respawn(&mut self) {
            self.spawn().expect("redis-server restarts");
        }

        pub(super) fn kill(&mut self) {
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }

        pub(super) async fn store(&self, prefix: &str, limits: SessionLimits) -> SessionStore {
            let url = format!("redis://127.0.0.1:{}/0", self.port);
            let redis = RedisSessions::connect(&url, prefix, limits.idle)
                .await
                .expect("connect");
            SessionStore::on_redis(limits, redis)
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            self.kill();
        }
    }
}
