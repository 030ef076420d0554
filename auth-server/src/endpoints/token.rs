//! `POST /token`: `authorization_code` (PKCE S256), `refresh_token` (rotation with reuse
//! detection and a short grace window) and `client_credentials` (checklist AS-29..AS-45).
//! Every response, success or error, carries `Cache-Control: no-store`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use shared::oauth::TokenResponse;
use shared::pkce::{PkceChallenge, PkceVerifier};
use shared::scope::ScopeSet;
use shared::secret::{AccessToken, RefreshToken};

use super::client_auth::{AuthenticatedClient, authenticate_client};
use super::form::{FormPost, Params};
use super::resolve::{check_same_resource, resolve_resource, resolve_scope};
use crate::AppState;
use crate::error::OAuthError;
use crate::store::{Grant, Redeem, RefreshRecord, Rotate, digest};
use crate::tokens;

/// `POST /token`
pub(super) async fn token(State(state): State<Arc<AppState>>, form: FormPost) -> Response {
    let mut res = super::no_store(handle(&state, &form).await);
    // RFC 9449 §8.2: the newest nonce with every answer (errors carry theirs already).
    if res.status().is_success()
        && let Some(nonce) = super::dpop::nonce_header(&state)
        && let Ok(v) = axum::http::HeaderValue::from_str(&nonce)
    {
        res.headers_mut().insert(shared::dpop::DPOP_NONCE_HEADER, v);
    }
    res
}

async fn handle(state: &AppState, form: &FormPost) -> Result<Response, OAuthError> {
    let params = &form.params;
    let grant_type = params.require("grant_type")?;
    let client = authenticate_client(state, &form.headers, params).await?;
    let basic = client.basic;
    let proof = super::dpop::token_proof(state, &form.headers)
        .await
        .map_err(|e| e.with_basic_challenge(basic))?;
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    if jkt.is_none() && client.client.keys.dpop_bound {
        // EX-05: RFC 9449 §5.2 dpop_bound_access_tokens.
        return Err(OAuthError::invalid_dpop_proof(
            "this client must send a DPoP proof",
        ));
    }
    let request = (state, params, &client, jkt);
    let json = |r: TokenResponse| token_json(&r);
    let result = match grant_type {
        "authorization_code" => authorization_code(request).await.map(json),
        "refresh_token" => refresh_token(request).await.map(json),
        "client_credentials" => client_credentials(request).map(json),
        shared::assertion::JWT_BEARER_GRANT => jwt_bearer(request).await.map(json),
        shared::assertion::TOKEN_EXCHANGE_GRANT => {
            super::idjag::token_exchange(state, params, &client)
                .await
                .map(|v| axum::Json(v).into_response())
        }
        _ => Err(OAuthError::unsupported_grant_type("unsupported grant_type")),
    };
    result.map_err(|e| e.with_basic_challenge(basic))
}

/// The token response as JSON (what `axum::Json` renders), serialised into a buffer sized
/// for it: `axum::Json` starts at 128 bytes and grows three times for an ES256 token
/// response (issue 16 C).
fn token_json(r: &TokenResponse) -> Response {
    let tokens =
        r.access_token.secret().len() + r.refresh_token.as_ref().map_or(0, |t| t.secret().len());
    let mut buf = Vec::with_capacity(tokens + 192);
    match serde_json::to_writer(&mut buf, r) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            buf,
        )
            .into_response(),
        Err(e) => OAuthError::server_error(format!("token response not serialisable: {e}"))
            .into_response(),
    }
}

/// An authenticated token request: the state, the parameters and the client, which is what
/// each grant reads.
/// `jkt` is the thumbprint of the request's verified DPoP proof key, if any.
type TokenRequest<'a> = (
    &'a AppState,
    &'a Params,
    &'a AuthenticatedClient,
    Option<&'a str>,
);

fn require_grant_type(client: &AuthenticatedClient, grant: &str) -> Result<(), OAuthError> {
    if client.client.allows_grant(grant) {
        Ok(())
    } else {
        Err(OAuthError::unauthorized_client(format!(
            "client may not use {grant}"
        )))
    }
}

/// `authorization_code` (PKCE S256; everything validated before the code is consumed).
async fn authorization_code(
    (state, params, client, jkt): TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    require_grant_type(client, "authorization_code")?;
    let code = params.require("code")?;
    let verifier = params.require("code_verifier")?;
    let code_digest = digest(code);
    let now = state.clock.now_unix();
    // Validate everything before consuming the code (AS-45).
    let Some(record) = state.store.peek_code(&code_digest, now).await? else {
        return Err(OAuthError::invalid_grant(
            "authorization code is invalid or expired",
        ));
    };
    if let Some(grant) = &record.redeemed_grant {
        // AS-34: a replayed code revokes what it produced.
        state.store.revoke_grant(grant).await?;
        tracing::warn!(client.id = %client.client.client_id, "authorization code replayed; grant revoked");
        return Err(OAuthError::invalid_grant(
            "authorization code was already used",
        ));
    }
    if record.client_id != client.client.client_id {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    match (&record.redirect_uri, params.get("redirect_uri")) {
        (Some(expected), Some(given)) if expected == given => {}
        (Some(_), _) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        (None, _) => {}
    }
    check_same_resource(state, params.get("resource"), record.resource.as_ref())?;
    let verifier = PkceVerifier::new(verifier.to_owned())
        .map_err(|e| OAuthError::invalid_grant(format!("invalid code_verifier: {e}")))?;
    let challenge = PkceChallenge::parse_s256(&record.code_challenge)
        .map_err(|_| OAuthError::server_error("stored challenge is invalid"))?;
    if !challenge.verify(&verifier) {
        return Err(OAuthError::invalid_grant("PKCE verification failed"));
    }
    // RFC 9449 §10: a code bound with `dpop_jkt` is redeemed only with a proof by that key
    // (checked before the code is consumed, so the rightful holder can still redeem it).
    if let Some(bound) = &record.dpop_jkt {
        match jkt {
            None => {
                return Err(OAuthError::invalid_grant(
                    "authorization code is bound to a DPoP key (dpop_jkt): send a proof by that key",
                ));
            }
            Some(j) if !shared::random::constant_time_eq(j.as_bytes(), bound.as_bytes()) => {
                return Err(OAuthError::invalid_grant(
                    "DPoP proof key does not match the dpop_jkt of the authorization request",
                ));
            }
            Some(_) => {}
        }
    }
    let grant_id = shared::random::token();
    let record = match state
        .store
        .redeem_code(&code_digest, &grant_id, now)
        .await?
    {
        Redeem::Fresh(r) => r,
        Redeem::Replayed(g) => {
            if let Some(g) = g {
                state.store.revoke_grant(&g).await?;
            }
            return Err(OAuthError::invalid_grant(
                "authorization code was already used",
            ));
        }
        Redeem::Unknown => {
            return Err(OAuthError::invalid_grant(
                "authorization code is invalid or expired",
            ));
        }
    };
    let grant = Grant {
        id: grant_id,
        client_id: record.client_id.clone(),
        subject: record.subject.clone(),
        scope: record.scope.clone(),
        resource: record.resource.clone(),
        revoked: false,
    };
    state.store.put_grant(grant.clone()).await?;
    issue(state, &grant, &grant.scope, client, jkt).await
}

/// `refresh_token`: rotation, narrowing only, reuse revokes the grant.
async fn refresh_token(
    (state, params, client, jkt): TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    require_grant_type(client, "refresh_token")?;
    let token = params.require("refresh_token")?;
    let token_digest = digest(token);
    let now = state.clock.now_unix();
    let invalid = || OAuthError::invalid_grant("refresh token is invalid, expired or revoked");
    // The token and its grant in one read (one Redis round trip).
    let Some((record, grant)) = state.store.refresh_with_grant(&token_digest, now).await? else {
        if let Some(grant) = state.store.retired_refresh_grant(&token_digest).await? {
            // A rotated token pruned after the grace window: still reuse (AS-41).
            state.store.revoke_grant(&grant).await?;
            tracing::warn!(client.id = %client.client.client_id, "refresh token reuse detected; grant revoked");
            return Err(OAuthError::invalid_grant(
                "refresh token was already used; the grant is revoked",
            ));
        }
        return Err(invalid());
    };
    if record.client_id != client.client.client_id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    // EX-04: a bound refresh token (public client) needs a proof by the same key.
    if let Some(bound) = &record.jkt {
        match jkt {
            None => {
                return Err(OAuthError::invalid_dpop_proof(
                    "refresh token is DPoP-bound: send a proof by its key",
                ));
            }
            Some(j) if !shared::random::constant_time_eq(j.as_bytes(), bound.as_bytes()) => {
                return Err(OAuthError::invalid_grant(
                    "refresh token is bound to another DPoP key",
                ));
            }
            Some(_) => {}
        }
    }
    let grant = grant.filter(|g| !g.revoked).ok_or_else(invalid)?;
    // Scope may narrow, never widen (AS-40); the rotated token keeps the original (AS-42).
    let at_scope = match params.get("scope") {
        Some(s) => {
            let asked = ScopeSet::parse(s);
            if asked.is_empty() || !asked.is_subset_of(&record.scope) {
                return Err(OAuthError::invalid_scope(
                    "scope exceeds the original grant",
                ));
            }
            asked
        }
        None => record.scope.clone(),
    };
    check_same_resource(state, params.get("resource"), record.resource.as_ref())?;
    let grant = Grant {
        scope: record.scope.clone(),
        ..grant
    };
    let successor = successor_of(state, token);
    // The successor keeps the binding of the chain.
    let successor_record = refresh_record(state, &grant, now, record.jkt.clone());
    match state
        .store
        .rotate_refresh(&token_digest, now, digest(&successor), successor_record)
        .await?
    {
        // The successor was stored in the same atomic step.
        Rotate::Rotated => {}
        Rotate::AlreadyRotated(at) if now.saturating_sub(at) < state.config.refresh_grace_secs => {
            // Inside the window (strict `<`: `grace = 0` is no window) the replay gets the
            // successor that was issued on rotation, with a new access token: one chain.
            tracing::info!(client.id = %client.client.client_id, "rotated refresh token presented again within the grace window");
        }
        Rotate::AlreadyRotated(_) => {
            // AS-41: reuse of a retired refresh token revokes the whole grant.
            state.store.revoke_grant(&record.grant_id).await?;
            tracing::warn!(client.id = %client.client.client_id, "refresh token reuse detected; grant revoked");
            return Err(OAuthError::invalid_grant(
                "refresh token was already used; the grant is revoked",
            ));
        }
        Rotate::Unknown => return Err(invalid()),
    }
    issue_access(
        state,
        &grant,
        &at_scope,
        Some(RefreshToken::new(successor)),
        jkt,
    )
    .await
}

/// The refresh token that replaces `token` on rotation: HMAC-SHA256 of it under the
/// successor key ([`crate::AppState::successor_key`]: from the keys folder, so every instance
/// sharing the folder derives the same successor; per process with ephemeral keys), so a
/// replay inside the grace window can be answered with the very token the rotation issued
/// while the store still holds digests only. Without the key nobody can compute it (a stolen
/// retired token does not yield its successor), and each token has exactly one successor, so
/// the grant stays one chain, whichever instance answers.
fn successor_of(state: &AppState, token: &str) -> String {
    use aws_lc_rs::hmac;
    shared::random::b64url(hmac::sign(&state.successor_key, token.as_bytes()).as_ref())
}

/// `client_credentials`: confidential clients only, no refresh token.
fn client_credentials(
    (state, params, client, jkt): TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    if !client.confidential {
        return Err(OAuthError::unauthorized_client(
            "client_credentials requires a confidential client",
        ));
    }
    require_grant_type(client, "client_credentials")?;
    let scope = resolve_scope(state, &client.client, params.get("scope"))?;
    let resource = resolve_resource(state, params.get("resource"))?;
    let minted = tokens::mint(
        state,
        &client.client.client_id,
        &client.client.client_id,
        &resource,
        &scope,
        jkt,
    )?;
    tracing::info!(client.id = %client.client.client_id, oauth.grant_type = "client_credentials", dpop = jkt.is_some(), "token issued");
    Ok(bearer(state, minted.token, None, &scope, jkt.is_some()))
}

/// The JWT bearer grant with an ID-JAG (EX-21, EX-22): the client must be allowed the grant.
async fn jwt_bearer(
    (state, params, client, jkt): TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    require_grant_type(client, shared::assertion::JWT_BEARER_GRANT)?;
    let (subject, resource, scope) = super::idjag::jwt_bearer(state, params, client, jkt).await?;
    let minted = tokens::mint(
        state,
        &subject,
        &client.client.client_id,
        &resource,
        &scope,
        jkt,
    )?;
    Ok(bearer(state, minted.token, None, &scope, jkt.is_some()))
}

/// Issues an access token (scope `at_scope`) and, for clients allowed to refresh, the first
/// refresh token of the grant (the grant's scope).
async fn issue(
    state: &AppState,
    grant: &Grant,
    at_scope: &ScopeSet,
    client: &AuthenticatedClient,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let refresh = if client.client.allows_grant("refresh_token") {
        let rt = shared::random::token();
        // RFC 9449 §5: a public client's refresh token is bound to its DPoP key; a
        // confidential client's is bound to its authentication.
        let rt_jkt = jkt.filter(|_| !client.confidential).map(str::to_owned);
        put_refresh(state, grant, &rt, state.clock.now_unix(), rt_jkt).await?;
        Some(RefreshToken::new(rt))
    } else {
        None
    };
    issue_access(state, grant, at_scope, refresh, jkt).await
}

/// Stores `rt` as the grant's current refresh token.
async fn put_refresh(
    state: &AppState,
    grant: &Grant,
    rt: &str,
    now: u64,
    jkt: Option<String>,
) -> Result<(), OAuthError> {
    let record = refresh_record(state, grant, now, jkt);
    state.store.put_refresh(digest(rt), record).await?;
    Ok(())
}

/// A refresh token of `grant` issued at `now`, bound to the DPoP key `jkt` if any.
fn refresh_record(state: &AppState, grant: &Grant, now: u64, jkt: Option<String>) -> RefreshRecord {
    RefreshRecord {
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        scope: grant.scope.clone(),
        resource: grant.resource.clone(),
        expires_at: now + state.config.refresh_token_ttl_secs,
        rotated_at: None,
        issued_at: now,
        jkt,
    }
}

/// Mints an access token for the grant and answers with it and `refresh`.
async fn issue_access(
    state: &AppState,
    grant: &Grant,
    at_scope: &ScopeSet,
    refresh: Option<RefreshToken>,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let resource = grant
        .resource
        .clone()
        .ok_or_else(|| OAuthError::server_error("grant without resource"))?;
    let minted = tokens::mint(
        state,
        &grant.subject,
        &grant.client_id,
        &resource,
        at_scope,
        jkt,
    )?;
    state
        .store
        .link_jti(&minted.jti, &grant.id, minted.exp)
        .await?;
    tracing::info!(
        client.id = %grant.client_id,
        has_refresh_token = refresh.is_some(),
        token.expires_in = state.config.access_token_ttl_secs,
        dpop = jkt.is_some(),
        "token issued"
    );
    Ok(bearer(
        state,
        minted.token,
        refresh,
        at_scope,
        jkt.is_some(),
    ))
}

/// The RFC 6749 §5.1 response for a minted access token (`token_type` `DPoP` when bound,
/// RFC 9449 §5).
fn bearer(
    state: &AppState,
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    scope: &ScopeSet,
    dpop: bool,
) -> TokenResponse {
    TokenResponse {
        access_token,
        token_type: if dpop {
            shared::dpop::TOKEN_TYPE
        } else {
            "Bearer"
        }
        .into(),
        expires_in: Some(state.config.access_token_ttl_secs),
        refresh_token,
        scope: Some(scope.to_string()),
    }
}
