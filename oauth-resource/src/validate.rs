//! Token validation: header checks, signature and claims against the cached JWKS, the
//! verified-token cache, optional introspection, and per-method scope rules.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use moka::Expiry;
use serde::Deserialize;
use shared::clock::SharedClock;
use shared::scope::ScopeSet;
use tracing::info;

use super::introspection::Introspector;
use super::jwks_cache::JwksCache;
use super::profile::TokenProfile;
use super::{AuthContext, AuthError, shown};

/// A string or a list of strings (`aud`, `scp`, and `scope` from some providers).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

/// The claims read from a verified token; what a profile may lack is optional here and
/// checked by [`Authenticator::check_claims`] with a named reason.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    sub: String,
    #[serde(default)]
    aud: Option<StringOrList>,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    scope: Option<StringOrList>,
    #[serde(default)]
    scp: Option<StringOrList>,
    /// RFC 7800 confirmation: `jkt` binds the token to a DPoP key (RFC 9449 §6).
    #[serde(default)]
    cnf: Option<Confirmation>,
}

#[derive(Debug, Deserialize)]
struct Confirmation {
    #[serde(default)]
    jkt: Option<String>,
}

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

impl Expiry<[u8; 32], Verified> for TokenExpiry {
    fn expire_after_create(&self, _: &[u8; 32], v: &Verified, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// A verified token: its context and its DPoP binding (`cnf.jkt`). Cloning costs reference
/// counts only (a bearer token's `jkt` is `None`).
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub(crate) ctx: Arc<AuthContext>,
    pub(crate) jkt: Option<Arc<str>>,
    ttl: Duration,
}

/// The refusal of a DPoP-bound token presented as a bearer token (RFC 9449 §7.2).
pub(crate) const BOUND_AS_BEARER: &str =
    "token is DPoP-bound (cnf.jkt): present it with the DPoP scheme and a DPoP proof";

/// The verified-token cache key: the token's SHA-256 (the cache never holds tokens).
fn cache_key(token: &str) -> [u8; 32] {
    shared::random::sha256(token.as_bytes())
}

/// Verified tokens by SHA-256 of the token, each with its own TTL. The map hashes the
/// digest with foldhash (randomly seeded), not SipHash: the keys are already uniform, and only
/// verified tokens are ever inserted, so no client can choose colliding entries (issue 16 B).
pub(crate) type TokenCache = moka::sync::Cache<[u8; 32], Verified, foldhash::fast::RandomState>;

/// Validates bearer tokens; shared by the layer and by callers that need scope checks.
pub struct Authenticator {
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) profile: TokenProfile,
    pub(crate) leeway_secs: u64,
    pub(crate) resource_metadata_url: String,
    pub(crate) jwks: JwksCache,
    pub(crate) scope_rules: ScopeRules,
    pub(crate) required_scopes: Option<ScopeSet>,
    pub(crate) token_cache: Option<TokenCache>,
    pub(crate) token_cache_max_ttl: Duration,
    pub(crate) introspector: Option<Introspector>,
    pub(crate) clock: SharedClock,
    pub(crate) dpop: Option<super::dpop::Dpop>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .field("audiences", &self.audiences)
            .field("profile", &self.profile)
            .field("jwks", &self.jwks)
            .field("introspection", &self.introspector.is_some())
            .field("dpop", &self.dpop.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) fn build_token_cache(capacity: u64) -> Option<TokenCache> {
    (capacity > 0).then(|| {
        moka::sync::Cache::builder()
            .max_capacity(capacity)
            .expire_after(TokenExpiry)
            .build_with_hasher(foldhash::fast::RandomState::default())
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
    /// The accepted `aud` values (default: the resource).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }
    /// The accepted token profile.
    pub fn profile(&self) -> TokenProfile {
        self.profile
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
    /// With DPoP on: the accepted proof algorithms (RFC 9728
    /// `dpop_signing_alg_values_supported`); `None` with DPoP off.
    pub fn dpop_algorithms(&self) -> Option<Vec<&'static str>> {
        self.dpop.as_ref().map(|d| d.alg_names())
    }
    /// Whether only DPoP-bound tokens are accepted (RFC 9728
    /// `dpop_bound_access_tokens_required`).
    pub fn dpop_required(&self) -> bool {
        self.dpop.as_ref().is_some_and(|d| d.required)
    }

    /// A cached verification result for this bearer token, if any and not expired.
    /// Synchronous, so the hot path needs no allocation and no await. A DPoP-bound token is
    /// never returned (it needs a proof per request).
    pub fn cached(&self, token: &str) -> Option<Arc<AuthContext>> {
        self.cached_by_key(&cache_key(token))
            .filter(|v| v.jkt.is_none())
            .map(|v| v.ctx)
    }

    fn cached_by_key(&self, key: &[u8; 32]) -> Option<Verified> {
        let cache = self.token_cache.as_ref()?;
        let v = cache.get(key)?;
        if self.clock.now_unix() >= v.ctx.expires_at {
            cache.invalidate(key);
            return None;
        }
        Some(v)
    }

    /// Full validation of a bearer token (RS-12..RS-16): header, key, signature, claims,
    /// optional introspection. Successful results are cached by the token's SHA-256, never
    /// beyond `exp`. A DPoP-bound token (`cnf.jkt`) is refused: it needs a proof, which only
    /// the layer checks.
    pub async fn validate(&self, token: &str) -> Result<Arc<AuthContext>, AuthError> {
        let key = cache_key(token);
        let v = match self.cached_by_key(&key) {
            Some(v) => v,
            None => self.verify(token, key).await?,
        };
        match v.jkt {
            None => Ok(v.ctx),
            Some(_) => Err(AuthError::invalid(BOUND_AS_BEARER)),
        }
    }

    /// The cache lookup and, on a miss, the future that verifies the token: the token is
    /// hashed once per request (the lookup key is also the insertion key).
    pub(crate) fn lookup(&self, token: &str) -> Result<Verified, [u8; 32]> {
        let key = cache_key(token);
        self.cached_by_key(&key).ok_or(key)
    }

    /// Verifies a token that missed the cache and caches the result under `key`. A refusal
    /// is logged (at INFO, with the reason and the key id, never the token).
    pub(crate) async fn verify(
        &self,
        token: &str,
        cache_key: [u8; 32],
    ) -> Result<Verified, AuthError> {
        self.verify_inner(token, cache_key).await.inspect_err(|e| {
            if let AuthError::InvalidToken(reason) = e {
                info!(reason = %reason, "access token refused");
            }
        })
    }

    async fn verify_inner(&self, token: &str, cache_key: [u8; 32]) -> Result<Verified, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::invalid("malformed token (not a signed JWT)"))?;
        self.check_typ(header.typ.as_deref())?;
        let kid = header
            .kid
            .as_deref()
            .ok_or(AuthError::invalid("token has no key id (kid)"))?;
        let key = self.jwks.key(kid).await?;
        if header.alg != key.alg {
            return Err(AuthError::InvalidToken(
                format!(
                    "token alg must be {:?} for key id {} (found {:?})",
                    key.alg,
                    shown(kid),
                    header.alg
                )
                .into(),
            ));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation)
            .map_err(|e| self.decode_error(&e))?;
        let mut claims = data.claims;
        self.check_claims(&claims)?;
        let jkt: Option<Arc<str>> = match claims.cnf.take() {
            None => None,
            Some(Confirmation { jkt: Some(j) }) if !j.is_empty() => Some(j.into()),
            Some(_) => {
                return Err(AuthError::invalid(
                    "token is bound by an unsupported confirmation method (cnf without jkt)",
                ));
            }
        };
        let mut ctx = AuthContext {
            client_id: self.client_id(&claims)?,
            scopes: self.scopes(&claims)?,
            subject: claims.sub,
            expires_at: claims.exp,
        };
        let mut max_ttl = self.token_cache_max_ttl;
        if let Some(intro) = &self.introspector {
            let r = intro.introspect(token).await?;
            if !r.active {
                return Err(AuthError::invalid(
                    "token is not active (introspection answered active=false)",
                ));
            }
            if let Some(aud) = &r.aud
                && !self.audiences.iter().any(|a| a == aud)
            {
                return Err(AuthError::InvalidToken(
                    format!(
                        "token not issued for this resource: introspection aud {} is not accepted",
                        shown(aud)
                    )
                    .into(),
                ));
            }
            if let Some(scope) = &r.scope {
                ctx.scopes = ScopeSet::parse(scope);
            }
            max_ttl = max_ttl.min(intro.cache_ttl());
        }
        let remaining = ctx.expires_at.saturating_sub(self.clock.now_unix());
        let verified = Verified {
            ctx: Arc::new(ctx),
            jkt,
            ttl: Duration::from_secs(remaining).min(max_ttl),
        };
        if let Some(cache) = &self.token_cache
            && !verified.ttl.is_zero()
        {
            cache.insert(cache_key, verified.clone());
        }
        Ok(verified)
    }

    fn check_typ(&self, typ: Option<&str>) -> Result<(), AuthError> {
        let at_jwt = |t: &str| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        };
        match typ {
            Some(t) if at_jwt(t) => Ok(()),
            Some(t) if self.profile.accept_typ_jwt && t.eq_ignore_ascii_case("JWT") => Ok(()),
            None if self.profile.accept_typ_jwt => Ok(()),
            found => {
                let expected = if self.profile.accept_typ_jwt {
                    "at+jwt or JWT"
                } else {
                    "at+jwt"
                };
                Err(AuthError::InvalidToken(
                    format!(
                        "token typ must be {expected} (found {})",
                        found.map(shown).unwrap_or_else(|| "none".to_owned())
                    )
                    .into(),
                ))
            }
        }
    }

    /// The reason jsonwebtoken refused a token (signature, `exp`, `nbf`, required claims).
    fn decode_error(&self, e: &jsonwebtoken::errors::Error) -> AuthError {
        match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::InvalidToken(
                format!("token expired (exp is past, leeway {} s)", self.leeway_secs).into(),
            ),
            ErrorKind::ImmatureSignature => {
                AuthError::invalid("token not yet valid (nbf is in the future)")
            }
            ErrorKind::InvalidSignature => AuthError::invalid("invalid signature"),
            ErrorKind::InvalidAlgorithm => AuthError::invalid("algorithm not allowed"),
            ErrorKind::MissingRequiredClaim(c) => {
                AuthError::InvalidToken(format!("token has no {} claim", shown(c)).into())
            }
            ErrorKind::Json(j) => AuthError::InvalidToken(
                format!("token claims malformed: {}", shown(&j.to_string())).into(),
            ),
            ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
                AuthError::invalid("malformed token (not a signed JWT)")
            }
            _ => AuthError::invalid("invalid token"),
        }
    }

    /// `iss` byte for byte as configured; `aud` naming an accepted audience; `iat` always;
    /// `jti` unless [`TokenProfile::jti_optional`].
    fn check_claims(&self, c: &Claims) -> Result<(), AuthError> {
        let iss = c.iss.as_deref().unwrap_or_default();
        if iss != self.issuer {
            return Err(AuthError::InvalidToken(
                format!(
                    "wrong issuer: iss must be {} (found {})",
                    shown(&self.issuer),
                    shown(iss)
                )
                .into(),
            ));
        }
        let aud: Vec<&str> = match &c.aud {
            Some(StringOrList::One(a)) => vec![a.as_str()],
            Some(StringOrList::Many(v)) => v.iter().map(String::as_str).collect(),
            None => Vec::new(),
        };
        if !aud.iter().any(|a| self.audiences.iter().any(|x| x == a)) {
            return Err(AuthError::InvalidToken(
                format!(
                    "token not issued for this resource: aud must contain {} (found {})",
                    shown(&self.audiences.join(" or ")),
                    shown(&aud.join(" "))
                )
                .into(),
            ));
        }
        if c.iat.is_none() {
            return Err(AuthError::invalid("token has no iat claim"));
        }
        if c.jti.as_deref().is_none_or(str::is_empty) && !self.profile.jti_optional {
            return Err(AuthError::invalid(
                "token has no jti claim (required by the rfc9068 profile)",
            ));
        }
        Ok(())
    }

    fn client_id(&self, c: &Claims) -> Result<String, AuthError> {
        if let Some(id) = &c.client_id {
            return Ok(id.clone());
        }
        if self.profile.client_id_from_azp {
            return Ok(c.azp.clone().unwrap_or_default());
        }
        Err(AuthError::invalid(
            "token has no client_id claim (required by the rfc9068 profile)",
        ))
    }

    fn scopes(&self, c: &Claims) -> Result<ScopeSet, AuthError> {
        match (&c.scope, &c.scp) {
            (Some(StringOrList::One(s)), _) => Ok(ScopeSet::parse(s)),
            (Some(StringOrList::Many(v)), _) if self.profile.scopes_from_scp => {
                Ok(v.iter().cloned().collect())
            }
            (Some(StringOrList::Many(_)), _) => Err(AuthError::invalid(
                "token scope must be a space-separated string (found an array)",
            )),
            (None, Some(scp)) if self.profile.scopes_from_scp => Ok(match scp {
                StringOrList::One(s) => ScopeSet::parse(s),
                StringOrList::Many(v) => v.iter().cloned().collect(),
            }),
            (None, Some(_)) => Err(AuthError::invalid(
                "token carries scopes in scp, not scope (the rfc9068 profile reads scope only)",
            )),
            (None, None) => Ok(ScopeSet::default()),
        }
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
