//! OAuth wire types: RFC 6749 §5.2 errors, token responses, RFC 8414 and RFC 9728 metadata.
//!
//! ```
//! use shared::oauth::{ErrorCode, ErrorResponse};
//! let e: ErrorResponse = serde_json::from_str(r#"{"error":"invalid_grant"}"#).unwrap();
//! assert_eq!(e.error, ErrorCode::InvalidGrant);
//! ```

mod client_auth;
mod error;
mod metadata;
mod token;

pub use client_auth::TokenEndpointAuthMethod;
pub use error::{ErrorCode, ErrorResponse};
pub use metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
pub use token::{ClientRegistration, IntrospectionResponse, TokenResponse};
