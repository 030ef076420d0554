//! The client's error type. Variants separate what the caller must do next:
//! log in again ([`ClientError::AuthorizationRequired`]), fix configuration
//! ([`ClientError::Config`]), retry later ([`ClientError::Transport`]), or report a server
//! refusal ([`ClientError::TokenEndpoint`], [`ClientError::Mcp`]).
//!
//! Inside [`crate::BearerAuth`] the error travels as `reqwest_middleware::Error::Middleware`;
//! [`ClientError::from_middleware`] recovers it.
//!
//! ```
//! use http_oauth2_client::ClientError;
//! let e = ClientError::AuthorizationRequired("refresh token rejected".into());
//! assert!(e.is_authorization_required());
//! ```

use shared::oauth::ErrorCode;

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No usable token: log in (again). Raised when there is no token, when a refresh is
    /// rejected with `invalid_grant`, or when a retried request still gets 401.
    #[error("authorization required: {0}")]
    AuthorizationRequired(String),
    /// The user or the authorization server refused the authorization request
    /// (`error` in the redirect, after `state` and `iss` were verified).
    #[error("authorization denied by the server: {code}{}", fmt_desc(.description))]
    AuthorizationDenied {
        /// The RFC 6749 §4.1.2.1 error code.
        code: ErrorCode,
        /// The server's public description.
        description: Option<String>,
    },
    /// The token endpoint answered with an RFC 6749 §5.2 error.
    #[error("token endpoint refused the request: {code}{}", fmt_desc(.description))]
    TokenEndpoint {
        /// The error code.
        code: ErrorCode,
        /// The server's public description.
        description: Option<String>,
    },
    /// The server demands scopes that were already requested and refused (no step-up loop).
    #[error("insufficient scope: the server requires `{required}`")]
    InsufficientScope {
        /// The scopes named in the challenge.
        required: String,
    },
    /// Discovery of protected-resource or authorization-server metadata failed, or the
    /// metadata was refused (resource or issuer mismatch, no S256).
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// Client registration (DCR or CIMD) failed.
    #[error("client registration failed: {0}")]
    Registration(String),
    /// The redirect back from the authorization server is invalid (state or iss mismatch,
    /// missing code).
    #[error("invalid authorization response: {0}")]
    AuthorizationResponse(String),
    /// Invalid configuration (a URL, a plain-http endpoint, a missing option).
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// Network or HTTP-level failure (connection refused, timeout, unexpected status).
    #[error("transport error: {0}")]
    Transport(String),
    /// A JSON-RPC error returned by the MCP server.
    #[error("MCP error {code}: {message}")]
    Mcp {
        /// JSON-RPC error code.
        code: i64,
        /// Error message.
        message: String,
        /// Optional `data`.
        data: Option<serde_json::Value>,
    },
    /// The MCP server broke the protocol (bad JSON, missing response, unknown transport).
    #[error("MCP protocol error: {0}")]
    Protocol(String),
    /// The token store could not be read or written.
    #[error("token store error: {0}")]
    Store(String),
    /// The interactive login did not complete in time.
    #[error("timed out: {0}")]
    Timeout(String),
}

fn fmt_desc(d: &Option<String>) -> String {
    d.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
}

impl ClientError {
    /// Whether the caller must run the authorization flow again.
    pub fn is_authorization_required(&self) -> bool {
        matches!(self, Self::AuthorizationRequired(_))
    }

    /// Recovers a [`ClientError`] raised inside the middleware stack, or wraps a transport
    /// error.
    pub fn from_middleware(err: reqwest_middleware::Error) -> Self {
        match err {
            reqwest_middleware::Error::Middleware(e) => match e.downcast::<ClientError>() {
                Ok(ce) => ce,
                Err(other) => Self::Transport(format!("{other:#}")),
            },
            reqwest_middleware::Error::Reqwest(e) => Self::from(e),
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        // The URL never carries secrets here (tokens are never put in the query, CL-30).
        let msg = chain(&e);
        if e.is_timeout() {
            Self::Timeout(msg)
        } else {
            Self::Transport(msg)
        }
    }
}

/// The error and its sources, joined with ": ".
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

impl From<reqwest_middleware::Error> for ClientError {
    fn from(e: reqwest_middleware::Error) -> Self {
        Self::from_middleware(e)
    }
}

/// Invalid configuration values. Variants carry the offending value (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A URL did not parse.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The value.
        url: String,
        /// Why.
        reason: String,
    },
    /// Plain `http://` to a non-loopback host without `allow_insecure_http()`.
    #[error(
        "refusing plain http to a non-loopback host: `{0}` (use https, or allow_insecure_http() for development)"
    )]
    InsecureHttp(String),
    /// Any other invalid value.
    #[error("{0}")]
    Invalid(String),
}
