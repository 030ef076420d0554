//! The consent step: pending requests kept server-side, the double-submit CSRF cookie, and
//! `POST /authorize/decision` (AS-26, AS-27).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde::{Deserialize, Serialize};
use shared::scope::ScopeSet;

use super::AuthzRequest;
use super::page::{ConsentView, consent_page, error_page};
use super::{error_redirect, issue_code};
use crate::AppState;
use crate::endpoints::form::Params;
use crate::error::OAuthError;
use crate::store::{PendingConsent, Store, StoreError, digest};

const CONSENT_TTL: u64 = 600;
/// Pending consents, all owners together: beyond this, new requests are refused (a flood must
/// not evict other users' pending consents).
const MAX_PENDING: usize = 10_000;
/// Pending consents per subject and client: a flood through one client (or by one user) only
/// displaces its own oldest requests and never fills the table for others.
const MAX_PENDING_PER_OWNER: usize = 32;
const CSRF_COOKIE: &str = "as_consent_csrf";

/// The stored form of a pending [`AuthzRequest`] (the client as its store JSON).
#[derive(Serialize, Deserialize)]
struct RequestDto {
    client: String,
    redirect_uri: String,
    redirect_uri_sent: bool,
    state: Option<String>,
    code_challenge: String,
    scope: String,
    resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_jkt: Option<String>,
}

fn encode(req: &AuthzRequest) -> Result<String, StoreError> {
    serde_json::to_string(&RequestDto {
        client: crate::store::redis::client_json(&req.client)?,
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_sent: req.redirect_uri_sent,
        state: req.state.clone(),
        code_challenge: req.code_challenge.clone(),
        scope: req.scope.to_string(),
        resource: req.resource.clone(),
        dpop_jkt: req.dpop_jkt.clone(),
    })
    .map_err(|_| StoreError("cannot encode a pending consent".into()))
}

fn decode(json: &str) -> Result<AuthzRequest, StoreError> {
    let d: RequestDto =
        serde_json::from_str(json).map_err(|_| StoreError("unreadable pending consent".into()))?;
    Ok(AuthzRequest {
        client: crate::store::redis::client_from(&d.client)?,
        redirect_uri: d.redirect_uri,
        redirect_uri_sent: d.redirect_uri_sent,
        state: d.state,
        code_challenge: d.code_challenge,
        scope: ScopeSet::parse(&d.scope),
        resource: d.resource,
        dpop_jkt: d.dpop_jkt,
    })
}

/// Stores a pending request of `subject` and returns its id and CSRF token; `None` when
/// [`MAX_PENDING`] unexpired requests are pending. When this subject and client already have
/// [`MAX_PENDING_PER_OWNER`] pending, their oldest are dropped first. The limits are the
/// endpoint's; the store only lists and counts (issue 14).
async fn insert(
    store: &dyn Store,
    req: &AuthzRequest,
    subject: &str,
    now: u64,
) -> Result<Option<(String, String)>, StoreError> {
    // The owner string is only a key: a length-prefixed pair cannot be forged by a client id.
    let owner = format!("{}:{subject}{}", subject.len(), req.client.client_id);
    let own = store.owner_consents(&owner, now).await?;
    let excess = (own.len() + 1).saturating_sub(MAX_PENDING_PER_OWNER);
    for oldest in own.iter().take(excess) {
        store.take_consent(oldest, now).await?;
    }
    if store.pending_consents(now).await? >= MAX_PENDING {
        return Ok(None);
    }
    let id = shared::random::token();
    let csrf = shared::random::token();
    let record = PendingConsent {
        request: encode(req)?,
        csrf_digest: digest(&csrf),
        expires_at: now + CONSENT_TTL,
    };
    store.put_consent(&id, &owner, record).await?;
    Ok(Some((id, csrf)))
}

/// Stores the request and shows the consent page, setting the CSRF cookie.
pub(super) async fn ask(state: &AppState, req: AuthzRequest) -> Response {
    let now = state.clock.now_unix();
    let view = ConsentView::new(&req);
    let inserted = insert(&*state.store, &req, &state.config.subject, now).await;
    let Some((id, csrf)) = (match inserted {
        Ok(x) => x,
        Err(e) => return OAuthError::from(e).into_response(),
    }) else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many pending authorization requests; try again in a few minutes",
        );
    };
    let mut res = consent_page(&view, &state.config.subject, &id, &csrf);
    let secure = if state.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{CSRF_COOKIE}={csrf}; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age={CONSENT_TTL}{secure}"
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `POST /authorize/decision`: the consent form. CSRF is checked against the server-side
/// pending request and the double-submit cookie (AS-27). Redirects with 303 (AS-26).
pub(crate) async fn decision(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let params = Params::parse(&body);
    if params.reject_repeated().is_err() {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "repeated parameters",
        );
    }
    let (Some(id), Some(csrf)) = (params.get("request_id"), params.get("csrf_token")) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing request_id or csrf_token",
        );
    };
    let now = state.clock.now_unix();
    let taken = match state.store.take_consent(id, now).await {
        Ok(t) => t,
        Err(e) => return OAuthError::from(e).into_response(),
    };
    let Some(pending) = taken else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown or expired authorization request",
        );
    };
    let req = match decode(&pending.request) {
        Ok(r) => r,
        Err(e) => return OAuthError::from(e).into_response(),
    };
    let expected = pending.csrf_digest;
    let cookie_ok = cookie_value(&headers, CSRF_COOKIE)
        .is_some_and(|c| shared::random::constant_time_eq(&digest(c), &expected));
    if !shared::random::constant_time_eq(&digest(csrf), &expected) || !cookie_ok {
        return error_page(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "CSRF check failed; start the authorization again",
        );
    }
    match params.get("decision") {
        Some("approve") => issue_code(&state, req).await,
        _ => {
            let e = OAuthError::access_denied("the user denied the request");
            error_redirect(&state, &req.redirect_uri, req.state.as_deref(), &e)
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::oauth::TokenEndpointAuthMethod;
    use shared::scope::ScopeSet;

    use super::*;
    use crate::store::ClientRecord;
    use crate::store::ConsentStore as _;
    use crate::store::memory::MemoryStore;

    fn req_of(client_id: &str) -> AuthzRequest {
        AuthzRequest {
            client: ClientRecord {
                client_id: client_id.into(),
                secret_digest: None,
                auth_method: TokenEndpointAuthMethod::None,
                redirect_uris: vec![],
                grant_types: vec![],
                scopes: None,
                client_name: None,
                application_type: "native".into(),
                dynamic: false,
                issued_at: 0,
                keys: Default::default(),
            },
            redirect_uri: "http://127.0.0.1/cb".into(),
            redirect_uri_sent: true,
            state: None,
            code_challenge: "x".into(),
            scope: ScopeSet::parse("mcp"),
            resource: None,
            dpop_jkt: None,
        }
    }

    async fn put(s: &MemoryStore, client: &str, subject: &str, now: u64) -> Option<String> {
        insert(s, &req_of(client), subject, now)
            .await
            .unwrap()
            .map(|(id, _)| id)
    }

    #[tokio::test]
    async fn a_flood_of_pending_consents_is_refused_without_evicting_others() {
        let p = MemoryStore::default();
        let first = put(&p, "first", "u", 100).await.unwrap();
        for i in 1..MAX_PENDING {
            assert!(put(&p, &format!("c{i}"), "u", 100).await.is_some());
        }
        assert!(put(&p, "late", "u", 100).await.is_none(), "full: refused");
        assert!(
            p.take_consent(&first, 101).await.unwrap().is_some(),
            "the first user's request survived"
        );
        // Once requests expire, there is room again.
        assert!(put(&p, "c", "u", 100 + CONSENT_TTL + 1).await.is_some());
    }

    #[tokio::test]
    async fn one_subject_and_client_cannot_fill_the_pending_table_for_others() {
        let p = MemoryStore::default();
        let victim = put(&p, "cli", "alice", 100).await.unwrap();
        let other_client = put(&p, "app", "mallory", 100).await.unwrap();
        let first_flood = put(&p, "cli", "mallory", 100).await.unwrap();
        for _ in 0..MAX_PENDING {
            assert!(
                put(&p, "cli", "mallory", 100).await.is_some(),
                "never refused"
            );
        }
        let pending = p.pending_consents(100).await.unwrap();
        assert_eq!(pending, 2 + MAX_PENDING_PER_OWNER, "the flood is capped");
        assert!(
            p.take_consent(&first_flood, 101).await.unwrap().is_none(),
            "the flood displaced its own oldest"
        );
        assert!(
            p.take_consent(&victim, 101).await.unwrap().is_some(),
            "another subject's request survived"
        );
        assert!(
            p.take_consent(&other_client, 101).await.unwrap().is_some(),
            "another client's request survived"
        );
    }

    #[test]
    fn a_pending_request_round_trips_through_its_stored_form() {
        let mut r = req_of("cli");
        r.state = Some("st".into());
        r.resource = Some("http://127.0.0.1:3003/mcp".into());
        let back = decode(&encode(&r).unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        // RFC 9449 §10: the dpop_jkt survives the consent step (and older records load).
        r.dpop_jkt = Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into());
        let json = encode(&r).unwrap();
        assert!(json.contains("\"dpop_jkt\""), "{json}");
        let back = decode(&json).unwrap();
        assert_eq!(back.dpop_jkt, r.dpop_jkt);
    }

    #[test]
    fn cookie_value_finds_the_named_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; as_consent_csrf=tok".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie_value(&h, CSRF_COOKIE), Some("tok"));
        assert_eq!(cookie_value(&h, "b"), Some("2"));
        assert_eq!(cookie_value(&h, "c"), None);
    }
}
