//! `GET /authorize` (RFC 6749 §4.1.1 as profiled by OAuth 2.1) and the consent decision.
//!
//! Errors about the client or the redirect URI are shown on a page and never redirected
//! (AS-17, AS-28); every other error redirects with `error`, `error_description`, `state` and
//! `iss` (AS-25). Success redirects with `code`, `state` and `iss` (AS-24, RFC 9207).
//!
//! Trust (issue 11, AS-12, AS-28): a configured client, or any client redirecting to a loopback
//! URI, is trusted. An untrusted one (self-registered or a metadata document, with a remote or
//! private-use redirect URI) always sees the consent page, even under `auto_approve`, and an
//! error before any user interaction is shown on a page instead of being redirected to it
//! (RFC 9700 §4.11.2: the AS must not serve as an open redirector).
//!
//! [`request`] validates, [`consent`] keeps pending requests and takes the decision,
//! [`page`] renders the HTML; this module answers and redirects.

mod consent;
mod page;
mod request;

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::scope::ScopeSet;

pub(crate) use consent::decision;

use self::page::error_page;
use super::form::Params;
use crate::AppState;
use crate::error::OAuthError;
use crate::store::{ClientRecord, CodeRecord, digest};

/// A validated authorization request, ready for a code or waiting for the user's decision.
/// Its fields are private to this module and the three below it.
#[derive(Debug, Clone)]
struct AuthzRequest {
    client: ClientRecord,
    redirect_uri: String,
    /// Whether the request named the redirect URI (then `/token` must repeat it).
    redirect_uri_sent: bool,
    state: Option<String>,
    code_challenge: String,
    scope: ScopeSet,
    resource: Option<String>,
    /// RFC 9449 §10 `dpop_jkt` (with DPoP on): the code is bound to this key thumbprint.
    dpop_jkt: Option<String>,
}

/// `GET /authorize`
pub(crate) async fn authorize(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes());
    // Step 1: client and redirect URI; failures are shown, never redirected.
    let target = match request::target(&state, &params).await {
        Ok(t) => t,
        Err(e) => {
            let mut page = error_page(e.status, e.code, &e.description);
            if e.status == StatusCode::SERVICE_UNAVAILABLE {
                page.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    crate::error::STORE_RETRY_AFTER_SECS.into(),
                );
            }
            return page;
        }
    };
    let redirect_uri = target.redirect_uri.clone();
    let client_state = if params.is_repeated("state") {
        None
    } else {
        params.get("state")
    };
    let trusted = is_trusted(&target.client, &redirect_uri);
    // Step 2: everything else redirects, to trusted clients only.
    match request::validate(&state, &params, target) {
        Ok(req) => {
            if state.config.auto_approve && trusted {
                issue_code(&state, req).await
            } else {
                consent::ask(&state, req).await
            }
        }
        Err(e) if trusted => error_redirect(&state, &redirect_uri, client_state, &e),
        Err(e) => {
            tracing::debug!(oauth.error = %e.code, "authorization request of an untrusted client refused");
            error_page(e.status(), e.code.as_str(), &e.description)
        }
    }
}

/// Whether the server may answer at `redirect_uri` without the user having seen anything: the
/// client is configured, or the redirect URI is loopback (it can only reach this machine).
fn is_trusted(client: &ClientRecord, redirect_uri: &str) -> bool {
    !client.dynamic
        || url::Url::parse(redirect_uri).is_ok_and(|u| shared::urls::is_loopback_host(u.host()))
}

/// Stores a code bound to the request (AS-22) and redirects with it (AS-24).
async fn issue_code(state: &AppState, req: AuthzRequest) -> Response {
    let code = shared::random::token();
    let now = state.clock.now_unix();
    let stored = state.store.put_code(
        digest(&code),
        CodeRecord {
            client_id: req.client.client_id.clone(),
            redirect_uri: req.redirect_uri_sent.then(|| req.redirect_uri.clone()),
            code_challenge: req.code_challenge,
            scope: req.scope,
            resource: req.resource,
            subject: state.config.subject.clone(),
            expires_at: now + state.config.code_ttl_secs,
            redeemed_grant: None,
            dpop_jkt: req.dpop_jkt,
        },
    );
    if let Err(e) = stored.await {
        // Nothing was issued: the user may retry; never a redirect with a code that was lost.
        return crate::error::OAuthError::from(e).into_response();
    }
    tracing::info!(client.id = %req.client.client_id, "authorization code issued");
    redirect(
        state,
        &req.redirect_uri,
        &[("code", &code)],
        req.state.as_deref(),
    )
}

/// A 303 redirect to the client's redirect URI with `params`, then `state` when the request
/// had one, then `iss` (RFC 9207).
fn redirect(
    state: &AppState,
    redirect_uri: &str,
    params: &[(&str, &str)],
    client_state: Option<&str>,
) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "bad redirect URI",
            );
        }
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = client_state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", &state.issuer);
    }
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(loc) = HeaderValue::from_str(url.as_str()) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// An error redirect (AS-25): `error`, `error_description`, `state`, `iss`.
fn error_redirect(
    state: &AppState,
    req_redirect: &str,
    client_state: Option<&str>,
    e: &OAuthError,
) -> Response {
    tracing::debug!(oauth.error = %e.code, "authorization request refused");
    redirect(
        state,
        req_redirect,
        &[
            ("error", e.code.as_str()),
            ("error_description", &e.description),
        ],
        client_state,
    )
}
