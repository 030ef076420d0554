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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::Json;
    use axum::http::StatusCode;
    use serde_json::{Value, json};

    use super::*;

    /// A registration endpoint that refuses any body with a `scope`
    /// (`invalid_client_metadata`), or everything when `refuse_all`; bodies are recorded.
    async fn endpoint(refuse_all: bool) -> (AuthorizationServerMetadata, Arc<Mutex<Vec<Value>>>) {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b = bodies.clone();
        let app = axum::Router::new().route(
            "/register",
            axum::routing::post(move |Json(body): Json<Value>| {
                let b = b.clone();
                async move {
                    let refuse = refuse_all || body.get("scope").is_some();
                    b.lock().unwrap().push(body);
                    if refuse {
                        (
                            StatusCode::BAD_REQUEST,
                            Json(json!({"error": "invalid_client_metadata",
                                "error_description": "scope must only contain supported values"})),
                        )
                    } else {
                        (StatusCode::CREATED, Json(json!({"client_id": "c-1"})))
                    }
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        let meta = AuthorizationServerMetadata {
            issuer: base.clone(),
            registration_endpoint: Some(format!("{base}/register")),
            scopes_supported: vec!["openid".into(), "offline_access".into()],
            ..Default::default()
        };
        (meta, bodies)
    }

    fn http() -> ClientWithMiddleware {
        super::super::oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 0)
    }

    #[tokio::test]
    async fn registration_refused_for_scope_is_retried_once_without_scope_cl13() {
        let (meta, bodies) = endpoint(false).await;
        let scope = ScopeSet::parse("mcp:tools:call");
        let reg = register_client(
            &http(),
            &meta,
            &["http://127.0.0.1/cb".into()],
            "t",
            Some(&scope),
        )
        .await
        .unwrap();
        assert_eq!(reg.client_id, "c-1");
        let bodies = bodies.lock().unwrap();
        assert_eq!(bodies.len(), 2);
        // offline_access is registered too: the AS lists it.
        assert_eq!(bodies[0]["scope"], "mcp:tools:call offline_access");
        assert!(bodies[1].get("scope").is_none());
    }

    #[tokio::test]
    async fn registration_refused_with_and_without_scope_stops_after_two_tries_with_a_hint_cl13() {
        let (meta, bodies) = endpoint(true).await;
        let scope = ScopeSet::parse("mcp:tools:call");
        let e = register_client(
            &http(),
            &meta,
            &["http://127.0.0.1/cb".into()],
            "t",
            Some(&scope),
        )
        .await
        .unwrap_err();
        assert_eq!(bodies.lock().unwrap().len(), 2);
        let ClientError::Registration { status, reason } = e else {
            panic!("{e:?}")
        };
        assert_eq!(status, Some(http::StatusCode::BAD_REQUEST));
        assert!(
            reason.contains("refused with and without a scope"),
            "{reason}"
        );
        // Without a scope to drop there is nothing to retry.
        let (meta, bodies) = endpoint(true).await;
        register_client(&http(), &meta, &["http://127.0.0.1/cb".into()], "t", None)
            .await
            .unwrap_err();
        assert_eq!(bodies.lock().unwrap().len(), 1);
    }
}
