//! Token validation: header checks, signature and claims against the cached JWKS, the
//! verified-token cache, optional introspection, and per-method scope rules.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use moka::Expiry;
use shared::clock::SharedClock;
use shared::jwt::AccessTokenClaims;
use shared::scope::ScopeSet;
use tracing::debug;

use super::introspection::Introspector;
use super::jwks_cache::JwksCache;
use super::{AuthContext, AuthError};

/// Scopes required per MCP (or any) method name. Keys are exact names or `prefix/*`; an
/// empty scope list means "a valid token suffices". A method no key names is refused.
#[derive(Debug, Clone, Default)]
pub struct ScopeRules {
    exact: BTreeMap<String, ScopeSet>,
    prefixes: Vec<(String, ScopeSet)>,
}

impl ScopeRules {
    /// Builds rules from a `method -> scopes` map (the config form).
    pub fn from_map(map: &BTreeMap<String, Vec<String>>) -> Self {
        let mut r = Self::default();
        for (k, v) in map {
            let set: ScopeSet = v.iter().cloned().collect();
            match k.strip_suffix('*') {
                Some(prefix) => r.prefixes.push((prefix.to_owned(), set)),
                None => {
                    r.exact.insert(k.clone(), set);
                }
            }
        }
        r
    }

    /// The scopes `method` needs: `Some` of an empty set when a valid token suffices, `None`
    /// when no rule names the method (then it is refused: deny by default).
    pub fn required(&self, method: &str) -> Option<&ScopeSet> {
        self.exact.get(method).or_else(|| {
            self.prefixes
                .iter()
                .find(|(p, _)| method.starts_with(p.as_str()))
                .map(|(_, s)| s)
        })
    }

    /// Every scope mentioned by any rule (for `scopes_supported`).
    pub fn all(&self) -> ScopeSet {
        let mut s = ScopeSet::default();
        for set in self
            .exact
            .values()
            .chain(self.prefixes.iter().map(|(_, s)| s))
        {
            for x in set.iter() {
                s.insert(x);
            }
        }
        s
    }
}

struct TokenExpiry;

impl Expiry<[u8; 32], (Arc<AuthContext>, Duration)> for TokenExpiry {
    fn expire_after_create(
        &self,
        _: &[u8; 32],
        v: &(Arc<AuthContext>, Duration),
        _: Instant,
    ) -> Option<Duration> {
        Some(v.1)
    }
}

/// The verified-token cache key: the token's SHA-256 (the cache never holds tokens).
fn cache_key(token: &str) -> [u8; 32] {
    shared::random::sha256(token.as_bytes())
}

/// Verified tokens by SHA-256 of the token, each with its own TTL.
pub(crate) type TokenCache = moka::sync::Cache<[u8; 32], (Arc<AuthContext>, Duration)>;

/// Validates bearer tokens; shared by the layer and by callers that need scope checks.
pub struct Authenticator {
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) resource_metadata_url: String,
    pub(crate) jwks: JwksCache,
    pub(crate) scope_rules: ScopeRules,
    pub(crate) required_scopes: Option<ScopeSet>,
    pub(crate) token_cache: Option<TokenCache>,
    pub(crate) token_cache_max_ttl: Duration,
    pub(crate) introspector: Option<Introspector>,
    pub(crate) clock: SharedClock,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .field("jwks", &self.jwks)
            .field("introspection", &self.introspector.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) fn build_token_cache(capacity: u64) -> Option<TokenCache> {
    (capacity > 0).then(|| {
        moka::sync::Cache::builder()
            .max_capacity(capacity)
            .expire_after(TokenExpiry)
            .build()
    })
}

impl Authenticator {
    /// The issuer tokens must carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// This resource's identifier (the `aud` tokens must contain).
    pub fn resource(&self) -> &str {
        &self.resource
    }
    /// The PRM URL advertised in challenges.
    pub fn resource_metadata_url(&self) -> &str {
        &self.resource_metadata_url
    }
    /// The JWKS cache (fetch counter for tests).
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }
    /// The per-method scope rules.
    pub fn scope_rules(&self) -> &ScopeRules {
        &self.scope_rules
    }

    /// A cached verification result for this token, if any and not expired. Synchronous, so
    /// the hot path needs no allocation and no await.
    pub fn cached(&self, token: &str) -> Option<Arc<AuthContext>> {
        self.cached_by_key(&cache_key(token))
    }

    fn cached_by_key(&self, key: &[u8; 32]) -> Option<Arc<AuthContext>> {
        let cache = self.token_cache.as_ref()?;
        let (ctx, _) = cache.get(key)?;
        if self.clock.now_unix() >= ctx.expires_at {
            cache.invalidate(key);
            return None;
        }
        Some(ctx)
    }

    /// Full validation (RS-12..RS-16): header, key, signature, claims, optional introspection.
    /// Successful results are cached by the token's SHA-256, never beyond `exp`.
    pub async fn validate(&self, token: &str) -> Result<Arc<AuthContext>, AuthError> {
        let key = cache_key(token);
        if let Some(c) = self.cached_by_key(&key) {
            return Ok(c);
        }
        self.verify(token, key).await
    }

    /// The cache lookup and, on a miss, the future that verifies the token: the token is
    /// hashed once per request (the lookup key is also the insertion key).
    pub(crate) fn lookup(&self, token: &str) -> Result<Arc<AuthContext>, [u8; 32]> {
        let key = cache_key(token);
        self.cached_by_key(&key).ok_or(key)
    }

    /// Verifies a token that missed the cache and caches the result under `key`.
    pub(crate) async fn verify(
        &self,
        token: &str,
        cache_key: [u8; 32],
    ) -> Result<Arc<AuthContext>, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::InvalidToken("malformed token"))?;
        match header.typ.as_deref() {
            Some(t)
                if t.eq_ignore_ascii_case("at+jwt")
                    || t.eq_ignore_ascii_case("application/at+jwt") => {}
            _ => return Err(AuthError::InvalidToken("token typ must be at+jwt")),
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(AuthError::InvalidToken("token has no key id"))?;
        let key = self.jwks.key(kid).await?;
        if header.alg != key.alg {
            return Err(AuthError::InvalidToken(
                "algorithm not allowed for this key",
            ));
        }
        let data = jsonwebtoken::decode::<AccessTokenClaims>(token, &key.key, &key.validation)
            .map_err(|e| {
                let d = match e.kind() {
                    ErrorKind::ExpiredSignature => "token expired",
                    ErrorKind::ImmatureSignature => "token not yet valid",
                    ErrorKind::InvalidIssuer => "wrong issuer",
                    ErrorKind::InvalidAudience => "token not issued for this resource",
                    ErrorKind::InvalidSignature => "invalid signature",
                    ErrorKind::InvalidAlgorithm => "algorithm not allowed",
                    ErrorKind::MissingRequiredClaim(_) => "required claim missing",
                    _ => "invalid token",
                };
                debug!(jwt.kid = %kid, reason = d, "token rejected");
                AuthError::InvalidToken(d)
            })?;
        let claims = data.claims;
        let mut ctx = AuthContext {
            subject: claims.sub,
            client_id: claims.client_id,
            scopes: ScopeSet::parse(claims.scope.as_deref().unwrap_or("")),
            expires_at: claims.exp,
        };
        let mut max_ttl = self.token_cache_max_ttl;
        if let Some(intro) = &self.introspector {
            let r = intro.introspect(token).await?;
            if !r.active {
                return Err(AuthError::InvalidToken("token is not active"));
            }
            if let Some(aud) = &r.aud
                && aud != &self.resource
            {
                return Err(AuthError::InvalidToken(
                    "token not issued for this resource",
                ));
            }
            if let Some(scope) = &r.scope {
                ctx.scopes = ScopeSet::parse(scope);
            }
            max_ttl = max_ttl.min(intro.cache_ttl());
        }
        let ctx = Arc::new(ctx);
        if let Some(cache) = &self.token_cache {
            let remaining = ctx.expires_at.saturating_sub(self.clock.now_unix());
            let ttl = Duration::from_secs(remaining).min(max_ttl);
            if !ttl.is_zero() {
                cache.insert(cache_key, (ctx.clone(), ttl));
            }
        }
        Ok(ctx)
    }

    /// Checks `ctx` against the rule for `method` (deny by default: a method without a rule
    /// is refused with [`MethodDenied::NoRule`]). [`MethodDenied::InsufficientScope`] carries
    /// the scopes to challenge for (every scope the method needs, RS-08), honouring the
    /// hierarchy (RS-18).
    pub fn check_method(&self, ctx: &AuthContext, method: &str) -> Result<(), MethodDenied> {
        match self.scope_rules.required(method) {
            None => Err(MethodDenied::NoRule),
            Some(req) if !ctx.scopes.satisfies_all(req) => {
                Err(MethodDenied::InsufficientScope(req.clone()))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Why [`Authenticator::check_method`] refused a method.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MethodDenied {
    /// No scope rule names the method: refused whatever the token (deny by default). The
    /// transport answers as for a method that does not exist.
    NoRule,
    /// The token lacks some of these scopes (403 `insufficient_scope`, RS-07).
    InsufficientScope(ScopeSet),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rs18_default_rules_honour_hierarchy() {
        let rules = ScopeRules::from_map(&crate::config::default_scope_rules());
        assert_eq!(
            rules.required("tools/call").unwrap().to_string(),
            "mcp:tools:call"
        );
        assert_eq!(
            rules.required("resources/read").unwrap().to_string(),
            "mcp:resources:read"
        );
        assert_eq!(
            rules
                .required("resources/templates/list")
                .unwrap()
                .to_string(),
            "mcp:resources:read"
        );
        assert_eq!(
            rules.required("prompts/get").unwrap().to_string(),
            "mcp:prompts:read"
        );
        for open in ["initialize", "ping", "server/discover", "logging/setLevel"] {
            assert!(rules.required(open).unwrap().is_empty(), "{open}");
        }
        assert!(rules.required("no/such").is_none());
        assert!(ScopeSet::parse("mcp").satisfies_all(rules.required("tools/call").unwrap()));
    }
}
