//! The client's error type. Variants separate what the caller must do next:
//! log in again ([`ClientError::AuthorizationRequired`]), fix configuration
//! ([`ClientError::Config`]), retry later ([`ClientError::Transport`],
//! [`ClientError::Timeout`]), or report a server refusal ([`ClientError::TokenEndpoint`],
//! [`ClientError::HttpStatus`], [`ClientError::Mcp`]).
//!
//! Variants carry the HTTP status and the underlying error (`#[source]`) where there is one,
//! so a program matches on types, never on message text. [`report`] joins an error with its
//! sources for display.
//!
//! Inside [`crate::BearerAuth`] the error travels as `reqwest_middleware::Error::Middleware`;
//! [`ClientError::from_middleware`] recovers it.
//!
//! ```
//! use http_oauth2_client::ClientError;
//! let e = ClientError::AuthorizationRequired("refresh token rejected".into());
//! assert!(e.is_authorization_required());
//!
//! let e = ClientError::HttpStatus {
//!     from: "the MCP server".into(),
//!     status: http::StatusCode::SERVICE_UNAVAILABLE,
//!     error: Some("temporarily_unavailable".into()),
//!     description: Some("JWKS unreachable".into()),
//! };
//! assert_eq!(
//!     e.to_string(),
//!     "HTTP 503 Service Unavailable from the MCP server: temporarily_unavailable (JWKS unreachable)"
//! );
//! ```

use http::StatusCode;
use shared::oauth::ErrorCode;

/// A boxed underlying error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    #[error("token endpoint refused the request (HTTP {}): {code}{}", .status.as_u16(), fmt_desc(.description))]
    TokenEndpoint {
        /// The HTTP status of the answer.
        status: StatusCode,
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
    #[error("discovery failed: {reason}")]
    Discovery {
        /// What failed, for people.
        reason: String,
        /// The underlying error (a malformed document), if any.
        #[source]
        source: Option<BoxError>,
    },
    /// Client registration (DCR or CIMD) failed.
    #[error("client registration failed: {reason}")]
    Registration {
        /// The registration endpoint's HTTP status, when it answered with an error.
        status: Option<StatusCode>,
        /// What failed, for people.
        reason: String,
    },
    /// The redirect back from the authorization server is invalid (state or iss mismatch,
    /// missing code).
    #[error("invalid authorization response: {0}")]
    AuthorizationResponse(String),
    /// Invalid configuration (a URL, a plain-http endpoint, a missing option).
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// The request got no HTTP answer: connection refused, DNS, TLS, a reset, a broken body
    /// or event stream. Usually worth retrying later.
    #[error("transport error: {context}")]
    Transport {
        /// What was being done.
        context: String,
        /// The underlying error (usually a `reqwest::Error`).
        #[source]
        source: BoxError,
    },
    /// A server answered with an HTTP status the operation cannot use and no protocol-level
    /// error (no JSON-RPC error, no RFC 6749 error body): e.g. a 503 from the MCP server's
    /// auth layer, or a 404 for an endpoint that does not exist. `error` and `description`
    /// come from the `WWW-Authenticate` challenge or an OAuth-style JSON body, when present.
    #[error("HTTP {status} from {from}{}{}", fmt_code(.error), fmt_desc(.description))]
    HttpStatus {
        /// Who answered (e.g. "the MCP server", "GET http://host/sse").
        from: String,
        /// The status.
        status: StatusCode,
        /// The `error` code of the challenge or body, if any.
        error: Option<String>,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// A response body was larger than this client accepts for it.
    #[error("response body larger than {limit} bytes")]
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
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
    /// A multi round-trip request (2026-07-28 `InputRequiredResult`) still asked for input
    /// after the configured number of rounds.
    #[error("the MCP server still asked for input after {max_rounds} rounds")]
    InputRoundsExceeded {
        /// The cap ([`crate::McpClient::with_max_input_rounds`]).
        max_rounds: u32,
    },
    /// The MCP server asked for input the application's `InputHandler` does not provide
    /// (sampling, roots, or an unknown kind); the call ends.
    #[error("the MCP server asked for `{method}`, which this client does not provide")]
    InputUnsupported {
        /// The input request's method.
        method: String,
    },
    /// The token store could not be read or written.
    #[error("token store error: {reason}")]
    Store {
        /// What failed.
        reason: String,
        /// The underlying I/O or JOSE error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// A recent failure is remembered for a few seconds so that many callers do not hammer a
    /// failing token endpoint: retry after a short wait.
    #[error("retry later: {reason}")]
    RetryLater {
        /// What failed moments ago.
        reason: String,
    },
    /// The server asked for authorization (`status`: 401, or 403 `insufficient_scope`) on a
    /// request whose body is a stream, which cannot be sent twice. The authorization is now
    /// in place ([`crate::AuthOnDemand`] logged in): send the request again.
    #[error(
        "HTTP {status}: the server asked for authorization, which is now in place, but the request body was a stream and could not be sent again; send the request again"
    )]
    NotReplayed {
        /// The status that asked for authorization.
        status: StatusCode,
    },
    /// A request, or the interactive login, did not complete in time.
    #[error("timed out: {what}")]
    Timeout {
        /// What did not complete.
        what: String,
        /// The underlying error (a `reqwest::Error` timeout), if any.
        #[source]
        source: Option<BoxError>,
    },
}

fn fmt_desc(d: &Option<String>) -> String {
    d.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
}

fn fmt_code(c: &Option<String>) -> String {
    c.as_ref().map(|c| format!(": {c}")).unwrap_or_default()
}

impl ClientError {
    /// Whether the caller must run the authorization flow again.
    pub fn is_authorization_required(&self) -> bool {
        matches!(self, Self::AuthorizationRequired(_))
    }

    /// Whether the request failed before any answer because the connection could not be
    /// made (refused, unreachable, DNS, or a TLS handshake that failed, e.g. an untrusted
    /// certificate): there is no server to talk to at that address.
    pub fn is_connect(&self) -> bool {
        match self {
            Self::Transport { source, .. } => {
                find_reqwest(source.as_ref()).is_some_and(reqwest::Error::is_connect)
            }
            _ => false,
        }
    }

    /// The HTTP status the server answered with, for the variants that carry one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::TokenEndpoint { status, .. } | Self::HttpStatus { status, .. } => Some(*status),
            Self::Registration { status, .. } => *status,
            Self::NotReplayed { status } => Some(*status),
            _ => None,
        }
    }

    /// A [`ClientError::Discovery`] without an underlying error.
    pub fn discovery(reason: impl Into<String>) -> Self {
        Self::Discovery {
            reason: reason.into(),
            source: None,
        }
    }

    /// A [`ClientError::Transport`] with what was being done and why it failed.
    pub fn transport(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Transport {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A [`ClientError::Timeout`] without an underlying error.
    pub fn timeout(what: impl Into<String>) -> Self {
        Self::Timeout {
            what: what.into(),
            source: None,
        }
    }

    /// A [`ClientError::Store`] without an underlying error.
    pub fn store(reason: impl Into<String>) -> Self {
        Self::Store {
            reason: reason.into(),
            source: None,
        }
    }

    /// Recovers a [`ClientError`] raised inside the middleware stack, or wraps a transport
    /// error.
    pub fn from_middleware(err: reqwest_middleware::Error) -> Self {
        match err {
            reqwest_middleware::Error::Middleware(e) => match e.downcast::<ClientError>() {
                Ok(ce) => ce,
                Err(other) => {
                    // e.g. reqwest-retry's "failed after N retries", wrapping a reqwest error.
                    let source: BoxError = other.into();
                    match find_reqwest(source.as_ref()) {
                        Some(r) if r.is_timeout() => Self::Timeout {
                            what: "the HTTP request timed out".into(),
                            source: Some(source),
                        },
                        Some(r) => Self::transport(context_of(r), source),
                        None => Self::transport("the HTTP request failed", source),
                    }
                }
            },
            reqwest_middleware::Error::Reqwest(e) => Self::from(e),
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        // The URL never carries secrets here (tokens are never put in the query, CL-30).
        if e.is_timeout() {
            Self::Timeout {
                what: "the HTTP request timed out".into(),
                source: Some(Box::new(e)),
            }
        } else {
            Self::transport(context_of(&e), e)
        }
    }
}

fn context_of(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "reading the response body failed"
    } else {
        "the HTTP request failed"
    }
}

/// The first `reqwest::Error` in an error's chain.
fn find_reqwest<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a reqwest::Error> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<reqwest::Error>() {
            return Some(r);
        }
        // `reqwest_middleware::Error` is transparent: its `source()` skips the reqwest error.
        if let Some(reqwest_middleware::Error::Reqwest(r)) =
            c.downcast_ref::<reqwest_middleware::Error>()
        {
            return Some(r);
        }
        cur = c.source();
    }
    None
}

impl From<reqwest_middleware::Error> for ClientError {
    fn from(e: reqwest_middleware::Error) -> Self {
        Self::from_middleware(e)
    }
}

/// An error and its sources joined with ": ", skipping a source whose text the message
/// already contains. What a command-line program prints.
///
/// ```
/// use http_oauth2_client::{ClientError, error::report};
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
/// let e = ClientError::transport("cannot connect", io);
/// assert_eq!(report(&e), "transport error: cannot connect: connection refused");
/// ```
pub fn report(e: &(dyn std::error::Error + 'static)) -> String {
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
    /// A URL named by a remote server points at a loopback or private address (CL-08):
    /// allowed only when the MCP server itself is loopback, or with
    /// `allow_insecure_local_targets()`.
    #[error(
        "refusing `{0}`: a remote server named a loopback or private address (CL-08; allow_insecure_local_targets() for development)"
    )]
    LocalTarget(String),
    /// Any other invalid value.
    #[error("{0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback port with nothing listening on it.
    async fn closed_port() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error_directly_and_through_retries() {
        let url = format!("http://127.0.0.1:{}/mcp", closed_port().await);
        let plain = reqwest::Client::new().get(&url).send().await.unwrap_err();
        let e = ClientError::from(plain);
        assert!(e.is_connect(), "{e:?}");
        assert!(e.status().is_none());

        // Through reqwest-retry, the reqwest error is wrapped twice (anyhow, then the
        // transparent middleware error).
        let http = crate::oauth::oauth_http_client(
            std::time::Duration::from_secs(2),
            std::time::Duration::from_secs(2),
            1,
        );
        let e = ClientError::from(http.get(&url).send().await.unwrap_err());
        assert!(matches!(e, ClientError::Transport { .. }), "{e:?}");
        assert!(e.is_connect(), "{e:?}");
        assert!(report(&e).contains("Connection refused"), "{}", report(&e));
    }

    #[test]
    fn other_errors_are_not_connect_errors() {
        let e = ClientError::transport("x", std::io::Error::other("connect"));
        assert!(!e.is_connect());
        assert!(!ClientError::Protocol("connect".into()).is_connect());
    }
}
