//! The AS's signing keys, cached with moka.
//!
//! * The whole JWKS is one cache entry; concurrent misses share one fetch (`try_get_with`).
//! * The entry's TTL comes from `Cache-Control: max-age`, clamped to configured bounds.
//! * An unknown `kid` forces at most one refetch per `unknown_kid_refetch_interval`, so random
//!   key ids cannot cause a fetch storm (RS-15: `kid` is untrusted input).
//! * If a fetch fails, the last good key set keeps being served (retried after
//!   `retry_after_failure`), so an AS outage does not break clients with valid tokens.
//! * The JWKS URL is configured or discovered from the AS metadata (`jwks_uri`): RFC 8414
//!   first, then OpenID Connect discovery ([`metadata_urls`] lists the URLs in order); keys
//!   are never fetched from a token-supplied `jku`/`x5u`.
//! * The AS metadata is cached for `metadata_ttl` and only once its `issuer` matched
//!   (RFC 8414 §3.3); a failed metadata fetch is retried after `retry_after_failure`, not on
//!   every request; when the discovered `jwks_uri` fails, the metadata is refetched (at most
//!   once per `retry_after_failure`) so a moved `jwks_uri` is picked up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use moka::Expiry;
use shared::oauth::AuthorizationServerMetadata;
use tracing::{debug, instrument, warn};

use super::AuthError;

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A fixed JWKS URL.
    Url(String),
    /// `jwks_uri` from the issuer's metadata (RFC 8414, else OpenID discovery).
    Discover,
}

/// JWKS cache tuning.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    /// Lower TTL bound.
    pub min_ttl: Duration,
    /// Upper TTL bound.
    pub max_ttl: Duration,
    /// TTL without `max-age`.
    pub default_ttl: Duration,
    /// Minimum interval between unknown-`kid` refetches.
    pub unknown_kid_refetch_interval: Duration,
    /// Retry interval after a failed fetch while serving the last good keys; also the least
    /// time between metadata fetches caused by failures.
    pub retry_after_failure: Duration,
    /// How long the AS metadata is reused before it is fetched again.
    pub metadata_ttl: Duration,
}

impl Default for JwksSettings {
    /// 30 s..1 day TTL bounds, 5 min without `max-age`, 10 s between unknown-`kid` refetches
    /// and after failures, metadata reused for 1 h.
    fn default() -> Self {
        Self {
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(86_400),
            default_ttl: Duration::from_secs(300),
            unknown_kid_refetch_interval: Duration::from_secs(10),
            retry_after_failure: Duration::from_secs(10),
            metadata_ttl: Duration::from_secs(3_600),
        }
    }
}

/// One verification key with the validation rules prepared for it (algorithm fixed by the
/// key and the allow-list, never by the token).
pub struct VerifyingKey {
    /// The public key.
    pub key: DecodingKey,
    /// Its algorithm.
    pub alg: Algorithm,
    /// Prepared validation (iss, aud, exp, nbf, leeway, this algorithm only).
    pub validation: Validation,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct KeySet {
    keys: HashMap<String, Arc<VerifyingKey>>,
    ttl: Duration,
}

struct TtlExpiry;

impl Expiry<(), Arc<KeySet>> for TtlExpiry {
    fn expire_after_create(&self, _: &(), v: &Arc<KeySet>, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Metadata(#[from] Arc<MetadataError>),
    #[error("authorization server metadata has no jwks_uri")]
    NoJwksUri,
    #[error("JWKS contains no usable key")]
    NoKeys,
}

/// Why the AS metadata is unavailable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetadataError {
    #[error("authorization server metadata: {0}")]
    Http(#[from] reqwest::Error),
    /// RFC 8414 §3.3 / OpenID Discovery §4.3: the document's `issuer` is not the configured
    /// issuer, byte for byte.
    #[error(
        "authorization server metadata at {url}: issuer must be {expected:?} (found {found:?})"
    )]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },
    /// No well-known URL answered with a metadata document.
    #[error("no authorization server metadata for the issuer (tried {0})")]
    NotFound(String),
    /// The last fetch failed less than `retry_after_failure` ago.
    #[error("authorization server metadata unavailable (last fetch failed; retrying later)")]
    RetryLater,
}

/// At most one event per interval, without a lock: the time of the last event in
/// milliseconds since `started`, plus one (0 = never).
#[derive(Debug)]
struct Throttle {
    started: Instant,
    last: AtomicU64,
    interval_ms: u64,
}

impl Throttle {
    fn new(interval: Duration) -> Self {
        Self {
            started: Instant::now(),
            last: AtomicU64::new(0),
            interval_ms: interval.as_millis() as u64,
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// Whether an event was noted less than the interval ago.
    fn recent(&self) -> bool {
        let last = self.last.load(Ordering::Acquire);
        last != 0 && self.now().saturating_sub(last) < self.interval_ms
    }

    fn note(&self) {
        self.last.store(self.now(), Ordering::Release);
    }

    /// Notes an event unless one is recent; `true` for exactly one of concurrent callers.
    fn try_note(&self) -> bool {
        let now = self.now();
        let last = self.last.load(Ordering::Acquire);
        if last != 0 && now.saturating_sub(last) < self.interval_ms {
            return false;
        }
        self.last
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }
}

/// The issuer's RFC 8414 metadata, cached for a lifetime (moka: concurrent misses share one
/// fetch). A document is cached only if its `issuer` matches; errors are not cached, but a
/// failed fetch is retried only after `retry_after_failure`.
#[derive(Debug)]
pub(crate) struct AsMetadata {
    issuer: String,
    http: reqwest::Client,
    cache: moka::future::Cache<(), Arc<AuthorizationServerMetadata>>,
    /// Failed fetches: none is retried sooner than the interval.
    failed: Throttle,
    /// Refetches asked for because the document led to a failure.
    forced: Throttle,
}

impl AsMetadata {
    pub(crate) fn new(issuer: String, http: reqwest::Client, settings: &JwksSettings) -> Self {
        Self {
            issuer,
            http,
            cache: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(settings.metadata_ttl)
                .build(),
            failed: Throttle::new(settings.retry_after_failure),
            forced: Throttle::new(settings.retry_after_failure),
        }
    }

    /// The cached document, or a fresh one (unless the last fetch failed recently).
    pub(crate) async fn get(&self) -> Result<Arc<AuthorizationServerMetadata>, Arc<MetadataError>> {
        if let Some(md) = self.cache.get(&()).await {
            return Ok(md);
        }
        if self.failed.recent() {
            return Err(Arc::new(MetadataError::RetryLater));
        }
        self.cache
            .try_get_with((), self.fetch())
            .await
            .inspect_err(|e| {
                warn!(error = %e, "authorization server metadata unavailable");
                self.failed.note();
            })
    }

    /// The document led to a failure (say its `jwks_uri` did not answer): drop it and fetch
    /// it again, at most once per `retry_after_failure`. `None` when throttled or failed.
    pub(crate) async fn refetch(&self) -> Option<Arc<AuthorizationServerMetadata>> {
        if !self.forced.try_note() {
            return None;
        }
        self.cache.invalidate(&()).await;
        self.get().await.ok()
    }

    /// Tries each of [`metadata_urls`] in order; the first that answers 2xx with a JSON
    /// document is used (and must name the issuer exactly). A 4xx/5xx or a body that is no
    /// metadata document moves on to the next; a transport error ends the attempt.
    #[instrument(skip_all, name = "as_metadata_fetch", fields(oauth.issuer = %self.issuer))]
    async fn fetch(&self) -> Result<Arc<AuthorizationServerMetadata>, MetadataError> {
        let urls = metadata_urls(&self.issuer);
        for url in &urls {
            let resp = self.http.get(url).send().await?;
            if !resp.status().is_success() {
                debug!(url = %url, status = resp.status().as_u16(), "no metadata here");
                continue;
            }
            let Ok(md) = resp.json::<AuthorizationServerMetadata>().await else {
                debug!(url = %url, "not a metadata document");
                continue;
            };
            if md.issuer != self.issuer {
                return Err(MetadataError::IssuerMismatch {
                    url: url.clone(),
                    expected: self.issuer.clone(),
                    found: crate::shown(&md.issuer),
                });
            }
            debug!(url = %url, has_jwks_uri = md.jwks_uri.is_some(), "metadata fetched");
            return Ok(Arc::new(md));
        }
        Err(MetadataError::NotFound(urls.join(", ")))
    }
}

/// The well-known URLs tried for an issuer's metadata, in order (the MCP authorization
/// spec's order): RFC 8414 path-inserted, then OpenID Connect discovery path-inserted and
/// path-appended (OpenID Discovery §4, the form Keycloak realms and Entra tenants use). An
/// issuer without a path gets the two root URLs. A trailing slash of the issuer is not part
/// of the well-known path (`https://tenant.auth0.com/` ->
/// `https://tenant.auth0.com/.well-known/oauth-authorization-server`).
///
/// ```
/// assert_eq!(
///     oauth_resource::metadata_urls("https://kc.example/realms/a"),
///     [
///         "https://kc.example/.well-known/oauth-authorization-server/realms/a",
///         "https://kc.example/.well-known/openid-configuration/realms/a",
///         "https://kc.example/realms/a/.well-known/openid-configuration",
///     ]
/// );
/// ```
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(issuer) else {
        return Vec::new();
    };
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let mut v = vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
    ];
    if !path.is_empty() {
        v.push(format!("{origin}{path}/.well-known/openid-configuration"));
    }
    v
}

/// What a [`JwksCache`] is built from.
#[derive(Debug)]
pub(crate) struct JwksConfig {
    /// Where the keys come from.
    pub(crate) source: JwksSource,
    /// The authorization server's metadata (for `jwks_uri` discovery).
    pub(crate) metadata: Arc<AsMetadata>,
    /// HTTP client for the JWKS fetch.
    pub(crate) http: reqwest::Client,
    /// TTLs and refetch limits.
    pub(crate) settings: JwksSettings,
    /// Accepted algorithms (fixed by configuration, never from the token).
    pub(crate) allowed: Vec<Algorithm>,
    /// `exp`/`nbf` leeway in seconds.
    pub(crate) leeway: u64,
}

struct Inner {
    config: JwksConfig,
    cache: moka::future::Cache<(), Arc<KeySet>>,
    last_good: RwLock<Option<Arc<KeySet>>>,
    /// Refetches forced by an unknown `kid`.
    forced: Throttle,
    fetches: AtomicU64,
}

/// The moka-backed JWKS cache. Cheap to clone.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.inner.config.source)
            .field("fetches", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    pub(crate) fn new(config: JwksConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                forced: Throttle::new(config.settings.unknown_kid_refetch_interval),
                config,
                cache: moka::future::Cache::builder()
                    .max_capacity(1)
                    .expire_after(TtlExpiry)
                    .build(),
                last_good: RwLock::new(None),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// How many JWKS fetches were attempted (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    async fn current(&self) -> Result<Arc<KeySet>, AuthError> {
        let this = self.clone();
        self.inner
            .cache
            .try_get_with((), async move { this.fetch().await })
            .await
            .map_err(|e: Arc<FetchError>| {
                warn!(error = %e, "JWKS unavailable and no cached keys");
                AuthError::KeysUnavailable
            })
    }

    /// The key for `kid`, fetching or refetching the JWKS as the rules above allow.
    pub async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, AuthError> {
        let set = self.current().await?;
        if let Some(k) = set.keys.get(kid) {
            return Ok(k.clone());
        }
        if self.may_force_refetch() {
            debug!(jwt.kid = %kid.chars().take(64).collect::<String>(), "unknown kid: refetching JWKS");
            self.inner.cache.invalidate(&()).await;
            let set = self.current().await?;
            if let Some(k) = set.keys.get(kid) {
                return Ok(k.clone());
            }
        }
        Err(AuthError::InvalidToken(
            format!(
                "unknown key id {} (not in the authorization server's JWKS)",
                crate::shown(kid)
            )
            .into(),
        ))
    }

    fn may_force_refetch(&self) -> bool {
        self.inner.forced.try_note()
    }

    async fn fetch(&self) -> Result<Arc<KeySet>, FetchError> {
        match self.fetch_inner().await {
            Ok(set) => {
                if let Ok(mut g) = self.inner.last_good.write() {
                    *g = Some(set.clone());
                }
                Ok(set)
            }
            Err(e) => {
                let prev = self.inner.last_good.read().ok().and_then(|g| g.clone());
                match prev {
                    Some(prev) => {
                        warn!(error = %e, "JWKS fetch failed; serving cached keys");
                        Ok(Arc::new(KeySet {
                            keys: prev.keys.clone(),
                            ttl: self.inner.config.settings.retry_after_failure,
                        }))
                    }
                    None => Err(e),
                }
            }
        }
    }

    async fn fetch_inner(&self) -> Result<Arc<KeySet>, FetchError> {
        let metadata = &self.inner.config.metadata;
        match &self.inner.config.source {
            JwksSource::Url(u) => self.fetch_keys(Some(u)).await,
            JwksSource::Discover => {
                let md = metadata.get().await?;
                match self.fetch_keys(md.jwks_uri.as_deref()).await {
                    Ok(set) => Ok(set),
                    // The document may be out of date (a moved `jwks_uri`): fetch it again
                    // (throttled) and, if it names another URL, try that once.
                    Err(e) => match metadata.refetch().await {
                        Some(new) if new.jwks_uri != md.jwks_uri => {
                            debug!("jwks_uri changed: fetching the new one");
                            self.fetch_keys(new.jwks_uri.as_deref()).await
                        }
                        _ => Err(e),
                    },
                }
            }
        }
    }

    #[instrument(skip_all, name = "jwks_fetch", fields(jwks.url))]
    async fn fetch_keys(&self, url: Option<&str>) -> Result<Arc<KeySet>, FetchError> {
        let url = url.ok_or(FetchError::NoJwksUri)?;
        tracing::Span::current().record("jwks.url", url);
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .inner
            .config
            .http
            .get(url)
            .send()
            .await?
            .error_for_status()?;
        let ttl = ttl_from_headers(resp.headers(), &self.inner.config.settings);
        let set: JwkSet = resp.json().await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let Some((kid, key)) = self.prepare(jwk) {
                keys.insert(kid, Arc::new(key));
            }
        }
        if keys.is_empty() {
            return Err(FetchError::NoKeys);
        }
        debug!(keys = keys.len(), ttl_secs = ttl.as_secs(), "JWKS fetched");
        Ok(Arc::new(KeySet { keys, ttl }))
    }

    fn prepare(&self, jwk: &Jwk) -> Option<(String, VerifyingKey)> {
        let kid = jwk.common.key_id.clone()?;
        if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
            return None;
        }
        let alg = match jwk.common.key_algorithm {
            Some(a) => Algorithm::try_from(a).ok()?,
            None => match &jwk.algorithm {
                AlgorithmParameters::EllipticCurve(p) => match p.curve {
                    EllipticCurve::P256 => Algorithm::ES256,
                    EllipticCurve::P384 => Algorithm::ES384,
                    _ => return None,
                },
                AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                _ => return None,
            },
        };
        if !self.inner.config.allowed.contains(&alg) {
            return None;
        }
        let key = DecodingKey::from_jwk(jwk).ok()?;
        // Signature, exp and nbf here; iss (exact) and aud (any accepted audience) are
        // compared by the authenticator so a refusal can say what it expected and found.
        let mut v = Validation::new(alg);
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        v.validate_exp = true;
        v.leeway = self.inner.config.leeway;
        Some((
            kid,
            VerifyingKey {
                key,
                alg,
                validation: v,
            },
        ))
    }
}

fn ttl_from_headers(h: &http::HeaderMap, s: &JwksSettings) -> Duration {
    let mut ttl = s.default_ttl;
    if let Some(cc) = h
        .get(http::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        for d in cc.split(',').map(str::trim) {
            if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
                ttl = Duration::ZERO;
            } else if let Some(n) = d
                .strip_prefix("max-age=")
                .and_then(|n| n.trim_matches('"').parse::<u64>().ok())
            {
                ttl = Duration::from_secs(n);
            }
        }
    }
    ttl.clamp(s.min_ttl, s.max_ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_taken_from_max_age_within_bounds() {
        let s = JwksSettings {
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(600),
            default_ttl: Duration::from_secs(300),
            ..JwksSettings::default()
        };
        let mut h = http::HeaderMap::new();
        assert_eq!(ttl_from_headers(&h, &s), Duration::from_secs(300));
        h.insert("cache-control", "public, max-age=120".parse().unwrap());
        assert_eq!(ttl_from_headers(&h, &s), Duration::from_secs(120));
        h.insert("cache-control", "max-age=5".parse().unwrap());
        assert_eq!(ttl_from_headers(&h, &s), Duration::from_secs(30));
        h.insert("cache-control", "max-age=999999".parse().unwrap());
        assert_eq!(ttl_from_headers(&h, &s), Duration::from_secs(600));
        h.insert("cache-control", "no-store".parse().unwrap());
        assert_eq!(ttl_from_headers(&h, &s), Duration::from_secs(30));
    }
}
