//! Proof Key for Code Exchange (RFC 7636), S256 only.
//!
//! ```
//! use shared::pkce::{PkceChallenge, PkceVerifier};
//! // RFC 7636 Appendix B
//! let v = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()).unwrap();
//! let c = PkceChallenge::s256(&v);
//! assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
//! ```

use crate::random;

/// Why a verifier or challenge string is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// RFC 7636 §4.1: 43 to 128 characters.
    #[error("must be 43 to 128 characters long")]
    Length,
    /// RFC 7636 §4.1: only `[A-Za-z0-9-._~]`.
    #[error("contains characters outside [A-Za-z0-9-._~]")]
    Charset,
}

fn check_syntax(s: &str) -> Result<(), PkceError> {
    if !(43..=128).contains(&s.len()) {
        return Err(PkceError::Length);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Err(PkceError::Charset);
    }
    Ok(())
}

/// A PKCE code verifier (RFC 7636 §4.1). Deliberately not `Clone`: one verifier, one exchange.
pub struct PkceVerifier(String);

impl PkceVerifier {
    /// A fresh verifier with 256 bits of entropy (43 base64url characters).
    pub fn generate() -> Self {
        Self(random::token())
    }

    /// Wraps a verifier received on the wire, checking its syntax.
    pub fn new(value: String) -> Result<Self, PkceError> {
        check_syntax(&value)?;
        Ok(Self(value))
    }

    /// The verifier string.
    ///
    /// # Security Warning
    /// Never log or display the returned value.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

/// The only `code_challenge_method` this project offers.
pub const S256: &str = "S256";

/// An S256 code challenge (RFC 7636 §4.2): `BASE64URL(SHA256(verifier))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceChallenge(String);

impl PkceChallenge {
    /// Computes the S256 challenge of a verifier.
    pub fn s256(verifier: &PkceVerifier) -> Self {
        Self(random::b64url(&random::sha256(verifier.0.as_bytes())))
    }

    /// Parses a challenge received in an authorization request. An S256 challenge is exactly
    /// 43 base64url characters (checklist AS-20).
    pub fn parse_s256(value: &str) -> Result<Self, PkceError> {
        check_syntax(value)?;
        if value.len() != 43 || value.contains(['.', '~']) {
            return Err(PkceError::Length);
        }
        Ok(Self(value.to_owned()))
    }

    /// The challenge string (not secret: it travels in the authorization URL).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a verifier against this challenge in constant time (checklist AS-32).
    pub fn verify(&self, verifier: &PkceVerifier) -> bool {
        let computed = Self::s256(verifier);
        random::constant_time_eq(computed.0.as_bytes(), self.0.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()).unwrap();
        let c = PkceChallenge::s256(&v);
        assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(c.verify(&v));
    }

    #[test]
    fn wrong_verifier_does_not_verify() {
        let c = PkceChallenge::s256(&PkceVerifier::generate());
        assert!(!c.verify(&PkceVerifier::generate()));
    }

    #[test]
    fn syntax_is_checked() {
        assert_eq!(
            PkceVerifier::new("short".into()).unwrap_err(),
            PkceError::Length
        );
        assert_eq!(
            PkceVerifier::new("a".repeat(129)).unwrap_err(),
            PkceError::Length
        );
        assert_eq!(
            PkceVerifier::new(format!("{}!", "a".repeat(43))).unwrap_err(),
            PkceError::Charset
        );
        assert!(PkceChallenge::parse_s256(&"a".repeat(44)).is_err());
        assert!(PkceChallenge::parse_s256(&"a".repeat(43)).is_ok());
    }

    #[test]
    fn verifier_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", PkceVerifier::generate()),
            "PkceVerifier([redacted])"
        );
    }
}
