//! Grant state behind async, fallible traits split by record kind ([`CodeStore`],
//! [`GrantStore`], [`ClientStore`], [`ConsentStore`], [`RateLimitStore`], [`MetadataCache`],
//! together [`Store`]), with an in-memory default
//! ([`memory::MemoryStore`]) and a Redis implementation ([`redis::RedisStore`]) that several
//! instances share (issue 14, ADR 0010). Codes, refresh tokens and client secrets are kept as
//! SHA-256 digests only: a dump of the store holds nothing usable.
//!
//! Each operation states the atomicity it needs; every implementation provides it (the memory
//! store under one lock, Redis with one command or one Lua script). Limits (how many clients,
//! how many pending consents) are enforced by the endpoints, not here. A [`StoreError`] (the
//! store cannot be reached or answered garbage) becomes a `server_error` 503 with
//! `Retry-After`, never a panic or a wrong answer.

pub(crate) mod memory;
pub(crate) mod redis;

use shared::scope::ScopeSet;

/// How long a dynamically registered client that never obtained a code or token is kept.
pub(crate) const UNUSED_CLIENT_TTL_SECS: u64 = 3_600;
/// How long a dynamically registered client that was used is kept after its last code or
/// token, while it holds no live refresh token.
pub(crate) const IDLE_CLIENT_TTL_SECS: u64 = 30 * 86_400;
/// How long a redeemed or expired code is remembered after its expiry, so that a replay is
/// still recognised and revokes its grant (AS-34).
pub(crate) const CODE_REPLAY_MEMORY_SECS: u64 = 600;

/// The store could not answer (unreachable, timed out, or returned something unreadable).
/// The message is for the log only and never holds a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store unavailable: {0}")]
pub(crate) struct StoreError(pub(crate) String);

/// A store answer.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

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
    /// RFC 9449 §10 `dpop_jkt` of the authorization request: the code is redeemed only with
    /// a DPoP proof by the key with this thumbprint.
    pub(crate) dpop_jkt: Option<String>,
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
    /// RFC 7638 thumbprint of the DPoP key the token is bound to (public clients that sent a
    /// proof, RFC 9449 §5): a refresh needs a proof by the same key.
    pub(crate) jkt: Option<String>,
}

/// How a client proves possession: DPoP requirement and `private_key_jwt` keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientKeys {
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): no token without a DPoP proof.
    pub(crate) dpop_bound: bool,
    /// Public keys of `private_key_jwt` client assertions (RFC 7523 §2.2).
    pub(crate) jwks: Option<shared::dpop::JwkSet>,
    /// Or the URL they are fetched from.
    pub(crate) jwks_uri: Option<String>,
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
    /// DPoP requirement and assertion keys.
    pub(crate) keys: ClientKeys,
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
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rotate {
    /// The token was current and is now rotated.
    Rotated,
    /// The token had been rotated at this time (reuse, or a concurrent refresh in the grace window).
    AlreadyRotated(u64),
    /// Unknown or expired.
    Unknown,
}

/// Authorization codes, keyed by digest.
#[async_trait::async_trait]
pub(crate) trait CodeStore: Send + Sync + std::fmt::Debug {
    /// Stores a new code (kept until [`CODE_REPLAY_MEMORY_SECS`] after its expiry) and marks
    /// its client used. A single write.
    async fn put_code(&self, code: Digest, record: CodeRecord) -> StoreResult<()>;
    /// Reads a code without consuming it (validation happens before consumption, AS-45); an
    /// expired code that was never redeemed reads as absent.
    async fn peek_code(&self, code: &Digest, now: u64) -> StoreResult<Option<CodeRecord>>;
    /// Consumes a code for `grant_id`. Atomic: of any number of concurrent callers, on any
    /// number of instances, exactly one gets [`Redeem::Fresh`]; every other caller gets
    /// [`Redeem::Replayed`] with the winner's grant id.
    async fn redeem_code(&self, code: &Digest, grant_id: &str, now: u64) -> StoreResult<Redeem>;
}

/// Grants, their refresh-token families and revoked access-token ids.
#[async_trait::async_trait]
pub(crate) trait GrantStore: Send + Sync + std::fmt::Debug {
    /// Stores a grant. A single write.
    async fn put_grant(&self, grant: Grant) -> StoreResult<()>;
    /// Reads a grant.
    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>>;
    /// Revokes a grant and deletes every refresh token of its family. Atomic: once it returns,
    /// no caller anywhere can rotate a token of the grant, and [`GrantStore::grant`] reads it
    /// revoked. Idempotent; proportional to the grant, not to the store.
    async fn revoke_grant(&self, id: &str) -> StoreResult<()>;
    /// Stores a refresh token in its grant's family (expiring at `record.expires_at`) and
    /// marks its client used.
    async fn put_refresh(&self, token: Digest, record: RefreshRecord) -> StoreResult<()>;
    /// Reads a refresh token, current or rotated (`rotated_at` set), while unexpired.
    async fn refresh(&self, token: &Digest, now: u64) -> StoreResult<Option<RefreshRecord>>;
    /// [`GrantStore::refresh`] and the token's grant, read together (one round trip where the
    /// store allows; no atomicity needed: rotation re-checks the token).
    async fn refresh_with_grant(
        &self,
        token: &Digest,
        now: u64,
    ) -> StoreResult<Option<(RefreshRecord, Option<Grant>)>> {
        let Some(record) = self.refresh(token, now).await? else {
            return Ok(None);
        };
        let grant = self.grant(&record.grant_id).await?;
        Ok(Some((record, grant)))
    }
    /// The grant of a rotated refresh token that is no longer readable through
    /// [`GrantStore::refresh`] (a store that prunes rotated tokens after the grace window keeps
    /// their digests here, so that their reuse still revokes the grant, AS-41).
    async fn retired_refresh_grant(&self, token: &Digest) -> StoreResult<Option<String>>;
    /// Rotates a refresh token and stores its `successor` (`record`) in the same atomic step.
    /// Atomic: of any number of concurrent callers, on any number of instances, exactly one
    /// gets [`Rotate::Rotated`] and its successor is stored before any caller sees the token
    /// rotated; every other caller gets [`Rotate::AlreadyRotated`] with the winner's time (the
    /// grace-window decision) and stores nothing. A failure leaves both untouched. When the
    /// grant was revoked meanwhile the successor is not stored.
    async fn rotate_refresh(
        &self,
        token: &Digest,
        now: u64,
        successor: Digest,
        record: RefreshRecord,
    ) -> StoreResult<Rotate>;
    /// Marks an access token id revoked until `exp`. A single write.
    async fn revoke_jti(&self, jti: &str, exp: u64) -> StoreResult<()>;
    /// Whether an access token id is revoked, directly or through its grant.
    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// Records which grant an access token belongs to (so revoking the grant revokes it),
    /// until `exp`.
    async fn link_jti(&self, jti: &str, grant_id: &str, exp: u64) -> StoreResult<()>;
}

/// Registered clients (configured ones come from the configuration, never from the store, so
/// removing a client from the configuration removes it everywhere at the next start).
#[async_trait::async_trait]
pub(crate) trait ClientStore: Send + Sync + std::fmt::Debug {
    /// Registers a dynamic client. Atomic: `false` (nothing written) when the id exists. The
    /// record expires [`UNUSED_CLIENT_TTL_SECS`] after registration unless the client obtains a
    /// code or token, then [`IDLE_CLIENT_TTL_SECS`] after its last one while it holds no live
    /// refresh token.
    async fn register_client(&self, client: ClientRecord) -> StoreResult<bool>;
    /// Reads a client.
    async fn client(&self, id: &str) -> StoreResult<Option<ClientRecord>>;
    /// How many dynamic clients are registered and unexpired at `now` (the registration
    /// endpoint enforces its limit with it; concurrent registrations may overshoot it by
    /// their number).
    async fn dynamic_clients(&self, now: u64) -> StoreResult<usize>;
}

/// Rate-limit windows.
#[async_trait::async_trait]
pub(crate) trait RateLimitStore: Send + Sync + std::fmt::Debug {
    /// Spends one request of `key`'s fixed window (`window` long from its first request):
    /// `None` within `limit`, else `Some(retry_after)`. Atomic: concurrent callers on every
    /// instance together get at most `limit` `None`s per window.
    async fn spend(
        &self,
        key: crate::ratelimit::RateKey,
        limit: u32,
        window: std::time::Duration,
    ) -> StoreResult<Option<std::time::Duration>>;
}

/// An authorization request waiting for the user's decision on the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingConsent {
    /// The validated request, serialized by the authorization endpoint (opaque here).
    pub(crate) request: String,
    /// SHA-256 of its CSRF token.
    pub(crate) csrf_digest: Digest,
    /// Expiry, seconds since the epoch.
    pub(crate) expires_at: u64,
}

/// Pending consents, keyed by a random request id and listed per owner (subject and client).
#[async_trait::async_trait]
pub(crate) trait ConsentStore: Send + Sync + std::fmt::Debug {
    /// How many unexpired consents are pending at `now`, all owners together.
    async fn pending_consents(&self, now: u64) -> StoreResult<usize>;
    /// The ids of `owner`'s unexpired pending consents at `now`, oldest first.
    async fn owner_consents(&self, owner: &str, now: u64) -> StoreResult<Vec<String>>;
    /// Stores a pending consent of `owner` until `record.expires_at`. A single write.
    async fn put_consent(&self, id: &str, owner: &str, record: PendingConsent) -> StoreResult<()>;
    /// Takes (reads and deletes) a pending consent. Atomic: of concurrent callers on any
    /// instance exactly one gets it; an expired one reads as absent.
    async fn take_consent(&self, id: &str, now: u64) -> StoreResult<Option<PendingConsent>>;
}

/// Clients built from Client ID Metadata Documents, cached per the document's
/// `Cache-Control` (a cache: losing it costs a fetch, never correctness).
#[async_trait::async_trait]
pub(crate) trait MetadataCache: Send + Sync + std::fmt::Debug {
    /// The client cached for the document at `url`, if unexpired at `now`.
    async fn cached_metadata(&self, url: &str, now: u64) -> StoreResult<Option<ClientRecord>>;
    /// Caches `client` for `url` until `expires_at`. A single write; the last writer wins
    /// (documents fetched concurrently are equally valid).
    async fn cache_metadata(
        &self,
        url: &str,
        client: ClientRecord,
        expires_at: u64,
    ) -> StoreResult<()>;
}

/// What a one-time identifier is: the namespace of [`ReplayStore::first_use`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ReplayKind {
    /// A DPoP proof `jti` at the token endpoint (RFC 9449 §11.1).
    DpopProof,
    /// A `private_key_jwt` client assertion `jti` (RFC 7523 §3).
    ClientAssertion,
    /// An ID-JAG `jti` (single use).
    IdJag,
}

impl ReplayKind {
    /// The key segment.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::DpopProof => "dpop",
            Self::ClientAssertion => "ca",
            Self::IdJag => "idjag",
        }
    }
}

/// One-time identifiers (DPoP proofs, client assertions, ID-JAGs), remembered as digests.
#[async_trait::async_trait]
pub(crate) trait ReplayStore: Send + Sync + std::fmt::Debug {
    /// Records `id` of `kind` at `now` until `until` ("insert if absent with TTL"): `true`
    /// for the first caller, `false` while it is remembered. Atomic: of any number of
    /// concurrent callers, on any number of instances, exactly one gets `true`.
    async fn first_use(
        &self,
        kind: ReplayKind,
        id: &str,
        now: u64,
        until: u64,
    ) -> StoreResult<bool>;
}

/// Everything the authorization server keeps.
#[async_trait::async_trait]
pub(crate) trait Store:
    CodeStore
    + GrantStore
    + ClientStore
    + ConsentStore
    + RateLimitStore
    + MetadataCache
    + ReplayStore
    + 'static
{
    /// Periodic housekeeping: drops expired entries and prunes refresh tokens rotated more
    /// than `refresh_grace_secs` ago. A store whose entries expire by themselves (Redis TTLs)
    /// does nothing.
    async fn purge_expired(&self, now: u64, refresh_grace_secs: u64) -> StoreResult<()>;
    /// A short name for logs (`memory`, `redis`).
    fn kind(&self) -> &'static str;
}

#[cfg(test)]
mod tests;
