//! Signed JWT assertions: RFC 7523 client assertions (`private_key_jwt`, RFC 7523 §2.2 and
//! §3, OIDC Core §9) and the Identity Assertion JWT Authorization Grant (ID-JAG) of the MCP
//! enterprise-managed authorization extension. Creation for clients and IdPs, verification
//! for the authorization server; the keys are [`crate::dpop::SigningKey`]s on the signing
//! side and a [`JwkSet`] on the verifying side.
//!
//! As with DPoP proofs, **replay checking is the caller's**: both verifiers return the
//! `jti` and `exp`; keep each `jti` until `exp` and refuse it a second time.
//!
//! ```
//! use shared::assertion::{self, AssertionPolicy};
//! use shared::dpop::{Algorithm, JwkSet, SigningKey};
//! let key = SigningKey::generate(Algorithm::ES256).unwrap();
//! let jwt = assertion::client_assertion(&key, "svc", "https://as.example", 1_000, 60).unwrap();
//! let keys = JwkSet { keys: vec![key.public_jwk().clone()] };
//! let policy = AssertionPolicy::new(["https://as.example", "https://as.example/token"]);
//! let ok = assertion::verify_client_assertion(&jwt, "svc", &keys, &policy, 1_010).unwrap();
//! assert_eq!(ok.exp, 1_060);
//! ```

use serde::{Deserialize, Serialize};

use crate::dpop::{Algorithm, JwkSet, KeyError, ProofError, SUPPORTED_ALGS, SigningKey};
use crate::jwt::Audience;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The JWT bearer authorization grant (RFC 7523 §2.1), used to redeem an ID-JAG.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The token exchange grant (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `requested_token_type` / `issued_token_type` of an ID-JAG.
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// The `typ` header of an ID-JAG.
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// The value for `authorization_grant_profiles_supported` (EX-20).
pub const ID_JAG_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// RFC 8693 subject token types.
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// RFC 8693 access token type.
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Why an assertion was refused. Never contains the assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// Structure, header, algorithm, key or signature (shared with DPoP proofs).
    #[error("assertion: {0}")]
    Jws(#[from] ProofError),
    /// A required claim is missing or of the wrong type.
    #[error("assertion lacks a valid {0} claim")]
    MissingClaim(&'static str),
    /// `iss` is not the expected issuer (the client id for client assertions).
    #[error("assertion iss is not the expected issuer")]
    WrongIssuer,
    /// `sub` is not the client id (client assertions).
    #[error("assertion sub is not the client id")]
    WrongSubject,
    /// `aud` does not name this authorization server.
    #[error("assertion aud does not name this authorization server")]
    WrongAudience,
    /// `client_id` is not the authenticated client (ID-JAG).
    #[error("assertion client_id is not the authenticated client")]
    WrongClient,
    /// `resource` is not among this server's resources (ID-JAG).
    #[error("assertion resource is not served here")]
    WrongResource,
    /// `exp` is in the past (beyond the leeway).
    #[error("assertion has expired")]
    Expired,
    /// `exp` is too far ahead (longer than the policy's maximum lifetime).
    #[error("assertion lifetime is longer than allowed")]
    TooLong,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("assertion is not yet valid")]
    NotYetValid,
}

/// What the verifying authorization server accepts.
#[derive(Debug, Clone)]
pub struct AssertionPolicy {
    audiences: Vec<String>,
    algs: Vec<Algorithm>,
    max_lifetime: u64,
    leeway: u64,
}

impl AssertionPolicy {
    /// Accepts `aud` naming any of `audiences` (the issuer and the token endpoint URL);
    /// ES256, EdDSA, RS256; lifetime at most 300 s; 30 s clock leeway.
    pub fn new<S: Into<String>>(audiences: impl IntoIterator<Item = S>) -> Self {
        Self {
            audiences: audiences.into_iter().map(Into::into).collect(),
            algs: SUPPORTED_ALGS.to_vec(),
            max_lifetime: 300,
            leeway: 30,
        }
    }
    /// Accepts only `algs` (symmetric and unsupported ones are dropped).
    pub fn with_algs(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algs = algs
            .into_iter()
            .filter(|a| SUPPORTED_ALGS.contains(a))
            .collect();
        self
    }
    /// The longest accepted lifetime (`exp - iat`, or `exp - now` without `iat`).
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime = secs;
        self
    }
    /// Clock leeway for `exp`, `nbf` and `iat`.
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }
}

/// RFC 7523 §3 client assertion claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAssertionClaims {
    /// The client id.
    pub iss: String,
    /// The client id.
    pub sub: String,
    /// The authorization server (issuer or token endpoint URL).
    pub aud: Audience,
    /// Expiry.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Unique id (replay-checked by the server).
    pub jti: String,
}

/// A client assertion for `client_id` at `audience`, valid `lifetime` seconds from `now`.
pub fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    audience: &str,
    now: u64,
    lifetime: u64,
) -> Result<String, KeyError> {
    let claims = ClientAssertionClaims {
        iss: client_id.to_owned(),
        sub: client_id.to_owned(),
        aud: Audience::One(audience.to_owned()),
        exp: now.saturating_add(lifetime),
        iat: now,
        jti: crate::random::token(),
    };
    let mut header = jsonwebtoken::Header::new(key.algorithm());
    header.kid = Some(key.thumbprint().to_owned());
    key.sign_header(header, &claims)
}

/// What a verified assertion established: remember `jti` until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion<C> {
    /// The validated claims.
    pub claims: C,
    /// The `jti`, for the caller's replay cache.
    pub jti: String,
    /// The `exp`.
    pub exp: u64,
}

fn str_claim<'a>(c: &'a serde_json::Value, name: &'static str) -> Result<&'a str, AssertionError> {
    c.get(name)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .ok_or(AssertionError::MissingClaim(name))
}

fn u64_claim(c: &serde_json::Value, name: &'static str) -> Result<Option<u64>, AssertionError> {
    match c.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or(AssertionError::MissingClaim(name)),
    }
}

/// Checks `exp` (present, not past, not too far), `nbf` and `iat` (not in the future).
fn check_times(
    c: &serde_json::Value,
    policy: &AssertionPolicy,
    now: u64,
) -> Result<u64, AssertionError> {
    let exp = u64_claim(c, "exp")?.ok_or(AssertionError::MissingClaim("exp"))?;
    if exp.saturating_add(policy.leeway) <= now {
        return Err(AssertionError::Expired);
    }
    let iat = u64_claim(c, "iat")?;
    for t in [u64_claim(c, "nbf")?, iat].into_iter().flatten() {
        if t > now.saturating_add(policy.leeway) {
            return Err(AssertionError::NotYetValid);
        }
    }
    let start = iat.unwrap_or(now).min(now);
    if exp.saturating_sub(start) > policy.max_lifetime {
        return Err(AssertionError::TooLong);
    }
    Ok(exp)
}

fn check_audience(c: &serde_json::Value, policy: &AssertionPolicy) -> Result<(), AssertionError> {
    let aud: Audience = c
        .get("aud")
        .cloned()
        .and_then(|a| serde_json::from_value(a).ok())
        .ok_or(AssertionError::MissingClaim("aud"))?;
    if policy.audiences.iter().any(|a| aud.contains(a)) {
        Ok(())
    } else {
        Err(AssertionError::WrongAudience)
    }
}

/// Verifies an RFC 7523 client assertion from `client_id` against the client's registered
/// keys (`jwks` or the fetched `jwks_uri`): signature (asymmetric, allowed algorithm, key by
/// `kid` or type), `iss` = `sub` = `client_id`, `aud` naming this server, `exp` present, not
/// expired and within the maximum lifetime, `jti` present (returned for the replay cache).
pub fn verify_client_assertion(
    assertion: &str,
    client_id: &str,
    keys: &JwkSet,
    policy: &AssertionPolicy,
    now: u64,
) -> Result<VerifiedAssertion<ClientAssertionClaims>, AssertionError> {
    let (_, c) = crate::dpop::verify_with_jwks(assertion, None, keys, &policy.algs)?;
    if str_claim(&c, "iss")? != client_id {
        return Err(AssertionError::WrongIssuer);
    }
    if str_claim(&c, "sub")? != client_id {
        return Err(AssertionError::WrongSubject);
    }
    check_audience(&c, policy)?;
    let exp = check_times(&c, policy, now)?;
    let jti = str_claim(&c, "jti")?.to_owned();
    let claims = ClientAssertionClaims {
        iss: client_id.to_owned(),
        sub: client_id.to_owned(),
        aud: serde_json::from_value(c["aud"].clone())
            .map_err(|_| AssertionError::MissingClaim("aud"))?,
        exp,
        iat: u64_claim(&c, "iat")?.unwrap_or(now),
        jti: jti.clone(),
    };
    Ok(VerifiedAssertion { claims, jti, exp })
}

/// ID-JAG claims (MCP enterprise-managed authorization; draft-ietf-oauth-identity-assertion-authz-grant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdJagClaims {
    /// The IdP's issuer.
    pub iss: String,
    /// The user at the IdP.
    pub sub: String,
    /// The MCP authorization server's issuer.
    pub aud: Audience,
    /// The client that will redeem it at the MCP authorization server.
    pub client_id: String,
    /// Unique id (single use at the authorization server).
    pub jti: String,
    /// Expiry (short).
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// The MCP server (RFC 8707 resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Audience>,
    /// Space-separated scopes the IdP allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Signs an ID-JAG (`typ oauth-id-jag+jwt`, `kid` = the key's thumbprint unless given).
pub fn create_id_jag(
    key: &SigningKey,
    kid: Option<&str>,
    claims: &IdJagClaims,
) -> Result<String, KeyError> {
    let mut header = jsonwebtoken::Header::new(key.algorithm());
    header.typ = Some(ID_JAG_TYP.to_owned());
    header.kid = Some(kid.unwrap_or(key.thumbprint()).to_owned());
    key.sign_header(header, claims)
}

/// The `iss` of an ID-JAG, **unverified**: only to pick the trusted IdP whose keys then
/// verify it with [`verify_id_jag`].
pub fn peek_issuer(jwt: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}

/// What the MCP authorization server expects of an ID-JAG.
#[derive(Debug, Clone, Copy)]
pub struct IdJagExpectations<'a> {
    /// The trusted IdP's issuer (whose `keys` are passed).
    pub idp_issuer: &'a str,
    /// The client that authenticated at the token endpoint.
    pub client_id: &'a str,
    /// The resources this authorization server issues tokens for; the ID-JAG's `resource`
    /// (when present) must be among them.
    pub resources: &'a [String],
}

/// Verifies an ID-JAG (EX-21): `typ oauth-id-jag+jwt`, signature by one of the trusted
/// IdP's `keys`, `iss` = the IdP, `aud` = this server (policy audiences), `client_id` = the
/// authenticated client, `sub` and `jti` present, `exp` short and not expired, `resource`
/// among ours. The caller intersects `scope` with the requested scopes and checks `jti`
/// for replay.
pub fn verify_id_jag(
    jwt: &str,
    keys: &JwkSet,
    expected: &IdJagExpectations<'_>,
    policy: &AssertionPolicy,
    now: u64,
) -> Result<VerifiedAssertion<IdJagClaims>, AssertionError> {
    let (_, c) = crate::dpop::verify_with_jwks(jwt, Some(ID_JAG_TYP), keys, &policy.algs)?;
    if str_claim(&c, "iss")? != expected.idp_issuer {
        return Err(AssertionError::WrongIssuer);
    }
    str_claim(&c, "sub")?;
    check_audience(&c, policy)?;
    if str_claim(&c, "client_id")? != expected.client_id {
        return Err(AssertionError::WrongClient);
    }
    let exp = check_times(&c, policy, now)?;
    let jti = str_claim(&c, "jti")?.to_owned();
    let claims: IdJagClaims =
        serde_json::from_value(c).map_err(|_| AssertionError::MissingClaim("iat"))?;
    if let Some(res) = &claims.resource {
        let all_ours = match res {
            Audience::One(r) => expected.resources.contains(r),
            Audience::Many(v) => !v.is_empty() && v.iter().all(|r| expected.resources.contains(r)),
        };
        if !all_ours {
            return Err(AssertionError::WrongResource);
        }
    }
    Ok(VerifiedAssertion { claims, jti, exp })
}

#[cfg(test)]
mod tests;
