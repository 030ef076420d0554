//! OAuth 2.1 resource-server authentication for any tower service (axum, hyper, tonic...):
//! a tower layer that requires a JWT access token issued by one authorization server.
//!
//! * Bearer tokens only from the `Authorization` header (RFC 6750 §2.1); a token in the query
//!   string is refused (checklist RS-10).
//! * Signature against the AS's JWKS ([`JwksCache`], moka: one fetch for concurrent misses, TTL
//!   from `Cache-Control`, rate-limited refetch for unknown `kid`, cached keys survive an AS
//!   outage); algorithms from configuration only; the issuer compared byte for byte as
//!   configured (a trailing slash included); `aud` contains one of the accepted audiences
//!   (default: the resource); `exp`/`nbf` with leeway (RS-12..RS-16).
//! * The JWKS URL is configured ([`JwtAuthLayerBuilder::jwks_url`], no discovery at all) or
//!   found through the issuer's metadata: RFC 8414 first, then OpenID Connect discovery, with
//!   the path-inserted and path-appended well-known forms for issuers with a path.
//! * A [`TokenProfile`]: [`TokenProfile::rfc9068`] (the default: `typ` `at+jwt`, `jti`,
//!   `client_id`, `scope` string) or [`TokenProfile::generic_jwt`] for providers issuing plain
//!   JWT access tokens, each relaxation a named field.
//! * Every refusal names its reason in `error_description` and in the log (which claim,
//!   expected and found; never the token), e.g. `token typ must be at+jwt (found JWT)`.
//! * Verified tokens are cached by SHA-256 digest, never beyond `exp`, so repeat requests skip
//!   the signature check.
//! * Optional RFC 7662 introspection so revoked tokens stop working.
//! * Optional DPoP (RFC 9449, [`JwtAuthLayerBuilder::dpop`]): `Authorization: DPoP` with a
//!   proof checked on every request (method, public URL, `ath`, `iat` window, `jti` replay,
//!   key thumbprint = `cnf.jkt`), optional stateless server nonces, a `DPoP algs=".."`
//!   challenge beside the Bearer one. A DPoP-bound token presented as `Bearer` is always
//!   refused, with DPoP on or off.
//! * Failures are HTTP answers: 401 with `WWW-Authenticate: Bearer resource_metadata=".."`
//!   (plus `error="invalid_token"` when a token was sent), 403 `insufficient_scope` (RS-06/07).
//! * On success an `Arc<`[`AuthContext`]`>` is inserted into the request extensions (shared
//!   with the verified-token cache: a cache hit costs a reference count, not a copy). With the
//!   `axum` feature, handlers take it with the `AuthContext` or `Authenticated` extractors;
//!   otherwise read `Extension<Arc<AuthContext>>` / `req.extensions()`.
//!
//! The layer works with any response body that can be built from a `String` (axum's `Body`,
//! `http_body_util::Full<Bytes>`, `String`...). Protecting a plain hyper service:
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use http::{Request, Response, StatusCode};
//! use oauth_resource::{AuthContext, JwtAuthLayer, TokenProfile};
//! use tower::{ServiceBuilder, ServiceExt as _};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = JwtAuthLayer::builder()
//!     // Exactly as the provider writes it (Auth0: with the trailing slash).
//!     .issuer("https://tenant.example.com/")
//!     .resource("https://api.example.com/orders")
//!     .audiences(["https://api.example.com/orders", "api://orders"])
//!     .profile(TokenProfile::rfc9068())
//!     .build()?;
//! let svc = ServiceBuilder::new().layer(auth).service_fn(|req: Request<String>| async move {
//!     let ctx = req.extensions().get::<Arc<AuthContext>>().expect("set by the layer");
//!     Ok::<_, Infallible>(Response::new(format!("hello {}", ctx.subject)))
//! });
//! // No token: 401 with a challenge naming the protected-resource metadata (RFC 9728).
//! let r = svc.oneshot(Request::new(String::new())).await?;
//! assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(
//!     r.headers()["www-authenticate"],
//!     r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/orders""#
//! );
//! // Serve `svc` with hyper (`hyper_util::service::TowerToHyperService`).
//! # Ok(()) }
//! ```
//!
//! The same layer on an axum router (with the `axum` feature, the `Authenticated` extractor
//! replaces the `Extension`):
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use axum::{Extension, Router, routing::get};
//! use oauth_resource::{AuthContext, JwtAuthLayer, TokenProfile};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = JwtAuthLayer::builder()
//!     .issuer("https://login.microsoftonline.com/TENANT-ID/v2.0")
//!     .resource("https://api.example.com/orders")
//!     .audiences(["00000000-0000-0000-0000-000000000000"])
//!     .profile(TokenProfile::generic_jwt())
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/orders", get(|Extension(ctx): Extension<Arc<AuthContext>>| async move {
//!         format!("orders of {} (client {}, scopes {})", ctx.subject, ctx.client_id, ctx.scopes)
//!     }))
//!     .layer(auth);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Rejections are ready HTTP responses (the tower-http convention), built at most once per
// request; boxing them would only add an allocation.
#![allow(clippy::result_large_err)]

mod challenge;
mod dpop;
mod introspection;
mod jwks_cache;
mod layer;
mod profile;
mod validate;

pub use challenge::{InsufficientScope, forbidden_insufficient_scope, unauthorized};
pub use dpop::{DpopSettings, NonceSettings};
pub use introspection::IntrospectionConfig;
pub use jwks_cache::{JwksCache, JwksSettings, JwksSource, VerifyingKey, metadata_urls};
pub use layer::{BuildError, JwtAuth, JwtAuthLayer, JwtAuthLayerBuilder, ResponseFuture};
pub use profile::TokenProfile;
pub use validate::{Authenticator, MethodDenied, ScopeRules};

use std::borrow::Cow;

use jsonwebtoken::Algorithm;
use shared::scope::ScopeSet;

/// What the layer learned from a valid access token; inserted into request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// `sub`: the resource owner (or the client for `client_credentials`).
    pub subject: String,
    /// `client_id` (or `azp` under [`TokenProfile::client_id_from_azp`]): the OAuth client
    /// the token was issued to; empty when the relaxed profile found neither.
    pub client_id: String,
    /// Granted scopes (`scope` claim, or `scp` under [`TokenProfile::scopes_from_scp`]).
    pub scopes: ScopeSet,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
}

/// Axum extractor: an owned copy of the [`AuthContext`] the layer inserted (copied only when
/// the verified-token cache still shares it). Without the layer in front it rejects with 401.
#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AuthContext {
    type Rejection = http::StatusCode;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Authenticated(ctx) = Authenticated::from_request_parts(parts, state).await?;
        Ok(std::sync::Arc::unwrap_or_clone(ctx))
    }
}

/// Axum extractor: the shared [`AuthContext`] the layer inserted, moved out of the request
/// extensions without a copy. Without the layer in front it rejects with 401.
#[cfg(feature = "axum")]
#[derive(Debug, Clone)]
pub struct Authenticated(pub std::sync::Arc<AuthContext>);

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Authenticated {
    type Rejection = http::StatusCode;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .remove::<std::sync::Arc<AuthContext>>()
            .map(Authenticated)
            .ok_or(http::StatusCode::UNAUTHORIZED)
    }
}

/// Why a request was not authenticated. The `Display` text is the public
/// `error_description` (never contains the token).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer credentials at all (RFC 6750 §3.1: no error code).
    #[error("authentication required")]
    Missing,
    /// Malformed request: token in the query string, bad header syntax (400 invalid_request).
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The token was presented but is not acceptable (401 invalid_token). The text names
    /// the reason (which claim, expected and found), never the token.
    #[error("{0}")]
    InvalidToken(Cow<'static, str>),
    /// The keys to verify the token cannot be obtained and none are cached (503).
    #[error("authorization server keys unavailable")]
    KeysUnavailable,
    /// The DPoP proof is missing, malformed, replayed or does not match this request or the
    /// token's `cnf.jkt` (401 `invalid_dpop_proof`, RFC 9449 §7.1). Never contains the proof.
    #[error("{0}")]
    InvalidDpopProof(Cow<'static, str>),
    /// The proof lacks the current server nonce (401 `use_dpop_nonce` with a fresh
    /// `DPoP-Nonce`, RFC 9449 §9).
    #[error("DPoP proof lacks the current server nonce")]
    UseDpopNonce,
}

impl AuthError {
    /// A refusal of the token with a fixed reason.
    pub(crate) const fn invalid(reason: &'static str) -> Self {
        Self::InvalidToken(Cow::Borrowed(reason))
    }

    /// A refusal of the DPoP proof with a fixed reason.
    pub(crate) const fn dpop(reason: &'static str) -> Self {
        Self::InvalidDpopProof(Cow::Borrowed(reason))
    }
}

/// A token- or AS-supplied value made safe for an `error_description` and a log line:
/// printable ASCII other than `"` and `\\`, at most 64 characters.
pub(crate) fn shown(v: &str) -> String {
    let mut s: String = v
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .take(64)
        .collect();
    if v.chars().count() > 64 {
        s.push_str("...");
    }
    s
}

/// Parses an allowed JWS algorithm name. HMAC and `none` are never accepted: the RS holds no
/// shared secret with the AS (RFC 8725 §3.1).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod discovery_tests;
#[cfg(test)]
mod tests;
