//! Grant state behind a [`Store`] trait with an in-memory default, so a shared store can
//! replace it. Codes and refresh tokens are keyed by their SHA-256 digest only: a dump of the
//! store holds nothing usable.
//!
//! The trait is synchronous because the in-memory store never waits; a networked store would
//! wrap its calls in `tokio::task::block_in_place` or the trait would grow async methods.

use std::collections::HashMap;
use std::sync::Mutex;

use shared::scope::ScopeSet;

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
    /// Drops expired entries.
    fn purge_expired(&self, now: u64);
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
        self.lock().codes.insert(code, record);
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
        inner.refresh.retain(|_, r| r.grant_id != id);
    }

    fn put_refresh(&self, token: Digest, record: RefreshRecord) {
        self.lock().refresh.insert(token, record);
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
                return false;
            }
            inner.dynamic_clients += 1;
        }
        inner.clients.insert(client.client_id.clone(), client);
        true
    }

    fn client(&self, id: &str) -> Option<ClientRecord> {
        self.lock().clients.get(id).cloned()
    }

    fn purge_expired(&self, now: u64) {
        let mut inner = self.lock();
        // Redeemed codes are kept a little longer so a replay is still recognised (AS-34).
        inner.codes.retain(|_, c| c.expires_at + 600 > now);
        inner.refresh.retain(|_, r| r.expires_at > now);
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
mod tests {
    use super::*;

    fn code(exp: u64) -> CodeRecord {
        CodeRecord {
            client_id: "c".into(),
            redirect_uri: None,
            code_challenge: "x".into(),
            scope: ScopeSet::parse("mcp"),
            resource: None,
            subject: "u".into(),
            expires_at: exp,
            redeemed_grant: None,
        }
    }

    #[test]
    fn code_is_single_use_as23() {
        let s = MemoryStore::default();
        let d = digest("code");
        s.put_code(d, code(100));
        assert!(matches!(s.redeem_code(&d, "g1", 10), Redeem::Fresh(_)));
        assert!(matches!(s.redeem_code(&d, "g2", 11), Redeem::Replayed(Some(g)) if g == "g1"));
    }

    #[test]
    fn expired_code_is_unknown() {
        let s = MemoryStore::default();
        let d = digest("code");
        s.put_code(d, code(100));
        assert!(matches!(s.redeem_code(&d, "g", 100), Redeem::Unknown));
    }
}
