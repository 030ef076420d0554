//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, RFC 6750 §3): several challenges per
//! header and across headers, case-insensitive scheme and parameter names, quoted-string
//! and token values (CL-01).
//!
//! ```
//! use http_oauth2_client::oauth::challenge::parse_www_authenticate;
//! let c = parse_www_authenticate(
//!     r#"Basic realm="x", bearer error="insufficient_scope", scope="a b", resource_metadata="https://rs/.well-known/oauth-protected-resource/mcp""#);
//! assert_eq!(c.len(), 2);
//! assert!(c[1].is_bearer());
//! assert_eq!(c[1].param("scope"), Some("a b"));
//! ```

//!
//! The parser lives in [`shared::challenge`] (the MCP server builds the same challenges
//! there); this module adds the `http::HeaderMap` entry point.

pub use shared::challenge::{Challenge, parse_www_authenticate};

/// The first Bearer challenge in all `WWW-Authenticate` headers of a response.
pub fn bearer_challenge(headers: &http::HeaderMap) -> Option<Challenge> {
    shared::challenge::first_bearer(
        headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// The first `DPoP` challenge (RFC 9449 §7.1) in all `WWW-Authenticate` headers.
pub fn dpop_challenge(headers: &http::HeaderMap) -> Option<Challenge> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_www_authenticate)
        .find(|c| c.scheme.eq_ignore_ascii_case("dpop"))
}
