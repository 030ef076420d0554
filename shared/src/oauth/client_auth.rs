//! How a client authenticates at the token endpoint: the RFC 7591 §2
//! `token_endpoint_auth_method` values this workspace speaks. The authorization server stores
//! it per client and advertises it in its metadata; the client picks it from a registration
//! response.
//!
//! ```
//! use shared::oauth::TokenEndpointAuthMethod;
//! let m: TokenEndpointAuthMethod = serde_json::from_str(r#""client_secret_basic""#).unwrap();
//! assert_eq!(m, TokenEndpointAuthMethod::ClientSecretBasic);
//! assert_eq!(m.as_str(), "client_secret_basic");
//! assert!(m.uses_secret());
//! ```

use serde::{Deserialize, Serialize};

/// A `token_endpoint_auth_method` value (RFC 7591 §2). Serialises to the registered string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// `none`: a public client; `client_id` in the body, no secret.
    None,
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_secret_post`: id and secret in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// `private_key_jwt`: a client assertion signed by the client's key (RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl TokenEndpointAuthMethod {
    /// Every method, in the order servers here advertise them.
    pub const ALL: [Self; 4] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::None,
    ];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Parses a registered name; `None` for anything this workspace does not support.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            _ => None,
        }
    }

    /// Whether the method proves a shared client secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }

    /// Whether the method authenticates the client (a secret or a private key): everything
    /// but `none`.
    pub fn is_confidential(self) -> bool {
        self != Self::None
    }

    /// The method a client uses after registration (RFC 7591 §3.2.1), from the response's
    /// `token_endpoint_auth_method` and whether a secret was issued: no secret or `none` means
    /// a public client, `client_secret_post` is honoured, anything else with a secret is
    /// `client_secret_basic` (the RFC 7591 default).
    pub fn from_registration(method: Option<&str>, has_secret: bool) -> Self {
        match (method, has_secret) {
            (_, false) | (Some("none"), _) => Self::None,
            (Some("client_secret_post"), true) => Self::ClientSecretPost,
            _ => Self::ClientSecretBasic,
        }
    }
}

impl std::fmt::Display for TokenEndpointAuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIRE: [(TokenEndpointAuthMethod, &str); 3] = [
        (TokenEndpointAuthMethod::None, "none"),
        (
            TokenEndpointAuthMethod::ClientSecretBasic,
            "client_secret_basic",
        ),
        (
            TokenEndpointAuthMethod::ClientSecretPost,
            "client_secret_post",
        ),
    ];

    #[test]
    fn serde_uses_the_rfc7591_strings() {
        for (method, wire) in WIRE {
            assert_eq!(
                serde_json::to_string(&method).unwrap(),
                format!("\"{wire}\"")
            );
            let back: TokenEndpointAuthMethod =
                serde_json::from_str(&format!("\"{wire}\"")).unwrap();
            assert_eq!(back, method);
            assert_eq!(method.as_str(), wire);
            assert_eq!(method.to_string(), wire);
            assert_eq!(TokenEndpointAuthMethod::parse(wire), Some(method));
        }
    }

    #[test]
    fn unknown_and_differently_cased_names_are_refused() {
        for bad in ["client_secret_jwt", "ClientSecretBasic", "NONE", ""] {
            assert_eq!(TokenEndpointAuthMethod::parse(bad), None, "{bad}");
            assert!(
                serde_json::from_str::<TokenEndpointAuthMethod>(&format!("\"{bad}\"")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn all_lists_each_method_once_in_advertised_order() {
        let names: Vec<&str> = TokenEndpointAuthMethod::ALL
            .iter()
            .map(|m| m.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none"
            ]
        );
    }

    #[test]
    fn only_none_is_public() {
        assert!(!TokenEndpointAuthMethod::None.uses_secret());
        assert!(TokenEndpointAuthMethod::ClientSecretBasic.uses_secret());
        assert!(TokenEndpointAuthMethod::ClientSecretPost.uses_secret());
        assert!(!TokenEndpointAuthMethod::PrivateKeyJwt.uses_secret());
        assert!(TokenEndpointAuthMethod::PrivateKeyJwt.is_confidential());
    }

    #[test]
    fn registration_response_picks_the_method() {
        use TokenEndpointAuthMethod as M;
        assert_eq!(M::from_registration(None, false), M::None);
        assert_eq!(
            M::from_registration(Some("client_secret_basic"), false),
            M::None
        );
        assert_eq!(M::from_registration(Some("none"), true), M::None);
        assert_eq!(
            M::from_registration(Some("client_secret_post"), true),
            M::ClientSecretPost
        );
        assert_eq!(
            M::from_registration(Some("client_secret_basic"), true),
            M::ClientSecretBasic
        );
        assert_eq!(M::from_registration(None, true), M::ClientSecretBasic);
        assert_eq!(
            M::from_registration(Some("private_key_jwt"), true),
            M::ClientSecretBasic
        );
    }
}
