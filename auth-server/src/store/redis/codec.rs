//! Records as stored in Redis: JSON documents whose secrets are digests.

use serde::{Deserialize, Serialize};
use shared::oauth::TokenEndpointAuthMethod;
use shared::scope::ScopeSet;

use super::super::{
    ClientRecord, CodeRecord, Digest, Grant, RefreshRecord, StoreError, StoreResult,
};

pub(super) fn err(e: redis::RedisError) -> StoreError {
    StoreError(format!("redis: {e}"))
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError(format!("redis: unreadable {what} record"))
}

pub(super) fn d64(d: &Digest) -> String {
    shared::random::b64url(d)
}

#[derive(Serialize, Deserialize)]
pub(super) struct CodeDto {
    pub(super) client_id: String,
    pub(super) redirect_uri: Option<String>,
    pub(super) code_challenge: String,
    pub(super) scope: String,
    pub(super) resource: Option<String>,
    pub(super) subject: String,
    pub(super) expires_at: u64,
    /// RFC 9449 §10 (absent in records written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) dpop_jkt: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct GrantDto {
    pub(super) client_id: String,
    pub(super) subject: String,
    pub(super) scope: String,
    pub(super) resource: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct RefreshDto {
    pub(super) grant_id: String,
    pub(super) client_id: String,
    pub(super) scope: String,
    pub(super) resource: Option<String>,
    pub(super) expires_at: u64,
    pub(super) issued_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) jkt: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ClientDto {
    pub(super) client_id: String,
    /// Base64url SHA-256 of the secret.
    pub(super) secret_digest: Option<String>,
    pub(super) auth_method: String,
    pub(super) redirect_uris: Vec<String>,
    pub(super) grant_types: Vec<String>,
    pub(super) scopes: Option<String>,
    pub(super) client_name: Option<String>,
    pub(super) application_type: String,
    pub(super) dynamic: bool,
    pub(super) issued_at: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) dpop_bound: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) jwks: Option<shared::dpop::JwkSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) jwks_uri: Option<String>,
}

pub(super) fn to_json<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|_| StoreError("cannot encode a record".into()))
}

pub(super) fn code_from(json: &str, redeemed_grant: Option<String>) -> StoreResult<CodeRecord> {
    let d: CodeDto = serde_json::from_str(json).map_err(|_| corrupt("code"))?;
    Ok(CodeRecord {
        client_id: d.client_id,
        redirect_uri: d.redirect_uri,
        code_challenge: d.code_challenge,
        scope: ScopeSet::parse(&d.scope),
        resource: d.resource,
        subject: d.subject,
        expires_at: d.expires_at,
        redeemed_grant,
        dpop_jkt: d.dpop_jkt,
    })
}

pub(super) fn decode_digest(s: &str) -> Option<Digest> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    Digest::try_from(bytes.as_slice()).ok()
}

/// A client record from its JSON form ([`client_json`]).
pub(crate) fn client_from(json: &str) -> StoreResult<ClientRecord> {
    let d: ClientDto = serde_json::from_str(json).map_err(|_| corrupt("client"))?;
    let secret_digest = match d.secret_digest {
        Some(s) => Some(decode_digest(&s).ok_or_else(|| corrupt("client"))?),
        None => None,
    };
    Ok(ClientRecord {
        client_id: d.client_id,
        secret_digest,
        auth_method: TokenEndpointAuthMethod::parse(&d.auth_method)
            .ok_or_else(|| corrupt("client"))?,
        redirect_uris: d.redirect_uris,
        grant_types: d.grant_types,
        scopes: d.scopes.map(|s| ScopeSet::parse(&s)),
        client_name: d.client_name,
        application_type: d.application_type,
        dynamic: d.dynamic,
        issued_at: d.issued_at,
        keys: super::super::ClientKeys {
            dpop_bound: d.dpop_bound,
            jwks: d.jwks,
            jwks_uri: d.jwks_uri,
        },
    })
}

/// A client record's JSON form (the secret as its digest).
pub(crate) fn client_json(c: &ClientRecord) -> StoreResult<String> {
    to_json(&ClientDto {
        client_id: c.client_id.clone(),
        secret_digest: c.secret_digest.as_ref().map(d64),
        auth_method: c.auth_method.as_str().to_owned(),
        redirect_uris: c.redirect_uris.clone(),
        grant_types: c.grant_types.clone(),
        scopes: c.scopes.as_ref().map(ToString::to_string),
        client_name: c.client_name.clone(),
        application_type: c.application_type.clone(),
        dynamic: c.dynamic,
        issued_at: c.issued_at,
        dpop_bound: c.keys.dpop_bound,
        jwks: c.keys.jwks.clone(),
        jwks_uri: c.keys.jwks_uri.clone(),
    })
}

#[derive(Serialize, Deserialize)]
pub(super) struct ConsentDto {
    pub(super) request: String,
    pub(super) csrf_digest: String,
    pub(super) expires_at: u64,
    /// Digest of the owner (its list's key).
    pub(super) owner: String,
}

/// A refresh-token record from its JSON and rotation time; `None` once expired at `now`.
pub(super) fn refresh_from(
    json: &str,
    rotated_at: Option<u64>,
    now: u64,
) -> StoreResult<Option<RefreshRecord>> {
    let d: RefreshDto = serde_json::from_str(json).map_err(|_| corrupt("refresh token"))?;
    if d.expires_at <= now {
        return Ok(None);
    }
    Ok(Some(RefreshRecord {
        grant_id: d.grant_id,
        client_id: d.client_id,
        scope: ScopeSet::parse(&d.scope),
        resource: d.resource,
        expires_at: d.expires_at,
        rotated_at,
        issued_at: d.issued_at,
        jkt: d.jkt,
    }))
}

/// A grant from its id, JSON and revocation flag.
pub(super) fn grant_from(id: &str, json: &str, revoked: bool) -> StoreResult<Grant> {
    let d: GrantDto = serde_json::from_str(json).map_err(|_| corrupt("grant"))?;
    Ok(Grant {
        id: id.to_owned(),
        client_id: d.client_id,
        subject: d.subject,
        scope: ScopeSet::parse(&d.scope),
        resource: d.resource,
        revoked,
    })
}
