//! `POST /introspect` (RFC 7662, checklist AS-54, AS-55). Callers authenticate as a
//! confidential client configured in the server (never a dynamically registered one); inactive, unknown and revoked tokens all get `{"active": false}`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use shared::oauth::IntrospectionResponse;

use super::client_auth::authenticate_client;
use super::form::FormPost;
use crate::AppState;
use crate::error::OAuthError;
use crate::store::digest;
use crate::tokens;

/// `POST /introspect`
pub(super) async fn introspect(State(state): State<Arc<AppState>>, form: FormPost) -> Response {
    super::no_store(handle(&state, &form).await.map(axum::Json))
}

async fn handle(state: &AppState, form: &FormPost) -> Result<IntrospectionResponse, OAuthError> {
    let params = &form.params;
    let caller = authenticate_client(state, &form.headers, params).await?;
    if !caller.confidential {
        return Err(OAuthError::invalid_client(
            "introspection requires an authenticated confidential client",
        ));
    }
    if caller.client.dynamic {
        // Issue 11: registration never hands out introspection rights.
        return Err(OAuthError::invalid_client(
            "introspection is reserved for configured confidential clients",
        )
        .with_basic_challenge(caller.basic));
    }
    let token = params.require("token")?;
    if let Some(c) = tokens::verify_own(state, token) {
        if state.store.is_jti_revoked(&c.jti).await? {
            return Ok(IntrospectionResponse::default());
        }
        return Ok(IntrospectionResponse {
            active: true,
            scope: c.scope,
            client_id: Some(c.client_id),
            sub: Some(c.sub),
            aud: c.aud.first().map(str::to_owned),
            iss: Some(c.iss),
            exp: Some(c.exp),
            iat: Some(c.iat),
            jti: Some(c.jti),
            token_type: Some(if c.cnf.is_some() { "DPoP" } else { "Bearer" }.into()),
            cnf: c.cnf,
        });
    }
    let now = state.clock.now_unix();
    if let Some(rt) = state.store.refresh(&digest(token), now).await? {
        let grant = state.store.grant(&rt.grant_id).await?;
        let live = rt.rotated_at.is_none() && grant.as_ref().is_some_and(|g| !g.revoked);
        // A refresh token is visible only to the client it belongs to.
        if live && rt.client_id == caller.client.client_id {
            return Ok(IntrospectionResponse {
                active: true,
                scope: Some(rt.scope.to_string()),
                client_id: Some(rt.client_id),
                sub: grant.map(|g| g.subject),
                aud: rt.resource,
                iss: Some(state.issuer.clone()),
                exp: Some(rt.expires_at),
                iat: Some(rt.issued_at),
                jti: None,
                token_type: Some("refresh_token".into()),
                cnf: None,
            });
        }
    }
    Ok(IntrospectionResponse::default())
}
