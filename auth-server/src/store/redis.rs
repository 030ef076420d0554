//! The Redis store (redis-rs with tokio and its multiplexing `ConnectionManager`): several
//! authorization-server instances share one Redis and so share codes, grants, refresh-token
//! families and clients (issue 14, ADR 0010).
//!
//! Every read-modify-write that must be atomic across instances is one Lua script (code
//! redemption, refresh rotation, grant revocation, registration), so no `WATCH` retry loop is
//! needed. Every key that expires carries a TTL (Redis does the pruning; `purge_expired` does
//! nothing). Codes and refresh tokens appear only as base64url SHA-256 digests in key names,
//! client secrets only as digests in the records. All keys start with the configured prefix
//! (several deployments can share one Redis).
//!
//! Key layout (`P` = prefix):
//! - `P code:<digest>` hash `rec` (JSON), `exp`, `grant` once redeemed; TTL to expiry + replay
//!   memory.
//! - `P grant:<id>` hash `rec` (JSON), `revoked`; TTL extended to its longest token.
//! - `P fam:<grant id>` set of the grant's refresh-token digests (the family revocation deletes).
//! - `P rt:<digest>` hash `rec` (JSON), `exp`, `rot` once rotated; TTL to expiry. A rotated token
//!   stays until its own expiry, so its reuse after the grace window is always recognised.
//! - `P jtir:<jti>` revoked access-token id; `P jtig:<jti>` its grant; TTL to the token's expiry.
//! - `P client:<id>` JSON of a registered client, with a TTL, listed in the sorted set
//!   `P clients:dynamic` (score: expiry) that counts them. Configured clients are never
//!   stored: the configuration is authoritative.
//! - `P cimd:<url digest>` a client built from a metadata document; TTL its cache lifetime.
//! - `P rl:<bucket>:<address>` a rate-limit window's counter; TTL the window.
//! - `P consent:<id>` a pending consent (JSON, its CSRF token as a digest); TTL its expiry;
//!   listed (score: expiry) in `P consents:all` and `P consents:<owner digest>`.

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use shared::clock::SharedClock;

use crate::ratelimit::RateKey;

mod codec;
mod scripts;

use codec::{
    CodeDto, ConsentDto, GrantDto, RefreshDto, code_from, corrupt, d64, decode_digest, err,
    grant_from, refresh_from, to_json,
};
pub(crate) use codec::{client_from, client_json};
use scripts::Scripts;

use super::{
    CODE_REPLAY_MEMORY_SECS, ClientRecord, ClientStore, CodeRecord, CodeStore, ConsentStore,
    Digest, Grant, GrantStore, IDLE_CLIENT_TTL_SECS, MetadataCache, PendingConsent, RateLimitStore,
    Redeem, RefreshRecord, ReplayKind, ReplayStore, Rotate, Store, StoreResult,
    UNUSED_CLIENT_TTL_SECS,
};

/// How long a grant is kept before its first token extends it (covers the code's replay
/// memory, so a replayed code still finds the grant to revoke).
const GRANT_INITIAL_TTL_SECS: u64 = 3_600;
/// How long a revocation marker for a grant that was already gone is kept.
const REVOKED_STUB_TTL_SECS: u64 = 86_400;

/// The Redis store.
pub(crate) struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    clock: SharedClock,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://HOST:PORT/DB`); fails when Redis cannot be reached now.
    /// Later outages are survived: the connection manager reconnects, and operations fail
    /// with a [`StoreError`] meanwhile.
    pub(crate) async fn connect(url: &str, prefix: &str, clock: SharedClock) -> StoreResult<Self> {
        let conn = shared::redis::connect(url).await.map_err(err)?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            clock,
            scripts: Scripts::new(),
        })
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// Seconds from now until `unix` (at least 1: Redis refuses a zero TTL).
    fn ttl_until(&self, unix: u64) -> u64 {
        unix.saturating_sub(self.clock.now_unix()).max(1)
    }

    /// Appends the keys and arguments of the Lua `put_refresh` for token `token`.
    fn put_refresh_params(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        token: &Digest,
        r: &RefreshRecord,
    ) -> StoreResult<()> {
        let rec = to_json(&RefreshDto {
            grant_id: r.grant_id.clone(),
            client_id: r.client_id.clone(),
            scope: r.scope.to_string(),
            resource: r.resource.clone(),
            expires_at: r.expires_at,
            issued_at: r.issued_at,
            jkt: r.jkt.clone(),
        })?;
        let now = self.clock.now_unix();
        let ttl = self.ttl_until(r.expires_at);
        let digest = d64(token);
        inv.key(self.key("rt", &digest))
            .key(self.key("fam", &r.grant_id))
            .key(self.key("grant", &r.grant_id))
            .key(self.dynamic_set())
            .key(self.key("client", &r.client_id))
            .arg(rec)
            .arg(r.expires_at)
            .arg(ttl)
            .arg(&digest)
            .arg(&r.client_id)
            .arg(now)
            .arg(ttl.max(IDLE_CLIENT_TTL_SECS));
        Ok(())
    }

    fn dynamic_set(&self) -> String {
        format!("{}clients:dynamic", self.prefix)
    }
}

#[async_trait::async_trait]
impl CodeStore for RedisStore {
    async fn put_code(&self, code: Digest, r: CodeRecord) -> StoreResult<()> {
        let rec = to_json(&CodeDto {
            client_id: r.client_id.clone(),
            redirect_uri: r.redirect_uri.clone(),
            code_challenge: r.code_challenge.clone(),
            scope: r.scope.to_string(),
            resource: r.resource.clone(),
            subject: r.subject.clone(),
            expires_at: r.expires_at,
            dpop_jkt: r.dpop_jkt.clone(),
        })?;
        let now = self.clock.now_unix();
        let _: i64 = self
            .scripts
            .put_code
            .key(self.key("code", &d64(&code)))
            .key(self.dynamic_set())
            .key(self.key("client", &r.client_id))
            .arg(rec)
            .arg(r.expires_at)
            .arg(self.ttl_until(r.expires_at + CODE_REPLAY_MEMORY_SECS))
            .arg(&r.client_id)
            .arg(now)
            .arg(IDLE_CLIENT_TTL_SECS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn peek_code(&self, code: &Digest, now: u64) -> StoreResult<Option<CodeRecord>> {
        let (rec, exp, grant): (Option<String>, Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(self.key("code", &d64(code)))
            .arg("rec")
            .arg("exp")
            .arg("grant")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        let (Some(rec), Some(exp)) = (rec, exp) else {
            return Ok(None);
        };
        if exp <= now && grant.is_none() {
            return Ok(None);
        }
        code_from(&rec, grant).map(Some)
    }

    async fn redeem_code(&self, code: &Digest, grant_id: &str, now: u64) -> StoreResult<Redeem> {
        let out: Vec<String> = self
            .scripts
            .redeem_code
            .key(self.key("code", &d64(code)))
            .arg(grant_id)
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        match out.as_slice() {
            [tag, rec] if tag == "fresh" => {
                code_from(rec, Some(grant_id.to_owned())).map(Redeem::Fresh)
            }
            [tag, grant] if tag == "replayed" => Ok(Redeem::Replayed(Some(grant.clone()))),
            _ => Ok(Redeem::Unknown),
        }
    }
}

#[async_trait::async_trait]
impl GrantStore for RedisStore {
    async fn put_grant(&self, g: Grant) -> StoreResult<()> {
        let rec = to_json(&GrantDto {
            client_id: g.client_id.clone(),
            subject: g.subject.clone(),
            scope: g.scope.to_string(),
            resource: g.resource.clone(),
        })?;
        let key = self.key("grant", &g.id);
        let _: () = redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[("rec", rec), ("revoked", u8::from(g.revoked).to_string())],
            )
            .ignore()
            .expire(&key, GRANT_INITIAL_TTL_SECS as i64)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        let (rec, revoked): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.key("grant", id))
            .arg("rec")
            .arg("revoked")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        rec.map(|rec| grant_from(id, &rec, revoked.as_deref() == Some("1")))
            .transpose()
    }

    async fn revoke_grant(&self, id: &str) -> StoreResult<()> {
        let _: i64 = self
            .scripts
            .revoke_grant
            .key(self.key("grant", id))
            .key(self.key("fam", id))
            .arg(self.key("rt", ""))
            .arg(REVOKED_STUB_TTL_SECS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn put_refresh(&self, token: Digest, r: RefreshRecord) -> StoreResult<()> {
        let mut inv = self.scripts.put_refresh.prepare_invoke();
        self.put_refresh_params(&mut inv, &token, &r)?;
        // A revoked grant gets no new token (0): a revocation won a race with this
        // issuance, and the token handed out is dead on arrival either way.
        let _: i64 = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn refresh(&self, token: &Digest, now: u64) -> StoreResult<Option<RefreshRecord>> {
        let (rec, rot): (Option<String>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.key("rt", &d64(token)))
            .arg("rec")
            .arg("rot")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        match rec {
            Some(rec) => refresh_from(&rec, rot, now),
            None => Ok(None),
        }
    }

    async fn refresh_with_grant(
        &self,
        token: &Digest,
        now: u64,
    ) -> StoreResult<Option<(RefreshRecord, Option<Grant>)>> {
        let out: Vec<String> = self
            .scripts
            .refresh_with_grant
            .key(self.key("rt", &d64(token)))
            .arg(self.key("grant", ""))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        let [rec, rot, grant_rec, revoked] = out.as_slice() else {
            return Ok(None);
        };
        let rot = if rot.is_empty() {
            None
        } else {
            Some(rot.parse().map_err(|_| corrupt("refresh token"))?)
        };
        let Some(record) = refresh_from(rec, rot, now)? else {
            return Ok(None);
        };
        let grant = if grant_rec.is_empty() {
            None
        } else {
            Some(grant_from(&record.grant_id, grant_rec, revoked == "1")?)
        };
        Ok(Some((record, grant)))
    }

    async fn retired_refresh_grant(&self, _token: &Digest) -> StoreResult<Option<String>> {
        // Rotated tokens are never pruned before their expiry here: `refresh` finds them.
        Ok(None)
    }

    async fn rotate_refresh(
        &self,
        token: &Digest,
        now: u64,
        successor: Digest,
        record: RefreshRecord,
    ) -> StoreResult<Rotate> {
        let mut inv = self.scripts.rotate.prepare_invoke();
        inv.key(self.key("rt", &d64(token))).arg(now);
        self.put_refresh_params(&mut inv, &successor, &record)?;
        let out: Vec<String> = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        match out.as_slice() {
            [tag] if tag == "rotated" => Ok(Rotate::Rotated),
            [tag, at] if tag == "already" => at
                .parse()
                .map(Rotate::AlreadyRotated)
                .map_err(|_| corrupt("refresh token")),
            _ => Ok(Rotate::Unknown),
        }
    }

    async fn revoke_jti(&self, jti: &str, exp: u64) -> StoreResult<()> {
        let _: () = self
            .conn
            .clone()
            .set_ex(self.key("jtir", jti), "1", self.ttl_until(exp))
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool> {
        let n: i64 = self
            .scripts
            .jti_revoked
            .key(self.key("jtir", jti))
            .key(self.key("jtig", jti))
            .arg(self.key("grant", ""))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(n == 1)
    }

    async fn link_jti(&self, jti: &str, grant_id: &str, exp: u64) -> StoreResult<()> {
        // The grant outlives its access tokens, so a revocation stays visible to them.
        let _: i64 = self
            .scripts
            .link_jti
            .key(self.key("jtig", jti))
            .key(self.key("grant", grant_id))
            .arg(grant_id)
            .arg(self.ttl_until(exp))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ReplayStore for RedisStore {
    async fn first_use(
        &self,
        kind: ReplayKind,
        id: &str,
        _now: u64,
        until: u64,
    ) -> StoreResult<bool> {
        // `SET NX EX`: one command, so exactly one caller on any instance sets it.
        let key = self.key("once", &d64(&super::memory::replay_digest(kind, id)));
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg("1")
            .arg("NX")
            .arg("EX")
            .arg(self.ttl_until(until))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(set.is_some())
    }
}

#[async_trait::async_trait]
impl ClientStore for RedisStore {
    async fn register_client(&self, client: ClientRecord) -> StoreResult<bool> {
        let expiry = self.clock.now_unix() + UNUSED_CLIENT_TTL_SECS;
        let n: i64 = self
            .scripts
            .register
            .key(self.key("client", &client.client_id))
            .key(self.dynamic_set())
            .arg(client_json(&client)?)
            .arg(UNUSED_CLIENT_TTL_SECS)
            .arg(&client.client_id)
            .arg(expiry)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(n == 1)
    }

    async fn client(&self, id: &str) -> StoreResult<Option<ClientRecord>> {
        let json: Option<String> = self
            .conn
            .clone()
            .get(self.key("client", id))
            .await
            .map_err(err)?;
        json.as_deref().map(client_from).transpose()
    }

    async fn dynamic_clients(&self, now: u64) -> StoreResult<usize> {
        let n: usize = self
            .scripts
            .count_dynamic
            .key(self.dynamic_set())
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(n)
    }
}

impl RedisStore {
    fn owner_list(&self, owner: &str) -> String {
        self.key("consents", &d64(&super::digest(owner)))
    }

    async fn live_ids(&self, key: String, now: u64) -> StoreResult<Vec<String>> {
        self.scripts
            .live_ids
            .key(key)
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)
    }
}

#[async_trait::async_trait]
impl ConsentStore for RedisStore {
    async fn pending_consents(&self, now: u64) -> StoreResult<usize> {
        let n: usize = self
            .scripts
            .count_dynamic
            .key(self.key("consents", "all"))
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(n)
    }

    async fn owner_consents(&self, owner: &str, now: u64) -> StoreResult<Vec<String>> {
        self.live_ids(self.owner_list(owner), now).await
    }

    async fn put_consent(&self, id: &str, owner: &str, record: PendingConsent) -> StoreResult<()> {
        let json = to_json(&ConsentDto {
            request: record.request,
            csrf_digest: d64(&record.csrf_digest),
            expires_at: record.expires_at,
            owner: d64(&super::digest(owner)),
        })?;
        let _: i64 = self
            .scripts
            .put_consent
            .key(self.key("consent", id))
            .key(self.owner_list(owner))
            .key(self.key("consents", "all"))
            .arg(json)
            .arg(self.ttl_until(record.expires_at))
            .arg(id)
            .arg(record.expires_at)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn take_consent(&self, id: &str, now: u64) -> StoreResult<Option<PendingConsent>> {
        let json: Option<String> = self
            .scripts
            .take_consent
            .key(self.key("consent", id))
            .key(self.key("consents", "all"))
            .arg(id)
            .arg(self.key("consents", ""))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        let Some(json) = json else {
            return Ok(None);
        };
        let d: ConsentDto = serde_json::from_str(&json).map_err(|_| corrupt("consent"))?;
        let csrf_digest = decode_digest(&d.csrf_digest).ok_or_else(|| corrupt("consent"))?;
        Ok((d.expires_at > now).then_some(PendingConsent {
            request: d.request,
            csrf_digest,
            expires_at: d.expires_at,
        }))
    }
}

#[async_trait::async_trait]
impl MetadataCache for RedisStore {
    async fn cached_metadata(&self, url: &str, _now: u64) -> StoreResult<Option<ClientRecord>> {
        // The key's TTL is the document's cache lifetime.
        let json: Option<String> = self
            .conn
            .clone()
            .get(self.key("cimd", &d64(&super::digest(url))))
            .await
            .map_err(err)?;
        json.as_deref().map(client_from).transpose()
    }

    async fn cache_metadata(
        &self,
        url: &str,
        client: ClientRecord,
        expires_at: u64,
    ) -> StoreResult<()> {
        let _: () = self
            .conn
            .clone()
            .set_ex(
                self.key("cimd", &d64(&super::digest(url))),
                client_json(&client)?,
                self.ttl_until(expires_at),
            )
            .await
            .map_err(err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl RateLimitStore for RedisStore {
    async fn spend(
        &self,
        key: RateKey,
        limit: u32,
        window: Duration,
    ) -> StoreResult<Option<Duration>> {
        let ms: i64 = self
            .scripts
            .spend
            .key(self.key("rl", &format!("{}:{}", key.bucket.as_str(), key.addr)))
            .arg(limit)
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn purge_expired(&self, _now: u64, _refresh_grace_secs: u64) -> StoreResult<()> {
        // Every key carries its TTL: Redis prunes.
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "redis"
    }
}
