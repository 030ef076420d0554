//! The in-memory store: every record under one mutex, so each operation is trivially atomic.
//! The default for one process (development, tests, a single instance).
//!
//! (Longer than our 450-line guide: every read-modify-write of the grant state lives here under
//! one lock so its atomicity can be read in one place.)

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use crate::ratelimit::RateKey;

use super::{
    ClientRecord, ClientStore, CodeRecord, CodeStore, ConsentStore, Digest, Grant, GrantStore,
    IDLE_CLIENT_TTL_SECS, MetadataCache, PendingConsent, RateLimitStore, Redeem, RefreshRecord,
    ReplayKind, ReplayStore, Rotate, Store, StoreResult, UNUSED_CLIENT_TTL_SECS,
};

/// Rotated refresh tokens past the grace window remembered per grant (as digests only) so that
/// their reuse still revokes the grant; older ones are forgotten.
pub(crate) const MAX_RETIRED_PER_GRANT: usize = 8;

/// The refresh tokens of one grant (the index that makes revocation proportional to the
/// grant, not to the store).
#[derive(Debug, Default)]
struct GrantTokens {
    /// Current tokens and rotated ones still inside the grace window (keys of `refresh`).
    live: Vec<Digest>,
    /// Rotated tokens past the grace window, oldest first (keys of `retired`).
    retired: VecDeque<Digest>,
}

/// Activity of a dynamically registered client.
#[derive(Debug, Clone, Copy)]
struct ClientActivity {
    /// Registration or last code/refresh token issued.
    last: u64,
    /// Whether it ever obtained a code or token.
    used: bool,
}

#[derive(Debug, Default)]
struct Inner {
    codes: HashMap<Digest, CodeRecord>,
    grants: HashMap<String, Grant>,
    refresh: HashMap<Digest, RefreshRecord>,
    revoked_jtis: HashMap<String, u64>,
    jti_grants: HashMap<String, (String, u64)>,
    clients: HashMap<String, ClientRecord>,
    dynamic_clients: usize,
    /// Refresh-token digests per grant.
    by_grant: HashMap<String, GrantTokens>,
    /// Pruned rotated refresh tokens: digest to grant.
    retired: HashMap<Digest, String>,
    /// Dynamic clients' activity (configured clients never expire).
    activity: HashMap<String, ClientActivity>,
}

impl Inner {
    fn touch_client(&mut self, client_id: &str, at: u64) {
        if let Some(a) = self.activity.get_mut(client_id) {
            a.last = a.last.max(at);
            a.used = true;
        }
    }

    /// Removes dynamic clients unused for [`UNUSED_CLIENT_TTL_SECS`] after registration, or
    /// idle for [`IDLE_CLIENT_TTL_SECS`] without a live refresh token.
    fn expire_dynamic_clients(&mut self, now: u64) {
        let with_tokens: HashSet<&str> = self
            .refresh
            .values()
            .filter(|r| r.expires_at > now)
            .map(|r| r.client_id.as_str())
            .collect();
        let expired: Vec<String> = self
            .activity
            .iter()
            .filter(|(id, a)| {
                if a.used {
                    a.last + IDLE_CLIENT_TTL_SECS <= now && !with_tokens.contains(id.as_str())
                } else {
                    a.last + UNUSED_CLIENT_TTL_SECS <= now
                }
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.activity.remove(&id);
            if self.clients.remove(&id).is_some() {
                self.dynamic_clients = self.dynamic_clients.saturating_sub(1);
            }
        }
    }

    fn put_refresh(&mut self, token: Digest, record: RefreshRecord) {
        self.touch_client(&record.client_id, record.issued_at);
        let grant = record.grant_id.clone();
        if let Some(old) = self.refresh.insert(token, record) {
            // The same digest again (never for random tokens): keep the index single.
            self.unlink_refresh(&old.grant_id, &token);
        }
        self.by_grant.entry(grant).or_default().live.push(token);
    }

    /// Forgets a refresh-token digest of `grant` (expired or pruned).
    fn unlink_refresh(&mut self, grant: &str, token: &Digest) {
        if let Some(g) = self.by_grant.get_mut(grant) {
            g.live.retain(|d| d != token);
        }
    }
}

/// The in-memory store.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    /// Codes, grants, refresh tokens, access-token ids and clients: one lock.
    grants: Mutex<Inner>,
    /// Rate-limit windows (their own lock: every limited request takes it).
    windows: crate::ratelimit::MemoryWindows,
    /// Pending consents.
    consents: Mutex<Consents>,
    /// Cached metadata-document clients.
    metadata: MetadataClients,
    /// One-time identifiers (digest of kind and id) with their expiry.
    replays: Mutex<HashMap<Digest, u64>>,
}

/// Cached metadata-document clients with their expiry (bounded).
#[derive(Debug)]
pub(crate) struct MetadataClients(moka::sync::Cache<String, (ClientRecord, u64)>);

impl Default for MetadataClients {
    fn default() -> Self {
        Self(moka::sync::Cache::builder().max_capacity(1_000).build())
    }
}

/// Pending consents: by id, and ids per owner, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Consents {
    requests: HashMap<String, (PendingConsent, String)>,
    by_owner: HashMap<String, VecDeque<String>>,
    /// Ids by insertion, with their expiry (one TTL, so also by expiry): counting drops the
    /// expired from the front in amortized constant time.
    queue: VecDeque<(u64, String)>,
}

impl Consents {
    /// Drops expired requests from the front of the queue (owner lists are cleaned by
    /// [`Self::drop_expired`] in the periodic purge, and filtered when read).
    fn drop_expired_front(&mut self, now: u64) {
        while let Some((exp, _)) = self.queue.front() {
            if *exp > now {
                break;
            }
            if let Some((_, id)) = self.queue.pop_front()
                && self
                    .requests
                    .get(&id)
                    .is_some_and(|(c, _)| c.expires_at <= now)
            {
                self.requests.remove(&id);
            }
        }
    }

    fn drop_expired(&mut self, now: u64) {
        self.drop_expired_front(now);
        self.requests.retain(|_, (c, _)| c.expires_at > now);
        let requests = &self.requests;
        self.queue.retain(|(_, id)| requests.contains_key(id));
        self.by_owner.retain(|_, ids| {
            ids.retain(|id| requests.contains_key(id));
            !ids.is_empty()
        });
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.grants.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The synchronous operations (the async traits below delegate to them).
impl MemoryStore {
    pub(crate) fn put_code(&self, code: Digest, record: CodeRecord) {
        let mut inner = self.lock();
        inner.touch_client(&record.client_id, record.expires_at);
        inner.codes.insert(code, record);
    }

    pub(crate) fn peek_code(&self, code: &Digest, now: u64) -> Option<CodeRecord> {
        self.lock()
            .codes
            .get(code)
            .filter(|c| c.expires_at > now || c.redeemed_grant.is_some())
            .cloned()
    }

    pub(crate) fn redeem_code(&self, code: &Digest, grant_id: &str, now: u64) -> Redeem {
        let mut inner = self.lock();
        match inner.codes.get_mut(code) {
            Some(c) if c.redeemed_grant.is_some() => Redeem::Replayed(c.redeemed_grant.clone()),
            Some(c) if c.expires_at <= now => Redeem::Unknown,
            Some(c) => {
                c.redeemed_grant = Some(grant_id.to_owned());
                Redeem::Fresh(c.clone())
            }
            None => Redeem::Unknown,
        }
    }

    pub(crate) fn put_grant(&self, grant: Grant) {
        self.lock().grants.insert(grant.id.clone(), grant);
    }

    pub(crate) fn grant(&self, id: &str) -> Option<Grant> {
        self.lock().grants.get(id).cloned()
    }

    pub(crate) fn revoke_grant(&self, id: &str) {
        let mut inner = self.lock();
        if let Some(g) = inner.grants.get_mut(id) {
            g.revoked = true;
        }
        // Proportional to the grant: only its own tokens are visited.
        if let Some(tokens) = inner.by_grant.remove(id) {
            for d in &tokens.live {
                inner.refresh.remove(d);
            }
            for d in &tokens.retired {
                inner.retired.remove(d);
            }
        }
    }

    pub(crate) fn put_refresh(&self, token: Digest, record: RefreshRecord) {
        self.lock().put_refresh(token, record);
    }

    pub(crate) fn retired_refresh_grant(&self, token: &Digest) -> Option<String> {
        self.lock().retired.get(token).cloned()
    }

    pub(crate) fn refresh(&self, token: &Digest, now: u64) -> Option<RefreshRecord> {
        self.lock()
            .refresh
            .get(token)
            .filter(|r| r.expires_at > now)
            .cloned()
    }

    pub(crate) fn rotate_refresh(
        &self,
        token: &Digest,
        now: u64,
        successor: Digest,
        record: RefreshRecord,
    ) -> Rotate {
        let mut inner = self.lock();
        let outcome = match inner.refresh.get_mut(token) {
            Some(r) if r.expires_at <= now => Rotate::Unknown,
            Some(r) => match r.rotated_at {
                Some(at) => Rotate::AlreadyRotated(at),
                None => {
                    r.rotated_at = Some(now);
                    Rotate::Rotated
                }
            },
            None => Rotate::Unknown,
        };
        if outcome == Rotate::Rotated {
            inner.put_refresh(successor, record);
        }
        outcome
    }

    pub(crate) fn revoke_jti(&self, jti: &str, exp: u64) {
        self.lock().revoked_jtis.insert(jti.to_owned(), exp);
    }

    pub(crate) fn is_jti_revoked(&self, jti: &str) -> bool {
        let inner = self.lock();
        if inner.revoked_jtis.contains_key(jti) {
            return true;
        }
        inner
            .jti_grants
            .get(jti)
            .and_then(|(g, _)| inner.grants.get(g))
            .is_some_and(|g| g.revoked)
    }

    pub(crate) fn link_jti(&self, jti: &str, grant_id: &str, exp: u64) {
        self.lock()
            .jti_grants
            .insert(jti.to_owned(), (grant_id.to_owned(), exp));
    }

    pub(crate) fn register_client(&self, client: ClientRecord) -> bool {
        let mut inner = self.lock();
        if inner.clients.contains_key(&client.client_id) {
            return false;
        }
        inner.dynamic_clients += 1;
        inner.activity.insert(
            client.client_id.clone(),
            ClientActivity {
                last: client.issued_at,
                used: false,
            },
        );
        inner.clients.insert(client.client_id.clone(), client);
        true
    }

    pub(crate) fn dynamic_clients(&self, now: u64) -> usize {
        let mut inner = self.lock();
        inner.expire_dynamic_clients(now);
        inner.dynamic_clients
    }

    pub(crate) fn client(&self, id: &str) -> Option<ClientRecord> {
        self.lock().clients.get(id).cloned()
    }

    pub(crate) fn purge_expired(&self, now: u64, refresh_grace_secs: u64) {
        let mut inner = self.lock();
        // Redeemed codes are kept a little longer so a replay is still recognised (AS-34).
        inner
            .codes
            .retain(|_, c| c.expires_at + super::CODE_REPLAY_MEMORY_SECS > now);
        // Expired refresh tokens go; rotated ones past the grace window shrink to a digest,
        // oldest first, at most MAX_RETIRED_PER_GRANT per grant. A grant without live tokens
        // needs no memory of its retired ones.
        let Inner {
            refresh,
            by_grant,
            retired,
            ..
        } = &mut *inner;
        by_grant.retain(|grant, tokens| {
            tokens.live.retain(|d| {
                let Some(r) = refresh.get(d) else {
                    return false;
                };
                let pruned = r
                    .rotated_at
                    .is_some_and(|at| at.saturating_add(refresh_grace_secs) <= now);
                if r.expires_at > now && !pruned {
                    return true;
                }
                if r.expires_at > now {
                    retired.insert(*d, grant.clone());
                    tokens.retired.push_back(*d);
                    if tokens.retired.len() > MAX_RETIRED_PER_GRANT
                        && let Some(old) = tokens.retired.pop_front()
                    {
                        retired.remove(&old);
                    }
                }
                refresh.remove(d);
                false
            });
            if tokens.live.is_empty() {
                for d in &tokens.retired {
                    retired.remove(d);
                }
            }
            !tokens.live.is_empty()
        });
        inner.expire_dynamic_clients(now);
        inner.revoked_jtis.retain(|_, exp| *exp > now);
        inner.jti_grants.retain(|_, (_, exp)| *exp > now);
        let live: std::collections::HashSet<String> =
            inner.refresh.values().map(|r| r.grant_id.clone()).collect();
        let codes_grants: std::collections::HashSet<String> = inner
            .codes
            .values()
            .filter_map(|c| c.redeemed_grant.clone())
            .collect();
        let linked: std::collections::HashSet<String> =
            inner.jti_grants.values().map(|(g, _)| g.clone()).collect();
        inner
            .grants
            .retain(|id, _| live.contains(id) || codes_grants.contains(id) || linked.contains(id));
    }
}

#[async_trait::async_trait]
impl CodeStore for MemoryStore {
    async fn put_code(&self, code: Digest, record: CodeRecord) -> StoreResult<()> {
        MemoryStore::put_code(self, code, record);
        Ok(())
    }
    async fn peek_code(&self, code: &Digest, now: u64) -> StoreResult<Option<CodeRecord>> {
        Ok(MemoryStore::peek_code(self, code, now))
    }
    async fn redeem_code(&self, code: &Digest, grant_id: &str, now: u64) -> StoreResult<Redeem> {
        Ok(MemoryStore::redeem_code(self, code, grant_id, now))
    }
}

#[async_trait::async_trait]
impl GrantStore for MemoryStore {
    async fn put_grant(&self, grant: Grant) -> StoreResult<()> {
        MemoryStore::put_grant(self, grant);
        Ok(())
    }
    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        Ok(MemoryStore::grant(self, id))
    }
    async fn revoke_grant(&self, id: &str) -> StoreResult<()> {
        MemoryStore::revoke_grant(self, id);
        Ok(())
    }
    async fn put_refresh(&self, token: Digest, record: RefreshRecord) -> StoreResult<()> {
        MemoryStore::put_refresh(self, token, record);
        Ok(())
    }
    async fn refresh(&self, token: &Digest, now: u64) -> StoreResult<Option<RefreshRecord>> {
        Ok(MemoryStore::refresh(self, token, now))
    }
    async fn retired_refresh_grant(&self, token: &Digest) -> StoreResult<Option<String>> {
        Ok(MemoryStore::retired_refresh_grant(self, token))
    }
    async fn rotate_refresh(
        &self,
        token: &Digest,
        now: u64,
        successor: Digest,
        record: RefreshRecord,
    ) -> StoreResult<Rotate> {
        Ok(MemoryStore::rotate_refresh(
            self, token, now, successor, record,
        ))
    }
    async fn revoke_jti(&self, jti: &str, exp: u64) -> StoreResult<()> {
        MemoryStore::revoke_jti(self, jti, exp);
        Ok(())
    }
    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool> {
        Ok(MemoryStore::is_jti_revoked(self, jti))
    }
    async fn link_jti(&self, jti: &str, grant_id: &str, exp: u64) -> StoreResult<()> {
        MemoryStore::link_jti(self, jti, grant_id, exp);
        Ok(())
    }
}

#[async_trait::async_trait]
impl ClientStore for MemoryStore {
    async fn register_client(&self, client: ClientRecord) -> StoreResult<bool> {
        Ok(MemoryStore::register_client(self, client))
    }
    async fn client(&self, id: &str) -> StoreResult<Option<ClientRecord>> {
        Ok(MemoryStore::client(self, id))
    }
    async fn dynamic_clients(&self, now: u64) -> StoreResult<usize> {
        Ok(MemoryStore::dynamic_clients(self, now))
    }
}

impl MemoryStore {
    fn consents(&self) -> std::sync::MutexGuard<'_, Consents> {
        self.consents.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl ConsentStore for MemoryStore {
    async fn pending_consents(&self, now: u64) -> StoreResult<usize> {
        let mut c = self.consents();
        c.drop_expired_front(now);
        Ok(c.requests.len())
    }
    async fn owner_consents(&self, owner: &str, now: u64) -> StoreResult<Vec<String>> {
        let c = self.consents();
        Ok(c.by_owner.get(owner).map_or_else(Vec::new, |ids| {
            ids.iter()
                .filter(|id| c.requests.get(*id).is_some_and(|(r, _)| r.expires_at > now))
                .cloned()
                .collect()
        }))
    }
    async fn put_consent(&self, id: &str, owner: &str, record: PendingConsent) -> StoreResult<()> {
        let mut c = self.consents();
        c.queue.push_back((record.expires_at, id.to_owned()));
        c.requests.insert(id.to_owned(), (record, owner.to_owned()));
        c.by_owner
            .entry(owner.to_owned())
            .or_default()
            .push_back(id.to_owned());
        Ok(())
    }
    async fn take_consent(&self, id: &str, now: u64) -> StoreResult<Option<PendingConsent>> {
        let mut c = self.consents();
        let Some((record, owner)) = c.requests.remove(id) else {
            return Ok(None);
        };
        if let Some(ids) = c.by_owner.get_mut(&owner) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                c.by_owner.remove(&owner);
            }
        }
        Ok((record.expires_at > now).then_some(record))
    }
}

#[async_trait::async_trait]
impl MetadataCache for MemoryStore {
    async fn cached_metadata(&self, url: &str, now: u64) -> StoreResult<Option<ClientRecord>> {
        Ok(self
            .metadata
            .0
            .get(url)
            .filter(|(_, exp)| *exp > now)
            .map(|(c, _)| c))
    }
    async fn cache_metadata(
        &self,
        url: &str,
        client: ClientRecord,
        expires_at: u64,
    ) -> StoreResult<()> {
        self.metadata.0.insert(url.to_owned(), (client, expires_at));
        Ok(())
    }
}

#[async_trait::async_trait]
impl RateLimitStore for MemoryStore {
    async fn spend(
        &self,
        key: RateKey,
        limit: u32,
        window: std::time::Duration,
    ) -> StoreResult<Option<std::time::Duration>> {
        Ok(self.windows.spend(key, limit, window))
    }
}

#[async_trait::async_trait]
impl ReplayStore for MemoryStore {
    async fn first_use(
        &self,
        kind: ReplayKind,
        id: &str,
        now: u64,
        until: u64,
    ) -> StoreResult<bool> {
        let key = replay_digest(kind, id);
        let mut r = self.replays.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() >= MAX_REPLAYS {
            r.retain(|_, exp| *exp > now);
        }
        match r.get(&key) {
            Some(exp) if *exp > now => Ok(false),
            _ => {
                r.insert(key, until);
                Ok(true)
            }
        }
    }
}

/// Bound of the in-memory replay cache before expired entries are dropped eagerly.
const MAX_REPLAYS: usize = 100_000;

/// The digest a one-time identifier is remembered by (kind-separated).
pub(crate) fn replay_digest(kind: ReplayKind, id: &str) -> Digest {
    super::digest(&format!("{}:{id}", kind.as_str()))
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn purge_expired(&self, now: u64, refresh_grace_secs: u64) -> StoreResult<()> {
        MemoryStore::purge_expired(self, now, refresh_grace_secs);
        self.replays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, exp| *exp > now);
        self.windows.purge();
        self.consents().drop_expired(now);
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests;
