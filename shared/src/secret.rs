//! Secret newtypes: `Debug` prints `Name([redacted])`, there is no `Display`, and the value is
//! reachable only through [`AccessToken::secret`]-style accessors, so every use is greppable.
//!
//! ```
//! use shared::secret::AccessToken;
//! let token = AccessToken::new("eyJ...".to_owned());
//! assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
//! assert_eq!(token.secret(), "eyJ...");
//! ```

/// Defines a secret string newtype with a redacting `Debug` and a `secret()` accessor.
#[macro_export]
macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: String) -> Self {
                Self(value)
            }
            /// The secret value.
            ///
            /// # Security Warning
            /// Never log or display the returned value.
            pub fn secret(&self) -> &str {
                &self.0
            }
            /// Consumes the wrapper and returns the secret value.
            ///
            /// # Security Warning
            /// Never log or display the returned value.
            pub fn into_secret(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_newtype!(
    /// An OAuth access token (RFC 6749 §1.4), here a JWT per RFC 9068.
    AccessToken
);
secret_newtype!(
    /// An OAuth refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_newtype!(
    /// A confidential client's secret (RFC 6749 §2.3.1).
    ClientSecret
);
secret_newtype!(
    /// An authorization code (RFC 6749 §4.1.2).
    AuthorizationCode
);
secret_newtype!(
    /// The anti-CSRF `state` value of an authorization request (RFC 6749 §10.12).
    CsrfState
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_for_every_secret_type() {
        assert_eq!(
            format!("{:?}", AccessToken::new("a".into())),
            "AccessToken([redacted])"
        );
        assert_eq!(
            format!("{:?}", RefreshToken::new("a".into())),
            "RefreshToken([redacted])"
        );
        assert_eq!(
            format!("{:?}", ClientSecret::new("a".into())),
            "ClientSecret([redacted])"
        );
        assert_eq!(
            format!("{:?}", AuthorizationCode::new("a".into())),
            "AuthorizationCode([redacted])"
        );
    }

    #[test]
    fn serde_is_transparent() {
        let t: RefreshToken = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(t.secret(), "abc");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"abc\"");
    }
}
