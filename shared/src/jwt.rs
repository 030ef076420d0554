//! JWT access-token claims (RFC 9068 §2.2) and the `typ` header value.
//!
//! ```
//! use shared::jwt::{AccessTokenClaims, Audience};
//! let c: AccessTokenClaims = serde_json::from_str(r#"{
//!   "iss":"https://as.example","sub":"alice","aud":["https://mcp.example/mcp"],
//!   "exp":2,"iat":1,"jti":"x","client_id":"cli","scope":"mcp:tools:read"}"#).unwrap();
//! assert!(c.aud.contains("https://mcp.example/mcp"));
//! ```

use serde::{Deserialize, Serialize};

/// The `typ` header of JWT access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The `aud` claim: a single string or an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` names this resource (exact string comparison).
    pub fn contains(&self, resource: &str) -> bool {
        match self {
            Self::One(a) => a == resource,
            Self::Many(v) => v.iter().any(|a| a == resource),
        }
    }

    /// The first audience.
    pub fn first(&self) -> Option<&str> {
        match self {
            Self::One(a) => Some(a),
            Self::Many(v) => v.first().map(String::as_str),
        }
    }
}

/// RFC 9068 §2.2 access-token claims as this project issues and validates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer, equal to the authorization server metadata's `issuer`.
    pub iss: String,
    /// Resource owner, or the client for `client_credentials`.
    pub sub: String,
    /// The resource(s) the token is for (RFC 8707).
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Unique token id.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// RFC 7800 confirmation: `jkt` binds the token to a DPoP key (RFC 9449 §6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim of a DPoP-bound token (RFC 9449 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 7638 SHA-256 thumbprint of the DPoP key.
    pub jkt: String,
}
