//! Types that the authorization server, the MCP server and the client all need.
//!
//! Nothing here performs I/O. The modules follow the RFC vocabulary:
//! [`secret`] (redacted secret newtypes), [`pkce`] (RFC 7636), [`oauth`] (RFC 6749 errors,
//! RFC 8414 / RFC 9728 metadata, token responses), [`jwt`] (RFC 9068 access-token claims),
//! [`scope`] (scope sets with the `mcp` umbrella scope), [`clock`] (injectable time) and
//! [`url`](mod@crate::urls) helpers for loopback and canonical-URI rules.
//!
//! ```
//! use shared::pkce::{PkceVerifier, PkceChallenge};
//! let verifier = PkceVerifier::generate();
//! let challenge = PkceChallenge::s256(&verifier);
//! assert!(challenge.verify(&verifier));
//! ```
#![warn(missing_docs)]

pub mod assertion;
pub mod challenge;
pub mod clock;
pub mod dpop;
pub mod jwt;
#[cfg(feature = "tower")]
pub mod lazy_timeout;
pub mod mcp;
pub mod oauth;
pub mod pkce;
#[cfg(feature = "bin")]
pub mod process;
pub mod random;
#[cfg(feature = "redis")]
pub mod redis;
pub mod scope;
pub mod secret;
pub mod urls;
