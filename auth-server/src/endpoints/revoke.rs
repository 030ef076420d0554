//! `POST /revoke` (RFC 7009, checklist AS-52, AS-53).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::client_auth::authenticate_client;
use super::form::FormPost;
use crate::AppState;
use crate::error::OAuthError;
use crate::store::digest;
use crate::tokens;

/// `POST /revoke`: 200 whether or not the token was known; only the owning client's tokens
/// are revoked. Revoking a refresh token revokes its grant, so its access tokens too.
pub(super) async fn revoke(State(state): State<Arc<AppState>>, form: FormPost) -> Response {
    super::no_store(handle(&state, &form).await.map(|()| StatusCode::OK))
}

async fn handle(state: &AppState, form: &FormPost) -> Result<(), OAuthError> {
    let params = &form.params;
    let client = authenticate_client(state, &form.headers, params).await?;
    let token = params.require("token")?;
    let client_id = &client.client.client_id;
    let now = state.clock.now_unix();
    if let Some(rt) = state.store.refresh(&digest(token), now).await? {
        if &rt.client_id == client_id {
            state.store.revoke_grant(&rt.grant_id).await?;
            tracing::info!(client.id = %client_id, "refresh token revoked with its grant");
        }
        return Ok(());
    }
    if let Some(claims) = tokens::verify_own(state, token)
        && &claims.client_id == client_id
    {
        state.store.revoke_jti(&claims.jti, claims.exp).await?;
        tracing::info!(client.id = %client_id, "access token revoked");
    }
    Ok(())
}
