//! `POST /register`: RFC 7591 dynamic client registration (checklist AS-63..AS-67).
//!
//! Decisions where the RFC leaves room: `token_endpoint_auth_method` defaults to `none` (the
//! issue's choice for native MCP clients; we never default to a method we then reject, AS-64);
//! an absent `application_type` is `native` when every redirect URI is loopback, else `web`;
//! a client never chooses its `client_id` (AS-67).
//!
//! Registration policy (issue 11, [`crate::config::RegistrationPolicy`]): an anonymous request
//! may create only what the configured allow-lists permit (by default public clients with
//! `authorization_code` + `refresh_token`); a request presenting the RFC 7591 §3 initial access
//! token may create confidential clients and `client_credentials` clients too. Dynamically
//! registered clients never get introspection rights (`introspect.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use shared::oauth::{ClientRegistration, ErrorCode, TokenEndpointAuthMethod};
use shared::scope::ScopeSet;
use shared::secret::ClientSecret;

use crate::AppState;
use crate::config::check_redirect_uri;
use crate::error::OAuthError;
use crate::store::{ClientRecord, digest};

const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LEN: usize = 2000;
const MAX_NAME_LEN: usize = 200;

fn string_list(v: &Value, field: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_owned).ok_or_else(|| {
                    OAuthError::invalid_client_metadata(format!(
                        "{field} must be an array of strings"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!(
            "{field} must be an array of strings"
        ))),
    }
}

fn string(v: &Value, field: &str, max: usize) -> Result<Option<String>, OAuthError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(OAuthError::invalid_client_metadata(format!(
            "{field} is too long"
        ))),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!(
            "{field} must be a string"
        ))),
    }
}

/// Validates client metadata into a record; shared with Client ID Metadata Documents.
pub(crate) fn client_from_metadata(
    v: &Value,
    client_id: String,
    offered: &ScopeSet,
    allow_secret_methods: bool,
    now: u64,
) -> Result<ClientRecord, OAuthError> {
    if !v.is_object() {
        return Err(OAuthError::invalid_client_metadata(
            "metadata must be a JSON object",
        ));
    }
    if v.get("jwks").is_some() && v.get("jwks_uri").is_some() {
        return Err(OAuthError::invalid_client_metadata(
            "jwks and jwks_uri are mutually exclusive",
        ));
    }
    let method = match string(v, "token_endpoint_auth_method", 64)? {
        None => TokenEndpointAuthMethod::None,
        Some(m) => TokenEndpointAuthMethod::parse(&m).ok_or_else(|| {
            OAuthError::invalid_client_metadata(format!(
                "unsupported token_endpoint_auth_method {m}"
            ))
        })?,
    };
    if !allow_secret_methods && method.is_confidential() {
        return Err(OAuthError::invalid_client_metadata(
            "shared-secret authentication is not allowed here",
        ));
    }
    let grant_types = string_list(v, "grant_types")?
        .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    for g in &grant_types {
        if !matches!(
            g.as_str(),
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(OAuthError::invalid_client_metadata(format!(
                "unsupported grant type {g}"
            )));
        }
    }
    if grant_types.iter().any(|g| g == "client_credentials") && !method.is_confidential() {
        return Err(OAuthError::invalid_client_metadata(
            "client_credentials needs a confidential client",
        ));
    }
    let response_types = string_list(v, "response_types")?.unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|r| r != "code") {
        return Err(OAuthError::invalid_client_metadata(
            "only the code response type is supported",
        ));
    }
    let redirect_uris = string_list(v, "redirect_uris")?.unwrap_or_default();
    if grant_types.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri(
            "redirect_uris is required",
        ));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::invalid_redirect_uri("too many redirect_uris"));
    }
    let all_loopback = redirect_uris
        .iter()
        .all(|r| url::Url::parse(r).is_ok_and(|u| shared::urls::is_loopback_host(u.host())));
    let application_type = match string(v, "application_type", 16)? {
        None if all_loopback && !redirect_uris.is_empty() => "native".to_owned(),
        None => "web".to_owned(),
        Some(t) if t == "native" || t == "web" => t,
        Some(t) => {
            return Err(OAuthError::invalid_client_metadata(format!(
                "unsupported application_type {t}"
            )));
        }
    };
    for r in &redirect_uris {
        if r.len() > MAX_URI_LEN {
            return Err(OAuthError::invalid_redirect_uri("redirect URI too long"));
        }
        check_redirect_uri(r)
            .map_err(|e| OAuthError::invalid_redirect_uri(format!("redirect URI {e}")))?;
        let url =
            url::Url::parse(r).map_err(|_| OAuthError::invalid_redirect_uri("bad redirect URI"))?;
        if application_type == "web" && url.scheme() != "https" {
            return Err(OAuthError::invalid_redirect_uri(
                "web clients must use https redirect URIs (AS-66)",
            ));
        }
    }
    let scopes = match string(v, "scope", 1000)? {
        Some(s) => {
            let set = ScopeSet::parse(&s);
            if let Some(bad) = set.iter().find(|t| !offered.contains(t)) {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "unknown scope {bad}"
                )));
            }
            Some(set)
        }
        None => None,
    };
    let client_name = string(v, "client_name", MAX_NAME_LEN)?;
    let dpop_bound = match v.get("dpop_bound_access_tokens") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(OAuthError::invalid_client_metadata(
                "dpop_bound_access_tokens must be a boolean",
            ));
        }
    };
    let jwks = client_jwks(v)?;
    let jwks_uri = string(v, "jwks_uri", MAX_URI_LEN)?;
    if let Some(u) = &jwks_uri
        && !url::Url::parse(u).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http")
    {
        return Err(OAuthError::invalid_client_metadata(
            "jwks_uri must be an http(s) URL",
        ));
    }
    if method == shared::oauth::TokenEndpointAuthMethod::PrivateKeyJwt
        && jwks.is_none()
        && jwks_uri.is_none()
    {
        return Err(OAuthError::invalid_client_metadata(
            "private_key_jwt needs jwks (the client's public keys)",
        ));
    }
    Ok(ClientRecord {
        client_id,
        secret_digest: None,
        auth_method: method,
        redirect_uris,
        grant_types,
        scopes,
        client_name,
        application_type,
        dynamic: true,
        issued_at: now,
        keys: crate::store::ClientKeys {
            dpop_bound,
            jwks,
            jwks_uri,
        },
    })
}

/// At most this many keys in a registered `jwks`.
const MAX_CLIENT_KEYS: usize = 8;

/// The registered `jwks` (RFC 7591 §2): public asymmetric keys only, at most
/// [`MAX_CLIENT_KEYS`].
fn client_jwks(v: &Value) -> Result<Option<shared::dpop::JwkSet>, OAuthError> {
    let bad = |why: &str| OAuthError::invalid_client_metadata(format!("jwks {why}"));
    let Some(raw) = v.get("jwks").filter(|j| !j.is_null()) else {
        return Ok(None);
    };
    if v.get("jwks_uri").is_some_and(|u| !u.is_null()) {
        return Err(OAuthError::invalid_client_metadata(
            "jwks and jwks_uri are mutually exclusive",
        ));
    }
    let keys = raw
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("must be a JWK Set"))?;
    if keys.is_empty() || keys.len() > MAX_CLIENT_KEYS {
        return Err(bad("must hold 1 to 8 keys"));
    }
    const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    if keys
        .iter()
        .any(|k| PRIVATE.iter().any(|m| k.get(*m).is_some()))
    {
        return Err(bad("must hold public asymmetric keys only"));
    }
    serde_json::from_value(raw.clone())
        .map(Some)
        .map_err(|_| bad("holds an unsupported key"))
}

/// Whether the request presents the configured initial access token (RFC 7591 §3). A wrong
/// token, or none when one is required, is 401 `invalid_token`.
fn initial_access_token(state: &AppState, headers: &HeaderMap) -> Result<bool, OAuthError> {
    let policy = &state.config.registration_policy;
    let presented = headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .ok_or_else(|| {
                    OAuthError::new(
                        ErrorCode::InvalidToken,
                        "the initial access token must be sent as a Bearer token",
                    )
                })
        })
        .transpose()?;
    let valid = match (presented, &policy.initial_access_token) {
        (Some(given), Some(expected)) => {
            shared::random::constant_time_eq(&digest(given), &digest(expected.secret()))
        }
        (Some(_), None) | (None, _) => false,
    };
    if presented.is_some() && !valid {
        return Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "the initial access token is invalid",
        ));
    }
    if !valid && policy.require_initial_access_token {
        return Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "registration requires an initial access token",
        ));
    }
    Ok(valid)
}

/// An anonymous registration may ask only for what the allow-lists permit.
fn check_anonymous_policy(state: &AppState, record: &ClientRecord) -> Result<(), OAuthError> {
    let policy = &state.config.registration_policy;
    if let Some(g) = record
        .grant_types
        .iter()
        .find(|g| !policy.anonymous_grant_types.contains(g))
    {
        return Err(OAuthError::invalid_client_metadata(format!(
            "grant type {g} needs an initial access token (registration policy)"
        )));
    }
    let method = record.auth_method.as_str();
    if !policy.anonymous_auth_methods.iter().any(|m| m == method) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "token_endpoint_auth_method {method} needs an initial access token (registration policy)"
        )));
    }
    Ok(())
}

/// The registration response (RFC 7591 §3.2.1: "all registered metadata about the client"):
/// [`ClientRegistration`] plus the members it does not model, the DPoP and key metadata.
#[derive(serde::Serialize)]
struct RegistrationResponse {
    #[serde(flatten)]
    registration: ClientRegistration,
    /// RFC 9449 §5.2, when the client sent it (or it is true).
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_bound_access_tokens: Option<bool>,
    /// The registered public keys (RFC 7591 §2).
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks: Option<shared::dpop::JwkSet>,
    /// The registered key set URL (RFC 7591 §2).
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
}

/// `POST /register`
pub(super) async fn register(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    super::no_store(
        handle(&state, &headers, &body)
            .await
            .map(|reg| (StatusCode::CREATED, axum::Json(reg))),
    )
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<RegistrationResponse, OAuthError> {
    if !state.config.registration_enabled {
        return Err(
            OAuthError::invalid_request("dynamic registration is disabled")
                .with_status(StatusCode::FORBIDDEN),
        );
    }
    let json_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json_ct {
        return Err(OAuthError::invalid_client_metadata(
            "content type must be application/json",
        ));
    }
    let privileged = initial_access_token(state, headers)?;
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| OAuthError::invalid_client_metadata("body is not valid JSON"))?;
    let now = state.clock.now_unix();
    let client_id = shared::random::token();
    let mut record = client_from_metadata(&v, client_id.clone(), &state.offered_scopes, true, now)?;
    if !privileged {
        check_anonymous_policy(state, &record)?;
    }
    if record.keys.dpop_bound && !state.config.dpop.enabled {
        return Err(OAuthError::invalid_client_metadata(
            "dpop_bound_access_tokens is not supported here (DPoP is off)",
        ));
    }
    let secret = record
        .auth_method
        .uses_secret()
        .then(|| ClientSecret::new(shared::random::token()));
    record.secret_digest = secret.as_ref().map(|s| digest(s.secret()));
    let reg = ClientRegistration {
        client_id,
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        client_id_issued_at: Some(record.issued_at),
        redirect_uris: record.redirect_uris.clone(),
        token_endpoint_auth_method: Some(record.auth_method.as_str().to_owned()),
        grant_types: record.grant_types.clone(),
        response_types: vec!["code".into()],
        client_name: record.client_name.clone(),
        scope: record.scopes.as_ref().map(ToString::to_string),
        application_type: Some(record.application_type.clone()),
    };
    let dpop_sent = v
        .get("dpop_bound_access_tokens")
        .is_some_and(|d| !d.is_null());
    let reg = RegistrationResponse {
        registration: reg,
        dpop_bound_access_tokens: (dpop_sent || record.keys.dpop_bound)
            .then_some(record.keys.dpop_bound),
        jwks: record.keys.jwks.clone(),
        jwks_uri: record.keys.jwks_uri.clone(),
    };
    // The limit is the endpoint's (issue 14): the store only counts.
    let full = || OAuthError::temporarily_unavailable("client registry is full");
    if state.store.dynamic_clients(now).await? >= state.config.max_registered_clients {
        return Err(full());
    }
    if !state.store.register_client(record).await? {
        // A random 256-bit id never collides; refuse rather than overwrite if it did.
        return Err(full());
    }
    tracing::info!(client.id = %reg.registration.client_id, "client registered");
    Ok(reg)
}
