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

/// The first `Bearer` or `DPoP` challenge with `error="insufficient_scope"` (RFC 6750 §3.1,
/// RFC 9449 §7.1) in all `WWW-Authenticate` headers: a resource server answers a request
/// made with a DPoP-bound token in the `DPoP` scheme, and may add a `Bearer` challenge
/// without an error beside it, so the error is looked for in both (CL-35).
pub fn insufficient_scope_challenge(headers: &http::HeaderMap) -> Option<Challenge> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_www_authenticate)
        .find(|c| {
            (c.is_bearer() || c.scheme.eq_ignore_ascii_case("dpop"))
                && c.error() == Some("insufficient_scope")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in values {
            h.append(http::header::WWW_AUTHENTICATE, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn insufficient_scope_is_found_in_either_scheme_cl35() {
        // RFC 9449 §7.1: a DPoP request refused for scope, beside an error-free Bearer one.
        let h = headers(&[
            r#"Bearer resource_metadata="https://rs/prm""#,
            r#"DPoP error="insufficient_scope", scope="a b", algs="ES256""#,
        ]);
        let c = insufficient_scope_challenge(&h).unwrap();
        assert_eq!(c.scheme, "DPoP");
        assert_eq!(c.scope(), Some("a b"));
        // Bearer only, as before.
        let h = headers(&[r#"Bearer error="insufficient_scope", scope="c""#]);
        assert_eq!(insufficient_scope_challenge(&h).unwrap().scope(), Some("c"));
        // Other errors and other schemes are not a step-up.
        let h = headers(&[
            r#"DPoP error="invalid_dpop_proof", algs="ES256""#,
            r#"Basic error="insufficient_scope""#,
        ]);
        assert!(insufficient_scope_challenge(&h).is_none());
    }
}
