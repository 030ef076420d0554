//! Legacy sessions on Redis (redis-rs with its multiplexing `ConnectionManager`), shared by
//! every instance of one MCP server.
//!
//! Keys (all under the configured prefix, default `mcp-server:`):
//! * `session:{id}`: hash `sub`, `cid`, `ver`; its TTL is the idle timeout, renewed by every
//!   use (sliding expiry: Redis does the pruning);
//! * `sessions`: sorted set of live ids scored by their deadline (ms, Redis `TIME`), for
//!   `limits.max_sessions` across instances;
//! * `subject:{sub}`: the same per subject, for `limits.max_sessions_per_subject`; its TTL
//!   follows its newest deadline.
//!
//! Each operation is one Lua script (create with its limit checks; use = check the binding and
//! renew; end), so concurrent instances never overshoot a limit or renew an ended session.
//! A session presented by another subject or client is not renewed and reads as unknown.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use super::{Full, SessionRecord, StoreError, StoreResult, known_version};

const NOW_MS: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

/// KEYS: session, sessions, subject. ARGV: idle ms, max, max per subject, sub, cid, ver, id.
/// Returns 0 (created), 1 (`max_sessions` live), 2 (the subject's limit).
const CREATE: &str = "
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then return 2 end
local idle = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'sub', ARGV[4], 'cid', ARGV[5], 'ver', ARGV[6])
redis.call('PEXPIRE', KEYS[1], idle)
redis.call('ZADD', KEYS[2], now + idle, ARGV[7])
redis.call('ZADD', KEYS[3], now + idle, ARGV[7])
redis.call('PEXPIRE', KEYS[3], idle)
return 0
";

/// KEYS: session, sessions, subject. ARGV: idle ms, sub, cid, id. Returns the version when
/// the session exists and is bound to `sub` + `cid` (and renews it), `""` when it is bound
/// to someone else (not renewed), nil when there is no such session.
const TOUCH: &str = "
local v = redis.call('HMGET', KEYS[1], 'sub', 'cid', 'ver')
if not v[1] then return false end
if v[1] ~= ARGV[2] or v[2] ~= ARGV[3] then return '' end
local idle = tonumber(ARGV[1])
redis.call('PEXPIRE', KEYS[1], idle)
redis.call('ZADD', KEYS[2], 'XX', now + idle, ARGV[4])
redis.call('ZADD', KEYS[3], 'XX', now + idle, ARGV[4])
redis.call('PEXPIRE', KEYS[3], idle)
return v[3]
";

/// KEYS: session, sessions, subject. ARGV: sub, cid, id. Ends the session when it is bound
/// to `sub` + `cid`; returns 1 when it did.
const END: &str = "
local v = redis.call('HMGET', KEYS[1], 'sub', 'cid')
if (not v[1]) or v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
return 1
";

/// What a use of a session id found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touch {
    /// Live, bound to the presenter, renewed; its protocol version.
    Live(&'static str),
    /// Bound to another subject or client (not renewed).
    Foreign,
    /// Unknown, expired or ended.
    Gone,
}

/// The Redis session store.
pub(crate) struct RedisSessions {
    conn: ConnectionManager,
    prefix: String,
    idle_ms: u64,
    create: Script,
    touch: Script,
    end: Script,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn err(e: redis::RedisError) -> StoreError {
    StoreError(e.to_string())
}

impl RedisSessions {
    /// Connects to `url` (`redis://HOST:PORT/DB`); fails when Redis cannot be reached now.
    /// Later outages are survived: operations fail with a [`StoreError`] meanwhile.
    pub(crate) async fn connect(url: &str, prefix: &str, idle: Duration) -> StoreResult<Self> {
        let conn = shared::redis::connect(url).await.map_err(err)?;
        let script = |body: &str| Script::new(&format!("{NOW_MS}{body}"));
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            idle_ms: u64::try_from(idle.as_millis()).unwrap_or(u64::MAX),
            create: script(CREATE),
            touch: script(TOUCH),
            end: Script::new(END),
        })
    }

    fn keys(&self, id: &str, subject: &str) -> [String; 3] {
        let p = &self.prefix;
        [
            format!("{p}session:{id}"),
            format!("{p}sessions"),
            format!("{p}subject:{subject}"),
        ]
    }

    /// Stores a new session unless a limit is reached (checked and taken in one step across
    /// instances).
    pub(crate) async fn create(
        &self,
        r: &SessionRecord,
        max: u64,
        max_per_subject: u64,
    ) -> StoreResult<Result<(), Full>> {
        let [k1, k2, k3] = self.keys(&r.id, &r.subject);
        let out: i64 = self
            .create
            .key(k1)
            .key(k2)
            .key(k3)
            .arg(self.idle_ms)
            .arg(max)
            .arg(max_per_subject)
            .arg(&r.subject)
            .arg(&r.client_id)
            .arg(r.version)
            .arg(&*r.id)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(match out {
            0 => Ok(()),
            1 => Err(Full::Total),
            _ => Err(Full::Subject),
        })
    }

    /// Checks that session `id` exists and is bound to `subject` + `client_id`, and renews
    /// it for another idle period.
    pub(crate) async fn touch(
        &self,
        id: &str,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Touch> {
        let [k1, k2, k3] = self.keys(id, subject);
        let v: Option<String> = self
            .touch
            .key(k1)
            .key(k2)
            .key(k3)
            .arg(self.idle_ms)
            .arg(subject)
            .arg(client_id)
            .arg(id)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        match v.as_deref() {
            None => Ok(Touch::Gone),
            Some("") => Ok(Touch::Foreign),
            Some(v) => known_version(v)
                .map(Touch::Live)
                .ok_or_else(|| StoreError(format!("session record with version {v:?}"))),
        }
    }

    /// Whether session `id` still exists (not renewed).
    pub(crate) async fn exists(&self, id: &str) -> StoreResult<bool> {
        let n: i64 = redis::cmd("EXISTS")
            .arg(format!("{}session:{id}", self.prefix))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(n == 1)
    }

    /// Ends the session `id` if it is bound to `subject` + `client_id`; true when it did.
    pub(crate) async fn end(&self, id: &str, subject: &str, client_id: &str) -> StoreResult<bool> {
        let [k1, k2, k3] = self.keys(id, subject);
        let n: i64 = self
            .end
            .key(k1)
            .key(k2)
            .key(k3)
            .arg(subject)
            .arg(client_id)
            .arg(id)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(n == 1)
    }
}
