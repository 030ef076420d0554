//! Dynamic client registration (RFC 7591; CL-13, CL-14, CL-17) for a native public client.

use reqwest_middleware::ClientWithMiddleware;
use shared::oauth::{AuthorizationServerMetadata, ClientRegistration, ErrorResponse};
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
    let resp = http
        .post(endpoint)
        .header(http::header::ACCEPT, "application/json")
        // Never repeated automatically: a retry could register a second client.
        .with_extension(super::OneTimeCredential)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let bytes = super::read_limited(resp, 64 * 1024).await?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<ErrorResponse>(&bytes)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| format!("HTTP {status}"));
        return Err(ClientError::Registration {
            status: Some(status),
            reason: format!(
                "{endpoint} refused the registration: {detail} (CL-15: check the redirect URI constraints)"
            ),
        });
    }
    let reg: ClientRegistration =
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Registration {
            status: Some(status),
            reason: format!("malformed registration response: {e}"),
        })?;
    tracing::info!(client.id = %reg.client_id, "client registered");
    Ok(reg)
}
