//! The one OAuth error type of the server, rendered as RFC 6749 §5.2 JSON.
//!
//! Policy bits follow node-oidc-provider: `status()` and whether the error may be redirected
//! to the client. Internal detail (`source`) is logged by one middleware, never sent.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::oauth::{ErrorCode, ErrorResponse};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An OAuth protocol error.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {description}")]
pub(crate) struct OAuthError {
    /// The RFC error code.
    pub(crate) code: ErrorCode,
    /// Public ASCII description.
    pub(crate) description: String,
    /// Whether the client tried HTTP Basic. Every 401 carries a Basic challenge; this only
    /// adds `charset="UTF-8"` to it (RFC 7617 §2.1): `Basic realm="oauth", charset="UTF-8"`
    /// instead of `Basic realm="oauth"`. No effect on other statuses.
    pub(crate) basic_challenge: bool,
    /// Overrides the default status.
    pub(crate) status_override: Option<StatusCode>,
    /// `Retry-After` seconds (a store outage).
    pub(crate) retry_after: Option<u64>,
    /// A fresh `DPoP-Nonce` to send (RFC 9449 §8, `use_dpop_nonce`).
    pub(crate) dpop_nonce: Option<String>,
    /// Internal cause, logged and never sent.
    #[source]
    pub(crate) source: Option<BoxError>,
}

macro_rules! ctor {
    ($($name:ident => $code:ident),* $(,)?) => {
        $(
            #[doc = concat!("An `", stringify!($name), "` error.")]
            pub(crate) fn $name(description: impl Into<String>) -> Self {
                Self::new(ErrorCode::$code, description)
            }
        )*
    };
}

impl OAuthError {
    /// An error with a code and public description.
    pub(crate) fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            basic_challenge: false,
            status_override: None,
            retry_after: None,
            dpop_nonce: None,
            source: None,
        }
    }

    ctor! {
        invalid_request => InvalidRequest,
        invalid_client => InvalidClient,
        invalid_grant => InvalidGrant,
        unauthorized_client => UnauthorizedClient,
        unsupported_grant_type => UnsupportedGrantType,
        invalid_scope => InvalidScope,
        access_denied => AccessDenied,
        unsupported_response_type => UnsupportedResponseType,
        invalid_target => InvalidTarget,
        invalid_redirect_uri => InvalidRedirectUri,
        invalid_client_metadata => InvalidClientMetadata,
        temporarily_unavailable => TemporarilyUnavailable,
    }

    /// An `invalid_dpop_proof` (RFC 9449 §5, 400).
    pub(crate) fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::Extension(shared::dpop::INVALID_DPOP_PROOF.into()),
            description,
        )
    }

    /// An internal failure: the client sees a generic `server_error`.
    pub(crate) fn server_error(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorCode::ServerError, "internal error").with_source(source)
    }

    /// The store could not answer: `server_error`, 503, `Retry-After` (issue 14). The client
    /// may retry; nothing was decided.
    pub(crate) fn store_unavailable(source: crate::store::StoreError) -> Self {
        let mut e = Self::new(ErrorCode::ServerError, "storage temporarily unavailable")
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .with_source(source);
        e.retry_after = Some(STORE_RETRY_AFTER_SECS);
        e
    }

    /// Attaches the internal cause.
    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets [`basic_challenge`](Self::basic_challenge): whether a 401 challenge names
    /// `charset="UTF-8"` (the client tried HTTP Basic).
    pub(crate) fn with_basic_challenge(mut self, basic: bool) -> Self {
        self.basic_challenge = basic;
        self
    }

    /// Forces a status code.
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status_override = Some(status);
        self
    }

    /// The HTTP status: 401 for `invalid_client`, 500/503 for server errors, else 400.
    pub(crate) fn status(&self) -> StatusCode {
        if let Some(s) = self.status_override {
            return s;
        }
        match self.code {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The wire body.
    pub(crate) fn body(&self) -> ErrorResponse {
        ErrorResponse::new(self.code.clone(), self.description.clone())
    }
}

/// `Retry-After` of a store outage: the Redis client reconnects within about a second.
pub(crate) const STORE_RETRY_AFTER_SECS: u64 = 2;

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::store_unavailable(e)
    }
}

/// What the logging middleware finds in response extensions.
#[derive(Debug, Clone)]
pub(crate) struct LoggedError(pub(crate) Arc<OAuthError>);

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut res = (status, axum::Json(self.body())).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if status == StatusCode::UNAUTHORIZED && self.code == ErrorCode::InvalidToken {
            // RFC 6750 §3: a bearer token (the registration endpoint's initial access token).
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        } else if status == StatusCode::UNAUTHORIZED {
            let challenge = if self.basic_challenge {
                "Basic realm=\"oauth\", charset=\"UTF-8\""
            } else {
                "Basic realm=\"oauth\""
            };
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(nonce) = self.dpop_nonce.as_deref()
            && let Ok(v) = HeaderValue::from_str(nonce)
        {
            h.insert(shared::dpop::DPOP_NONCE_HEADER, v);
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res.extensions_mut().insert(LoggedError(Arc::new(self)));
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_401_has_a_basic_challenge_with_charset_only_after_basic() {
        for (basic, challenge) in [
            (true, "Basic realm=\"oauth\", charset=\"UTF-8\""),
            (false, "Basic realm=\"oauth\""),
        ] {
            let res = OAuthError::invalid_client("unknown client")
                .with_basic_challenge(basic)
                .into_response();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(res.headers()[header::WWW_AUTHENTICATE], challenge);
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        }
        let res = OAuthError::invalid_grant("x")
            .with_basic_challenge(true)
            .into_response();
        assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn a_store_outage_is_a_503_server_error_with_retry_after() {
        let res = OAuthError::from(crate::store::StoreError("redis: connection refused".into()))
            .into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn server_error_hides_source() {
        let e = OAuthError::server_error("database password is hunter2");
        assert_eq!(
            e.body().error_description.as_deref(),
            Some("internal error")
        );
    }
}
