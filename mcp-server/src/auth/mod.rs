//! A reusable tower layer that protects any axum/tower HTTP service with RFC 9068 JWT access
//! tokens issued by one OAuth authorization server.
//!
//! * Bearer tokens only from the `Authorization` header (RFC 6750 §2.1); a token in the query
//!   string is refused (checklist RS-10).
//! * Signature against the AS's JWKS ([`JwksCache`], moka: one fetch for concurrent misses, TTL
//!   from `Cache-Control`, rate-limited refetch for unknown `kid`, cached keys survive an AS
//!   outage); algorithms from configuration only; `typ` `at+jwt`; exact `iss`; `aud` contains
//!   the resource; `exp`/`nbf` with leeway (RS-12..RS-16).
//! * Verified tokens are cached by SHA-256 digest, never beyond `exp`, so repeat requests skip
//!   the signature check.
//! * Optional RFC 7662 introspection so revoked tokens stop working.
//! * Failures are HTTP answers: 401 with `WWW-Authenticate: Bearer resource_metadata=".."`
//!   (plus `error="invalid_token"` when a token was sent), 403 `insufficient_scope` (RS-06/07).
//! * On success an `Arc<`[`AuthContext`]`>` is inserted into the request extensions (shared
//!   with the verified-token cache: a cache hit costs a reference count, not a copy). Handlers
//!   take it with the [`AuthContext`] or [`Authenticated`] extractors, or
//!   `Extension<Arc<AuthContext>>`.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use mcp_server::auth::{Authenticated, JwtAuthLayer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = JwtAuthLayer::builder()
//!     .issuer("http://127.0.0.1:3002")
//!     .resource("http://127.0.0.1:8080/api")
//!     .resource_metadata_url("http://127.0.0.1:8080/.well-known/oauth-protected-resource/api")
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/api", get(|Authenticated(ctx): Authenticated| async move { ctx.subject.clone() }))
//!     .layer(auth);
//! # let _ = app; Ok(()) }
//! ```

mod challenge;
mod introspection;
mod jwks_cache;
mod layer;
mod validate;

pub use challenge::{forbidden_insufficient_scope, unauthorized};
pub use introspection::IntrospectionConfig;
pub use jwks_cache::{JwksCache, JwksSettings, JwksSource, VerifyingKey};
pub use layer::{BuildError, JwtAuth, JwtAuthLayer, JwtAuthLayerBuilder, ResponseFuture};
pub use validate::{Authenticator, MethodDenied, ScopeRules};

use jsonwebtoken::Algorithm;
use shared::scope::ScopeSet;

/// What the layer learned from a valid access token; inserted into request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// `sub`: the resource owner (or the client for `client_credentials`).
    pub subject: String,
    /// `client_id`: the OAuth client the token was issued to.
    pub client_id: String,
    /// Granted scopes (`scope` claim).
    pub scopes: ScopeSet,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
}

/// Axum extractor: an owned copy of the [`AuthContext`] the layer inserted (copied only when
/// the verified-token cache still shares it). Without the layer in front it rejects with 401.
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
#[derive(Debug, Clone)]
pub struct Authenticated(pub std::sync::Arc<AuthContext>);

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
    /// The token was presented but is not acceptable (401 invalid_token).
    #[error("{0}")]
    InvalidToken(&'static str),
    /// The keys to verify the token cannot be obtained and none are cached (503).
    #[error("authorization server keys unavailable")]
    KeysUnavailable,
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
