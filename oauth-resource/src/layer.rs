//! `JwtAuthLayer` / `JwtAuth<S>` / `ResponseFuture`, shaped after tower-http's
//! `AsyncRequireAuthorization`. A cache hit is decided synchronously and calls the inner
//! service directly (no boxing, no await); only a miss takes the boxed async path.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::{BoxFuture, Either};
use http::{Request, Response};
use jsonwebtoken::Algorithm;
use shared::clock::SharedClock;
use shared::scope::ScopeSet;
use tower::{Layer, Service};

use super::challenge::{DpopChallenge, challenge_response, forbidden_insufficient_scope};
use super::dpop::{Dpop, DpopSettings};
use super::introspection::{IntrospectionConfig, Introspector};
use super::jwks_cache::{AsMetadata, JwksCache, JwksConfig, JwksSettings, JwksSource};
use super::profile::TokenProfile;
use super::validate::{Authenticator, BOUND_AS_BEARER, ScopeRules, build_token_cache};
use super::{AuthContext, AuthError};

/// The `Authorization` scheme the token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    /// RFC 9449 §7.1 (only when DPoP is on; otherwise an unknown scheme).
    Dpop,
}

/// Extracts the access token (RS-10): only from `Authorization`, scheme case-insensitive
/// (`Bearer`, and `DPoP` when `dpop` is on); a token in the query string is refused.
pub(crate) fn credentials<B>(req: &Request<B>, dpop: bool) -> Result<(Scheme, &str), AuthError> {
    if let Some(q) = req.uri().query()
        && q.split('&').any(|p| p.starts_with("access_token="))
    {
        return Err(AuthError::InvalidRequest(
            "access tokens are accepted only in the Authorization header",
        ));
    }
    let mut values = req.headers().get_all(http::header::AUTHORIZATION).iter();
    let Some(v) = values.next() else {
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    // One pass over the value with no early exit (the compiler vectorises it), in place of
    // `HeaderValue::to_str`'s byte-at-a-time loop; then the scheme (a few bytes) and the
    // token as before. Issue 16 B: the same answers, see `credentials_match_the_reference`.
    let v = v.as_bytes();
    let visible = v.iter().fold(true, |ok, &c| {
        ok & ((0x20..0x7f).contains(&c) | (c == b'\t'))
    });
    if !visible {
        return Err(AuthError::InvalidRequest("malformed Authorization header"));
    }
    let (scheme, token) = match v.iter().position(|&c| c == b' ') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &[][..]),
    };
    let scheme = if scheme.eq_ignore_ascii_case(b"bearer") {
        Scheme::Bearer
    } else if dpop && scheme.eq_ignore_ascii_case(b"dpop") {
        Scheme::Dpop
    } else {
        return Err(AuthError::Missing);
    };
    // Visible ASCII and tabs only: trimming ASCII whitespace is `str::trim` here.
    let token = token.trim_ascii();
    let spaced = token.iter().fold(false, |sp, &c| sp | (c == b' '));
    let token = match std::str::from_utf8(token) {
        Ok(t) if !t.is_empty() && !spaced => t,
        _ => {
            return Err(AuthError::InvalidRequest(match scheme {
                Scheme::Bearer => "malformed bearer token",
                Scheme::Dpop => "malformed DPoP access token",
            }));
        }
    };
    Ok((scheme, token))
}

/// The bearer token (tests of RS-10).
#[cfg(test)]
pub(crate) fn bearer_token<B>(req: &Request<B>) -> Result<&str, AuthError> {
    credentials(req, false).map(|(_, t)| t)
}

/// Builder for [`JwtAuthLayer`]; see the [crate example](crate).
#[derive(Debug, Default)]
pub struct JwtAuthLayerBuilder {
    issuer: String,
    resource: String,
    audiences: Vec<String>,
    profile: TokenProfile,
    resource_metadata_url: Option<String>,
    algorithms: Vec<Algorithm>,
    jwks: Option<String>,
    jwks_settings: JwksSettings,
    leeway: Duration,
    scope_rules: ScopeRules,
    required_scopes: Option<ScopeSet>,
    token_cache_capacity: u64,
    token_cache_max_ttl: Duration,
    introspection: Option<IntrospectionConfig>,
    http: Option<reqwest::Client>,
    fetch_timeout: Duration,
    clock: Option<SharedClock>,
    dpop: Option<DpopSettings>,
}

/// The layer could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Issuer or resource missing.
    #[error("issuer and resource are required")]
    Missing,
    /// The issuer is not an absolute http(s) URL.
    #[error("issuer {0:?} is not an absolute http(s) URL")]
    Issuer(String),
    /// The PRM URL cannot be derived from the resource.
    #[error("resource {0:?} is not a URL")]
    Resource(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
}

impl JwtAuthLayerBuilder {
    /// The AS issuer, compared byte for byte with `iss` and the metadata's `issuer`: write
    /// it exactly as the provider does, trailing slash included (Auth0:
    /// `https://TENANT.auth0.com/`).
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = issuer.to_owned();
        self
    }
    /// This resource's identifier (RFC 9728 `resource`; the default accepted audience).
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource = resource.to_owned();
        self
    }
    /// The `aud` values accepted (a token must name at least one), e.g. Entra ID's
    /// `api://APP-ID` and the application GUID. Default (empty): the resource.
    pub fn audiences<I, A>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }
    /// The accepted token profile (default [`TokenProfile::rfc9068`]).
    pub fn profile(mut self, profile: TokenProfile) -> Self {
        self.profile = profile;
        self
    }
    /// PRM URL for challenges; default: the path-inserted well-known URL of the resource.
    pub fn resource_metadata_url(mut self, url: &str) -> Self {
        self.resource_metadata_url = Some(url.to_owned());
        self
    }
    /// Allowed algorithms (default ES256, RS256, EdDSA). HMAC and `none` cannot be expressed.
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs
            .into_iter()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect();
        self
    }
    /// A fixed JWKS URL instead of discovery through the AS metadata.
    pub fn jwks_url(mut self, url: &str) -> Self {
        self.jwks = Some(url.to_owned());
        self
    }
    /// JWKS cache tuning.
    pub fn jwks_settings(mut self, s: JwksSettings) -> Self {
        self.jwks_settings = s;
        self
    }
    /// Clock-skew leeway for `exp`/`nbf`.
    pub fn leeway(mut self, d: Duration) -> Self {
        self.leeway = d;
        self
    }
    /// Per-method scope rules (consulted through [`Authenticator::check_method`]).
    pub fn scope_rules(mut self, rules: ScopeRules) -> Self {
        self.scope_rules = rules;
        self
    }
    /// Scopes every request through this layer needs (403 otherwise).
    pub fn required_scopes(mut self, scopes: ScopeSet) -> Self {
        self.required_scopes = Some(scopes);
        self
    }
    /// Verified-token cache size (0 disables) and longest TTL.
    pub fn token_cache(mut self, capacity: u64, max_ttl: Duration) -> Self {
        self.token_cache_capacity = capacity;
        self.token_cache_max_ttl = max_ttl;
        self
    }
    /// Enables RFC 7662 introspection.
    pub fn introspection(mut self, cfg: IntrospectionConfig) -> Self {
        self.introspection = Some(cfg);
        self
    }
    /// HTTP client for metadata, JWKS and introspection.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }
    /// Timeout of the default HTTP client.
    pub fn fetch_timeout(mut self, d: Duration) -> Self {
        self.fetch_timeout = d;
        self
    }
    /// Clock used for cache expiry decisions (and DPoP `iat` checks).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }
    /// Accepts DPoP-bound tokens (RFC 9449) with these settings: `Authorization: DPoP` plus
    /// a `DPoP` proof for this request, whose `htu` is the resource URL's origin plus the
    /// request path. Off by default (bearer only; a bound token sent as `Bearer` is refused
    /// either way).
    ///
    /// ```
    /// use oauth_resource::{DpopSettings, JwtAuthLayer, NonceSettings};
    /// let layer = JwtAuthLayer::builder()
    ///     .issuer("https://as.example")
    ///     .resource("https://mcp.example/mcp")
    ///     .dpop(DpopSettings {
    ///         required: true, // bearer tokens refused
    ///         nonce: Some(NonceSettings {
    ///             secret: Some(vec![7; 32]), // the same on every instance
    ///             ..NonceSettings::default()
    ///         }),
    ///         ..DpopSettings::default() // ES256, EdDSA, RS256; ±300 s; 100 000 jtis
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(
    ///     layer.authenticator().dpop_algorithms(),
    ///     Some(vec!["ES256", "EdDSA", "RS256"])
    /// );
    /// assert!(layer.authenticator().dpop_required());
    /// ```
    pub fn dpop(mut self, settings: DpopSettings) -> Self {
        self.dpop = Some(settings);
        self
    }

    /// Builds the layer.
    pub fn build(self) -> Result<JwtAuthLayer, BuildError> {
        if self.issuer.is_empty() || self.resource.is_empty() {
            return Err(BuildError::Missing);
        }
        if !url::Url::parse(&self.issuer)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        {
            return Err(BuildError::Issuer(self.issuer));
        }
        let audiences = if self.audiences.is_empty() {
            vec![self.resource.clone()]
        } else {
            self.audiences
        };
        let prm = match self.resource_metadata_url {
            Some(u) => u,
            None => shared::urls::well_known_url(&self.resource, "oauth-protected-resource")
                .map_err(|_| BuildError::Resource(self.resource.clone()))?,
        };
        let http = match self.http {
            Some(c) => c,
            None => reqwest::Client::builder()
                .timeout(self.fetch_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        };
        let metadata = Arc::new(AsMetadata::new(
            self.issuer.clone(),
            http.clone(),
            &self.jwks_settings,
        ));
        let algorithms = if self.algorithms.is_empty() {
            vec![Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA]
        } else {
            self.algorithms
        };
        let source = match self.jwks {
            Some(u) => JwksSource::Url(u),
            None => JwksSource::Discover,
        };
        let jwks = JwksCache::new(JwksConfig {
            source,
            metadata: metadata.clone(),
            http: http.clone(),
            settings: self.jwks_settings,
            allowed: algorithms,
            leeway: self.leeway.as_secs(),
        });
        let dpop = match &self.dpop {
            Some(d) => Some(
                Dpop::new(d, &self.resource)
                    .ok_or_else(|| BuildError::Resource(self.resource.clone()))?,
            ),
            None => None,
        };
        let introspector = self
            .introspection
            .map(|c| Introspector::new(c, metadata, http));
        Ok(JwtAuthLayer {
            auth: Arc::new(Authenticator {
                issuer: self.issuer,
                resource: self.resource,
                audiences,
                profile: self.profile,
                leeway_secs: self.leeway.as_secs(),
                resource_metadata_url: prm,
                jwks,
                scope_rules: self.scope_rules,
                required_scopes: self.required_scopes,
                token_cache: build_token_cache(self.token_cache_capacity),
                token_cache_max_ttl: self.token_cache_max_ttl,
                introspector,
                clock: self.clock.unwrap_or_else(shared::clock::system),
                dpop,
            }),
        })
    }
}

/// Tower layer that requires a valid bearer JWT and inserts [`AuthContext`].
#[derive(Debug, Clone)]
pub struct JwtAuthLayer {
    auth: Arc<Authenticator>,
}

impl JwtAuthLayer {
    /// A builder with safe defaults (30 s leeway, 10 000 cached tokens for at most 5 min).
    pub fn builder() -> JwtAuthLayerBuilder {
        JwtAuthLayerBuilder {
            leeway: Duration::from_secs(30),
            token_cache_capacity: 10_000,
            token_cache_max_ttl: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(5),
            ..JwtAuthLayerBuilder::default()
        }
    }

    /// The shared validator (scope checks, JWKS statistics).
    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.auth
    }
}

impl<S> Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;
    fn layer(&self, inner: S) -> JwtAuth<S> {
        JwtAuth {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service produced by [`JwtAuthLayer`].
#[derive(Debug, Clone)]
pub struct JwtAuth<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

/// Response future of [`JwtAuth`]: the inner future on a cache hit, boxed otherwise.
pub type ResponseFuture<F, B, E> = Either<F, BoxFuture<'static, Result<Response<B>, E>>>;

fn scope_ok<B: From<String>>(auth: &Authenticator, ctx: &AuthContext) -> Result<(), Response<B>> {
    match &auth.required_scopes {
        Some(req) if !ctx.scopes.satisfies_all(req) => Err(forbidden_insufficient_scope(auth, req)),
        _ => Ok(()),
    }
}

impl<S, B, ResBody> Service<Request<B>> for JwtAuth<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let auth = self.auth.clone();
        let (scheme, token) = match credentials(&req, auth.dpop.is_some()) {
            Ok(c) => c,
            Err(e) => return Either::Right(ready(reject(&auth, &e, false))),
        };
        // DPoP: the proof is checked on every request, before any cache lookup.
        let proof = match (scheme, &auth.dpop) {
            (Scheme::Dpop, Some(d)) => match d.check(&req, token, auth.clock.now_unix()) {
                Ok(p) => Some(p),
                Err(e) => return Either::Right(ready(reject(&auth, &e, true))),
            },
            (Scheme::Bearer, Some(d)) if d.required => {
                let e = AuthError::invalid("this resource accepts only DPoP-bound tokens");
                return Either::Right(ready(reject(&auth, &e, false)));
            }
            _ => None,
        };
        let key = match auth.lookup(token) {
            Ok(v) => {
                if let Err(e) = bind(&auth, proof.as_ref(), v.jkt.as_deref()) {
                    return Either::Right(ready(reject(&auth, &e, proof.is_some())));
                }
                if let Err(r) = scope_ok(&auth, &v.ctx) {
                    return Either::Right(ready(r));
                }
                req.extensions_mut().insert(v.ctx);
                let fut = self.inner.call(req);
                // With server nonces, a DPoP answer carries the current nonce (RFC 9449 §8.2),
                // so clients move to the next slot without a use_dpop_nonce round trip.
                if proof.is_some()
                    && let Some(n) = auth.dpop.as_ref().and_then(|d| d.nonces.as_ref())
                {
                    let nonce = n.current(auth.clock.now_unix());
                    return Either::Right(Box::pin(async move {
                        let mut r = fut.await?;
                        add_nonce(&mut r, &nonce);
                        Ok(r)
                    }));
                }
                return Either::Left(fut);
            }
            Err(key) => key,
        };
        let token = token.to_owned();
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Either::Right(Box::pin(async move {
            let v = match auth.verify(&token, key).await {
                Ok(v) => v,
                Err(e) => return Ok(reject(&auth, &e, proof.is_some())),
            };
            if let Err(e) = bind(&auth, proof.as_ref(), v.jkt.as_deref()) {
                return Ok(reject(&auth, &e, proof.is_some()));
            }
            if let Err(r) = scope_ok(&auth, &v.ctx) {
                return Ok(r);
            }
            req.extensions_mut().insert(v.ctx);
            let mut r = inner.call(req).await?;
            if proof.is_some()
                && let Some(n) = auth.dpop.as_ref().and_then(|d| d.nonces.as_ref())
            {
                add_nonce(&mut r, &n.current(auth.clock.now_unix()));
            }
            Ok(r)
        }))
    }
}

fn add_nonce<B>(r: &mut Response<B>, nonce: &str) {
    if let Ok(v) = http::HeaderValue::from_str(nonce) {
        r.headers_mut().insert(shared::dpop::DPOP_NONCE_HEADER, v);
    }
}

fn ready<B: Send + 'static, E: Send + 'static>(
    r: Response<B>,
) -> BoxFuture<'static, Result<Response<B>, E>> {
    Box::pin(async move { Ok(r) })
}

/// The token's binding: a bound token (`cnf.jkt`) needs the DPoP scheme and a proof by that
/// key (then the `jti` replay check); an unbound token needs the Bearer scheme. A bearer
/// request with an unbound token costs one branch.
fn bind(
    auth: &Authenticator,
    proof: Option<&shared::dpop::VerifiedProof>,
    jkt: Option<&str>,
) -> Result<(), AuthError> {
    match (proof, &auth.dpop) {
        (None, _) if jkt.is_some() => Err(AuthError::invalid(BOUND_AS_BEARER)),
        (None, _) => Ok(()),
        (Some(p), Some(d)) => d.bind(p, jkt, auth.clock.now_unix()),
        (Some(_), None) => Err(AuthError::invalid("DPoP is not enabled")),
    }
}

/// The failure answer: with DPoP on, the `DPoP` challenge goes beside the Bearer one (the
/// error on it when `dpop_scheme`), plus a fresh `DPoP-Nonce` for `use_dpop_nonce`.
fn reject<B: From<String>>(auth: &Authenticator, e: &AuthError, dpop_scheme: bool) -> Response<B> {
    let scope = auth.required_scopes.as_ref();
    let Some(d) = &auth.dpop else {
        return challenge_response(&auth.resource_metadata_url, e, scope, None);
    };
    let on_dpop =
        dpop_scheme || matches!(e, AuthError::InvalidDpopProof(_) | AuthError::UseDpopNonce);
    let nonce = match (e, &d.nonces) {
        (AuthError::UseDpopNonce, Some(n)) => Some(n.current(auth.clock.now_unix())),
        _ => None,
    };
    let c = DpopChallenge {
        algs: &d.algs,
        on_dpop,
        nonce,
    };
    if on_dpop {
        tracing::info!(reason = %e, "DPoP request refused");
    }
    challenge_response(&auth.resource_metadata_url, e, scope, Some(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>, uri: &str) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn rs10_bearer_only_from_header_scheme_case_insensitive() {
        assert_eq!(
            bearer_token(&req(Some("Bearer abc"), "/mcp")).unwrap(),
            "abc"
        );
        assert_eq!(
            bearer_token(&req(Some("bearer abc"), "/mcp")).unwrap(),
            "abc"
        );
        assert_eq!(bearer_token(&req(None, "/mcp")), Err(AuthError::Missing));
        assert_eq!(
            bearer_token(&req(Some("Basic abc"), "/mcp")),
            Err(AuthError::Missing)
        );
        assert!(matches!(
            bearer_token(&req(None, "/mcp?access_token=abc")),
            Err(AuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&req(Some("Bearer "), "/mcp")),
            Err(AuthError::InvalidRequest(_))
        ));
    }

    /// The credentials parser before issue 16 B (`HeaderValue::to_str`, `str` search), kept
    /// as the reference the faster one must agree with.
    fn reference(v: &http::HeaderValue, dpop: bool) -> Result<(Scheme, String), AuthError> {
        let v = v
            .to_str()
            .map_err(|_| AuthError::InvalidRequest("malformed Authorization header"))?;
        let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
        let scheme = if scheme.eq_ignore_ascii_case("bearer") {
            Scheme::Bearer
        } else if dpop && scheme.eq_ignore_ascii_case("dpop") {
            Scheme::Dpop
        } else {
            return Err(AuthError::Missing);
        };
        let token = token.trim();
        if token.is_empty() || token.contains(' ') {
            return Err(AuthError::InvalidRequest(match scheme {
                Scheme::Bearer => "malformed bearer token",
                Scheme::Dpop => "malformed DPoP access token",
            }));
        }
        Ok((scheme, token.to_owned()))
    }

    #[test]
    fn credentials_match_the_reference_rs10() {
        let values: &[&[u8]] = &[
            b"Bearer abc.def-_~+/=",
            b"bearer abc",
            b"BEARER  abc ",
            b"Bearer \tabc\t",
            b"Bearer a\tb",
            b"Bearer a b",
            b"Bearer ",
            b"Bearer",
            b"Bearer\tabc",
            b" Bearer abc",
            b"Basic abc",
            b"DPoP abc",
            b"dpop  abc",
            b"DPoP a b",
            b"DPoP",
            b"Bearer abc\x7f",
            b"Bearer ab\x80c",
            b"Bear\xffer abc",
            b"Bearer \xc3\xa9",
            b"Basic a\x01b",
            b"",
            b" ",
            b"\t",
        ];
        for v in values {
            let Ok(hv) = http::HeaderValue::from_bytes(v) else {
                continue;
            };
            for dpop in [false, true] {
                let r = Request::builder()
                    .uri("/mcp")
                    .header(http::header::AUTHORIZATION, hv.clone())
                    .body(())
                    .unwrap();
                let got = credentials(&r, dpop).map(|(s, t)| (s, t.to_owned()));
                assert_eq!(got, reference(&hv, dpop), "{v:?} dpop={dpop}");
            }
        }
    }

    #[test]
    fn ex06_dpop_scheme_only_when_dpop_is_on() {
        let r = req(Some("DPoP abc"), "/mcp");
        // DPoP off: an unknown scheme, i.e. no credentials (401 without an error code).
        assert_eq!(credentials(&r, false), Err(AuthError::Missing));
        assert_eq!(credentials(&r, true), Ok((Scheme::Dpop, "abc")));
        assert_eq!(
            credentials(&req(Some("dpop abc"), "/mcp"), true),
            Ok((Scheme::Dpop, "abc"))
        );
        assert_eq!(
            credentials(&req(Some("Bearer abc"), "/mcp"), true),
            Ok((Scheme::Bearer, "abc"))
        );
        assert_eq!(
            credentials(&req(Some("DPoP "), "/mcp"), true),
            Err(AuthError::InvalidRequest("malformed DPoP access token"))
        );
    }
}
