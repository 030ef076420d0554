//! Which access-token shapes are accepted. The signature (with an algorithm from the
//! allow-list), `iss`, `aud`, `exp`, `nbf` (when present), `sub` and `iat` are checked in every
//! profile; a profile only decides the RFC 9068 specifics below, each a named setting.

/// The accepted access-token profile. [`TokenProfile::rfc9068`] (the default) is strict
/// RFC 9068; [`TokenProfile::generic_jwt`] turns on every relaxation for providers that issue
/// plain JWT access tokens (Auth0's default, Okta's org server, Entra ID, Keycloak). Start
/// from either and switch single settings:
///
/// ```
/// let p = oauth_resource::TokenProfile { client_id_from_azp: true, ..oauth_resource::TokenProfile::rfc9068() };
/// assert!(!p.accept_typ_jwt);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenProfile {
    /// Accept a JOSE header `typ` of `JWT` or none at all, besides `at+jwt` (RFC 9068 §2.1
    /// requires `at+jwt`, which tells access tokens from ID tokens).
    pub accept_typ_jwt: bool,
    /// Take the client id from `azp` when there is no `client_id` claim (OpenID Connect's
    /// authorized party; Auth0, Keycloak, Entra v2).
    pub client_id_from_azp: bool,
    /// Accept a token without `jti` (RFC 9068 §2.2 requires it; Auth0 omits it).
    pub jti_optional: bool,
    /// Take scopes from `scp` (an array or a space-separated string; Okta, Entra ID) when
    /// there is no `scope` claim; a `scope` given as an array is accepted too.
    pub scopes_from_scp: bool,
}

impl TokenProfile {
    /// Strict RFC 9068: `typ` `at+jwt`, `client_id`, `jti` and a `scope` string required
    /// (`scope` may be absent: no scopes).
    pub const fn rfc9068() -> Self {
        Self {
            accept_typ_jwt: false,
            client_id_from_azp: false,
            jti_optional: false,
            scopes_from_scp: false,
        }
    }

    /// Every relaxation on: `typ` `JWT` or absent, `azp` as the client id, `jti` optional,
    /// scopes from `scope` or `scp`. Signature, `iss`, `aud`, `exp`, `nbf` stay mandatory.
    pub const fn generic_jwt() -> Self {
        Self {
            accept_typ_jwt: true,
            client_id_from_azp: true,
            jti_optional: true,
            scopes_from_scp: true,
        }
    }

    /// The profile with this name: `rfc9068` or `generic_jwt` (`jwt` is an alias).
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "rfc9068" => Some(Self::rfc9068()),
            "generic_jwt" | "jwt" => Some(Self::generic_jwt()),
            _ => None,
        }
    }
}

impl Default for TokenProfile {
    fn default() -> Self {
        Self::rfc9068()
    }
}
