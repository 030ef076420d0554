//! The single-flight refresher. The current [`TokenSet`] and a generation counter sit behind
//! a short `std::sync::RwLock` (never held across an await); a `tokio::sync::Mutex<()>` gate
//! is held only around the token-endpoint call. A caller that saw generation `g` refreshes
//! only if the generation is still `g` once it holds the gate: any number of concurrent
//! callers cause one token-endpoint call, and a late 401 for a replaced token does not
//! trigger a second refresh (CL-33, pitfall P-12).
//!
//! Across processes sharing a store, the refresh also holds the store's refresh lock
//! ([`TokenStore::try_lock_refresh`]) and re-reads the stored tokens first: tokens another
//! process refreshed meanwhile are taken as they are, and its rotated refresh token is used,
//! never the one this process loaded earlier (issue 11 item 13).

use std::sync::{Arc, RwLock};

use futures_util::future::BoxFuture;
use http::HeaderValue;
use shared::clock::SharedClock;
use shared::scope::ScopeSet;
use shared::secret::AccessToken;

use super::{Freshness, StoreKey, TokenSet, TokenStore};
use crate::error::ClientError;
use crate::oauth::token_endpoint::TokenEndpoint;

/// Runs a (re-)authorization with the given scopes and returns the new tokens: the login
/// flow for a full client ([`crate::OAuthSession`] provides one), or anything else (a
/// `client_credentials` grant, a test double). Used for step-up (CL-35) and when refresh is
/// impossible.
pub trait Authorizer: Send + Sync + std::fmt::Debug + 'static {
    /// Authorizes with `scopes` (`None`: let the server choose).
    fn authorize(&self, scopes: Option<ScopeSet>) -> BoxFuture<'_, Result<TokenSet, ClientError>>;
}

#[derive(Debug)]
struct Current {
    tokens: Option<Arc<TokenSet>>,
    generation: u64,
    /// The scopes asked for in the last authorization (for the step-up union).
    requested: Option<ScopeSet>,
    /// A refresh of this generation failed (transiently) at this time: callers queued behind
    /// the gate do not hammer a failing token endpoint.
    failed: Option<(u64, u64)>,
    /// `Authorization: Bearer <access token>` of `tokens`, built (and marked sensitive) once
    /// per token set: a request with a fresh bearer token only clones it (a reference-count
    /// increment) instead of formatting and validating the header again (issue 16 C).
    /// `None` without tokens, for DPoP-bound ones, or when the token is not a valid header.
    bearer: Option<HeaderValue>,
}

/// The `Authorization` value presenting `tokens` as a bearer token (`None`: DPoP-bound, or
/// characters a header cannot carry; the slow path then reports that).
fn bearer_header(tokens: Option<&TokenSet>) -> Option<HeaderValue> {
    let tokens = tokens.filter(|t| !t.dpop_bound)?;
    let mut v = HeaderValue::from_maybe_shared(bytes::Bytes::from(format!(
        "Bearer {}",
        tokens.access_token.secret()
    )))
    .ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// How long a transient refresh failure is reused for the same generation.
const FAILURE_HOLD_SECS: u64 = 2;

/// How long a refresh waits for another process's refresh to finish (that one is bounded by
/// its request timeout).
const STORE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

struct Inner {
    current: RwLock<Current>,
    gate: tokio::sync::Mutex<()>,
    endpoint: TokenEndpoint,
    store: Arc<dyn TokenStore>,
    key: StoreKey,
    clock: SharedClock,
    authorizer: Option<Arc<dyn Authorizer>>,
}

/// Holds the tokens for one (issuer, resource, client) and refreshes them single-flight.
/// Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("key", &self.inner.key)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager for `key`, loading any stored tokens.
    pub fn new(
        endpoint: TokenEndpoint,
        store: Arc<dyn TokenStore>,
        key: StoreKey,
        clock: SharedClock,
    ) -> Self {
        let tokens = match store.load(&key) {
            Ok(t) => t.map(Arc::new),
            Err(e) => {
                tracing::warn!(error = %e, "token store could not be read; starting without tokens");
                None
            }
        };
        if let (Some(d), Some(k)) = (
            endpoint.dpop(),
            tokens.as_ref().and_then(|t| t.dpop_key.as_ref()),
        ) {
            d.adopt(k.secret());
        }
        Self {
            inner: Arc::new(Inner {
                current: RwLock::new(Current {
                    bearer: bearer_header(tokens.as_deref()),
                    tokens,
                    generation: 0,
                    requested: None,
                    failed: None,
                }),
                gate: tokio::sync::Mutex::new(()),
                endpoint,
                store,
                key,
                clock,
                authorizer: None,
            }),
        }
    }

    /// Adds the authorizer used for step-up and when refresh is impossible. Call before
    /// cloning.
    pub fn with_authorizer(self, authorizer: Arc<dyn Authorizer>) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.authorizer = Some(authorizer);
                Self {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => {
                tracing::warn!("with_authorizer called on a shared TokenManager; ignored");
                Self { inner }
            }
        }
    }

    /// The store key (issuer, resource, client).
    pub fn key(&self) -> &StoreKey {
        &self.inner.key
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &TokenEndpoint {
        &self.inner.endpoint
    }

    fn read(&self) -> (Option<Arc<TokenSet>>, u64) {
        let g = self.current();
        (g.tokens.clone(), g.generation)
    }

    /// The current state for reading (a poisoned lock still holds a consistent value: every
    /// writer only assigns fields).
    fn current(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current state for writing.
    fn current_mut(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.inner
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The DPoP key to present the current tokens with, when they are DPoP-bound; `None`
    /// (bearer) otherwise. Costs one `Option` check for sessions without DPoP.
    pub fn dpop(&self) -> Option<&crate::dpop::DpopKey> {
        let d = self.inner.endpoint.dpop()?;
        self.current()
            .tokens
            .as_ref()
            .is_some_and(|t| t.dpop_bound)
            .then_some(d)
    }

    /// The current generation (bumped on every new token set).
    pub fn generation(&self) -> u64 {
        self.read().1
    }

    /// The current tokens, if any.
    pub fn tokens(&self) -> Option<Arc<TokenSet>> {
        self.read().0
    }

    /// The scopes asked for in the last authorization.
    pub fn requested_scopes(&self) -> Option<ScopeSet> {
        self.current().requested.clone()
    }

    /// Publishes a new token set (after a login), saves it, and returns the new generation.
    pub fn set_tokens(&self, mut tokens: TokenSet, requested: Option<ScopeSet>) -> u64 {
        // DPoP-bound tokens are stored with the key they are bound to (ADR 0011).
        if tokens.dpop_bound
            && tokens.dpop_key.is_none()
            && let Some(d) = self.inner.endpoint.dpop()
        {
            tokens.dpop_key = Some(super::StoredDpopKey::new(d.private_pem()));
        }
        if let Err(e) = self.inner.store.save(&self.inner.key, &tokens) {
            tracing::warn!(error = %e, "could not save tokens");
        }
        self.publish(Arc::new(tokens), requested)
    }

    /// Makes `tokens` current (without saving) and returns the new generation.
    fn publish(&self, tokens: Arc<TokenSet>, requested: Option<ScopeSet>) -> u64 {
        if let (Some(d), Some(k)) = (self.inner.endpoint.dpop(), tokens.dpop_key.as_ref()) {
            d.adopt(k.secret());
        }
        let bearer = bearer_header(Some(&tokens));
        let mut g = self.current_mut();
        g.tokens = Some(tokens);
        g.bearer = bearer;
        g.generation += 1;
        if requested.is_some() {
            g.requested = requested;
        }
        g.generation
    }

    /// Forgets the tokens (memory and store).
    pub fn clear(&self) {
        if let Err(e) = self.inner.store.remove(&self.inner.key) {
            tracing::warn!(error = %e, "could not remove tokens from the store");
        }
        let mut g = self.current_mut();
        g.tokens = None;
        g.bearer = None;
        g.generation += 1;
    }

    /// The hot path of [`crate::BearerAuth`]: the pre-built `Authorization: Bearer` header of
    /// the current tokens and their generation, when they are fresh and presented as bearer
    /// tokens (one read lock, one clock read, no allocation). `None` whenever
    /// [`Self::access_token`] would do more than return the token as it is (no tokens,
    /// stale, expired, DPoP): the caller then takes that path.
    pub(crate) fn fresh_bearer_header(&self) -> Option<(HeaderValue, u64)> {
        let now = self.inner.clock.now_unix();
        let g = self.current();
        let tokens = g.tokens.as_ref()?;
        // `bearer` is `None` for DPoP-bound tokens.
        if tokens.freshness(now) != Freshness::Fresh {
            return None;
        }
        Some((g.bearer.clone()?, g.generation))
    }

    /// A usable access token and the generation it belongs to. Fresh: returned at once.
    /// Stale: refreshed proactively (single-flight); on a transient failure the still-valid
    /// token is used. Expired: refreshed, or re-authorized, or
    /// [`ClientError::AuthorizationRequired`].
    pub async fn access_token(&self) -> Result<(AccessToken, u64), ClientError> {
        let (tokens, generation) = self.read();
        let Some(tokens) = tokens else {
            return self.reauthorize(generation, None).await;
        };
        match tokens.freshness(self.inner.clock.now_unix()) {
            Freshness::Fresh => Ok((tokens.access_token.clone(), generation)),
            Freshness::Stale if tokens.refresh_token.is_some() => {
                match self.refresh_if_current(generation).await {
                    Ok(t) => Ok(t),
                    Err(e @ ClientError::AuthorizationRequired(_)) => Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "proactive refresh failed; using the still-valid token");
                        Ok((tokens.access_token.clone(), generation))
                    }
                }
            }
            Freshness::Stale => Ok((tokens.access_token.clone(), generation)),
            Freshness::Expired => self.refresh_if_current(generation).await,
        }
    }

    /// Refreshes only if the current generation is still `seen` (someone else may already
    /// have replaced the token); otherwise returns the current token. Holds the gate only
    /// around the token-endpoint call.
    #[tracing::instrument(name = "token_refresh", skip_all, fields(token.generation = seen))]
    pub async fn refresh_if_current(&self, seen: u64) -> Result<(AccessToken, u64), ClientError> {
        let _gate = self.inner.gate.lock().await;
        let (tokens, generation) = self.read();
        if generation != seen
            && let Some(t) = &tokens
            && t.freshness(self.inner.clock.now_unix()) != Freshness::Expired
        {
            return Ok((t.access_token.clone(), generation));
        }
        let now = self.inner.clock.now_unix();
        if let Some((g, at)) = self.read_failed()
            && g == generation
            && now.saturating_sub(at) < FAILURE_HOLD_SECS
        {
            return Err(ClientError::RetryLater {
                reason: "the token endpoint failed moments ago".into(),
            });
        }
        let store_lock = self.lock_store_for_refresh().await?;
        // Another process sharing the store may have refreshed meanwhile (and rotated the
        // refresh token): take its tokens rather than replay ours.
        let (tokens, generation) = match self.inner.store.load(&self.inner.key) {
            Ok(Some(stored)) if tokens.as_deref() != Some(&stored) => {
                let stored = Arc::new(stored);
                let generation = self.publish(stored.clone(), None);
                tracing::debug!(
                    token.generation = generation,
                    "tokens refreshed by another process"
                );
                if stored.freshness(now) != Freshness::Expired {
                    return Ok((stored.access_token.clone(), generation));
                }
                (Some(stored), generation)
            }
            Ok(_) => (tokens, generation),
            Err(e) => {
                tracing::warn!(error = %e, "token store could not be re-read before refresh");
                (tokens, generation)
            }
        };
        let refresh_token = tokens.as_ref().and_then(|t| t.refresh_token.clone());
        let Some(refresh_token) = refresh_token else {
            drop(store_lock);
            drop(_gate);
            return self.reauthorize(generation, None).await;
        };
        match self.inner.endpoint.refresh(&refresh_token, None).await {
            Ok(resp) => {
                let now = self.inner.clock.now_unix();
                let mut new = TokenSet::from_response(resp, now);
                if new.refresh_token.is_none() {
                    // Keep the old refresh token when the response has none (RFC 6749 §6).
                    new.refresh_token = Some(refresh_token);
                }
                if new.scope.is_none() {
                    new.scope = tokens.as_ref().and_then(|t| t.scope.clone());
                }
                let token = new.access_token.clone();
                let generation = self.set_tokens(new, None);
                tracing::info!(token.generation = generation, "access token refreshed");
                Ok((token, generation))
            }
            Err(e @ ClientError::AuthorizationRequired(_)) => {
                tracing::warn!("refresh token rejected; tokens cleared");
                self.clear();
                drop(store_lock);
                drop(_gate);
                if self.inner.authorizer.is_some() {
                    let generation = self.generation();
                    self.reauthorize(generation, None).await
                } else {
                    Err(e)
                }
            }
            Err(e) => {
                self.current_mut().failed = Some((generation, self.inner.clock.now_unix()));
                Err(e)
            }
        }
    }

    /// Waits (bounded by [`STORE_LOCK_WAIT`]) for the store's cross-process refresh lock.
    async fn lock_store_for_refresh(&self) -> Result<super::RefreshLock, ClientError> {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(10);
        loop {
            if let Some(lock) = self.inner.store.try_lock_refresh()? {
                return Ok(lock);
            }
            if started.elapsed() >= STORE_LOCK_WAIT {
                return Err(ClientError::store(format!(
                    "another process has been refreshing these tokens for over {} s",
                    STORE_LOCK_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(200));
        }
    }

    fn read_failed(&self) -> Option<(u64, u64)> {
        self.current().failed
    }

    /// Runs the authorizer (if any) unless the generation moved on since `seen`.
    async fn reauthorize(
        &self,
        seen: u64,
        scopes: Option<ScopeSet>,
    ) -> Result<(AccessToken, u64), ClientError> {
        let Some(authorizer) = self.inner.authorizer.clone() else {
            return Err(ClientError::AuthorizationRequired(
                "no valid token; log in first".into(),
            ));
        };
        let _gate = self.inner.gate.lock().await;
        let (tokens, generation) = self.read();
        if generation != seen
            && let Some(t) = tokens
            && t.freshness(self.inner.clock.now_unix()) != Freshness::Expired
        {
            return Ok((t.access_token.clone(), generation));
        }
        let scopes = scopes.or_else(|| self.requested_scopes());
        let new = authorizer.authorize(scopes.clone()).await?;
        let token = new.access_token.clone();
        let generation = self.set_tokens(new, scopes);
        Ok((token, generation))
    }

    /// Step-up (CL-35): re-authorizes with the union of the requested, granted and
    /// challenged scopes, unless those were already requested (no loop, pitfall P-11) or no
    /// authorizer is configured. `Ok(None)` means "no step-up possible".
    #[tracing::instrument(name = "step_up", skip_all, fields(oauth.scope = %challenged))]
    pub async fn step_up(
        &self,
        challenged: &ScopeSet,
        seen: u64,
    ) -> Result<Option<(AccessToken, u64)>, ClientError> {
        let Some(authorizer) = self.inner.authorizer.clone() else {
            return Ok(None);
        };
        let _gate = self.inner.gate.lock().await;
        let (tokens, generation) = self.read();
        let requested = self.requested_scopes().unwrap_or_default();
        if generation != seen
            && let Some(t) = &tokens
        {
            // Someone already re-authorized: retry with the new token if it covers the
            // challenge, else give up on this request.
            if requested.satisfies_all(challenged) {
                return Ok(Some((t.access_token.clone(), generation)));
            }
        }
        if requested.satisfies_all(challenged) && !requested.is_empty() {
            tracing::warn!(
                "server still demands scopes that were already requested; not stepping up again"
            );
            return Ok(None);
        }
        let granted = tokens.as_ref().map(|t| t.scopes()).unwrap_or_default();
        let union = requested.union(&granted).union(challenged);
        let new = authorizer.authorize(Some(union.clone())).await?;
        let token = new.access_token.clone();
        let generation = self.set_tokens(new, Some(union));
        Ok(Some((token, generation)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shared::clock::{Clock as _, TestClock};

    use super::*;
    use crate::oauth::oauth_http_client;
    use crate::oauth::token_endpoint::ClientCredentials;
    use crate::token::InMemoryTokenStore;

    fn manager(clock: &TestClock) -> TokenManager {
        TokenManager::new(
            TokenEndpoint::new(
                url::Url::parse("http://127.0.0.1:9/token").unwrap(),
                ClientCredentials::public("cli"),
                None,
                oauth_http_client(Duration::from_secs(1), Duration::from_secs(1), 0),
            ),
            Arc::new(InMemoryTokenStore::default()),
            super::super::StoreKey::new("http://127.0.0.1:9", "http://127.0.0.1:9/mcp", "cli"),
            Arc::new(clock.clone()),
        )
    }

    fn set(token: &str, clock: &TestClock, lifetime: u64) -> TokenSet {
        TokenSet::new(
            AccessToken::new(token.into()),
            None,
            Some(lifetime),
            clock.now_unix(),
            None,
        )
    }

    /// The pre-built header always belongs to the current token set: built on publish,
    /// replaced with the tokens, gone after `clear`; sensitive; `None` whenever
    /// `access_token` has more to do than hand out the token (stale, expired, DPoP-bound),
    /// or the token cannot be a header (the slow path reports that) (CL-30, CL-33).
    #[test]
    fn fresh_bearer_header_follows_the_current_tokens_cl30_cl33() {
        let clock = TestClock::starting_now();
        let m = manager(&clock);
        assert!(m.fresh_bearer_header().is_none());
        let g1 = m.set_tokens(set("at-1", &clock, 3600), None);
        let (h, g) = m.fresh_bearer_header().unwrap();
        assert_eq!((h.to_str().unwrap(), g), ("Bearer at-1", g1));
        assert!(h.is_sensitive());
        let g2 = m.set_tokens(set("at-2", &clock, 3600), None);
        let (h, g) = m.fresh_bearer_header().unwrap();
        assert_eq!((h.to_str().unwrap(), g), ("Bearer at-2", g2));
        // Stale (past 75% of the lifetime) and expired: the slow path refreshes.
        clock.advance(Duration::from_secs(3600 - 299));
        assert_eq!(
            m.tokens().unwrap().freshness(clock.now_unix()),
            Freshness::Stale
        );
        assert!(m.fresh_bearer_header().is_none());
        clock.advance(Duration::from_secs(300));
        assert!(m.fresh_bearer_header().is_none());
        // No expiry: always fresh.
        m.set_tokens(
            TokenSet::new(AccessToken::new("at-3".into()), None, None, 0, None),
            None,
        );
        assert_eq!(
            m.fresh_bearer_header().unwrap().0.to_str().unwrap(),
            "Bearer at-3"
        );
        m.clear();
        assert!(m.fresh_bearer_header().is_none());
        // DPoP-bound tokens need a proof per request.
        let mut bound = set("at-4", &clock, 3600);
        bound.dpop_bound = true;
        m.set_tokens(bound, None);
        assert!(m.fresh_bearer_header().is_none());
        // Not a valid header value: no header; `access_token` still hands the token out and
        // the middleware refuses it with a protocol error.
        m.set_tokens(set("bad\ntoken", &clock, 3600), None);
        assert!(m.fresh_bearer_header().is_none());
    }

    /// Tokens loaded from the store at construction get their header too.
    #[test]
    fn stored_tokens_get_their_header_at_construction() {
        let clock = TestClock::starting_now();
        let store = Arc::new(InMemoryTokenStore::default());
        let key =
            super::super::StoreKey::new("http://127.0.0.1:9", "http://127.0.0.1:9/mcp", "cli");
        store.save(&key, &set("stored", &clock, 3600)).unwrap();
        let m = TokenManager::new(
            TokenEndpoint::new(
                url::Url::parse("http://127.0.0.1:9/token").unwrap(),
                ClientCredentials::public("cli"),
                None,
                oauth_http_client(Duration::from_secs(1), Duration::from_secs(1), 0),
            ),
            store,
            key,
            Arc::new(clock.clone()),
        );
        assert_eq!(
            m.fresh_bearer_header().unwrap().0.to_str().unwrap(),
            "Bearer stored"
        );
    }
}
