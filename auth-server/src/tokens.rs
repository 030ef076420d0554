//! Minting RFC 9068 JWT access tokens and verifying our own (for introspection and revocation).

use jsonwebtoken::Validation;
use shared::jwt::{ACCESS_TOKEN_TYP, AccessTokenClaims, Audience};
use shared::scope::ScopeSet;

use crate::AppState;
use crate::error::OAuthError;

/// A freshly minted access token.
#[derive(Debug)]
pub(crate) struct Minted {
    /// The compact JWT.
    pub(crate) token: shared::secret::AccessToken,
    /// Its `jti`.
    pub(crate) jti: String,
    /// Its `exp`.
    pub(crate) exp: u64,
}

/// Signs an access token for `subject`/`client_id`, audience `resource`, with `scope`.
pub(crate) fn mint(
    state: &AppState,
    subject: &str,
    client_id: &str,
    resource: &str,
    scope: &ScopeSet,
    jkt: Option<&str>,
) -> Result<Minted, OAuthError> {
    let now = state.clock.now_unix();
    let exp = now + state.config.access_token_ttl_secs;
    let jti = shared::random::token();
    let claims = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: subject.to_owned(),
        aud: Audience::One(resource.to_owned()),
        exp,
        iat: now,
        nbf: Some(now),
        jti: jti.clone(),
        client_id: client_id.to_owned(),
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        cnf: jkt.map(|j| shared::jwt::Confirmation { jkt: j.to_owned() }),
    };
    let ring = state.keys.ring();
    let token = ring
        .current
        .sign_jwt(&claims)
        .ok_or_else(|| OAuthError::server_error("signing failed"))?;
    Ok(Minted {
        token: shared::secret::AccessToken::new(token),
        jti,
        exp,
    })
}

/// Verifies a JWT we issued (signature with a current or retired key, `typ`, `iss`, `exp`).
/// Returns `None` for anything else.
pub(crate) fn verify_own(state: &AppState, token: &str) -> Option<AccessTokenClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
        return None;
    }
    let ring = state.keys.ring();
    let key = ring.find(header.kid.as_deref()?)?;
    if header.alg != key.jose_alg() {
        return None;
    }
    let mut v = Validation::new(key.jose_alg());
    v.set_issuer(&[&state.issuer]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.validate_aud = false;
    v.leeway = 0;
    // Expiry is checked against the injected clock below, not the system clock.
    v.validate_exp = false;
    let data = jsonwebtoken::decode::<AccessTokenClaims>(token, key.decoding_key(), &v).ok()?;
    (data.claims.exp > state.clock.now_unix()).then_some(data.claims)
}
