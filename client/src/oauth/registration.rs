//! Dynamic client registration (RFC 7591; CL-13, CL-14, CL-17) for a native public client.
//!
//! Third-party providers: `offline_access` joins the registered scope when the AS lists it
//! (a client registered without it may not ask for it later), and a registration refused for
//! its `scope` (`invalid_client_metadata` / `invalid_scope`: the provider does not know the
//! resource's scopes, as node-oidc-provider and Keycloak answer) is sent once more without
//! `scope`.

use reqwest_middleware::ClientWithMiddleware;
use shared::oauth::{AuthorizationServerMetadata, ClientRegistration, ErrorCode, ErrorResponse};
use shared::scope::ScopeSet;

use crate::error::ClientError;

/// Registers a public native client with loopback redirect URIs, returning what the AS
/// registered (which may differ from what was asked, CL-14).
#[tracing::instrument(skip_all, fields(oauth.issuer = %metadata.issuer))]
pub async fn register_client(
    http: &ClientWithMiddleware,
    metadata: &AuthorizationServerMetadata,
    redirect_uris: &[String],
    client_name: &str,
    scope: Option<&ScopeSet>,
) -> Result<ClientRegistration, ClientError> {
    let Some(endpoint) = metadata.registration_endpoint.as_deref() else {
        return Err(ClientError::Registration {
            status: None,
            reason: format!(
                "{} offers no registration_endpoint and no client id was configured; pass --client-id",
                metadata.issuer
            ),
        });
    };
    let scope = super::authorize::with_offline_access(metadata, scope);
    let body = registration_body(redirect_uris, client_name, scope.as_ref());
    match post(http, endpoint, &body).await? {
        Ok(reg) => Ok(reg),
        Err((status, refusal)) if scope.is_some() && refused_for_scope(refusal.as_ref()) => {
            tracing::info!(
                http.status = status.as_u16(),
                "registration refused for its scope: registering again without scope"
            );
            let body = registration_body(redirect_uris, client_name, None);
            match post(http, endpoint, &body).await? {
                Ok(reg) => Ok(reg),
                Err((status, refusal)) => Err(refused(endpoint, status, refusal.as_ref(), true)),
            }
        }
        Err((status, refusal)) => Err(refused(endpoint, status, refusal.as_ref(), false)),
    }
}

/// The RFC 7591 request body of a public native client.
fn registration_body(
    redirect_uris: &[String],
    client_name: &str,
    scope: Option<&ScopeSet>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": client_name,
        "application_type": "native",
    });
    if let Some(s) = scope.filter(|s| !s.is_empty()) {
        body["scope"] = serde_json::Value::String(s.to_string());
    }
    body
}

/// Whether a refusal may be about the `scope` value: `invalid_client_metadata` (RFC 7591
/// §3.2.2, what providers answer for unknown scopes) or `invalid_scope`.
fn refused_for_scope(refusal: Option<&ErrorResponse>) -> bool {
    matches!(
        refusal.map(|r| &r.error),
        Some(ErrorCode::InvalidClientMetadata | ErrorCode::InvalidScope)
    )
}

/// The error for a final refusal, with a hint that matches its code.
fn refused(
    endpoint: &str,
    status: http::StatusCode,
    refusal: Option<&ErrorResponse>,
    retried_without_scope: bool,
) -> ClientError {
    let detail = refusal
        .map(ToString::to_string)
        .unwrap_or_else(|| format!("HTTP {status}"));
    let hint = match refusal.map(|r| &r.error) {
        Some(ErrorCode::InvalidRedirectUri) => {
            "the provider refuses the loopback redirect URI (CL-15): allow http://127.0.0.1 redirect URIs with any port for native clients, or register the client yourself and pass --client-id"
        }
        Some(ErrorCode::InvalidClientMetadata | ErrorCode::InvalidScope)
            if retried_without_scope =>
        {
            "refused with and without a scope: the provider restricts dynamic registration; register the client in its console and pass --client-id"
        }
        Some(ErrorCode::InvalidClientMetadata) => {
            "the provider refused a client metadata value (redirect URI, grant types, application_type native, token_endpoint_auth_method none)"
        }
        _ if status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN => {
            "the provider requires an initial access token or does not allow open registration; register the client in its console and pass --client-id"
        }
        _ => "check the provider's dynamic client registration settings",
    };
    ClientError::Registration {
        status: Some(status),
        reason: format!("{endpoint} refused the registration: {detail} ({hint})"),
    }
}

/// One registration POST: the registration, or the refusal's status and RFC 7591 error.
async fn post(
    http: &ClientWithMiddleware,
    endpoint: &str,
    body: &serde_json::Value,
) -> Result<Result<ClientRegistration, (http::StatusCode, Option<ErrorResponse>)>, ClientError> {
    let resp = http
        .post(endpoint)
        .header(http::header::ACCEPT, "application/json")
        // Never repeated automatically: a retry could register a second client.
        .with_extension(super::OneTimeCredential)
        .json(body)
        .send()
        .await?;
    let status = resp.status();
    let bytes = super::read_limited(resp, 64 * 1024).await?;
    if !status.is_success() {
        return Ok(Err((status, serde_json::from_slice(&bytes).ok())));
    }
    let reg: ClientRegistration =
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Registration {
            status: Some(status),
            reason: format!("malformed registration response: {e}"),
        })?;
    tracing::info!(client.id = %reg.client_id, "client registered");
    Ok(Ok(reg))
}
