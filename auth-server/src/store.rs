//! Grant state behind a [`Store`] trait with an in-memory default, so a shared store can
//! replace it. Codes and refresh tokens are keyed by their SHA-256 digest only: a dump of the
//! store holds nothing usable.
//!
//! (Longer than our 450-line guide: every read-modify-write of the grant state lives here under
//! one lock so its atomicity can be read in one place; issue 14 splits it into per-record
//! traits for a shared store.)
//!
//! The trait is synchronous because the in-memory store never waits; a networked store would
//! wrap its calls in `tokio::task::block_in_place` or the trait would grow async methods.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use shared::scope::ScopeSet;

/// How long a dynamically registered client that never obtained a code or token is kept.
const UNUSED_CLIENT_TTL_SECS: u64 = 3_600;
/// How long a dynamically registered client that was used is kept after its last code or
/// token, while it holds no live refresh token.
const IDLE_CLIENT_TTL_SECS: u64 = 30 * 86_400;
/// Rotated refresh tokens past the grace window remembered per grant (as digests only) so that
/// their reuse still revokes the grant; older ones are forgotten.
const MAX_RETIRED_PER_GRANT: usize = 8;

/// SHA-256 digest used as a store key.
pub(crate) type Digest = [u8; 32];

/// Digest of a secret value (code, refresh token, client secret).
pub(crate) fn digest(secret: &str) -> Digest {
    shared::random::sha256(secret.as_bytes())
}

/// An issued authorization code (checklist AS-22: bound to everything the request named).
#[derive(Debug, Clone)]
pub(crate) struct CodeRecord {
    /// The client the code was issued to.
    pub(crate) client_id: String,
    /// The redirect URI of the authorization request, if one was sent.
    pub(crate) redirect_uri: Option<String>,
    /// The S256 challenge.
    pub(crate) code_challenge: String,
    /// Granted scope.
    pub(crate) scope: ScopeSet,
    /// Granted resource (RFC 8707).
    pub(crate) resource: Option<String>,
    /// Resource owner.
    pub(crate) subject: String,
    /// Expiry, seconds since the epoch.
    pub(crate) expires_at: u64,
    /// Set once redeemed: the grant the tokens belong to.
    pub(crate) redeemed_grant: Option<String>,
}

/// A grant: what one authorization produced; revoking it kills every token from it.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// Grant id.
    pub(crate) id: String,
    /// Client.
    pub(crate) client_id: String,
    /// Resource owner.
    pub(crate) subject: String,
    /// Granted scope.
    pub(crate) scope: ScopeSet,
    /// Granted resource.
    pub(crate) resource: Option<String>,
    /// Whether revoked.
    pub(crate) revoked: bool,
}

/// A refresh token record.
#[derive(Debug, Clone)]
pub(crate) struct RefreshRecord {
    /// The grant.
    pub(crate) grant_id: String,
    /// The client it was issued to.
    pub(crate) client_id: String,
    /// Scope of this token.
    pub(crate) scope: ScopeSet,
    /// Resource of this token.
    pub(crate) resource: Option<String>,
    /// Expiry.
    pub(crate) expires_at: u64,
    /// When it was rotated (replaced); `None` while current.
    pub(crate) rotated_at: Option<u64>,
    /// Issued at.
    pub(crate) issued_at: u64,
}

/// A registered client (from config or dynamic registration).
#[derive(Debug, Clone)]
pub(crate) struct ClientRecord {
    /// Client id.
    pub(crate) client_id: String,
    /// SHA-256 of the secret, for confidential clients.
    pub(crate) secret_digest: Option<Digest>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub(crate) auth_method: shared::oauth::TokenEndpointAuthMethod,
    /// Registered redirect URIs.
    pub(crate) redirect_uris: Vec<String>,
    /// Allowed grant types.
    pub(crate) grant_types: Vec<String>,
    /// Allowed scopes (`None`: every offered scope).
    pub(crate) scopes: Option<ScopeSet>,
    /// Display name.
    pub(crate) client_name: Option<String>,
    /// `native` or `web`.
    pub(crate) application_type: String,
    /// Dynamically registered or from a metadata document (never auto-trusted).
    pub(crate) dynamic: bool,
    /// Issued at.
    pub(crate) issued_at: u64,
}

impl ClientRecord {
    /// Whether the client may use `grant` (an RFC 6749 `grant_type` value).
    pub(crate) fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

/// Outcome of redeeming a code.
#[derive(Debug)]
pub(crate) enum Redeem {
    /// First use: the record, now marked redeemed with this grant.
    Fresh(CodeRecord),
    /// Already redeemed: the grant it produced (to revoke, AS-34).
    Replayed(Option<String>),
    /// Unknown or expired.
    Unknown,
}

/// Outcome of rotating a refresh token.
#[derive(Debug)]
pub(crate) enum Rotate {
    /// The token was current and is now rotated.
    Rotated,
    /// The token had been rotated at this time (reuse, or a concurrent refresh in the grace window).
    AlreadyRotated(u64),
    /// Unknown or expired.
    Unknown,
}

/// Storage for codes, grants, refresh tokens, revoked access-token ids and clients.
pub(crate) trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a new code.
    fn put_code(&self, code: Digest, record: CodeRecord);
    /// Reads a code without consuming it (validation happens before consumption, AS-45).
    fn peek_code(&self, code: &Digest, now: u64) -> Option<CodeRecord>;
    /// Atomically marks a code redeemed for `grant_id`.
    fn redeem_code(&self, code: &Digest, grant_id: &str, now: u64) -> Redeem;
    /// Stores a grant.
    fn put_grant(&self, grant: Grant);
    /// Reads a grant.
    fn grant(&self, id: &str) -> Option<Grant>;
    /// Revokes a grant (and so every token issued from it).
    fn revoke_grant(&self, id: &str);
    /// Stores a refresh token.
    fn put_refresh(&self, token: Digest, record: RefreshRecord);
    /// Reads a refresh token.
    fn refresh(&self, token: &Digest, now: u64) -> Option<RefreshRecord>;
    /// The grant of a refresh token that was rotated and pruned after the grace window (its
    /// reuse revokes the grant, AS-41).
    fn retired_refresh_grant(&self, token: &Digest) -> Option<String>;
    /// Atomically rotates a refresh token.
    fn rotate_refresh(&self, token: &Digest, now: u64) -> Rotate;
    /// Marks an access token id revoked until `exp`.
    fn revoke_jti(&self, jti: &str, exp: u64);
    /// Whether an access token id is revoked, directly or through its grant.
    fn is_jti_revoked(&self, jti: &str) -> bool;
    /// Records which grant an access token belongs to (so revoking the grant revokes it).
    fn link_jti(&self, jti: &str, grant_id: &str, exp: u64);
    /// Registers a client; false when the store is full or the id exists.
    fn put_client(&self, client: ClientRecord, max_dynamic: usize) -> bool;
    /// Reads a client.
    fn client(&self, id: &str) -> Option<ClientRecord>;
    /// Drops expired entries, prunes refresh tokens rotated more than `refresh_grace_secs` ago
    /// to digests (at most [`MAX_RETIRED_PER_GRANT`] per grant) and expires unused dynamic
    /// clients.
    fn purge_expired(&self, now: u64, refresh_grace_secs: u64);
}

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

    /// Forgets a refresh-token digest of `grant` (expired or pruned).
    fn unlink_refresh(&mut self, grant: &str, token: &Digest) {
        if let Some(g) = self.by_grant.get_mut(grant) {
            g.live.retain(|d| d != token);
        }
    }
}

/// The in-memory store.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore(Mutex<Inner>);

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn put_code(&self, code: Digest, record: CodeRecord) {
        let mut inner = self.lock();
        inner.touch_client(&record.client_id, record.expires_at);
        inner.codes.insert(code, record);
    }

    fn peek_code(&self, code: &Digest, now: u64) -> Option<CodeRecord> {
        self.lock()
            .codes
            .get(code)
            .filter(|c| c.expires_at > now || c.redeemed_grant.is_some())
            .cloned()
    }

    fn redeem_code(&self, code: &Digest, grant_id: &str, now: u64) -> Redeem {
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

    fn put_grant(&self, grant: Grant) {
        self.lock().grants.insert(grant.id.clone(), grant);
    }

    fn grant(&self, id: &str) -> Option<Grant> {
        self.lock().grants.get(id).cloned()
    }

    fn revoke_grant(&self, id: &str) {
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

    fn put_refresh(&self, token: Digest, record: RefreshRecord) {
        let mut inner = self.lock();
        inner.touch_client(&record.client_id, record.issued_at);
        let grant = record.grant_id.clone();
        if let Some(old) = inner.refresh.insert(token, record) {
            // The same digest again (never for random tokens): keep the index single.
            inner.unlink_refresh(&old.grant_id, &token);
        }
        inner.by_grant.entry(grant).or_default().live.push(token);
    }

    fn retired_refresh_grant(&self, token: &Digest) -> Option<String> {
        self.lock().retired.get(token).cloned()
    }

    fn refresh(&self, token: &Digest, now: u64) -> Option<RefreshRecord> {
        self.lock()
            .refresh
            .get(token)
            .filter(|r| r.expires_at > now)
            .cloned()
    }

    fn rotate_refresh(&self, token: &Digest, now: u64) -> Rotate {
        let mut inner = self.lock();
        match inner.refresh.get_mut(token) {
            Some(r) if r.expires_at <= now => Rotate::Unknown,
            Some(r) => match r.rotated_at {
                Some(at) => Rotate::AlreadyRotated(at),
                None => {
                    r.rotated_at = Some(now);
                    Rotate::Rotated
                }
            },
            None => Rotate::Unknown,
        }
    }

    fn revoke_jti(&self, jti: &str, exp: u64) {
        self.lock().revoked_jtis.insert(jti.to_owned(), exp);
    }

    fn is_jti_revoked(&self, jti: &str) -> bool {
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

    fn link_jti(&self, jti: &str, grant_id: &str, exp: u64) {
        self.lock()
            .jti_grants
            .insert(jti.to_owned(), (grant_id.to_owned(), exp));
    }

    fn put_client(&self, client: ClientRecord, max_dynamic: usize) -> bool {
        let mut inner = self.lock();
        if inner.clients.contains_key(&client.client_id) {
            return false;
        }
        if client.dynamic {
            if inner.dynamic_clients >= max_dynamic {
                // A full table frees up as unused registrations expire.
                inner.expire_dynamic_clients(client.issued_at);
            }
            if inner.dynamic_clients >= max_dynamic {
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
        }
        inner.clients.insert(client.client_id.clone(), client);
        true
    }

    fn client(&self, id: &str) -> Option<ClientRecord> {
        self.lock().clients.get(id).cloned()
    }

    fn purge_expired(&self, now: u64, refresh_grace_secs: u64) {
        let mut inner = self.lock();
        // Redeemed codes are kept a little longer so a replay is still recognised (AS-34).
        inner.codes.retain(|_, c| c.expires_at + 600 > now);
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

#[cfg(test)]
mod tests;
